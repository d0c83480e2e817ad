//! The supervise loop behind `clk run`: run the workflow pass after pass until the work is
//! done, stalls, fails for good, or reaches the cycle cap.
//!
//! Each cycle takes in edited settings and the workflow (the chief may have rewritten it), runs one
//! pass, and then asks the done gate about any `ACTION: done`: a bare claim is not enough,
//! the criteria must hold, and a refusal is told to the chief in the next cycle. A cycle with
//! no kept change and no new information is no progress (the shell provider's fixed reply is
//! none); a streak of them brings one stall rescue by the chief, a second streak ends the
//! loop. A provider that cannot answer ends the loop at once with its reason.

use std::collections::BTreeMap;

use tokio_util::sync::CancellationToken;

use super::runner::{PassOptions, PassReport, run_pass};
use crate::engine::agents::dispatch::{CommitPolicy, DispatchError, DispatchRequest};
use crate::engine::ground::config::{ConfigError, Env};
use crate::engine::ground::events::Event;
use crate::engine::runs::call::dispatch;
use crate::engine::runs::done_gate::{self, GateVerdict, TestsStatus};
use crate::engine::runs::evaluate;
use crate::engine::store::bus::Bus;
use crate::engine::store::live::{self, Live};
use crate::engine::store::roster::roster_names;
use crate::engine::store::workflow::{Outcome, WorkflowError, last_good, load_named};
use crate::engine::store::workspace::Project;

/// What to supervise.
#[derive(Debug, Clone)]
pub struct SuperviseOptions {
    pub workflow: String,
    pub dry_run: bool,
    /// Overrides `supervise.max_cycles`.
    pub max_cycles: Option<u32>,
}

/// How a supervised run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunEnd {
    /// The done gate granted an `ACTION: done`.
    Done {
        reason: String,
    },
    /// No progress for too long, even after a stall rescue.
    Stalled {
        reason: String,
    },
    /// The chief answered ABORT at a checkpoint.
    Aborted {
        reason: String,
    },
    /// `supervise.max_cycles` cycles ran without the work being done.
    CycleCap {
        cycles: u32,
    },
    /// An agent's provider could not answer (auth, missing model, timeout, ...).
    ProviderFailed {
        reason: String,
    },
    Cancelled,
    /// The user asked to stop after the current step (`/stop`).
    Stopped,
    /// A dry run renders one cycle's prompts and stops.
    DryRun,
}

impl RunEnd {
    pub fn word(&self) -> &'static str {
        match self {
            RunEnd::Done { .. } => "done",
            RunEnd::Stalled { .. } => "stalled",
            RunEnd::Aborted { .. } => "aborted",
            RunEnd::CycleCap { .. } => "cycle_cap",
            RunEnd::ProviderFailed { .. } => "provider_failed",
            RunEnd::Cancelled => "cancelled",
            RunEnd::Stopped => "stopped",
            RunEnd::DryRun => "dry_run",
        }
    }

    pub fn reason(&self) -> String {
        match self {
            RunEnd::Done { reason }
            | RunEnd::Stalled { reason }
            | RunEnd::Aborted { reason }
            | RunEnd::ProviderFailed { reason } => reason.clone(),
            RunEnd::CycleCap { cycles } => {
                format!(
                    "reached supervise.max_cycles ({cycles}) before the work was done; run again \
                     to go on, or raise the cap"
                )
            }
            RunEnd::Cancelled => "cancelled".into(),
            RunEnd::Stopped => "stopped at your request after the current step".into(),
            RunEnd::DryRun => "dry run: prompts rendered, nothing applied".into(),
        }
    }
}

/// A problem that stops the loop before or between cycles.
#[derive(Debug, thiserror::Error)]
pub enum SuperviseError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Workflow(#[from] WorkflowError),
    #[error(transparent)]
    Dispatch(#[from] DispatchError),
}

/// What the run did.
#[derive(Debug, Clone)]
pub struct RunReport {
    pub workflow: String,
    pub cycles: u32,
    pub end: RunEnd,
    pub passes: Vec<PassReport>,
}

/// The answer of the done gate after a cycle.
enum DoneStep {
    NoRequest,
    Granted(String),
    Refused(String),
}

/// Run `opts.workflow` under supervision. `env` supplies the `CLK_*` overrides. The settings
/// are read again first (a cast just before may have changed them); when they no longer load,
/// that is told once and the run goes on with `project`, the settings in force when it began.
pub async fn supervise(
    project: &Project,
    env: &Env,
    bus: &Bus,
    opts: &SuperviseOptions,
    cancel: &CancellationToken,
) -> Result<RunReport, SuperviseError> {
    let ws = &project.ws;
    let first = match ws.load(env) {
        Ok(p) => p,
        Err(e) => {
            live::tell(ws, env, bus, live::rejected(ws, &e));
            let mut p = project.clone();
            p.env = env.clone();
            p
        }
    };
    let max_cycles = opts
        .max_cycles
        .unwrap_or(first.config.supervise.max_cycles)
        .max(1);
    let mut report = RunReport {
        workflow: opts.workflow.clone(),
        cycles: 0,
        end: RunEnd::CycleCap { cycles: max_cycles },
        passes: Vec::new(),
    };
    let mut no_progress = 0u32;
    let mut rescued = false;
    let mut refusal = String::new();
    let mut direction: Option<String> = None;
    let mut live = Live::new(first);
    let mut last_wf: Option<crate::engine::store::workflow::Workflow> = None;
    let mut warned = String::new();
    for cycle in 1..=max_cycles {
        if let Some(end) = interrupted(bus, cancel) {
            report.end = end;
            break;
        }
        // A workflow edited during the run applies from the next cycle, settings from the next
        // stage; an edit that breaks them is told once and the run goes on with the ones before.
        let project = live.refresh(bus).clone();
        let roster = roster_names(ws, &crate::engine::store::roster::current_agents(&project));
        let wf = match (load_named(ws, &opts.workflow, &roster), &last_wf) {
            (Ok(wf), _) => wf,
            (Err(e), Some(prev)) => {
                let name = opts.workflow.trim();
                let name = name.strip_suffix(".yaml").unwrap_or(name);
                let file = ws.workflows_dir().join(format!("{name}.yaml"));
                let message = format!("{e}; this cycle keeps the workflow it had");
                if !live.rejected(&file) && warned != message {
                    bus.emit(Event::Warning {
                        message: message.clone(),
                    });
                    warned = message;
                }
                prev.clone()
            }
            // Broken since this process last loaded it (a live-reload session said the old
            // one stays): run on that one.
            (Err(e), None) => match last_good(ws, &opts.workflow) {
                Some(prev) if matches!(e, WorkflowError::Invalid { .. }) => {
                    bus.emit(Event::Warning {
                        message: format!(
                            "{e}; this run uses the workflow as it was before that edit"
                        ),
                    });
                    prev
                }
                _ => return Err(e.into()),
            },
        };
        last_wf = Some(wf.clone());
        let cycle_context = format!(
            "Supervise cycle {cycle}/{max_cycles}, {} remaining.{refusal}",
            max_cycles - cycle
        );
        let objectives = super::meta::objectives(&project, bus, &wf, opts.dry_run, cancel).await?;
        let pass_opts = PassOptions {
            dry_run: opts.dry_run,
            cycle_context,
            direction: direction.clone(),
            objectives,
        };
        let pass = run_pass(&mut live, bus, &wf, &pass_opts, cancel).await?;
        // What follows the pass (merging, the done gate) uses the settings its last stage had.
        let project = live.project().clone();
        report.cycles = cycle;
        let progress = pass.made_progress();
        let failed = pass.failed().count();
        bus.emit(Event::CycleFinished {
            workflow: wf.name.clone(),
            cycle,
            max_cycles,
            progress,
            stages_ok: pass.stages.len() - failed,
            stages_failed: failed,
        });
        note_progress(&project, cycle, &pass);
        if progress && failed == 0 && !opts.dry_run {
            crate::engine::runs::isolate::merge_mid_run(ws, bus, project.config.autonomy).await;
        }
        let provider_failure = pass
            .stages
            .iter()
            .find(|s| s.provider_error.is_some())
            .map(|s| match &s.outcome {
                Outcome::Failed { reason } | Outcome::Skipped { reason } => {
                    format!("{} could not answer: {reason}", s.agent)
                }
                Outcome::Completed => format!("{} could not answer", s.agent),
            });
        let aborted = pass.aborted.clone();
        // A redirect holds until a later checkpoint decides otherwise.
        let reviewed = pass.stages.iter().any(|s| {
            matches!(s.outcome, Outcome::Completed)
                && wf.stage(&s.stage).is_some_and(|st| st.is_review())
        });
        if pass.redirect.is_some() || reviewed {
            direction.clone_from(&pass.redirect);
        }
        report.passes.push(pass);
        if let Some(reason) = aborted {
            report.end = RunEnd::Aborted { reason };
            break;
        }
        if opts.dry_run {
            report.end = RunEnd::DryRun;
            break;
        }
        if let Some(end) = interrupted(bus, cancel) {
            report.end = end;
            break;
        }
        if let Some(reason) = provider_failure {
            report.end = RunEnd::ProviderFailed { reason };
            break;
        }
        match check_done(&project, bus, cancel).await {
            DoneStep::Granted(reason) => {
                report.end = RunEnd::Done { reason };
                break;
            }
            DoneStep::Refused(hint) => {
                refusal = format!(" The last ACTION: done was refused. {hint}");
            }
            DoneStep::NoRequest => refusal.clear(),
        }
        if progress {
            no_progress = 0;
            continue;
        }
        no_progress += 1;
        if no_progress < project.config.supervise.max_consecutive_no_progress.max(1) {
            continue;
        }
        if project.config.supervise.stall_rescue && !rescued {
            rescued = true;
            no_progress = 0;
            stall_rescue(&project, bus, &wf.name, &report, cancel).await?;
            continue;
        }
        report.end = RunEnd::Stalled {
            reason: format!(
                "{} cycles in a row changed nothing{}",
                no_progress,
                if rescued { " after a stall rescue" } else { "" }
            ),
        };
        break;
    }
    bus.emit(Event::RunFinished {
        workflow: opts.workflow.clone(),
        outcome: report.end.word().to_string(),
        reason: report.end.reason(),
        cycles: report.cycles,
    });
    Ok(report)
}

/// Append a line per cycle to `.clk/state/progress.md`, for a person reading along.
fn note_progress(project: &Project, cycle: u32, pass: &PassReport) {
    let stages: Vec<String> = pass
        .stages
        .iter()
        .map(|s| {
            let mark = match s.outcome {
                Outcome::Completed => "ok",
                Outcome::Failed { .. } => "failed",
                Outcome::Skipped { .. } => "skipped",
            };
            format!("{} {mark}", s.stage)
        })
        .collect();
    let line = format!(
        "- {} :: {} cycle {cycle}: {}{}\n",
        chrono::Local::now().format("%Y-%m-%d %H:%M"),
        pass.workflow,
        stages.join(", "),
        if pass.made_progress() {
            ""
        } else {
            " (no progress)"
        }
    );
    let path = project.ws.state_dir().join("progress.md");
    let _ = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, line.as_bytes()));
}

/// Judge a pending `ACTION: done` against the criteria.
async fn check_done(project: &Project, bus: &Bus, cancel: &CancellationToken) -> DoneStep {
    let ws = &project.ws;
    if !ws.state_dir().join("done.md").is_file() {
        return DoneStep::NoRequest;
    }
    let (checks, weak) = evaluate::derive_checks(&ws.work, &[]);
    let tests = if checks.is_empty() {
        TestsStatus::NotRun
    } else {
        let eval = evaluate::evaluate(project, &checks, cancel).await;
        match (eval.ok, weak || eval.weak) {
            (false, _) => TestsStatus::Red(eval.summary),
            (true, true) => TestsStatus::GreenWeak,
            (true, false) => TestsStatus::Green,
        }
    };
    let facts = done_gate::gather(ws, tests);
    match done_gate::evaluate_request(ws, &project.config.done_gate, &facts) {
        Ok(GateVerdict::NoRequest) => DoneStep::NoRequest,
        Ok(GateVerdict::Granted { reason }) => {
            crate::engine::store::records::note_decision(
                ws,
                "done gate",
                &format!("granted: {reason}"),
            );
            bus.emit(Event::DoneGate {
                granted: true,
                unmet: Vec::new(),
            });
            DoneStep::Granted(reason)
        }
        Ok(GateVerdict::Rejected { unmet }) => {
            let ids: Vec<&str> = unmet.iter().map(|u| u.id()).collect();
            crate::engine::store::records::note_decision(
                ws,
                "done gate",
                &format!("refused ACTION: done ({})", ids.join(", ")),
            );
            bus.emit(Event::DoneGate {
                granted: false,
                unmet: unmet.iter().map(|u| u.message()).collect(),
            });
            DoneStep::Refused(done_gate::rejection_hint(&unmet))
        }
        Err(e) => {
            bus.emit(Event::Warning {
                message: format!("the done gate could not read its files: {e}"),
            });
            DoneStep::NoRequest
        }
    }
}

/// One chance for the chief to break a stall with a different approach.
async fn stall_rescue(
    project: &Project,
    bus: &Bus,
    workflow: &str,
    report: &RunReport,
    cancel: &CancellationToken,
) -> Result<(), DispatchError> {
    let recent: Vec<String> = report
        .passes
        .iter()
        .rev()
        .take(3)
        .flat_map(|p| p.stages.iter())
        .map(|s| format!("- {} ({}): {:?}", s.stage, s.agent, s.outcome))
        .take(8)
        .collect();
    let objective = format!(
        "RECOVERY: the {workflow} workflow has stalled: recent cycles changed nothing. Recent \
         stage outcomes:\n{}\nChoose one: send ACTION: done if the done checklist already \
         holds; propose a genuinely different workflow with PROPOSE_WORKFLOW; or fix the \
         blocker directly with ACTION blocks.",
        recent.join("\n")
    );
    let req = DispatchRequest {
        agent: "chief".into(),
        objective,
        stage: Some("stall-rescue".into()),
        workflow: Some(workflow.to_string()),
        vars: BTreeMap::from([("phase".to_string(), "recovery".to_string())]),
        dry_run: false,
        commit: CommitPolicy::Now,
    };
    dispatch(project, bus, &req, cancel).await.map(|_| ())
}

/// How the run ends now, if the user cancelled it or asked it to stop after this step.
fn interrupted(bus: &Bus, cancel: &CancellationToken) -> Option<RunEnd> {
    if cancel.is_cancelled() {
        Some(RunEnd::Cancelled)
    } else if bus.stop_requested() {
        Some(RunEnd::Stopped)
    } else {
        None
    }
}
