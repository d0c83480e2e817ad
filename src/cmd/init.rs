//! `clk init`.

use std::path::Path;

use super::Failure;
use crate::engine::ground::config::Env;
use crate::engine::store::git::scan::{self, Hook};
use crate::engine::store::init::{InitError, init};
use crate::engine::store::workspaces;

pub fn run(dir: &Path, name: Option<&str>) -> Result<u8, Failure> {
    run_marked(dir, name, false)
}

/// `clk init`, noting in the registry whether kickoff.sh made the project.
pub fn run_marked(dir: &Path, name: Option<&str>, kickoff: bool) -> Result<u8, Failure> {
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
    // Every `git push` from here runs clk's secret scan first (a hook of the user's stays).
    match std::env::current_exe().map(|exe| scan::install_hook(Path::new(&r.root), &exe)) {
        Ok(Ok(Hook::Installed(_) | Hook::AlreadyThere(_))) => {
            println!("  hooks:     pre-push secret scan");
        }
        Ok(Ok(Hook::Other(path))) => println!(
            "  hooks:     {} is yours, so clk's secret scan is not in it \
             (add `clk scan-secrets --pre-push \"$@\"` to it)",
            path.display()
        ),
        Ok(Err(e)) => eprintln!("note: the pre-push secret scan was not installed: {e}"),
        Err(e) => eprintln!("note: the pre-push secret scan was not installed: {e}"),
    }
    // The registry of projects is a convenience: a failure to note this one is said, not fatal.
    let ws = crate::engine::store::workspace::Workspace::new(&r.root);
    if let Err(e) = workspaces::touch(&ws, &Env::process(), name, kickoff) {
        eprintln!("note: not added to `clk workspaces`: {e}");
    }
    println!("Next: clk idea \"what you want to build\"");
    Ok(super::EXIT_OK)
}
