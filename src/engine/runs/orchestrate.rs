//! The big steps a user asks for: cast the team, plan, run, in one place for every front end.
//!
//! Casting dispatches the chief with the idea; its PROPOSE blocks are applied by the dispatch
//! pipeline. Planning supervises the discovery then the product workflow; running supervises
//! the engineering workflow (or the one named). Each returns a one-line summary and whether it
//! succeeded; the details are events.

use tokio_util::sync::CancellationToken;

use crate::engine::agents::dispatch::DispatchRequest;
use crate::engine::ground::config::Env;
use crate::engine::runs::call::dispatch;
use crate::engine::runs::loops::{LoopKind, LoopOptions, StopReason, run_autoresearch, run_ralph};
use crate::engine::runs::stages::supervise::{RunEnd, SuperviseError, SuperviseOptions, supervise};
use crate::engine::store::bus::Bus;
use crate::engine::store::idea::Idea;
use crate::engine::store::workspace::Project;

/// How a step ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepResult {
    pub ok: bool,
    pub cancelled: bool,
    pub summary: String,
    /// The input was wrong (no idea, unknown workflow): exit code 2 material.
    pub bad_input: bool,
}

impl StepResult {
    /// The input was wrong.
    pub fn bad(summary: String) -> StepResult {
        StepResult {
            ok: false,
            cancelled: false,
            summary,
            bad_input: true,
        }
    }

    /// The step could not be done.
    pub fn failed(summary: String) -> StepResult {
        StepResult {
            ok: false,
            cancelled: false,
            summary,
            bad_input: false,
        }
    }
}

/// True when every agent would get the shell provider's model-less fixed reply: no model is
/// attached, so a run can only rehearse the flow (each step once), never finish real work.
pub fn rehearsal(project: &Project) -> bool {
    let stub = |name: &str| {
        project.providers.providers.get(name).is_some_and(|s| {
            s.kind == "shell" && s.command.as_deref().unwrap_or("").trim().is_empty()
        })
    };
    let pinned_elsewhere = project
        .agents
        .agents
        .values()
        .filter_map(|a| a.provider.as_deref())
        .any(|prov| !stub(prov));
    stub(&project.providers.active) && !pinned_elsewhere
}

/// The chief's casting objective for an idea.
pub fn casting_objective(idea: &Idea) -> String {
    format!(
        "CASTING: pick the team for this idea and write the engineering workflow. \
         Idea: {}. {} Keep the roster small: the baseline agents and the bundled specialists \
         cover most projects.",
        idea.title, idea.statement
    )
}

/// Dispatch the chief to cast the team for the recorded idea.
pub async fn cast(
    project: &Project,
    bus: &Bus,
    dry_run: bool,
    cancel: &CancellationToken,
) -> StepResult {
    let Some(idea) = Idea::load(&project.ws) else {
        return StepResult::bad("no idea recorded yet; run `clk idea \"...\"` first".into());
    };
    let req = DispatchRequest {
        agent: "chief".into(),
        objective: casting_objective(&idea),
        stage: Some("casting".into()),
        dry_run,
        vars: [("phase".to_string(), "casting".to_string())].into(),
        ..Default::default()
    };
    match dispatch(project, bus, &req, cancel).await {
        Err(e) => StepResult::bad(e.to_string()),
        Ok(out) => {
            let p = &out.proposals;
            let summary = match &out.error {
                Some(e) => e.message.clone(),
                None => format!(
                    "{} role(s) cast, {} refused; {} workflow(s) written, {} refused",
                    p.roles_accepted.len(),
                    p.roles_refused.len(),
                    p.workflows_written.len(),
                    p.workflows_refused.len()
                ),
            };
            StepResult {
                ok: out.ok,
                cancelled: out.error.as_ref().is_some_and(|e| {
                    e.kind == crate::engine::agents::providers::ErrorKind::Cancelled
                }),
                summary,
                bad_input: false,
            }
        }
    }
}

/// Supervise one workflow to its end.
pub async fn run(
    project: &Project,
    bus: &Bus,
    workflow: &str,
    max_cycles: Option<u32>,
    dry_run: bool,
    cancel: &CancellationToken,
) -> StepResult {
    // Cycles take in edited settings; a provider chosen apart from the files (`/provider`)
    // stays, while one the files choose follows their edits.
    let from_files = project.ws.load(&project.env).ok();
    let env = match from_files {
        Some(p) if p.providers.active == project.providers.active => project.env.clone(),
        _ => project.env.with("CLK_PROVIDER", &project.providers.active),
    };
    run_with_env(project, bus, workflow, max_cycles, dry_run, cancel, &env).await
}

/// [`run`] with the `CLK_*` overrides taken from `env` when cycles reload the config.
pub async fn run_with_env(
    project: &Project,
    bus: &Bus,
    workflow: &str,
    max_cycles: Option<u32>,
    dry_run: bool,
    cancel: &CancellationToken,
    env: &Env,
) -> StepResult {
    let opts = SuperviseOptions {
        workflow: workflow.to_string(),
        dry_run,
        max_cycles,
    };
    match supervise(project, env, bus, &opts, cancel).await {
        Ok(report) => StepResult {
            ok: matches!(report.end, RunEnd::Done { .. } | RunEnd::DryRun),
            cancelled: report.end == RunEnd::Cancelled,
            summary: format!(
                "{workflow}: {} after {} cycle(s): {}",
                report.end.word(),
                report.cycles,
                report.end.reason()
            ),
            bad_input: false,
        },
        Err(e @ (SuperviseError::Config(_) | SuperviseError::Workflow(_))) => {
            StepResult::bad(e.to_string())
        }
        Err(e @ SuperviseError::Dispatch(_)) => StepResult {
            ok: false,
            cancelled: false,
            summary: e.to_string(),
            bad_input: false,
        },
    }
}

/// Discovery, then product. Stops at the first workflow that does not finish.
pub async fn plan(
    project: &Project,
    bus: &Bus,
    dry_run: bool,
    cancel: &CancellationToken,
) -> StepResult {
    let mut summaries = Vec::new();
    for wf in ["discovery", "product"] {
        let r = run(project, bus, wf, None, dry_run, cancel).await;
        summaries.push(r.summary.clone());
        if !r.ok {
            return StepResult {
                summary: summaries.join("; "),
                ..r
            };
        }
    }
    StepResult {
        ok: true,
        cancelled: false,
        summary: summaries.join("; "),
        bad_input: false,
    }
}

/// Run an improvement loop; it succeeds when it ends normally (done, plateau, or its cap).
pub async fn run_loop(
    project: &Project,
    bus: &Bus,
    kind: LoopKind,
    iterations: u32,
    dry_run: bool,
    cancel: &CancellationToken,
) -> StepResult {
    let opts = LoopOptions {
        max_iterations: iterations,
        dry_run,
        checks: Vec::new(),
    };
    let report = match kind {
        LoopKind::Ralph => run_ralph(project, bus, &opts, cancel).await,
        LoopKind::Autoresearch => run_autoresearch(project, bus, &opts, cancel).await,
    };
    let summary = format!(
        "{} loop: {} iteration(s), {} improved, {} committed; stopped: {}",
        kind.name(),
        report.iterations,
        report.improved,
        report.committed,
        report.stop_reason
    );
    StepResult {
        ok: !matches!(
            report.stop_reason,
            StopReason::Failed(_) | StopReason::Cancelled
        ),
        cancelled: report.stop_reason == StopReason::Cancelled,
        summary,
        bad_input: false,
    }
}
