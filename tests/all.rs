//! Every integration test, in one binary: each former `tests/*.rs` binary is a module of
//! `suite`, and `support` holds the helpers they share. One binary links the crate and its
//! dependencies (git2, reqwest, ratatui, ...) once instead of once per file.
//!
//! Run one area with a filter: `cargo test --test all suite::tui_screens`.

mod suite;
mod support;
