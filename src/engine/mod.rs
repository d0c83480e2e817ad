//! The engine: everything below the front ends, in layers that import only downward.
//!
//! Nothing in here draws or prints. Work is reported as [`ground::events::Event`]s on one
//! broadcast stream; every front end folds them with [`ground::state::RunState::apply`].
//! ARCHITECTURE.md at the repository root maps each folder to its layer.

#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod act;
pub mod agents;
pub mod ground;
pub mod runs;
pub mod session;
pub mod store;

pub use session::handle::{Engine, EngineGone, EngineHandle};
