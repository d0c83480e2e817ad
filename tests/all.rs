//! Every integration test, in one binary: each former `tests/*.rs` binary is a module of
//! `suite`, and `support` holds the helpers they share. One binary links the crate and its
//! dependencies (git2, reqwest, ratatui, ...) once instead of once per file.
//!
//! Run one area with a filter: `cargo test --test all suite::tui_screens`.

// Test code: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod suite;
mod support;
