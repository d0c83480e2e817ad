//! The engine: workspace, block protocol, action gate, git, providers and dispatch.
//!
//! Nothing in here draws or prints. Work is reported as [`events::Event`]s on one broadcast
//! stream; every front end folds them with [`state::RunState::apply`].

pub mod act;
pub mod actions;
pub mod blackboard;
pub mod budget;
pub mod bundled;
pub mod bus;
pub mod casting;
pub mod config;
pub mod context;
pub mod converse;
pub mod dispatch;
pub mod doctor;
pub mod done_gate;
pub mod evaluate;
pub mod events;
pub mod git;
pub mod handle;
pub mod init;
pub mod loops;
pub mod orchestrate;
pub mod pricing;
pub mod process;
pub mod prompts;
pub mod proposals;
pub mod protocol;
pub mod providers;
pub mod questions;
pub mod records;
pub mod redact;
pub mod report;
pub mod robust;
pub mod roles;
pub mod slash;
pub mod state;
pub mod tutorial;
pub mod undo;
pub mod workflow;
pub mod workspace;

pub use handle::{Engine, EngineGone, EngineHandle};
