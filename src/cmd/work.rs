//! `clk work [--workers N] [--until-idle] [--store URL] [--repo GIT_URL]`: run the task queue
//! headless, printing what happens, until Ctrl-C (or, with `--until-idle`, until no task can
//! run). With `--repo`, the folder is (or becomes) a clone of that repository, and the store
//! must be one that many machines share.

use std::path::Path;

use super::{Failure, ask, project, runtime};
use crate::engine::ground::events::Command;
use crate::engine::runs::tasks::shared;
use crate::engine::store::tasks;
use crate::headless::Format;

pub fn run(
    dir: &Path,
    workers: Option<u32>,
    until_idle: bool,
    store: Option<String>,
    repo: Option<String>,
    format: Format,
) -> Result<u8, Failure> {
    if workers == Some(0) {
        return Err(Failure::bad_input("--workers must be at least 1"));
    }
    if let Some(url) = &repo {
        shared::clone_or_fetch(url, dir).map_err(Failure::bad_input)?;
        if !dir.join(".clk").is_dir() {
            return Err(Failure::bad_input(format!(
                "{url} has no .clk/ folder; run `clk init` in it and push that first"
            )));
        }
    }
    let mut p = project(dir)?;
    super::use_store(&mut p, store);
    if repo.is_some() && p.config.store.url.trim().is_empty() {
        return Err(Failure::bad_input(
            "--repo needs a store that every worker shares: --store postgres://… (or store.url)",
        ));
    }
    // A store that cannot be reached, or one from a newer clk, is refused here in one line.
    tasks::open_project(&p).map_err(|e| Failure::bad_input(e.to_string()))?;
    let cmd = Command::Work {
        workers,
        until_idle,
    };
    runtime()?
        .block_on(ask::run_printed(p, cmd, format))?
        .finish()
}
