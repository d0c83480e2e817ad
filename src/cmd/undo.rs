//! `clk undo [--confirm]`: show the last clk commit, or revert it with a new commit.

use std::path::Path;

use super::{EXIT_OK, Failure, project};
use crate::engine::act::undo;
use crate::engine::store::git;

pub fn run(dir: &Path, confirm: bool) -> Result<u8, Failure> {
    let p = project(dir)?;
    let repo = git::open(&p.ws.root).ok_or_else(|| {
        Failure::bad_input("this project is not a git repository; there is nothing to undo")
    })?;
    if !confirm {
        let plan = undo::plan(&repo).map_err(|e| Failure::failed(e.to_string()))?;
        for line in undo::preview_lines(plan.as_ref()) {
            println!("{}", line.replace("/undo confirm", "clk undo --confirm"));
        }
        return Ok(EXIT_OK);
    }
    let done = undo::revert(&repo).map_err(Failure::failed)?;
    println!(
        "reverted {} with commit {} ({} file(s))",
        &done.reverted[..7],
        &done.sha[..7],
        done.files.len()
    );
    Ok(EXIT_OK)
}
