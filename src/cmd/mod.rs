//! Command handlers for the CLI. Each returns an exit code or a [`Failure`] whose one-line
//! message tells the user what to do; only `main` turns them into a process exit.

pub mod ask;
pub mod budget;
pub mod configure;
pub mod configure_sources;
pub mod diag;
pub mod doctor;
pub mod idea;
pub mod init;
pub mod install;
pub mod merge;
pub mod mission;
pub mod orchestrate;
pub mod providers;
pub mod remote;
pub mod roles;
pub mod scan;
pub mod serve;
pub mod setup;
pub mod start;
pub mod status;
pub mod task;
pub mod undo;
pub mod work;
pub mod workers;
pub mod workspaces;

use std::path::{Path, PathBuf};

use crate::engine::ground::config::ConfigError;
use crate::engine::ground::config::Env;
use crate::engine::store::lock::{LockError, ProjectLock};
use crate::engine::store::workspace::{Project, Workspace};

/// Exit codes.
pub const EXIT_OK: u8 = 0;
pub const EXIT_FAILED: u8 = 1;
pub const EXIT_BAD_INPUT: u8 = 2;
/// A spending cap (clk.config.json `budget`) was reached and the run stopped.
pub const EXIT_BUDGET: u8 = 3;
pub const EXIT_CANCELLED: u8 = 130;

/// A command that could not do its job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    pub fn bad_input(message: impl Into<String>) -> Self {
        Failure {
            code: EXIT_BAD_INPUT,
            message: message.into(),
        }
    }

    pub fn failed(message: impl Into<String>) -> Self {
        Failure {
            code: EXIT_FAILED,
            message: message.into(),
        }
    }
}

impl From<ConfigError> for Failure {
    fn from(e: ConfigError) -> Self {
        Failure::bad_input(e.to_string())
    }
}

/// The folder a command runs in.
pub fn start_dir(dir: Option<&Path>) -> Result<PathBuf, Failure> {
    let d = match dir {
        Some(d) => d.to_path_buf(),
        None => std::env::current_dir()
            .map_err(|e| Failure::bad_input(format!("cannot read the current folder: {e}")))?,
    };
    if !d.is_dir() {
        return Err(Failure::bad_input(format!(
            "{} is not a folder",
            d.display()
        )));
    }
    // Everything below works on the real, absolute path: the path jail depends on it.
    d.canonicalize()
        .map_err(|e| Failure::bad_input(format!("cannot resolve {}: {e}", d.display())))
}

/// The initialized project containing `dir`, loaded with environment overrides.
/// The nearest folder at or above `dir` that has a `.clk/`, found from the folder alone (no
/// settings read), for the commands that must work when a settings file is broken.
pub fn clk_root(dir: &Path) -> Result<&Path, Failure> {
    dir.ancestors()
        .find(|p| p.join(".clk").is_dir())
        .ok_or_else(|| {
            Failure::bad_input(format!(
                "clk is not set up in {} (no .clk/ here or above); run `clk init` first",
                dir.display()
            ))
        })
}

pub fn project(dir: &Path) -> Result<Project, Failure> {
    let ws = Workspace::find(dir).ok_or_else(|| {
        Failure::bad_input(format!(
            "clk is not set up in {} (no .clk/ here or above); run `clk init` first",
            dir.display()
        ))
    })?;
    let project = ws.load(&Env::process())?;
    project.providers.check()?;
    Ok(project)
}

/// `--store URL`: the task store for this command, over `store.url` (also for each reload of
/// the settings while the command runs).
pub fn use_store(p: &mut Project, store: Option<String>) {
    if let Some(url) = store {
        p.env = p.env.with("CLK_STORE_URL", &url);
        p.config.store.url = url;
    }
}

impl From<LockError> for Failure {
    fn from(e: LockError) -> Self {
        match e {
            // Someone else is changing this project: refused, like bad input.
            LockError::Held(h) => Failure::bad_input(h.to_string()),
            LockError::Io { .. } => Failure::failed(e.to_string()),
        }
    }
}

/// Take the project lock for a command that changes state (`what` says which, as the refusal
/// of another command will name it). `None` outside a project: the command reports that
/// itself.
pub fn hold(dir: &Path, what: &str) -> Result<Option<ProjectLock>, Failure> {
    match Workspace::find(dir) {
        Some(ws) => Ok(Some(ProjectLock::acquire(&ws, what)?)),
        None => Ok(None),
    }
}

/// A tokio runtime for commands that do async work.
pub fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        // A mission runs whole workflow cycles, each with stages, gauntlet rounds and
        // delegations nested inside: 8 MiB (the main thread's size) instead of tokio's 2 MiB
        // keeps deep nesting from overflowing. It is address space, used only when needed.
        .thread_stack_size(8 << 20)
        .enable_all()
        .build()
        .map_err(|e| Failure::failed(format!("cannot start the async runtime: {e}")))
}
