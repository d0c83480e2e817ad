//! The critic loop: a critic reviews an agent's applied work and ends with `VERDICT:` and
//! `SCORE:`; until it accepts (or scores at the threshold) the agent revises with the critic's
//! text in hand, for at most `max_rounds` reviews.
//!
//! A round is one review, followed by one revision when the review asks for it, so the worst case
//! is `max_rounds` critic and `max_rounds` worker dispatches. Revisions build on the files as the
//! earlier rounds left them; the returned outcome covers every round (see [`super::merge`]). A
//! critic that cannot answer ends the loop and keeps the work as it is. In debate mode the critic
//! reviews once per lens, up to `consensus.max_parallel` at once; those reviews are recorded but
//! not applied, their transcript goes on the board as one `POST: debate`, and the panel accepts
//! when at most half ask for a revision and the mean score reaches the threshold.

use tokio_util::sync::CancellationToken;

use super::merge;
use super::policy::{Judgement, RefinePlan, judge, lens_guidance, panel_decision, verdict_word};
use crate::engine::agents::dispatch::{
    CommitPolicy, DispatchError, DispatchOutcome, DispatchRequest, Effects, FollowUps, call,
    dispatch, finish,
};
use crate::engine::ground::events::Event;
use crate::engine::ground::protocol::{PostBlock, Urgency, Verdict};
use crate::engine::store::blackboard;
use crate::engine::store::bus::Bus;
use crate::engine::store::workspace::Project;

/// One round's review: the judgement and the text the worker revises with; None when the
/// reviewers could not answer.
struct Review {
    judgement: Judgement,
    critic: String,
    feedback: String,
    /// The critic's own questions and proposals, settled with the work's.
    follow_ups: FollowUps,
}

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
        if cancel.is_cancelled() || bus.stop_requested() {
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
        let review = if plan.lenses.is_empty() {
            single(project, bus, &critic_req, plan, cancel).await?
        } else {
            panel(project, bus, &critic_req, plan, cancel).await?
        };
        let Some(Review {
            judgement: j,
            critic,
            feedback,
            follow_ups,
        }) = review
        else {
            bus.emit(Event::Warning {
                message: format!(
                    "{} could not review {}'s work; the work is kept as it is",
                    plan.critic, req.agent
                ),
            });
            break;
        };
        work.follow_ups.extend(follow_ups);
        bus.emit(Event::RefineRound {
            agent: req.agent.clone(),
            critic,
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
        revise.objective = revision_objective(req, plan, round, &feedback);
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

/// One critic, applied like any dispatch (its posts reach the board).
async fn single(
    project: &Project,
    bus: &Bus,
    critic_req: &DispatchRequest,
    plan: &RefinePlan,
    cancel: &CancellationToken,
) -> Result<Option<Review>, DispatchError> {
    let review = dispatch(project, bus, critic_req, cancel).await?;
    if review.error.is_some() {
        return Ok(None);
    }
    Ok(Some(Review {
        judgement: judge(&review.parsed.footer, plan.accept_threshold),
        critic: plan.critic.clone(),
        feedback: review.reply,
        follow_ups: review.follow_ups,
    }))
}

/// The critic once per lens, `consensus.max_parallel` at a time; only the transcript is
/// posted.
async fn panel(
    project: &Project,
    bus: &Bus,
    critic_req: &DispatchRequest,
    plan: &RefinePlan,
    cancel: &CancellationToken,
) -> Result<Option<Review>, DispatchError> {
    let requests: Vec<DispatchRequest> = plan
        .lenses
        .iter()
        .map(|lens| {
            let mut r = critic_req.clone();
            r.stage = r.stage.map(|s| format!("{s}-{lens}"));
            r.objective = format!(
                "DEBATE panel, lens \"{lens}\": review only through this lens. {}\n\n{}",
                lens_guidance(lens),
                critic_req.objective
            );
            r
        })
        .collect();
    let slots = tokio::sync::Semaphore::new(project.config.consensus.max_parallel.max(1) as usize);
    let calls = futures_util::future::join_all(requests.iter().map(|r| async {
        // The semaphore lives as long as the calls; a closed one only means shutting down.
        let _slot = slots.acquire().await.ok();
        call(project, bus, r, cancel).await
    }))
    .await;
    let mut judgements = Vec::new();
    let mut transcript = String::new();
    for ((lens, r), called) in plan.lenses.iter().zip(&requests).zip(calls) {
        let out = finish(project, bus, r, called?, Effects::RecordOnly, cancel).await?;
        if out.error.is_some() {
            continue;
        }
        let j = judge(&out.parsed.footer, plan.accept_threshold);
        transcript.push_str(&format!(
            "--- {lens}: {} (score {:.2}) ---\n{}\n\n",
            verdict_word(j.verdict),
            j.score,
            quote(&out.reply)
        ));
        judgements.push(j);
    }
    if judgements.is_empty() {
        return Ok(None);
    }
    let (accepted, mean) = panel_decision(&judgements, plan.accept_threshold);
    post_transcript(project, bus, critic_req, &transcript);
    Ok(Some(Review {
        judgement: Judgement {
            verdict: if accepted {
                Verdict::Accept
            } else {
                Verdict::Revise
            },
            score: mean,
            accepted,
        },
        critic: format!("{} panel ({})", plan.critic, plan.lenses.join(", ")),
        feedback: transcript,
        // The lenses' replies are only recorded: nothing of theirs is settled.
        follow_ups: FollowUps::default(),
    }))
}

fn post_transcript(project: &Project, bus: &Bus, critic_req: &DispatchRequest, text: &str) {
    let block = PostBlock {
        line: 0,
        post_type: "debate".into(),
        title: Some("Critic panel transcript".into()),
        slug: None,
        to: None,
        urgency: Urgency::Async,
        produces: Vec::new(),
        consumes: Vec::new(),
        body: text.trim_end().to_string(),
    };
    let origin = blackboard::Origin {
        author: "critic-panel",
        stage_id: critic_req.stage.as_deref(),
        workflow: critic_req.workflow.as_deref(),
    };
    match blackboard::add(&project.ws, &origin, &block) {
        Ok(post) => bus.emit(Event::PostAdded {
            agent: "critic-panel".into(),
            post_id: post.id,
            post_type: post.post_type,
            to: post.target_agent,
            urgency: post.urgency,
        }),
        Err(e) => bus.emit(Event::Warning {
            message: format!("cannot post the critic panel's transcript: {e}"),
        }),
    }
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
