//! Tasks of the work queue: the requests that steer them (`ops.rs`), which files they touch
//! (`overlap.rs`), one task's turns (`run.rs`) by its flow (`duo.rs` with `handoff.rs`, or
//! solo), and the worker that runs them in their own worktrees (`work.rs`).

pub mod budget;
pub mod checkpoint;
pub mod duo;
pub mod handoff;
mod land;
mod lease;
pub mod ops;
pub mod overlap;
pub mod pr;
pub mod proof;
pub mod resolve;
pub mod risk;
pub mod rules;
pub mod run;
pub mod shared;
mod sweep;
pub mod templates;
pub mod work;
