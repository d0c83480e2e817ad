//! `clk init`.

use std::path::Path;

use super::Failure;
use crate::engine::store::init::{InitError, init};

pub fn run(dir: &Path, name: Option<&str>) -> Result<u8, Failure> {
    let r = init(dir, name).map_err(|e| match e {
        InitError::Io { .. } => Failure::bad_input(e.to_string()),
        InitError::Git(_) => Failure::failed(e.to_string()),
    })?;
    println!("clk is set up in {}", r.root);
    println!(
        "  config:    {}",
        if r.created_config { "created" } else { "kept" }
    );
    println!("  prompts:   {} written", r.prompts_written);
    println!("  workflows: {} written", r.workflows_written);
    println!(
        "  git:       {}{}",
        if r.git_created {
            "new repository on main"
        } else {
            "existing repository"
        },
        r.commit
            .as_ref()
            .map(|c| format!(", commit {}", &c[..8]))
            .unwrap_or_default()
    );
    println!("Next: clk idea \"what you want to build\"");
    Ok(super::EXIT_OK)
}
