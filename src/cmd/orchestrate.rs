//! `clk cast`, `clk plan`, `clk run`: engine commands printed as they happen.

use std::path::Path;

use super::{Failure, ask, project, runtime};
use crate::engine::ground::events::Command;
use crate::engine::store::bus::Bus;
use crate::engine::store::idea::Idea;
use crate::engine::store::live::Live;
use crate::engine::store::roster::{current_agents, roster_names};
use crate::engine::store::workflow::load_named;
use crate::headless::{Format, Printer};

pub fn need_idea(dir: &Path) -> Result<(), Failure> {
    let p = project(dir)?;
    match Idea::load(&p.ws) {
        Some(_) => Ok(()),
        None => Err(Failure::bad_input(
            "no idea recorded yet; run `clk idea \"what you want to build\"` first",
        )),
    }
}

pub fn check_workflow(dir: &Path, name: &str) -> Result<(), Failure> {
    let p = project(dir)?;
    let roster = roster_names(&p.ws, &current_agents(&p));
    load_named(&p.ws, name, &roster)
        .map(|_| ())
        .map_err(|e| Failure::bad_input(e.to_string()))
}

/// Submit `cmd` to an engine for this project and print until it ends.
pub fn submit(dir: &Path, cmd: Command, format: Format) -> Result<u8, Failure> {
    let p = project(dir)?;
    let out = runtime()?.block_on(ask::run_printed(p, cmd, format))?;
    out.finish()
}

/// [`submit`] for one of several steps: the settings as `live` has them, an edit made since
/// the last step taken in and told, or one that does not load told and the ones before it kept.
pub fn submit_step(live: &mut Live, cmd: Command, format: Format) -> Result<u8, Failure> {
    let out = runtime()?.block_on(async {
        let bus = Bus::new(Some(live.project().ws.activity_log()));
        let printer = Printer::start(&bus, format);
        let p = live.refresh(&bus).clone();
        drop(bus);
        printer.finish().await;
        ask::run_printed(p, cmd, format).await
    })?;
    out.finish()
}

pub fn cast(dir: &Path, dry_run: bool, format: Format) -> Result<u8, Failure> {
    need_idea(dir)?;
    submit(dir, Command::Cast { dry_run }, format)
}

pub fn plan(dir: &Path, dry_run: bool, format: Format) -> Result<u8, Failure> {
    for wf in ["discovery", "product"] {
        check_workflow(dir, wf)?;
    }
    submit(dir, Command::Plan { dry_run }, format)
}

pub fn run(
    dir: &Path,
    workflow: &str,
    max_cycles: Option<u32>,
    dry_run: bool,
    format: Format,
) -> Result<u8, Failure> {
    if max_cycles == Some(0) {
        return Err(Failure::bad_input("--max-cycles must be at least 1"));
    }
    check_workflow(dir, workflow)?;
    submit(
        dir,
        Command::Run {
            workflow: workflow.to_string(),
            max_cycles,
            dry_run,
        },
        format,
    )
}

pub fn run_loop(
    dir: &Path,
    mode: crate::cli::LoopMode,
    max_iterations: Option<u32>,
    dry_run: bool,
    format: Format,
) -> Result<u8, Failure> {
    use crate::engine::runs::loops::LoopKind;
    if max_iterations == Some(0) {
        return Err(Failure::bad_input("--max-iterations must be at least 1"));
    }
    let kind = match mode {
        crate::cli::LoopMode::Ralph => LoopKind::Ralph,
        crate::cli::LoopMode::Autoresearch => LoopKind::Autoresearch,
    };
    let iterations = max_iterations.unwrap_or(0);
    submit(
        dir,
        Command::Loop {
            kind,
            iterations,
            dry_run,
        },
        format,
    )
}
