//! `clk work [--workers N] [--until-idle]`: run the task queue headless, printing what
//! happens, until Ctrl-C (or, with `--until-idle`, until no task can run).

use std::path::Path;

use super::{Failure, orchestrate};
use crate::engine::ground::events::Command;
use crate::headless::Format;

pub fn run(
    dir: &Path,
    workers: Option<u32>,
    until_idle: bool,
    format: Format,
) -> Result<u8, Failure> {
    if workers == Some(0) {
        return Err(Failure::bad_input("--workers must be at least 1"));
    }
    orchestrate::submit(
        dir,
        Command::Work {
            workers,
            until_idle,
        },
        format,
    )
}
