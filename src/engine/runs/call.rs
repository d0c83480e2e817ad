//! A call to an agent as a run makes it: the agents layer's dispatch, then what the reply asks
//! of the run. Its PROPOSE_CONSENSUS blocks fan out (within `consensus.max_samples`, two per
//! reply at most), its blocking questions are routed to their peers and its role and workflow
//! proposals applied, after the agent's own batch is committed.
//!
//! Every dispatch made by the runs and session layers goes through here, so no reply's
//! questions, delegations (`delegate.rs`) or proposals are dropped.
//!
//! Blocking questions between agents:
//!
//! A `POST: question` with `TO: <peer>` (and urgency blocking, or none given) dispatches that
//! peer at once with the question; its `POST: answer` lands on the blackboard, where the asker
//! sees it in its next digest. Chains are bounded: a peer already in the chain is not asked
//! again, and the depth stops at `robustness.max_qa_depth`. Answers never fan out further
//! than that, so a question can never loop.

use std::future::Future;
use std::pin::Pin;

use tokio_util::sync::CancellationToken;

use crate::engine::agents::dispatch::{
    self, CommitPolicy, DispatchError, DispatchOutcome, DispatchRequest,
};
use crate::engine::agents::robust::{self, Care};
use crate::engine::ground::events::Event;
use crate::engine::runs::{delegate, proposals};
use crate::engine::store::blackboard::Post;
use crate::engine::store::bus::Bus;
use crate::engine::store::roster::{current_agents, roster_names};
use crate::engine::store::workspace::Project;

/// One dispatch, then its follow-ups.
pub async fn dispatch(
    project: &Project,
    bus: &Bus,
    req: &DispatchRequest,
    cancel: &CancellationToken,
) -> Result<DispatchOutcome, DispatchError> {
    let out = dispatch::dispatch(project, bus, req, cancel).await?;
    // A careful dispatch runs these itself, at the end of its loops.
    let out = robust::run_proposals(project, bus, req, out, cancel).await?;
    Ok(settle(project, bus, out, cancel).await)
}

/// A careful dispatch (quality repair, consensus, critic rounds), then its follow-ups.
pub async fn dispatch_careful(
    project: &Project,
    bus: &Bus,
    req: &DispatchRequest,
    care: &Care,
    cancel: &CancellationToken,
) -> Result<DispatchOutcome, DispatchError> {
    let out = robust::dispatch_careful(project, bus, req, care, cancel).await?;
    Ok(settle(project, bus, out, cancel).await)
}

/// Routes the reply's blocking questions and applies its proposals.
async fn settle(
    project: &Project,
    bus: &Bus,
    mut out: DispatchOutcome,
    cancel: &CancellationToken,
) -> DispatchOutcome {
    for f in std::mem::take(&mut out.follow_ups).0 {
        // `/stop`: no peer is called to answer; the proposals are still decided.
        if !bus.stop_requested() {
            route(project, bus, &f.request, &f.posts, cancel).await;
        }
        if !f.delegations.is_empty() {
            delegate::run(project, bus, &f.request, &f.delegations, cancel).await;
        }
        let decided = proposals::apply(project, bus, &f.request.agent, &f.roles, &f.workflows);
        out.proposals.extend(decided);
    }
    out
}

/// The template variable that carries the chain of askers, comma-separated.
const CHAIN_VAR: &str = "qa_chain";

/// The agents named in the comma-separated request variable `var` (a chain of askers or
/// delegators), oldest first.
pub(super) fn chain(req: &DispatchRequest, var: &str) -> Vec<String> {
    req.vars
        .get(var)
        .filter(|c| !c.is_empty())
        .map(|c| c.split(',').map(str::to_string).collect())
        .unwrap_or_default()
}

/// Dispatch the peers that `posts` ask blocking questions of.
pub fn route<'a>(
    project: &'a Project,
    bus: &'a Bus,
    asker: &'a DispatchRequest,
    posts: &'a [Post],
    cancel: &'a CancellationToken,
) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
    Box::pin(async move {
        let chain = chain(asker, CHAIN_VAR);
        let max_depth = project.config.robustness.max_qa_depth as usize;
        for post in posts {
            if post.post_type != "question" || post.urgency.as_deref() == Some("async") {
                continue;
            }
            let Some(target) = post.target_agent.clone() else {
                continue;
            };
            let warn = |message: String| bus.emit(Event::Warning { message });
            if target == asker.agent || chain.contains(&target) {
                warn(format!(
                    "{} asked {target}, who is already in this question chain; not routed",
                    asker.agent
                ));
                continue;
            }
            if chain.len() + 1 > max_depth {
                warn(format!(
                    "question from {} to {target} not routed: the chain is {} deep \
                     (robustness.max_qa_depth)",
                    asker.agent,
                    chain.len() + 1
                ));
                continue;
            }
            if !roster_names(&project.ws, &current_agents(project)).contains(&target) {
                warn(format!(
                    "{} asked {target}, who is not on the team; not routed",
                    asker.agent
                ));
                continue;
            }
            let mut next_chain = chain.clone();
            next_chain.push(asker.agent.clone());
            let req = DispatchRequest {
                agent: target.clone(),
                objective: format!(
                    "ANSWER a blocking question from {asker}: {body}\n\nReply with a POST: answer \
                     TO: {asker} CONSUMES: {id} whose BODY answers it directly; change files only \
                     if the answer needs it.",
                    asker = asker.agent,
                    body = post.body,
                    id = post.id
                ),
                stage: asker.stage.clone(),
                workflow: asker.workflow.clone(),
                vars: [
                    (CHAIN_VAR.to_string(), next_chain.join(",")),
                    ("phase".to_string(), "qa_answer".to_string()),
                ]
                .into(),
                dry_run: false,
                commit: CommitPolicy::Now,
            };
            if let Err(e) = dispatch(project, bus, &req, cancel).await {
                warn(format!(
                    "could not route {}'s question to {target}: {e}",
                    asker.agent
                ));
            }
        }
    })
}
