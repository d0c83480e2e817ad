//! Workflows: YAML stage lists, loaded and validated, with the pure logic the runner uses to
//! order stages, pick each stage's blackboard inputs, check its outputs and accept the chief's
//! proposals.
//!
//! Invariants: a [`Workflow`] that came out of [`load`] (or [`load_file`], [`load_named`],
//! [`propose::prepare`]) is safe to run as is: ids unique and well formed, agents on the roster,
//! dependencies known and acyclic, objectives present, selectors valid. Errors are one line
//! naming file, stage and field. Nothing here runs an agent or prints; only [`propose::write`]
//! and the `load_*` readers touch the disk.

mod error;
pub mod inputs;
mod parse;
pub mod propose;
pub mod schedule;
mod spec;
mod validate;

#[cfg(test)]
mod tests;

pub use error::{Problem, StageRef, WorkflowError};
pub use inputs::{Selector, effective_selectors, outputs_missing, select};
pub use schedule::{Blocked, Outcome, blocked, completed, ready, topo_order};
pub use spec::{Refine, Stage, Workflow};
pub use validate::{Roster, available, last_good, load, load_file, load_named};
