//! The mission runner: `clk mission "charter text"`, `/mission`, `clk mission --resume`.
//!
//! The chief first writes a charter (`PROPOSE_CHARTER`, checked by `spec.rs`; a bad one is
//! sent back once with what is wrong, then a plain charter made from the text is used), then a
//! plan of phases, each with a gate of commands and files (`PROPOSE_PLAN`, checked the same
//! way). Each phase runs as one cycle of its workflow, with the phase's goal posted to the
//! board; then its gate runs in the sandbox. A failed gate sends the phase back with what
//! failed, up to `max_attempts` attempts, after which the mission stalls. Between phases the
//! chief may revise the phases still to come. Every step is saved first (`state.rs`), so
//! `--resume` continues a mission stopped or killed at any point.

pub mod spec;
pub mod state;

use tokio_util::sync::CancellationToken;

use crate::engine::agents::dispatch::DispatchRequest;
use crate::engine::ground::events::Event;
use crate::engine::ground::protocol::{PostBlock, Urgency};
use crate::engine::runs::call::dispatch;
use crate::engine::runs::evaluate;
use crate::engine::runs::orchestrate::{StepResult, run as run_workflow};
use crate::engine::store::blackboard;
use crate::engine::store::bus::Bus;
use crate::engine::store::idea::Idea;
use crate::engine::store::roster::{current_agents, roster_names};
use crate::engine::store::workflow::load_named;
use crate::engine::store::workspace::Project;
use spec::{Charter, PhaseSpec};
use state::{GateRecord, MissionState, Phase, PhaseStatus, Status};

/// Attempts a phase gets before the mission stalls.
pub const MAX_ATTEMPTS: u32 = 3;

/// Start a mission for `text` (or the recorded idea), or continue the stored one.
pub async fn run(
    project: &Project,
    bus: &Bus,
    text: Option<String>,
    resume: bool,
    cancel: &CancellationToken,
) -> StepResult {
    let ws = &project.ws;
    let stored = match state::load(ws) {
        Ok(s) => s,
        Err(e) => return StepResult::bad(e),
    };
    let mut st = if resume {
        match stored {
            None => {
                return StepResult::bad(
                    "no mission to resume; start one with `clk mission \"what to deliver\"`".into(),
                );
            }
            Some(s) if !s.status.unfinished() => {
                return StepResult {
                    ok: s.status == Status::Done,
                    cancelled: false,
                    summary: format!("{} (nothing to resume)", s.summary()),
                    bad_input: false,
                };
            }
            Some(s) => s,
        }
    } else {
        if let Some(s) = stored.filter(|s| s.status.unfinished()) {
            return StepResult::bad(format!(
                "a mission is under way ({}); continue it with `clk mission --resume`, or \
                 delete .clk/mission/ to start over",
                s.summary()
            ));
        }
        let objective = text
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .or_else(|| Idea::load(ws).map(|i| format!("{}: {}", i.title, i.statement)));
        let Some(objective) = objective else {
            return StepResult::bad(
                "no mission text and no idea recorded; run `clk mission \"what to deliver\"`"
                    .into(),
            );
        };
        MissionState::new(&objective, MAX_ATTEMPTS)
    };
    match drive(project, bus, &mut st, cancel).await {
        Ok(result) => result,
        Err(e) => StepResult::failed(format!(
            "the mission state could not be saved: {e}; fix the disk and run `clk mission \
             --resume`"
        )),
    }
}

fn step(bus: &Bus, step: &str, phase: Option<&Phase>, note: String) {
    bus.emit(Event::MissionStep {
        step: step.to_string(),
        phase: phase.map(|p| p.spec.id.clone()),
        attempt: phase.map_or(0, |p| p.attempt),
        note,
    });
}

fn stopped(st: &MissionState) -> StepResult {
    StepResult {
        ok: false,
        cancelled: true,
        summary: format!(
            "{}; stopped: continue with `clk mission --resume`",
            st.summary()
        ),
        bad_input: false,
    }
}

/// The mission from wherever `st` stands to its end, saving each step.
async fn drive(
    project: &Project,
    bus: &Bus,
    st: &mut MissionState,
    cancel: &CancellationToken,
) -> std::io::Result<StepResult> {
    let ws = &project.ws;
    if st.charter.is_none() {
        st.status = Status::Charter;
        state::save(ws, st)?;
        let charter = write_charter(project, bus, &st.objective, cancel).await;
        step(bus, "charter", None, charter.mission.clone());
        st.charter = Some(charter);
        st.status = Status::Planning;
        state::save(ws, st)?;
    }
    if bus.stop_requested() || cancel.is_cancelled() {
        return Ok(stopped(st));
    }
    if st.phases.is_empty() {
        st.status = Status::Planning;
        let specs = write_plan(project, bus, st, cancel).await;
        st.phases = specs.into_iter().map(Phase::new).collect();
        st.current = 0;
        let ids: Vec<&str> = st.phases.iter().map(|p| p.spec.id.as_str()).collect();
        step(bus, "plan", None, ids.join(", "));
    }
    st.status = Status::Running;
    state::save(ws, st)?;
    while st.current < st.phases.len() {
        if bus.stop_requested() || cancel.is_cancelled() {
            return Ok(stopped(st));
        }
        let i = st.current;
        if st.phases[i].status == PhaseStatus::Passed {
            st.current += 1;
            continue;
        }
        let phase = &mut st.phases[i];
        phase.attempt = phase.attempt.max(1);
        phase.status = PhaseStatus::Running;
        let (spec, attempt) = (phase.spec.clone(), phase.attempt);
        state::save(ws, st)?;
        step(bus, "phase_started", st.phases.get(i), spec.goal.clone());
        post(project, bus, "plan", &spec.id, &st.phase_brief(i));
        // Boxed: a whole workflow cycle is a large future, too large to nest on a worker's stack.
        let ran = Box::pin(run_workflow(
            project,
            bus,
            &spec.workflow,
            Some(1),
            false,
            cancel,
        ))
        .await;
        if ran.cancelled || bus.stop_requested() || cancel.is_cancelled() {
            return Ok(stopped(st));
        }
        if ran.bad_input {
            st.status = Status::Stalled;
            st.note = format!("phase {} cannot run: {}", spec.id, ran.summary);
            state::save(ws, st)?;
            return Ok(StepResult::failed(st.summary()));
        }
        let (passed, detail) = gate(project, &spec, cancel).await;
        let phase = &mut st.phases[i];
        phase.gate_history.push(GateRecord {
            attempt,
            passed,
            detail: detail.clone(),
            at: chrono::Local::now().to_rfc3339(),
        });
        if passed {
            phase.status = PhaseStatus::Passed;
            st.current += 1;
            state::save(ws, st)?;
            step(bus, "gate_passed", st.phases.get(i), detail);
            if st.current < st.phases.len() {
                replan(project, bus, st, cancel).await;
                state::save(ws, st)?;
            }
            continue;
        }
        step(bus, "gate_failed", st.phases.get(i), detail.clone());
        let phase = &mut st.phases[i];
        if attempt >= st.max_attempts {
            phase.status = PhaseStatus::Failed;
            st.status = Status::Stalled;
            st.note = format!(
                "phase {} failed its gate {attempt} time(s): {}",
                spec.id,
                detail.lines().next().unwrap_or("")
            );
            state::save(ws, st)?;
            step(bus, "finished", None, st.summary());
            return Ok(StepResult::failed(st.summary()));
        }
        phase.attempt += 1;
        state::save(ws, st)?;
        let body = format!(
            "The gate of mission phase {} failed after attempt {attempt}; fix this in the next \
             attempt ({} of {}):\n{detail}",
            spec.id,
            attempt + 1,
            st.max_attempts
        );
        post(project, bus, "review", &format!("{}-gate", spec.id), &body);
    }
    st.status = Status::Done;
    st.note.clear();
    state::save(ws, st)?;
    step(bus, "finished", None, st.summary());
    Ok(StepResult {
        ok: true,
        cancelled: false,
        summary: st.summary(),
        bad_input: false,
    })
}

/// Ask the chief; the reply text, or None when the call failed.
async fn ask_chief(
    project: &Project,
    bus: &Bus,
    objective: String,
    phase: &str,
    cancel: &CancellationToken,
) -> Option<String> {
    let req = DispatchRequest {
        agent: "chief".into(),
        objective,
        stage: Some("mission".into()),
        vars: [("phase".to_string(), phase.to_string())].into(),
        ..Default::default()
    };
    match dispatch(project, bus, &req, cancel).await {
        Ok(out) if out.ok => Some(out.reply),
        Ok(out) => {
            let why = out.error.map(|e| e.message).unwrap_or_default();
            warn(bus, format!("the chief's {phase} call failed: {why}"));
            None
        }
        Err(e) => {
            warn(bus, format!("the chief's {phase} call failed: {e}"));
            None
        }
    }
}

fn warn(bus: &Bus, message: String) {
    bus.emit(Event::Warning { message });
}

const CHARTER_FORMAT: &str = "Reply with one block, each field on one line, lists separated \
    by `;`:\nPROPOSE_CHARTER\nMISSION: what is delivered, in one sentence\nSCOPE: item; item\n\
    NON_GOALS: item; item\nSUCCESS: checkable criterion; criterion\nCONSTRAINTS: item; item\n\
    ASSUMPTIONS: item; item\nEND_CHARTER\nChange no files in this reply.";

/// Ask the chief for a block `read` accepts; a reply it refuses is sent back once, with the
/// problems, through `again`. None when both failed (the problems are warned about) or a call
/// did.
async fn ask_twice<T>(
    project: &Project,
    bus: &Bus,
    phase: &str,
    first: String,
    read: impl Fn(&str) -> Result<T, Vec<String>>,
    again: impl Fn(&str) -> String,
    cancel: &CancellationToken,
) -> Option<T> {
    let mut ask = first;
    for round in 0..2 {
        let reply = ask_chief(project, bus, ask.clone(), phase, cancel).await?;
        match read(&reply) {
            Ok(v) => return Some(v),
            Err(problems) if round == 0 => ask = again(&problems.join("\n- ")),
            Err(problems) => warn(
                bus,
                format!(
                    "the chief's {} is still not usable ({}); using a plain one",
                    phase.trim_start_matches("mission_"),
                    problems.join("; ")
                ),
            ),
        }
    }
    None
}

/// The chief's charter, sent back once when it is not valid; then a plain one from the text.
async fn write_charter(
    project: &Project,
    bus: &Bus,
    objective: &str,
    cancel: &CancellationToken,
) -> Charter {
    let first = format!(
        "MISSION CHARTER: write the charter for this mission: {objective}\n\n{CHARTER_FORMAT}"
    );
    let again = |problems: &str| {
        format!(
            "MISSION CHARTER, second try: your charter for \"{objective}\" was not usable:\n\
             - {problems}\n\n{CHARTER_FORMAT}"
        )
    };
    let read = |reply: &str| spec::parse_charter(reply);
    ask_twice(project, bus, "mission_charter", first, read, again, cancel)
        .await
        .unwrap_or_else(|| spec::fallback_charter(objective))
}

const PLAN_FORMAT: &str = "Reply with one block:\nPROPOSE_PLAN\nPHASE: <id> | <title>\n\
    WORKFLOW: <workflow name; engineering when left out>\nGOAL: what this phase delivers\n\
    GATE: <shell command that exits 0 when the phase is done; repeat as needed>\n\
    FILE: <path that must exist; repeat as needed>\n(more PHASE: groups)\nEND_PLAN\n\
    Every phase needs a GOAL and at least one GATE or FILE. Change no files in this reply.";

fn workflow_exists(project: &Project) -> impl Fn(&str) -> bool + '_ {
    let roster = roster_names(&project.ws, &current_agents(project));
    move |name: &str| load_named(&project.ws, name, &roster).is_ok()
}

/// The chief's plan, sent back once when it is not valid.
async fn write_plan(
    project: &Project,
    bus: &Bus,
    st: &MissionState,
    cancel: &CancellationToken,
) -> Vec<PhaseSpec> {
    let known = workflow_exists(project);
    let charter = st.charter_text();
    let first = format!(
        "MISSION PLAN: split this mission into phases, each with a gate.\n{charter}\n\n\
         {PLAN_FORMAT}"
    );
    let again = |problems: &str| {
        format!(
            "MISSION PLAN, second try: your plan was not usable:\n- {problems}\n\n{charter}\n\n\
             {PLAN_FORMAT}"
        )
    };
    let read = |reply: &str| spec::parse_plan(reply, &known, &[]);
    if let Some(plan) = ask_twice(project, bus, "mission_plan", first, read, again, cancel).await {
        return plan;
    }
    // The plain plan: one phase on the engineering workflow, gated by the project's tests.
    let (checks, _) = evaluate::derive_checks(&project.ws.work, &[]);
    vec![PhaseSpec {
        id: "deliver".into(),
        title: "Deliver the mission".into(),
        workflow: "engineering".into(),
        goal: st.objective.clone(),
        gate_commands: checks,
        gate_files: Vec::new(),
    }]
}

/// Between phases: the chief may rewrite the phases still to come.
async fn replan(project: &Project, bus: &Bus, st: &mut MissionState, cancel: &CancellationToken) {
    let done: Vec<String> = st.phases[..st.current]
        .iter()
        .map(|p| p.spec.id.clone())
        .collect();
    let ask = format!(
        "MISSION REPLAN: phases passed: {}. The living plan:\n{}\nIf the phases still to come \
         should change, reply with a PROPOSE_PLAN block holding only those phases (new ids); \
         otherwise reply with a line KEEP_PLAN.\n\n{PLAN_FORMAT}",
        done.join(", "),
        state::render(st)
    );
    let Some(reply) = ask_chief(project, bus, ask, "mission_replan", cancel).await else {
        return;
    };
    if spec::keeps_plan(&reply) && !reply.contains("PROPOSE_PLAN") {
        return;
    }
    let known = workflow_exists(project);
    match spec::parse_plan(&reply, &known, &done) {
        Ok(specs) => {
            st.phases.truncate(st.current);
            st.phases.extend(specs.into_iter().map(Phase::new));
            let ids: Vec<&str> = st.phases[st.current..]
                .iter()
                .map(|p| p.spec.id.as_str())
                .collect();
            step(bus, "replanned", None, ids.join(", "));
        }
        Err(problems) => warn(
            bus,
            format!(
                "the chief's revised plan was not usable ({}); the plan stays",
                problems.join("; ")
            ),
        ),
    }
}

/// Run a phase's gate: every file must exist, then every command must pass.
async fn gate(project: &Project, spec: &PhaseSpec, cancel: &CancellationToken) -> (bool, String) {
    let missing: Vec<&str> = spec
        .gate_files
        .iter()
        .filter(|f| !project.ws.work.join(f).exists())
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        return (false, format!("missing file(s): {}", missing.join(", ")));
    }
    if spec.gate_commands.is_empty() {
        return (
            true,
            format!("file(s) present: {}", spec.gate_files.join(", ")),
        );
    }
    let eval = evaluate::evaluate(project, &spec.gate_commands, cancel).await;
    let mut detail = eval.summary.clone();
    if let Some(failed) = eval.ran.iter().find(|r| !r.passed()) {
        if !failed.output_tail.trim().is_empty() {
            detail.push_str(&format!("\n{}", failed.output_tail.trim()));
        }
    }
    (eval.ok, detail)
}

/// What the agents see of the current phase, on the board.
fn post(project: &Project, bus: &Bus, post_type: &str, slug: &str, body: &str) {
    let origin = blackboard::Origin {
        author: "chief",
        stage_id: Some("mission"),
        workflow: None,
    };
    let block = PostBlock {
        line: 0,
        post_type: post_type.to_string(),
        title: Some(format!("mission {slug}")),
        slug: Some(format!("mission-{slug}")),
        to: None,
        urgency: Urgency::None,
        produces: Vec::new(),
        consumes: Vec::new(),
        body: body.to_string(),
    };
    if let Err(e) = blackboard::add(&project.ws, &origin, &block) {
        warn(bus, format!("cannot post the mission's {post_type}: {e}"));
    }
}
