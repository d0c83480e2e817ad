//! Tasks of the work queue: the requests that steer them (`ops.rs`), which files they touch
//! (`overlap.rs`), and the worker that runs them in their own worktrees (`work.rs`).

pub mod ops;
pub mod overlap;
pub mod run;
pub mod work;
