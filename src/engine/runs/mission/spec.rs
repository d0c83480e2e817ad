//! The mission's charter and plan as the chief writes them, read and checked purely.
//!
//! Charter:
//!
//! ```text
//! PROPOSE_CHARTER
//! MISSION: one sentence
//! SCOPE: item; item
//! NON_GOALS: item; item
//! SUCCESS: criterion; criterion
//! CONSTRAINTS: item; item
//! ASSUMPTIONS: item; item
//! END_CHARTER
//! ```
//!
//! Plan (phases in order; each needs a goal and a gate of commands and/or files):
//!
//! ```text
//! PROPOSE_PLAN
//! PHASE: core | The core feature
//! WORKFLOW: engineering
//! GOAL: what the phase delivers
//! GATE: python3 -m pytest -q
//! FILE: src/app.py
//! END_PLAN
//! ```
//!
//! Lists split on `;` when there is one, else on `,`. A problem list says everything that is
//! wrong at once, so one send-back can fix it all.

use serde::{Deserialize, Serialize};

/// What the mission is for, as the chief agreed it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Charter {
    pub mission: String,
    pub scope: Vec<String>,
    pub non_goals: Vec<String>,
    pub success: Vec<String>,
    pub constraints: Vec<String>,
    pub assumptions: Vec<String>,
}

/// One phase of the plan: its goal, the workflow that works on it, and its gate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhaseSpec {
    pub id: String,
    pub title: String,
    pub workflow: String,
    pub goal: String,
    /// Commands that must exit 0, run in the sandbox in the project root.
    pub gate_commands: Vec<String>,
    /// Paths (relative to the project root) that must exist.
    pub gate_files: Vec<String>,
}

/// Most phases a plan may have.
pub const MAX_PHASES: usize = 8;

/// The lines between `head` and `end` of the last such block, if one is closed.
fn block<'a>(text: &'a str, head: &str, end: &str) -> Option<Vec<&'a str>> {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.iter().rposition(|l| {
        let t = l.trim().trim_end_matches(':');
        t.eq_ignore_ascii_case(head)
    })?;
    let rest = lines.get(start + 1..)?;
    let stop = rest
        .iter()
        .position(|l| l.trim().eq_ignore_ascii_case(end))?;
    Some(rest.get(..stop)?.to_vec())
}

/// `KEY: value` with KEY in any case; None for other lines.
fn field(line: &str) -> Option<(String, String)> {
    let (k, v) = line.trim().split_once(':')?;
    let k = k.trim();
    if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphabetic() || c == '_') {
        return None;
    }
    Some((k.to_ascii_uppercase(), v.trim().to_string()))
}

fn list(value: &str) -> Vec<String> {
    let v = value.trim().trim_start_matches('[').trim_end_matches(']');
    let sep = if v.contains(';') { ';' } else { ',' };
    v.split(sep)
        .map(|s| s.trim().trim_start_matches('-').trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// The charter in `reply`, or what is wrong with it.
pub fn parse_charter(reply: &str) -> Result<Charter, Vec<String>> {
    let Some(lines) = block(reply, "PROPOSE_CHARTER", "END_CHARTER") else {
        return Err(vec![
            "no PROPOSE_CHARTER block closed by END_CHARTER was found".into(),
        ]);
    };
    let mut c = Charter::default();
    for (key, value) in lines.iter().filter_map(|l| field(l)) {
        match key.as_str() {
            "MISSION" => c.mission = value,
            "SCOPE" => c.scope.extend(list(&value)),
            "NON_GOALS" | "NONGOALS" => c.non_goals.extend(list(&value)),
            "SUCCESS" | "SUCCESS_CRITERIA" => c.success.extend(list(&value)),
            "CONSTRAINTS" => c.constraints.extend(list(&value)),
            "ASSUMPTIONS" => c.assumptions.extend(list(&value)),
            _ => {}
        }
    }
    let mut problems = Vec::new();
    if c.mission.is_empty() {
        problems.push("MISSION is missing or empty: say in one sentence what is delivered".into());
    }
    if c.scope.is_empty() {
        problems.push("SCOPE is missing or empty: list what the mission covers".into());
    }
    if c.success.is_empty() {
        problems.push(
            "SUCCESS is missing or empty: list checkable criteria that say it is done".into(),
        );
    }
    if problems.is_empty() {
        Ok(c)
    } else {
        Err(problems)
    }
}

/// The charter used when the chief could not write a valid one twice.
pub fn fallback_charter(objective: &str) -> Charter {
    Charter {
        mission: objective.to_string(),
        scope: vec!["Deliver a working solution for the objective".into()],
        success: vec![
            "A runnable deliverable exists".into(),
            "Tests or a smoke check pass".into(),
            "README documents setup".into(),
        ],
        ..Charter::default()
    }
}

/// The phases in `reply`, or what is wrong with them. `known_workflow` says whether a
/// workflow name exists; `taken` are ids that may not be used again (phases already passed).
pub fn parse_plan(
    reply: &str,
    known_workflow: &dyn Fn(&str) -> bool,
    taken: &[String],
) -> Result<Vec<PhaseSpec>, Vec<String>> {
    let Some(lines) = block(reply, "PROPOSE_PLAN", "END_PLAN") else {
        return Err(vec![
            "no PROPOSE_PLAN block closed by END_PLAN was found".into(),
        ]);
    };
    let mut phases: Vec<PhaseSpec> = Vec::new();
    let mut problems = Vec::new();
    for (key, value) in lines.iter().filter_map(|l| field(l)) {
        if key == "PHASE" {
            let (id, title) = match value.split_once('|') {
                Some((id, title)) => (id.trim().to_string(), title.trim().to_string()),
                None => (value.clone(), value.clone()),
            };
            phases.push(PhaseSpec {
                id,
                title,
                workflow: "engineering".into(),
                goal: String::new(),
                gate_commands: Vec::new(),
                gate_files: Vec::new(),
            });
            continue;
        }
        let Some(p) = phases.last_mut() else {
            problems.push(format!("{key}: comes before the first PHASE: line"));
            continue;
        };
        match key.as_str() {
            "WORKFLOW" => p.workflow = value,
            "GOAL" => p.goal = value,
            "TITLE" => p.title = value,
            "GATE" if !value.is_empty() => p.gate_commands.push(value),
            "FILE" if !value.is_empty() => p.gate_files.push(value),
            _ => {}
        }
    }
    if phases.is_empty() {
        problems.push("the plan has no PHASE: lines".into());
    }
    if phases.len() > MAX_PHASES {
        problems.push(format!(
            "{} phases; at most {MAX_PHASES}: merge some",
            phases.len()
        ));
    }
    let mut seen: Vec<&str> = taken.iter().map(String::as_str).collect();
    for p in &phases {
        let ok_id = !p.id.is_empty()
            && p.id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !ok_id {
            problems.push(format!(
                "phase id \"{}\" must be letters, digits, - and _",
                p.id
            ));
        } else if seen.contains(&p.id.as_str()) {
            problems.push(format!("phase id {} is used twice", p.id));
        }
        seen.push(&p.id);
        if p.goal.is_empty() {
            problems.push(format!("phase {} has no GOAL:", p.id));
        }
        if p.gate_commands.is_empty() && p.gate_files.is_empty() {
            problems.push(format!(
                "phase {} has no gate: add GATE: <command> or FILE: <path> lines",
                p.id
            ));
        }
        if !known_workflow(&p.workflow) {
            problems.push(format!(
                "phase {} names workflow {}, which does not exist",
                p.id, p.workflow
            ));
        }
        for f in &p.gate_files {
            let path = std::path::Path::new(f);
            let outside = path.is_absolute()
                || path
                    .components()
                    .any(|c| matches!(c, std::path::Component::ParentDir));
            if outside {
                problems.push(format!(
                    "phase {} FILE {f} must be a path inside the project",
                    p.id
                ));
            }
        }
    }
    if problems.is_empty() {
        Ok(phases)
    } else {
        Err(problems)
    }
}

/// True when the reply keeps the plan as it is.
pub fn keeps_plan(reply: &str) -> bool {
    reply
        .lines()
        .any(|l| l.trim().eq_ignore_ascii_case("KEEP_PLAN"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHARTER: &str = "Here it is.\nPROPOSE_CHARTER\nMISSION: a habit tracker CLI\n\
        SCOPE: [add; list]\nNON_GOALS: sync, web\nSUCCESS: - tests pass; README\nEND_CHARTER\n";

    #[test]
    fn a_charter_is_read_with_its_lists() {
        let c = parse_charter(CHARTER).unwrap();
        assert_eq!(c.mission, "a habit tracker CLI");
        assert_eq!(c.scope, ["add", "list"]);
        assert_eq!(c.non_goals, ["sync", "web"]);
        assert_eq!(c.success, ["tests pass", "README"]);
        assert!(c.constraints.is_empty());
    }

    #[test]
    fn a_bad_charter_says_everything_that_is_wrong() {
        let e = parse_charter("PROPOSE_CHARTER:\nSCOPE: x\nEND_CHARTER").unwrap_err();
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(e[0].starts_with("MISSION") && e[1].starts_with("SUCCESS"));
        let e = parse_charter("PROPOSE_CHARTER\nMISSION: x\n").unwrap_err();
        assert!(e[0].contains("END_CHARTER"));
    }

    const PLAN: &str = "PROPOSE_PLAN\nPHASE: core | The core\nGOAL: add and list habits\n\
        GATE: test -f habits.py\nPHASE: docs\nWORKFLOW: docs_flow\nGOAL: a README\n\
        FILE: README.md\nEND_PLAN\n";

    #[test]
    fn a_plan_is_read_in_order() {
        let p = parse_plan(PLAN, &|_| true, &[]).unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(
            (
                p[0].id.as_str(),
                p[0].title.as_str(),
                p[0].workflow.as_str()
            ),
            ("core", "The core", "engineering")
        );
        assert_eq!(p[0].gate_commands, ["test -f habits.py"]);
        assert_eq!(
            (p[1].title.as_str(), p[1].workflow.as_str()),
            ("docs", "docs_flow")
        );
        assert_eq!(p[1].gate_files, ["README.md"]);
    }

    #[test]
    fn a_bad_plan_lists_its_problems() {
        let known = |w: &str| w == "engineering";
        let e = parse_plan(PLAN, &known, &["core".to_string()]).unwrap_err();
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(e[0].contains("core is used twice"));
        assert!(e[1].contains("docs_flow"));
        let e = parse_plan(
            "PROPOSE_PLAN\nGOAL: x\nPHASE: a b\nFILE: ../x\nEND_PLAN",
            &known,
            &[],
        )
        .unwrap_err();
        assert_eq!(e.len(), 4, "{e:?}");
        assert!(e[0].contains("before the first PHASE"));
        assert!(e[1].contains("must be letters"));
        assert!(e[2].contains("no GOAL"));
        assert!(e[3].contains("inside the project"));
        let e = parse_plan("PROPOSE_PLAN\nEND_PLAN", &known, &[]).unwrap_err();
        assert_eq!(e, ["the plan has no PHASE: lines"]);
    }

    #[test]
    fn keep_plan_is_a_line_of_its_own() {
        assert!(keeps_plan("fine.\nKEEP_PLAN\n"));
        assert!(!keeps_plan("I would not KEEP_PLAN here"));
    }
}
