//! `clk idea`: record the idea and commit it.

use std::path::Path;

use super::{Failure, project};
use crate::engine::store::idea::Idea;

/// Store the idea in `dir`'s project; returns it.
pub fn capture(
    dir: &Path,
    statement: &str,
    title: Option<&str>,
    tags: Vec<String>,
) -> Result<Idea, Failure> {
    if statement.trim().is_empty() {
        return Err(Failure::bad_input(
            "the idea is empty; say what you want to build",
        ));
    }
    let project = project(dir)?;
    let idea = Idea::new(statement, title, tags);
    crate::engine::store::idea::capture(&project, &idea).map_err(Failure::failed)?;
    Ok(idea)
}

pub fn run(
    dir: &Path,
    statement: &[String],
    title: Option<&str>,
    tags: Vec<String>,
    no_cast: bool,
    format: crate::headless::Format,
) -> Result<u8, Failure> {
    let idea = capture(dir, &statement.join(" "), title, tags)?;
    println!("Idea recorded: {}", idea.title);
    if no_cast || !project(dir)?.config.casting.auto_cast_on_idea {
        println!("Next: clk cast, then clk run");
        return Ok(super::EXIT_OK);
    }
    super::orchestrate::cast(dir, false, format)
}
