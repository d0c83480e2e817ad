//! Helpers shared by the integration tests. Each test crate that says `mod support;` gets all
//! of them; unused ones are allowed so that no test crate has to use everything.

pub mod blackhole;
pub mod mock_server;
