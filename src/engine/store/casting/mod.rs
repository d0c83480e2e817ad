//! Casting: accepting or refusing the chief's PROPOSE_ROLE blocks and recording the result.
//!
//! [`rules`] decides (pure), [`apply`] writes prompt files, agents.json and casting.log,
//! [`feedback`] turns casting.log and the roster back into the chief's `$casting_feedback`
//! and `$current_roster`. Invariants: baseline roles are never added, replaced or removed;
//! engineer variants and near-duplicates are refused; every decision is one JSON line in
//! `.clk/state/casting.log`, and the rejected ones reach the chief's next prompt. Nothing here
//! emits events: outcomes are returned as data for the engine to report.

pub mod apply;
pub mod feedback;
mod names;
pub mod rules;

#[cfg(test)]
mod tests;

use std::path::PathBuf;

use crate::engine::store::workspace::Workspace;

pub use apply::{CastOutcome, add_manual, apply, current_prompt, remove};
pub use feedback::{casting_feedback, log_workflow_rejected, roster_summary};
pub use rules::{Decision, RejectReason, decide};

/// How many rejections `$casting_feedback` shows by default.
pub const FEEDBACK_MAX: usize = 8;

/// `.clk/state/casting.log`: one JSON object per line, one line per decision.
pub fn log_path(ws: &Workspace) -> PathBuf {
    ws.state_dir().join("casting.log")
}

/// Timestamps in casting.log, in the activity log's format.
fn timestamp() -> String {
    chrono::Local::now()
        .format("%Y-%m-%dT%H:%M:%S%.3f%:z")
        .to_string()
}

/// Text folded onto one trimmed line: the chief reads these as list items.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
