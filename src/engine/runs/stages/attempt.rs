//! One stage's dispatch: its `rounds`, the robustness loops around each round, and stage
//! retries when the provider failed in a way worth retrying.
//!
//! The provider layer already retried the call (`provider_retry.max_retries`); a stage retry is
//! the slower outer loop for outages that outlast those (`provider_retry.stage_max_retries`,
//! pausing `stage_backoff_ms`, doubling each time). Only retryable failures and clk's own
//! timeouts are retried here: a refused key or a missing model fails the stage at once.

use std::time::{SystemTime, UNIX_EPOCH};

use tokio_util::sync::CancellationToken;

use crate::engine::agents::dispatch::{DispatchError, DispatchOutcome, DispatchRequest};
use crate::engine::agents::providers::ErrorKind;
use crate::engine::agents::providers::retry::RetryPolicy;
use crate::engine::agents::robust::{Care, merge};
use crate::engine::ground::events::Event;
use crate::engine::ground::protocol::RoundStatus;
use crate::engine::runs::call::dispatch_careful;
use crate::engine::runs::gauntlet;
use crate::engine::store::bus::Bus;
use crate::engine::store::workflow::{Stage, Workflow};
use crate::engine::store::workspace::Project;

/// Dispatch `stage`'s agent for every round the stage asks for, then put the result through
/// the gauntlet when it covers the stage. The outcome covers all of it.
pub(super) async fn dispatch_stage(
    project: &Project,
    bus: &Bus,
    wf: &Workflow,
    stage: &Stage,
    req: &DispatchRequest,
    cancel: &CancellationToken,
) -> Result<DispatchOutcome, DispatchError> {
    let Some(plan) = gauntlet::plan_for(project, bus, stage) else {
        return dispatch_rounds(project, bus, wf, stage, req, false, cancel).await;
    };
    let briefed = gauntlet::brief(req, &plan);
    let out = dispatch_rounds(project, bus, wf, stage, &briefed, true, cancel).await?;
    gauntlet::run(project, bus, wf, stage, req, &plan, out, cancel).await
}

/// Every round the stage asks for (one unless `rounds:` says more; an agent ends early with
/// `ROUND_STATUS: done`). `gauntlet`: it covers the stage, so no automatic critic loop.
async fn dispatch_rounds(
    project: &Project,
    bus: &Bus,
    wf: &Workflow,
    stage: &Stage,
    req: &DispatchRequest,
    gauntlet: bool,
    cancel: &CancellationToken,
) -> Result<DispatchOutcome, DispatchError> {
    let care = Care {
        careful: stage.careful,
        expected_outputs: stage.outputs.clone(),
        refine: stage.refine.clone(),
        gauntlet,
    };
    let rounds = stage.rounds.unwrap_or(1).max(1);
    let mut acc: Option<DispatchOutcome> = None;
    let mut round = 0;
    // At least one round runs, so the loop always ends with an outcome.
    loop {
        round += 1;
        let mut r = req.clone();
        if rounds > 1 {
            r.objective = format!(
                "Round {round}/{rounds} of stage {}. End with `ROUND_STATUS: continue` when \
                 another round would still improve the work, or `ROUND_STATUS: done`.\n\n{}",
                stage.id, req.objective
            );
            r.vars.insert("round".to_string(), round.to_string());
        }
        let out = with_stage_retries(project, bus, wf, stage, &r, &care, cancel).await?;
        let stop = !out.ok
            || req.dry_run
            || cancel.is_cancelled()
            || bus.stop_requested()
            || out.parsed.footer.round_status == Some(RoundStatus::Done);
        let all = match acc.take() {
            Some(a) => merge(a, out),
            None => out,
        };
        if stop || round >= rounds {
            return Ok(all);
        }
        acc = Some(all);
    }
}

/// Worth another try of the whole stage after a pause.
fn stage_retryable(out: &DispatchOutcome) -> bool {
    out.error.as_ref().is_some_and(|e| match e.kind {
        ErrorKind::Retryable | ErrorKind::Timeout => true,
        ErrorKind::Auth
        | ErrorKind::NotFound
        | ErrorKind::Cancelled
        | ErrorKind::BadReply
        | ErrorKind::Fatal => false,
    })
}

async fn with_stage_retries(
    project: &Project,
    bus: &Bus,
    wf: &Workflow,
    stage: &Stage,
    req: &DispatchRequest,
    care: &Care,
    cancel: &CancellationToken,
) -> Result<DispatchOutcome, DispatchError> {
    let rc = &project.config.provider_retry;
    let policy = RetryPolicy {
        max_retries: rc.stage_max_retries,
        backoff_ms: rc.stage_backoff_ms,
        max_backoff_ms: rc.max_backoff_ms.max(rc.stage_backoff_ms),
        retry_after_cap: std::time::Duration::ZERO,
    };
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or_default();
    let mut retry = 0u32;
    loop {
        let out = dispatch_careful(project, bus, req, care, cancel).await?;
        if !stage_retryable(&out)
            || retry >= policy.max_retries
            || cancel.is_cancelled()
            || bus.stop_requested()
        {
            return Ok(out);
        }
        retry += 1;
        let delay = policy.delay_for(retry, seed.wrapping_add(u64::from(retry)));
        bus.emit(Event::StageRetry {
            workflow: wf.name.clone(),
            stage: stage.id.clone(),
            attempt: retry,
            max_retries: policy.max_retries,
            delay_ms: delay.as_millis() as u64,
            error: out
                .error
                .as_ref()
                .map(|e| e.message.clone())
                .unwrap_or_default(),
        });
        tokio::select! {
            _ = cancel.cancelled() => return Ok(out),
            _ = tokio::time::sleep(delay) => {}
        }
    }
}
