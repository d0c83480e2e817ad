//! The robustness loops around a dispatch: quality retries, consensus fan-out and the critic
//! loop, each bounded and each switched by `robustness.*` / `consensus.*` (or their `CLK_*`
//! overrides).
//!
//! [`dispatch_careful`] is what workflow stages and loop iterations call instead of a bare
//! dispatch. In order: a careful (or `always`) dispatch fans out into consensus samples that the
//! chief merges; otherwise every reply is scored ([`crate::engine::ground::protocol::score`])
//! before anything in it is applied, and a recoverable failure is sent back with a repair preamble,
//! the last retry escalating to consensus; a refusal is not retried but told to the chief. Then,
//! when a `refine:` block or `auto_refine` asks, a critic reviews the applied work until it
//! accepts. A PROPOSE_CONSENSUS in the final reply runs last ([`run_proposals`], which plain
//! dispatches call too). Invariants: a reply that was turned down is never applied (only recorded);
//! with every knob off, a dispatch costs exactly one provider call; a provider with fixed replies
//! (the shell stub) gets one call per step, because asking it again cannot change its answer. Meta
//! dispatches (recovery, checkpoint, reframe, critique, the merge itself) use the plain dispatch
//! and none of this.

pub mod consensus;
pub mod policy;
pub mod refine;

use tokio_util::sync::CancellationToken;

use crate::engine::agents::dispatch::{
    Called, DispatchError, DispatchOutcome, DispatchRequest, Effects, call, dispatch, finish,
};
use crate::engine::agents::providers::registry;
use crate::engine::ground::events::Event;
use crate::engine::ground::protocol::{PostBlock, Quality, ScoreOptions, Urgency, score};
use crate::engine::store::blackboard;
use crate::engine::store::bus::Bus;
use crate::engine::store::workflow::Refine;
use crate::engine::store::workspace::Project;

use consensus::{Fanned, FanoutPlan};
use policy::QualityStep;

/// At most this many PROPOSE_CONSENSUS blocks of one reply are run.
const MAX_PROPOSALS_PER_REPLY: usize = 2;

/// What the caller knows about the step, beyond the request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Care {
    /// A `careful: true` stage, or an escalated loop iteration.
    pub careful: bool,
    /// Keys some POST must list under PRODUCES.
    pub expected_outputs: Vec<String>,
    /// The stage's own `refine:` block.
    pub refine: Option<Refine>,
    /// The gauntlet reviews this step, so the automatic critic loop stays off; a `refine:`
    /// block still runs.
    pub gauntlet: bool,
}

/// How replies are scored in this project for this step.
pub fn score_options(project: &Project, care: &Care) -> ScoreOptions {
    let rb = &project.config.robustness;
    ScoreOptions {
        min_chars: rb.min_response_chars as usize,
        expected_outputs: care.expected_outputs.clone(),
        min_confidence: rb.min_confidence,
        ..ScoreOptions::default()
    }
}

/// One step's dispatch with the robustness loops around it.
pub async fn dispatch_careful(
    project: &Project,
    bus: &Bus,
    req: &DispatchRequest,
    care: &Care,
    cancel: &CancellationToken,
) -> Result<DispatchOutcome, DispatchError> {
    if req.dry_run || registry::fixed_replies(project, &req.agent) {
        return dispatch(project, bus, req, cancel).await;
    }
    let rb = &project.config.robustness;
    let trigger = policy::consensus_trigger(rb.auto_consensus, &req.agent, care.careful);
    let mut out = match trigger {
        Some(trigger) => {
            let plan = FanoutPlan::auto(
                &req.agent,
                &req.objective,
                trigger,
                project.config.consensus.max_samples,
            );
            match consensus::run(project, bus, &plan, req, care, cancel).await? {
                Fanned::Merged(o) | Fanned::AllFailed(o) => o,
                Fanned::NotStarted(why) => {
                    bus.emit(Event::Warning {
                        message: format!("consensus for {} did not start: {why}", req.agent),
                    });
                    quality_loop(project, bus, req, care, cancel).await?
                }
            }
        }
        None => quality_loop(project, bus, req, care, cancel).await?,
    };
    // `/stop` takes effect between model calls: no critic round after the reply.
    if !out.ok || cancel.is_cancelled() || bus.stop_requested() {
        return Ok(out);
    }
    let plan = policy::refine_plan(rb, care.refine.as_ref(), &req.agent, care.careful)
        .filter(|_| !care.gauntlet || care.refine.is_some());
    if let Some(plan) = plan {
        if roster_has(project, &plan.critic) {
            out = refine::run(
                project,
                bus,
                req,
                &plan,
                &care.expected_outputs,
                out,
                cancel,
            )
            .await?;
        } else {
            bus.emit(Event::Warning {
                message: format!(
                    "no agent named {} on the roster, so {}'s work was not reviewed; cast it or \
                     set robustness.auto_refine=off",
                    plan.critic, req.agent
                ),
            });
        }
    }
    run_proposals(project, bus, req, out, cancel).await
}

/// True when `agent` can be dispatched: on the roster, or an agent with a prompt file.
fn roster_has(project: &Project, agent: &str) -> bool {
    crate::engine::store::roster::roster_names(
        &project.ws,
        &crate::engine::store::roster::current_agents(project),
    )
    .contains(agent)
}

/// Score, repair, escalate: the reply that comes out of here is the one applied.
async fn quality_loop(
    project: &Project,
    bus: &Bus,
    req: &DispatchRequest,
    care: &Care,
    cancel: &CancellationToken,
) -> Result<DispatchOutcome, DispatchError> {
    let rb = &project.config.robustness;
    let max_retries = rb.max_quality_retries;
    let consensus_enabled = rb.auto_consensus != crate::engine::ground::config::AutoConsensus::Off
        && req.agent != policy::CHIEF;
    let opts = score_options(project, care);
    let mut attempt_req = req.clone();
    // The best turned-down reply so far: applied if every retry does worse.
    let mut best: Option<(DispatchRequest, Called, Quality)> = None;
    let mut attempt = 1u32;
    loop {
        let called = call(project, bus, &attempt_req, cancel).await?;
        if !called.ok {
            // A repair that could not be sent at all: the best reply so far still stands.
            return match best.take() {
                Some((_, b, _)) => {
                    finish(
                        project,
                        bus,
                        &attempt_req,
                        called,
                        Effects::RecordOnly,
                        cancel,
                    )
                    .await?;
                    finish(project, bus, req, b, Effects::Apply, cancel).await
                }
                None => finish(project, bus, req, called, Effects::Apply, cancel).await,
            };
        }
        let q = if called.made_native_changes() {
            // An agent that edited files with its own tools did its work there; its reply may
            // be a single line.
            let lenient = ScoreOptions {
                min_chars: 0,
                expect_file_action: false,
                ..opts.clone()
            };
            score(&called.reply, &called.parsed, &lenient)
        } else {
            score(&called.reply, &called.parsed, &opts)
        };
        let repeated = best
            .as_ref()
            .is_some_and(|(_, b, _)| b.reply == called.reply);
        let mut step = policy::quality_step(&q, attempt, max_retries, consensus_enabled);
        if repeated && matches!(step, QualityStep::Repair | QualityStep::Escalate) {
            // Word for word the same reply again: the agent cannot repair it.
            step = QualityStep::GiveUp;
        }
        if bus.stop_requested() && matches!(step, QualityStep::Repair | QualityStep::Escalate) {
            // `/stop` came during this call: no further call, the best reply so far stands.
            step = QualityStep::GiveUp;
        }
        match step {
            QualityStep::Accept => {
                drop_best(project, bus, best.take(), cancel).await?;
                return finish(project, bus, req, called, Effects::Apply, cancel).await;
            }
            QualityStep::Refused => {
                drop_best(project, bus, best.take(), cancel).await?;
                tell_chief_of_refusal(project, bus, req, &called);
                return finish(project, bus, req, called, Effects::Apply, cancel).await;
            }
            QualityStep::GiveUp => {
                let (_, keep, other) = match best.take() {
                    Some((b_req, b, bq)) if bq.score > q.score => {
                        (b_req, b, Some((attempt_req.clone(), called, q)))
                    }
                    prev => (attempt_req.clone(), called, prev),
                };
                drop_best(project, bus, other, cancel).await?;
                return finish(project, bus, req, keep, Effects::Apply, cancel).await;
            }
            QualityStep::Escalate => {
                let reasons = policy::reasons(&q, &called.parsed);
                emit_retry(bus, req, &called, attempt, max_retries, &q, reasons);
                let mut called = called;
                called.put_back_native(project, bus, &req.agent);
                let plan = FanoutPlan::auto(
                    &req.agent,
                    &req.objective,
                    "quality",
                    project.config.consensus.max_samples,
                );
                let kept = keep_better(
                    project,
                    bus,
                    best.take(),
                    (attempt_req.clone(), called, q),
                    cancel,
                )
                .await?;
                match consensus::run(project, bus, &plan, req, care, cancel).await? {
                    Fanned::Merged(o) if o.ok => {
                        drop_best(project, bus, Some(kept), cancel).await?;
                        return Ok(o);
                    }
                    Fanned::Merged(_) | Fanned::AllFailed(_) | Fanned::NotStarted(_) => {
                        // Nothing better came of it: the best reply seen is applied.
                        let (_, b, _) = kept;
                        return finish(project, bus, req, b, Effects::Apply, cancel).await;
                    }
                }
            }
            QualityStep::Repair => {
                let reasons = policy::reasons(&q, &called.parsed);
                emit_retry(bus, req, &called, attempt, max_retries, &q, reasons.clone());
                let mut called = called;
                called.put_back_native(project, bus, &req.agent);
                best = Some(
                    keep_better(
                        project,
                        bus,
                        best.take(),
                        (attempt_req.clone(), called, q),
                        cancel,
                    )
                    .await?,
                );
                attempt_req = req.clone();
                attempt_req.objective = policy::repair_objective(&reasons, &req.objective);
                attempt += 1;
            }
        }
    }
}

fn emit_retry(
    bus: &Bus,
    req: &DispatchRequest,
    called: &Called,
    attempt: u32,
    max_retries: u32,
    q: &Quality,
    reasons: Vec<String>,
) {
    bus.emit(Event::QualityRetry {
        agent: req.agent.clone(),
        run_id: called.run_id.clone(),
        attempt,
        max_retries,
        score: q.score,
        reasons,
    });
}

/// Keep the better of `best` and `new` (the later one on a tie); record the other unapplied.
async fn keep_better(
    project: &Project,
    bus: &Bus,
    best: Option<(DispatchRequest, Called, Quality)>,
    new: (DispatchRequest, Called, Quality),
    cancel: &CancellationToken,
) -> Result<(DispatchRequest, Called, Quality), DispatchError> {
    let (kept, loser) = match best {
        Some(old) if old.2.score > new.2.score => (old, Some(new)),
        old => (new, old),
    };
    drop_best(project, bus, loser, cancel).await?;
    Ok(kept)
}

/// Write the run record of a reply that is not applied.
async fn drop_best(
    project: &Project,
    bus: &Bus,
    best: Option<(DispatchRequest, Called, Quality)>,
    cancel: &CancellationToken,
) -> Result<(), DispatchError> {
    if let Some((r, c, _)) = best {
        finish(project, bus, &r, c, Effects::TurnedDown, cancel).await?;
    }
    Ok(())
}

/// A refusal is not retried; the chief learns of it on the board (and every front end from
/// the event).
fn tell_chief_of_refusal(project: &Project, bus: &Bus, req: &DispatchRequest, called: &Called) {
    let excerpt: String = called.reply.trim().chars().take(300).collect();
    let task: String = req.objective.chars().take(300).collect();
    let reason = format!("{} declined: {excerpt}", req.agent);
    bus.emit(Event::ReplyRefused {
        agent: req.agent.clone(),
        run_id: called.run_id.clone(),
        stage: req.stage.clone(),
        reason: reason.clone(),
    });
    let block = PostBlock {
        line: 0,
        post_type: "refusal".into(),
        title: Some(format!("{} declined a task", req.agent)),
        slug: None,
        to: Some(policy::CHIEF.into()),
        urgency: Urgency::Async,
        produces: Vec::new(),
        consumes: Vec::new(),
        body: format!(
            "{reason}\n\nThe task was: {task}\nIt was not retried. Re-cast the task, give it to \
             another agent, or change the workflow."
        ),
    };
    let origin = blackboard::Origin {
        author: "clk",
        stage_id: req.stage.as_deref(),
        workflow: req.workflow.as_deref(),
    };
    match blackboard::add(&project.ws, &origin, &block) {
        Ok(post) => bus.emit(Event::PostAdded {
            agent: "clk".into(),
            post_id: post.id,
            post_type: post.post_type,
            to: post.target_agent,
            urgency: post.urgency,
        }),
        Err(e) => bus.emit(Event::Warning {
            message: format!("cannot tell the chief that {} declined: {e}", req.agent),
        }),
    }
}

/// Run the PROPOSE_CONSENSUS blocks of the final reply; their merged answers join `out`.
/// Every dispatch that may propose goes through here: careful ones at their end, plain ones
/// (casting, supervise, recovery, checkpoints) from `runs/call.rs`. A dry run or a failed
/// reply starts none.
pub async fn run_proposals(
    project: &Project,
    bus: &Bus,
    req: &DispatchRequest,
    mut out: DispatchOutcome,
    cancel: &CancellationToken,
) -> Result<DispatchOutcome, DispatchError> {
    if req.dry_run || !out.ok || out.parsed.consensus.is_empty() {
        return Ok(out);
    }
    let proposals: Vec<_> = out
        .parsed
        .consensus
        .iter()
        .take(MAX_PROPOSALS_PER_REPLY)
        .cloned()
        .collect();
    if out.parsed.consensus.len() > MAX_PROPOSALS_PER_REPLY {
        bus.emit(Event::Warning {
            message: format!(
                "{} proposed {} consensus runs; only the first {MAX_PROPOSALS_PER_REPLY} ran",
                req.agent,
                out.parsed.consensus.len()
            ),
        });
    }
    // The same names a workflow may use: the roster, and agents with a prompt file.
    let names = crate::engine::store::roster::roster_names(
        &project.ws,
        &crate::engine::store::roster::current_agents(project),
    );
    let on_roster = |a: &str| names.contains(a);
    for p in proposals {
        let plan = FanoutPlan::proposal(
            &p,
            &req.agent,
            &on_roster,
            project.config.consensus.max_samples,
        );
        // The stage's output contract is not the proposal's: samples are scored plainly.
        match consensus::run(project, bus, &plan, req, &Care::default(), cancel).await? {
            Fanned::Merged(o) => out = merge(out, o),
            Fanned::AllFailed(_) => bus.emit(Event::Warning {
                message: format!("consensus {}: no sample got an answer", p.name),
            }),
            Fanned::NotStarted(why) => bus.emit(Event::Warning {
                message: format!("consensus {} did not start: {why}", p.name),
            }),
        }
    }
    Ok(out)
}

/// Fold a later dispatch of the same step into the earlier one: files, commands, usage and
/// posts add up; the reply, footer and status are the later one's.
pub fn merge(mut acc: DispatchOutcome, next: DispatchOutcome) -> DispatchOutcome {
    for p in next.batch.written.iter() {
        if !acc.batch.written.contains(p) {
            acc.batch.written.push(p.clone());
        }
        acc.batch.deleted.retain(|d| d != p);
    }
    for p in next.batch.deleted.iter() {
        if !acc.batch.deleted.contains(p) {
            acc.batch.deleted.push(p.clone());
        }
        acc.batch.written.retain(|w| w != p);
    }
    acc.batch.commands.extend(next.batch.commands);
    acc.batch.refused.extend(next.batch.refused);
    if next.batch.done.is_some() {
        acc.batch.done = next.batch.done;
    }
    acc.usage.input_tokens += next.usage.input_tokens;
    acc.usage.output_tokens += next.usage.output_tokens;
    acc.usage.cached_input_tokens += next.usage.cached_input_tokens;
    acc.usage.estimated |= next.usage.estimated;
    let mut posts = std::mem::take(&mut acc.parsed.posts);
    posts.extend(next.parsed.posts.iter().cloned());
    acc.parsed = next.parsed;
    acc.parsed.posts = posts;
    acc.follow_ups.extend(next.follow_ups);
    acc.proposals.extend(next.proposals);
    acc.run_id = next.run_id;
    acc.ok = next.ok;
    acc.error = next.error;
    acc.reply = next.reply;
    acc.commit = next.commit.or(acc.commit);
    acc
}
