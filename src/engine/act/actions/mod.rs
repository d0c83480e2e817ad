//! The one gate that applies ACTION blocks.
//!
//! Order of checks for a batch: count file actions against the caps (over the refuse limit,
//! every file action of the batch is refused, so a batch is never half applied), then for each
//! action in order: path jail, the user's uncommitted changes, backup of the original, apply.
//! `run` commands pass the deny-list and run in the project root in their own process group
//! with a time limit, at most `max_runs` of them per reply and within one time budget for all;
//! every file a command created or changed is then judged by the same checks as a provider's
//! own edits (`native`), and refused ones are put back. Every decision is an `Event::Action`
//! with its reason.
//!
//! `batch.rs` holds what goes in and comes out, `applier.rs` walks a batch through those
//! checks, `command.rs` runs one command, `files.rs` does the file operations; `jail`,
//! `rules`, `native` and `guard` police paths, commands, edits made outside the gate and
//! clk's own records; `changes` tells what changed in the tree without walking all of it.

pub mod jail;
pub mod native;
pub mod rules;

mod applier;
mod batch;
mod changes;
mod command;
mod files;
mod guard;
mod output;

use std::path::Path;

use crate::engine::ground::protocol::ActionBlock;
use applier::access_for;
pub use applier::apply;
pub use batch::{BatchOutcome, CommandRecord, GateContext, RunLimits};
pub use output::OutputCap;

/// Paths of a batch's file actions, jailed, for checking the user's changes beforehand.
pub fn file_targets(root: &Path, actions: &[ActionBlock]) -> Vec<String> {
    actions
        .iter()
        .filter(|a| a.action.is_file_change())
        .filter_map(|a| jail::resolve(root, a.action.target(), access_for(&a.action)).ok())
        .map(|j| j.rel)
        .collect()
}

#[cfg(test)]
mod tests;
