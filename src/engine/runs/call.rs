//! A call to an agent as a run makes it: the agents layer's dispatch, then what the reply asks
//! of the run. Its blocking questions are routed to their peers and its role and workflow
//! proposals applied, after the agent's own batch is committed.
//!
//! Every dispatch made by the runs and session layers goes through here, so no reply's
//! questions or proposals are dropped.

use tokio_util::sync::CancellationToken;

use crate::engine::agents::dispatch::{self, DispatchError, DispatchOutcome, DispatchRequest};
use crate::engine::agents::robust::{self, Care};
use crate::engine::runs::{proposals, questions};
use crate::engine::store::bus::Bus;
use crate::engine::store::workspace::Project;

/// One dispatch, then its follow-ups.
pub async fn dispatch(
    project: &Project,
    bus: &Bus,
    req: &DispatchRequest,
    cancel: &CancellationToken,
) -> Result<DispatchOutcome, DispatchError> {
    let out = dispatch::dispatch(project, bus, req, cancel).await?;
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
        questions::route(project, bus, &f.request, &f.posts, cancel).await;
        let decided = proposals::apply(project, bus, &f.request.agent, &f.roles, &f.workflows);
        out.proposals.extend(decided);
    }
    out
}
