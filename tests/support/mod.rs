//! Helpers shared by the integration tests (tests/all.rs declares `mod support;`; benches
//! include this file by path). Unused ones are allowed so that no user has to use everything.

pub mod blackhole;
pub mod clis;
pub mod loop_agents;
pub mod mock_project;
pub mod mock_server;
pub mod tui;
