//! DELEGATE blocks: a bounded sub-objective handed to another agent within the same cycle.
//!
//! After a reply is applied, each of its delegations dispatches the named agent at once with
//! the task (through `call::dispatch`, so the delegate's own questions, proposals and
//! delegations are settled too). Bounds keep it from growing: a chain is at most
//! [`MAX_DEPTH`] delegations deep, one reply's first [`MAX_PER_REPLY`] delegations are carried
//! out, an agent already in the chain is never asked again, and `/stop` ends it. A delegated
//! call is billed to the agent that started the chain (`bill_to`), so its cost counts against
//! that agent's cap. Each delegation, carried out or refused, is a `Delegated` event.

use std::future::Future;
use std::pin::Pin;

use tokio_util::sync::CancellationToken;

use crate::engine::agents::dispatch::{BILL_TO_VAR, CommitPolicy, DispatchRequest};
use crate::engine::ground::events::Event;
use crate::engine::ground::protocol::Delegation;
use crate::engine::runs::call::{chain, dispatch};
use crate::engine::store::bus::Bus;
use crate::engine::store::roster::{current_agents, roster_names};
use crate::engine::store::workspace::Project;

/// Most delegations in one chain: a delegate may delegate once more, no further.
pub const MAX_DEPTH: usize = 2;
/// Most delegations carried out from one reply.
pub const MAX_PER_REPLY: usize = 3;
/// The template variable that carries the chain of delegators, comma-separated.
const CHAIN_VAR: &str = "delegate_chain";

/// Carry out `delegations`, made by the reply to `by`.
pub fn run<'a>(
    project: &'a Project,
    bus: &'a Bus,
    by: &'a DispatchRequest,
    delegations: &'a [Delegation],
    cancel: &'a CancellationToken,
) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
    Box::pin(async move {
        let chain = chain(by, CHAIN_VAR);
        let depth = chain.len() + 1;
        let team = roster_names(&project.ws, &current_agents(project));
        for (n, d) in delegations.iter().enumerate() {
            let refuse = |note: String| {
                bus.emit(Event::Delegated {
                    by: by.agent.clone(),
                    to: d.to.clone(),
                    depth: depth as u32,
                    dispatched: false,
                    ok: false,
                    note,
                })
            };
            if n >= MAX_PER_REPLY {
                refuse(format!(
                    "only the first {MAX_PER_REPLY} delegations of a reply are carried out"
                ));
                continue;
            }
            if depth > MAX_DEPTH {
                refuse(format!(
                    "the chain {} is already {MAX_DEPTH} deep; do the task yourself",
                    chain.join(" → ")
                ));
                continue;
            }
            if d.to == by.agent || chain.contains(&d.to) {
                refuse(format!("{} is already in this delegation chain", d.to));
                continue;
            }
            if !team.contains(&d.to) {
                refuse(format!("{} is not on the team", d.to));
                continue;
            }
            if bus.stop_requested() || cancel.is_cancelled() {
                refuse("the run is stopping".into());
                continue;
            }
            let mut next_chain = chain.clone();
            next_chain.push(by.agent.clone());
            let req = DispatchRequest {
                agent: d.to.clone(),
                objective: objective(&by.agent, d),
                stage: by.stage.clone(),
                workflow: by.workflow.clone(),
                vars: [
                    (CHAIN_VAR.to_string(), next_chain.join(",")),
                    (BILL_TO_VAR.to_string(), by.billed_to().to_string()),
                    ("phase".to_string(), "delegate".to_string()),
                ]
                .into(),
                dry_run: false,
                commit: CommitPolicy::Now,
            };
            let (ok, note) = match dispatch(project, bus, &req, cancel).await {
                Ok(out) => (out.ok, out.error.map(|e| e.message).unwrap_or_default()),
                Err(e) => (false, e.to_string()),
            };
            bus.emit(Event::Delegated {
                by: by.agent.clone(),
                to: d.to.clone(),
                depth: depth as u32,
                dispatched: true,
                ok,
                note,
            });
        }
    })
}

/// What the delegate is told.
fn objective(by: &str, d: &Delegation) -> String {
    let context = d
        .context
        .as_deref()
        .map(|c| format!("\nContext: {c}"))
        .unwrap_or_default();
    format!(
        "DELEGATED by {by}: {task}{context}\n\nDo this task only, within this reply. When it is \
         done, add a POST: delegate_result TO: {by} whose BODY says what you did and what is \
         left.",
        task = d.task
    )
}
