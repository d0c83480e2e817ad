//! One dispatch: objective in, applied and committed batch out.
//!
//! Steps, each reported as events: choose and build the provider, reserve a run id, render
//! the prompt (trace line first) and keep it, call the provider with retries and clk's own
//! time limit, keep the reply and usage, parse it, post POST blocks to the blackboard, apply
//! ACTION blocks through the gate, and commit the agent's changed files. A provider failure is
//! an outcome (`ok: false`), not an error: errors are only for setup problems a person must fix.
//!
//! The steps live in their own files: `call` (prompt, provider, record), `account` (reply
//! and usage on record), `finish` (apply or only record), `native` (a provider's own edits)
//! and `message` (the commit message). This file holds the types they share.

mod account;
mod call;
mod finish;
mod live_files;
mod message;
mod native;

use std::collections::BTreeMap;

use tokio_util::sync::CancellationToken;

use crate::engine::act::actions::BatchOutcome;
use crate::engine::agents::providers::ProviderError;
use crate::engine::ground::config::ConfigError;
use crate::engine::ground::events::Usage;
use crate::engine::ground::pricing;
use crate::engine::ground::protocol::Parsed;
use crate::engine::store::bus::Bus;
use crate::engine::store::git;
use crate::engine::store::workspace::Project;

pub use call::call;
pub use finish::finish;
pub use message::{batch_commit_message, commit_message};

/// What to ask of whom.
#[derive(Debug, Clone, Default)]
pub struct DispatchRequest {
    pub agent: String,
    pub objective: String,
    pub stage: Option<String>,
    pub workflow: Option<String>,
    /// Extra template variables (stage_id, phase, iteration, ...).
    pub vars: BTreeMap<String, String>,
    /// Render and record the prompt, but call no provider and apply nothing.
    pub dry_run: bool,
    /// When the applied batch is committed.
    pub commit: CommitPolicy,
}

/// The template variable that names whose budget a dispatch spends: set on a delegated call
/// to the agent that delegated it, so the delegate's cost counts against the delegator's cap.
pub const BILL_TO_VAR: &str = "bill_to";

impl DispatchRequest {
    /// The agent whose spend and caps this dispatch counts against.
    pub fn billed_to(&self) -> &str {
        self.vars
            .get(BILL_TO_VAR)
            .map(String::as_str)
            .filter(|a| !a.is_empty())
            .unwrap_or(&self.agent)
    }
}

/// When an agent's batch becomes a commit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CommitPolicy {
    /// Right after the batch is applied (when `auto_commit` is on).
    #[default]
    Now,
    /// Not here: the caller commits (or undoes) the batch after validating it.
    Later,
}

/// What came of it.
#[derive(Debug, Clone)]
pub struct DispatchOutcome {
    pub run_id: String,
    pub provider: String,
    pub ok: bool,
    pub error: Option<ProviderError>,
    pub reply: String,
    pub parsed: Parsed,
    pub batch: BatchOutcome,
    pub commit: Option<git::CommitInfo>,
    pub usage: Usage,
    /// What the dispatch cost and where the figure came from.
    pub cost: pricing::Cost,
    /// What the reply's PROPOSE_ROLE and PROPOSE_WORKFLOW blocks changed; filled in by the
    /// runs layer when it applies [`DispatchOutcome::follow_ups`].
    pub proposals: crate::engine::store::roster::ProposalsOutcome,
    /// What the reply asks of the run beyond its own batch, left for the runs layer.
    pub follow_ups: FollowUps,
}

/// The parts of applied replies that reach beyond the agent's own batch, oldest first: posts
/// that may ask other agents blocking questions, and role and workflow proposals. Dispatch only
/// records them; the runs layer routes the questions and applies the proposals.
#[derive(Debug, Clone, Default)]
pub struct FollowUps(pub Vec<FollowUp>);

/// One applied reply's follow-ups, with the request it answered (the asker of its questions).
#[derive(Debug, Clone)]
pub struct FollowUp {
    pub request: DispatchRequest,
    /// The posts as written to the blackboard, with their ids.
    pub posts: Vec<crate::engine::store::blackboard::Post>,
    pub roles: Vec<crate::engine::ground::protocol::RoleProposal>,
    pub workflows: Vec<crate::engine::ground::protocol::WorkflowProposal>,
    /// DELEGATE blocks, carried out by the runs layer within the same cycle.
    pub delegations: Vec<crate::engine::ground::protocol::Delegation>,
}

impl FollowUps {
    /// Adds a later reply's follow-ups after these.
    pub fn extend(&mut self, later: FollowUps) {
        self.0.extend(later.0);
    }
}

/// A problem that stops a dispatch before any provider is called.
#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot write the run record: {0}")]
    Io(#[from] std::io::Error),
    /// A spending cap was reached and no one let the dispatch go ahead: the run must stop.
    #[error(transparent)]
    Budget(#[from] crate::engine::agents::budget::BudgetStop),
}

/// A reply that came back but has not been acted on yet: the provider was called, the prompt,
/// reply and usage are recorded, the reply is parsed. [`finish`] decides whether it is applied.
#[derive(Debug, Clone)]
pub struct Called {
    pub run_id: String,
    run_dir: std::path::PathBuf,
    pub provider: String,
    model: String,
    pub ok: bool,
    pub error: Option<ProviderError>,
    pub reply: String,
    pub parsed: Parsed,
    pub usage: Usage,
    started_at: chrono::DateTime<chrono::Local>,
    pub elapsed_ms: u64,
    cost: pricing::Cost,
    /// Files the provider's own tools changed during the call (native tools), already judged
    /// by the gate's rules; empty for providers that only answer in text.
    native_batch: BatchOutcome,
}

impl Called {
    /// Put back what the provider's own tools changed, and forget it: the reply was turned
    /// down for now and the next attempt must start from the tree as it was, or its edits
    /// would look like the user's. If this reply is applied after all, only its text (its
    /// ACTION blocks) takes effect.
    pub fn put_back_native(&mut self, project: &Project, bus: &Bus, agent: &str) {
        native::undo_native(project, bus, agent, &self.native_batch);
        self.native_batch = BatchOutcome::default();
    }

    /// True when the provider's own tools changed files during the call: the work is in the
    /// files, so a short reply text is not an empty answer.
    pub fn made_native_changes(&self) -> bool {
        !self.native_batch.changed_paths().is_empty()
    }
}

/// Whether [`finish`] lets a reply change anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effects {
    /// Posts, questions, proposals, actions and the commit: the normal path.
    Apply,
    /// Only the run record: a consensus sample, a critic's review, a call that failed.
    RecordOnly,
    /// Only the run record, and of the reply only its size and first lines: an attempt the
    /// quality check turned down, which may be any size up to the providers' caps.
    TurnedDown,
}

/// Run one dispatch to the end.
pub async fn dispatch(
    project: &Project,
    bus: &Bus,
    req: &DispatchRequest,
    cancel: &CancellationToken,
) -> Result<DispatchOutcome, DispatchError> {
    let called = call(project, bus, req, cancel).await?;
    finish(project, bus, req, called, Effects::Apply, cancel).await
}
