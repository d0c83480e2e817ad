//! clk: runs a team of AI coding agents in development cycles.
//!
//! The library holds everything; `main.rs` only picks a front end and an exit code.
//! `engine` knows nothing of terminals. `cli`, `headless` and `tui` (the full-screen
//! dashboard) are front ends that consume the engine's event stream.

pub mod cli;
pub mod cmd;
pub mod engine;
pub mod headless;
pub mod serve;
pub mod tui;
