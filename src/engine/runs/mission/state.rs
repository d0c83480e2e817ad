//! The mission as kept on disk: `.clk/mission/state.json` (what `--resume` reads) and
//! `.clk/mission/plan.md` (the living plan, for people and agents).
//!
//! Both are rewritten atomically at every step, so a crash or `kill -9` leaves the last step's
//! state: which phase was running and which attempt it was on. That attempt is run again on
//! resume (its gate never ran, so it is not counted twice).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::spec::{Charter, PhaseSpec};
use crate::engine::store::workspace::{Workspace, write_atomic};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The chief is writing the charter.
    Charter,
    /// The chief is writing the plan.
    Planning,
    Running,
    Done,
    /// A phase failed its gate on every attempt.
    Stalled,
}

impl Status {
    pub fn word(self) -> &'static str {
        match self {
            Status::Charter => "charter",
            Status::Planning => "planning",
            Status::Running => "running",
            Status::Done => "done",
            Status::Stalled => "stalled",
        }
    }

    /// Still under way: a new mission would replace work that `--resume` can finish.
    pub fn unfinished(self) -> bool {
        matches!(self, Status::Charter | Status::Planning | Status::Running)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhaseStatus {
    Pending,
    Running,
    Passed,
    Failed,
}

impl PhaseStatus {
    pub fn word(self) -> &'static str {
        match self {
            PhaseStatus::Pending => "pending",
            PhaseStatus::Running => "running",
            PhaseStatus::Passed => "passed",
            PhaseStatus::Failed => "failed",
        }
    }
}

/// One gate check, as it came out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateRecord {
    pub attempt: u32,
    pub passed: bool,
    /// What failed, or what passed, in a line or a few.
    pub detail: String,
    pub at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Phase {
    #[serde(flatten)]
    pub spec: PhaseSpec,
    pub status: PhaseStatus,
    /// The attempt under way or last made, from 1; 0 before the first.
    pub attempt: u32,
    pub gate_history: Vec<GateRecord>,
}

impl Phase {
    pub fn new(spec: PhaseSpec) -> Phase {
        Phase {
            spec,
            status: PhaseStatus::Pending,
            attempt: 0,
            gate_history: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MissionState {
    pub version: u32,
    pub objective: String,
    pub status: Status,
    pub charter: Option<Charter>,
    pub phases: Vec<Phase>,
    /// Index of the phase being worked on (== phases.len() when all passed).
    pub current: usize,
    /// Most attempts a phase gets before the mission stalls.
    pub max_attempts: u32,
    /// Why the mission stopped, when it did.
    #[serde(default)]
    pub note: String,
    pub created_at: String,
    pub updated_at: String,
}

impl MissionState {
    pub fn new(objective: &str, max_attempts: u32) -> MissionState {
        let now = chrono::Local::now().to_rfc3339();
        MissionState {
            version: 1,
            objective: objective.to_string(),
            status: Status::Charter,
            charter: None,
            phases: Vec::new(),
            current: 0,
            max_attempts,
            note: String::new(),
            created_at: now.clone(),
            updated_at: now,
        }
    }

    pub fn passed(&self) -> usize {
        self.phases
            .iter()
            .filter(|p| p.status == PhaseStatus::Passed)
            .count()
    }

    /// One line: status, phases passed, the current phase and attempt.
    pub fn summary(&self) -> String {
        let mut out = format!(
            "mission {}: {}/{} phase(s) passed",
            self.status.word(),
            self.passed(),
            self.phases.len()
        );
        if let Some(p) = self.phases.get(self.current) {
            if self.status == Status::Running || self.status == Status::Stalled {
                out.push_str(&format!(
                    "; phase {} attempt {}/{}",
                    p.spec.id,
                    p.attempt.max(1),
                    self.max_attempts
                ));
            }
        }
        if !self.note.is_empty() {
            out.push_str(&format!("; {}", self.note));
        }
        out
    }
}

pub fn dir(ws: &Workspace) -> PathBuf {
    ws.clk().join("mission")
}

pub fn state_path(ws: &Workspace) -> PathBuf {
    dir(ws).join("state.json")
}

pub fn plan_path(ws: &Workspace) -> PathBuf {
    dir(ws).join("plan.md")
}

/// The stored mission; Ok(None) when there is none, Err with what to do when it is unreadable.
pub fn load(ws: &Workspace) -> Result<Option<MissionState>, String> {
    let path = state_path(ws);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    serde_json::from_slice(&bytes).map(Some).map_err(|e| {
        format!(
            "{} is not a mission state ({e}); start a new mission with `clk mission \"...\"`",
            path.display()
        )
    })
}

/// Write the state and the plan file, both atomically.
pub fn save(ws: &Workspace, st: &mut MissionState) -> std::io::Result<()> {
    st.updated_at = chrono::Local::now().to_rfc3339();
    std::fs::create_dir_all(dir(ws))?;
    let json = serde_json::to_vec_pretty(st).map_err(std::io::Error::other)?;
    write_atomic(&state_path(ws), &json)?;
    write_atomic(&plan_path(ws), render(st).as_bytes())
}

fn bullets(title: &str, items: &[String], out: &mut String) {
    if items.is_empty() {
        return;
    }
    out.push_str(&format!("\n{title}:\n"));
    for i in items {
        out.push_str(&format!("- {i}\n"));
    }
}

/// The living plan in markdown.
pub fn render(st: &MissionState) -> String {
    let mut out = format!(
        "# Mission\n\n{}\n\nStatus: {}\n",
        st.objective,
        st.summary()
    );
    if let Some(c) = &st.charter {
        out.push_str(&format!("\n## Charter\n\nMission: {}\n", c.mission));
        bullets("Scope", &c.scope, &mut out);
        bullets("Non-goals", &c.non_goals, &mut out);
        bullets("Success criteria", &c.success, &mut out);
        bullets("Constraints", &c.constraints, &mut out);
        bullets("Assumptions", &c.assumptions, &mut out);
    }
    if !st.phases.is_empty() {
        out.push_str("\n## Phases\n");
    }
    for (i, p) in st.phases.iter().enumerate() {
        let mark = match p.status {
            PhaseStatus::Pending => "[ ]",
            PhaseStatus::Running => "[~]",
            PhaseStatus::Passed => "[x]",
            PhaseStatus::Failed => "[!]",
        };
        out.push_str(&format!(
            "\n### {}. {mark} {} — {}\n\nWorkflow: {}. Goal: {}\n",
            i + 1,
            p.spec.id,
            p.spec.title,
            p.spec.workflow,
            p.spec.goal
        ));
        for c in &p.spec.gate_commands {
            out.push_str(&format!("- gate: `{c}` exits 0\n"));
        }
        for f in &p.spec.gate_files {
            out.push_str(&format!("- gate: {f} exists\n"));
        }
        for g in &p.gate_history {
            out.push_str(&format!(
                "- attempt {}: gate {}: {}\n",
                g.attempt,
                if g.passed { "passed" } else { "failed" },
                g.detail.lines().next().unwrap_or("")
            ));
        }
    }
    out
}

impl MissionState {
    /// The charter as a few lines for prompts, or the objective before there is one.
    pub(super) fn charter_text(&self) -> String {
        match &self.charter {
            Some(c) => format!(
                "Mission: {}\nScope: {}\nNon-goals: {}\nSuccess: {}\nConstraints: {}\nAssumptions: {}",
                c.mission,
                c.scope.join("; "),
                c.non_goals.join("; "),
                c.success.join("; "),
                c.constraints.join("; "),
                c.assumptions.join("; ")
            ),
            None => self.objective.clone(),
        }
    }

    /// What the agents of phase `i` are told about it, its gate and the charter.
    pub(super) fn phase_brief(&self, i: usize) -> String {
        let Some(p) = self.phases.get(i) else {
            return String::new();
        };
        let mut gates: Vec<String> = p
            .spec
            .gate_commands
            .iter()
            .map(|c| format!("`{c}` exits 0"))
            .collect();
        gates.extend(p.spec.gate_files.iter().map(|f| format!("{f} exists")));
        format!(
            "Mission phase {n}/{total}: {id} ({title}), attempt {a} of {max}.\nGoal: {goal}\n\
             Its gate: {gates}.\nThe whole plan is in .clk/mission/plan.md.\n\n{charter}",
            n = i + 1,
            total = self.phases.len(),
            id = p.spec.id,
            title = p.spec.title,
            a = p.attempt,
            max = self.max_attempts,
            goal = p.spec.goal,
            gates = gates.join("; "),
            charter = self.charter_text()
        )
    }
}
