//! The improvement loops: Ralph (one measurable improvement per iteration) and autoresearch
//! (one small experiment per step), with plateau detection in both.
//!
//! Every iteration is a unit: its agents' batches are applied but not committed, the
//! evaluator decides, and then exactly the iteration's files are either committed together or
//! put back as they were at the iteration's start. Only those files: whatever the user changed
//! elsewhere, committed or not, is never touched (the reference hard-reset the tree and lost
//! it). Each iteration appends one record to `.clk/state/experiments.jsonl` and one line to
//! `.clk/state/progress.md`, whether it improved anything or not. A loop stops at its iteration
//! cap, when `.clk/state/done.md` exists, on cancel, on a setup error, or on plateau (see
//! [`plateau`]: escalate, then reframe through the chief, then stop). A provider failure is an
//! iteration that did not improve, never a crash. Iteration boundaries are reported as
//! `stage_started` / `stage_finished` events with the loop's name as the workflow and
//! `iteration-<n>` as the stage, so every front end can show them without new event kinds.
//! Settings edited while a loop runs apply from its next iteration (`store/live.rs`).

mod iteration;
pub mod plateau;
mod skeleton;
mod steer;
pub mod text;

pub mod autoresearch;
pub mod ralph;

use std::collections::BTreeMap;

use tokio_util::sync::CancellationToken;

use crate::engine::agents::dispatch::{
    CommitPolicy, DispatchError, DispatchOutcome, DispatchRequest,
};
use crate::engine::ground::events::Event;
pub use crate::engine::ground::events::LoopKind;
use crate::engine::runs::call::dispatch;
use crate::engine::store::bus::Bus;
use crate::engine::store::live::Live;
use crate::engine::store::workspace::Project;

pub use autoresearch::run_autoresearch;
pub use ralph::run_ralph;

/// How to run a loop.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoopOptions {
    /// Iterations at most; 0 means the project's `max_iterations`.
    pub max_iterations: u32,
    /// Render and record one iteration's prompts; call no provider, change nothing.
    pub dry_run: bool,
    /// Evaluation commands; empty means derived from the project's shape.
    pub checks: Vec<String>,
}

/// Why a loop ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopReason {
    /// `.clk/state/done.md` exists: someone asked to finish.
    Done,
    /// Iterations stopped improving through escalation and reframing.
    Plateau,
    MaxIterations,
    Cancelled,
    /// The user asked to stop after the current step (`/stop`).
    Stopped,
    /// A setup problem a person must fix (config, provider, unwritable records).
    Failed(String),
    /// A dry run renders one iteration and ends.
    DryRun,
}

impl StopReason {
    /// A short word for logs and exit messages: done, plateau, max_iterations, …
    pub fn as_str(&self) -> &'static str {
        match self {
            StopReason::Done => "done",
            StopReason::Plateau => "plateau",
            StopReason::MaxIterations => "max_iterations",
            StopReason::Cancelled => "cancelled",
            StopReason::Stopped => "stopped",
            StopReason::Failed(_) => "failed",
            StopReason::DryRun => "dry_run",
        }
    }
}

impl std::fmt::Display for StopReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StopReason::Failed(why) => write!(f, "failed: {why}"),
            StopReason::Done
            | StopReason::Plateau
            | StopReason::MaxIterations
            | StopReason::Cancelled
            | StopReason::Stopped
            | StopReason::DryRun => f.write_str(self.as_str()),
        }
    }
}

/// What a loop did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoopReport {
    /// Iterations started (a skipped one counts).
    pub iterations: u32,
    pub improved: u32,
    pub committed: u32,
    pub stop_reason: StopReason,
}

/// What one iteration came to, for the loop's bookkeeping.
#[derive(Debug, Clone, Default)]
struct IterationResult {
    pub improved: bool,
    /// The iteration's commit, when its changes were kept and committed.
    pub commit: Option<String>,
    /// What was tried and how it was judged, one line, for the chief's reframe.
    pub summary: String,
    /// Set when the iteration failed: what the critic would be shown.
    pub failure: Option<iteration::Failure>,
}

/// Everything an iteration needs to talk to agents.
struct Ctx<'a> {
    pub project: &'a Project,
    pub bus: &'a Bus,
    pub cancel: &'a CancellationToken,
    pub kind: LoopKind,
    pub opts: &'a LoopOptions,
}

/// Which dispatch an agent gets inside a loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ask {
    /// An iteration's own work: quality checks, and consensus and the critic loop when careful.
    Work,
    /// Steering between iterations (the chief's reframe, the critic's critique): one dispatch.
    Steer,
}

impl Ctx<'_> {
    /// Dispatch `agent` with the loop's variables (`iteration`, `loop`, `careful`).
    #[allow(clippy::too_many_arguments)]
    async fn ask(
        &self,
        how: Ask,
        agent: &str,
        objective: String,
        index: u32,
        careful: bool,
        commit: CommitPolicy,
        extra: &[(&str, &str)],
    ) -> Result<DispatchOutcome, DispatchError> {
        let mut vars = BTreeMap::new();
        vars.insert("iteration".to_string(), index.to_string());
        vars.insert("loop".to_string(), self.kind.name().to_string());
        vars.insert("careful".to_string(), careful.to_string());
        for (k, v) in extra {
            vars.insert(k.to_string(), v.to_string());
        }
        let req = DispatchRequest {
            agent: agent.to_string(),
            objective,
            stage: Some(format!("{}-{index}", self.kind.name())),
            workflow: Some(self.kind.name().to_string()),
            vars,
            dry_run: self.opts.dry_run,
            commit,
        };
        match how {
            Ask::Work => {
                let care = crate::engine::agents::robust::Care {
                    careful,
                    ..Default::default()
                };
                crate::engine::runs::call::dispatch_careful(
                    self.project,
                    self.bus,
                    &req,
                    &care,
                    self.cancel,
                )
                .await
            }
            Ask::Steer => dispatch(self.project, self.bus, &req, self.cancel).await,
        }
    }

    fn done_requested(&self) -> bool {
        self.project.ws.state_dir().join("done.md").exists()
    }
}

/// Run `kind` until one of its stop conditions holds.
async fn drive(
    project: &Project,
    bus: &Bus,
    kind: LoopKind,
    opts: &LoopOptions,
    cancel: &CancellationToken,
) -> LoopReport {
    let ctx = Ctx {
        project,
        bus,
        cancel,
        kind,
        opts,
    };
    let max = match opts.max_iterations {
        0 => project.config.max_iterations.max(1),
        n => n,
    };
    let mut steer = steer::Steering::new(&project.config.robustness);
    let mut live = Live::new(project.clone());
    let mut report = LoopReport {
        iterations: 0,
        improved: 0,
        committed: 0,
        stop_reason: StopReason::MaxIterations,
    };
    for index in 1..=max {
        if cancel.is_cancelled() {
            report.stop_reason = StopReason::Cancelled;
            break;
        }
        if ctx.done_requested() && !opts.dry_run {
            report.stop_reason = StopReason::Done;
            break;
        }
        if bus.stop_requested() {
            report.stop_reason = StopReason::Stopped;
            break;
        }
        // Settings edited since the last iteration apply from this one.
        let current = live.refresh(bus).clone();
        let ctx = Ctx {
            project: &current,
            ..ctx
        };
        report.iterations = index;
        let stage = format!("iteration-{index}");
        bus.emit(Event::StageStarted {
            workflow: kind.name().to_string(),
            stage: stage.clone(),
            agent: kind.name().to_string(),
        });
        let result = match kind {
            LoopKind::Ralph => skeleton::run(&ctx, &steer, index, &ralph::Ralph).await,
            LoopKind::Autoresearch => {
                skeleton::run(&ctx, &steer, index, &autoresearch::Autoresearch).await
            }
        };
        let finished = |ok: bool, reason: Option<String>, commit: Option<String>| {
            bus.emit(Event::StageFinished {
                workflow: kind.name().to_string(),
                stage: stage.clone(),
                ok,
                reason,
                commit,
            })
        };
        let outcome = match result {
            Ok(r) => r,
            Err(e) => {
                finished(false, Some(e.to_string()), None);
                report.stop_reason = StopReason::Failed(e.to_string());
                break;
            }
        };
        finished(
            outcome.improved,
            (!outcome.improved).then(|| outcome.summary.clone()),
            outcome.commit.clone(),
        );
        if opts.dry_run {
            report.stop_reason = StopReason::DryRun;
            break;
        }
        report.improved += u32::from(outcome.improved);
        report.committed += u32::from(outcome.commit.is_some());
        if cancel.is_cancelled() {
            report.stop_reason = StopReason::Cancelled;
            break;
        }
        match steer.after(&ctx, index, outcome).await {
            Ok(None) => {}
            Ok(Some(stop)) => {
                report.stop_reason = stop;
                break;
            }
            Err(e) => {
                report.stop_reason = StopReason::Failed(e.to_string());
                break;
            }
        }
    }
    if matches!(report.stop_reason, StopReason::MaxIterations) && ctx.done_requested() {
        report.stop_reason = StopReason::Done;
    }
    if let StopReason::Failed(why) = &report.stop_reason {
        bus.emit(Event::Warning {
            message: format!(
                "the {} stopped after {} iteration(s): {why}",
                kind.title(),
                report.iterations
            ),
        });
    }
    report
}
