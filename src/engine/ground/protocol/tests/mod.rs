//! Unit tests for the protocol parser and scorer, one file per block family.

mod actions;
mod blocks;
mod delegate;
mod edges;
mod footer;
mod quality;

use super::{Action, Parsed, parse};

/// The actions of a reply, without their line numbers.
fn actions(text: &str) -> Vec<Action> {
    parse(text).actions.into_iter().map(|b| b.action).collect()
}

fn messages(parsed: &Parsed) -> Vec<&str> {
    parsed.problems.iter().map(|p| p.message.as_str()).collect()
}

fn write(path: &str, content: &str) -> Action {
    Action::Write {
        path: path.into(),
        content: content.into(),
    }
}
