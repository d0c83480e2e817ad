//! `clk "idea"`: set up the project if needed, record the idea, and have the engineer build
//! the first slice. The dashboard and the full plan/run/loop cycle build on this.

use std::path::Path;

use super::{Failure, ask, idea, project, runtime};
use crate::engine::events::Command;
use crate::engine::workspace::Workspace;
use crate::headless::Format;

pub fn run(dir: &Path, statement: &str, format: Format) -> Result<u8, Failure> {
    if statement.trim().is_empty() {
        return Err(Failure::bad_input(
            "the idea is empty; say what you want to build",
        ));
    }
    if Workspace::find(dir).is_none() {
        super::init::run(dir, None)?;
    }
    let idea = idea::capture(dir, statement, None, Vec::new())?;
    if format == Format::Human {
        println!("Idea recorded: {}", idea.title);
    }
    let project = project(dir)?;
    let cmd = Command::Dispatch {
        agent: "engineer".into(),
        objective: format!(
            "Build the smallest working first slice of this idea, with a test and a README \
             section on how to run it: {}",
            idea.statement
        ),
        stage: Some("first-slice".into()),
        dry_run: false,
    };
    let out = runtime()?.block_on(ask::run_printed(project, cmd, format))?;
    Ok(out.exit_code())
}
