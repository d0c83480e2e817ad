//! The critic loop: a critic reviews an agent's applied work and ends with `VERDICT:` and
//! `SCORE:`; until it accepts (or scores at the threshold) the agent revises with the critic's
//! text in hand, for at most `max_rounds` reviews.
//!
//! A round is one review, followed by one revision when the review asks for it, so the worst
//! case is `max_rounds` critic and `max_rounds` worker dispatches. Revisions build on the files
//! as the earlier rounds left them; the returned outcome covers every round (see
//! [`super::merge`]). A critic that cannot answer ends the loop and keeps the work as it is.

use tokio_util::sync::CancellationToken;

use super::merge;
use super::policy::{RefinePlan, judge, verdict_word};
use crate::engine::bus::Bus;
use crate::engine::dispatch::{
    CommitPolicy, DispatchError, DispatchOutcome, DispatchRequest, dispatch,
};
use crate::engine::events::Event;
use crate::engine::workspace::Project;

/// Longest piece of a reply quoted to the other side, in characters.
const MAX_QUOTE_CHARS: usize = 4000;

fn quote(text: &str) -> String {
    if text.chars().count() > MAX_QUOTE_CHARS {
        format!(
            "{}\n… (cut)",
            text.chars().take(MAX_QUOTE_CHARS).collect::<String>()
        )
    } else {
        text.to_string()
    }
}

/// Review `work` (the applied reply to `req`) until the critic accepts or the rounds run out.
pub async fn run(
    project: &Project,
    bus: &Bus,
    req: &DispatchRequest,
    plan: &RefinePlan,
    outputs: &[String],
    mut work: DispatchOutcome,
    cancel: &CancellationToken,
) -> Result<DispatchOutcome, DispatchError> {
    let stage = req.stage.clone().unwrap_or_else(|| req.agent.clone());
    for round in 1..=plan.max_rounds {
        if cancel.is_cancelled() {
            break;
        }
        let critic_req = DispatchRequest {
            agent: plan.critic.clone(),
            objective: critic_objective(req, plan, round, outputs, &work),
            stage: Some(format!("{stage}-critic")),
            workflow: req.workflow.clone(),
            vars: [("phase".to_string(), "refine_critic".to_string())].into(),
            dry_run: false,
            commit: CommitPolicy::Now,
        };
        let review = dispatch(project, bus, &critic_req, cancel).await?;
        if let Some(e) = &review.error {
            bus.emit(Event::Warning {
                message: format!(
                    "{} could not review {}'s work ({}); the work is kept as it is",
                    plan.critic, req.agent, e.message
                ),
            });
            break;
        }
        let j = judge(&review.parsed.footer, plan.accept_threshold);
        bus.emit(Event::RefineRound {
            agent: req.agent.clone(),
            critic: plan.critic.clone(),
            stage: req.stage.clone(),
            round,
            max_rounds: plan.max_rounds,
            verdict: verdict_word(j.verdict).to_string(),
            score: j.score,
            accepted: j.accepted,
        });
        if j.accepted {
            break;
        }
        let mut revise = req.clone();
        revise.objective = revision_objective(req, plan, round, &review.reply);
        revise
            .vars
            .insert("phase".to_string(), "refine_worker".to_string());
        let revised = dispatch(project, bus, &revise, cancel).await?;
        if revised.error.is_some() {
            bus.emit(Event::Warning {
                message: format!(
                    "{} could not revise its work; the earlier version is kept",
                    req.agent
                ),
            });
            break;
        }
        work = merge(work, revised);
    }
    Ok(work)
}

fn critic_objective(
    req: &DispatchRequest,
    plan: &RefinePlan,
    round: u32,
    outputs: &[String],
    work: &DispatchOutcome,
) -> String {
    let files = work.batch.changed_paths();
    format!(
        "REFINE review, round {round}/{}: review {}'s work on the task below against the task \
         itself and the files. End with `VERDICT: accept` or `VERDICT: revise` and \
         `SCORE: <0..1>` (accept when nothing blocks a user; {:.2} or more is good enough).\n\n\
         Task:\n{}\n\nDeclared outputs: {}\nFiles changed so far: {}\n\n{}'s reply:\n{}",
        plan.max_rounds,
        req.agent,
        plan.accept_threshold,
        req.objective,
        if outputs.is_empty() {
            "(none)".to_string()
        } else {
            outputs.join(", ")
        },
        if files.is_empty() {
            "(none)".to_string()
        } else {
            files.join(", ")
        },
        req.agent,
        quote(&work.reply)
    )
}

fn revision_objective(
    req: &DispatchRequest,
    plan: &RefinePlan,
    round: u32,
    review: &str,
) -> String {
    format!(
        "REVISION requested by {} (round {round}/{}). Your earlier reply was applied; its \
         files are as you left them. Fix every gap the review names with ACTION blocks, and \
         send again any POST the task requires.\n\nReview:\n{}\n\nOriginal objective:\n{}",
        plan.critic,
        plan.max_rounds,
        quote(review),
        req.objective
    )
}
