//! `clk "idea"` (and `kickoff.sh`): set up the project if needed, record the idea, then cast,
//! plan, run and refine in one go. Exit 0 when the run finished its work.
//!
//! With the shell provider and no command attached, no model answers: agents give a fixed
//! reply and change nothing, so a full run could only stall. The flow then runs as a
//! rehearsal: every step once, clearly labelled, so a newcomer sees the whole cycle for free
//! and is told how to attach a model.

use std::path::Path;

use super::{Failure, idea, orchestrate, project};
use crate::engine::ground::events::Command;
use crate::engine::store::live::Live;
use crate::engine::store::workspace::Workspace;
use crate::headless::Format;

/// True when every agent would get the model-less fixed reply.
fn rehearsal(dir: &Path) -> Result<bool, Failure> {
    Ok(crate::engine::runs::orchestrate::rehearsal(&project(dir)?))
}

pub fn run(dir: &Path, statement: &str, format: Format) -> Result<u8, Failure> {
    if statement.trim().is_empty() {
        return Err(Failure::bad_input(
            "the idea is empty; say what you want to build",
        ));
    }
    if Workspace::find(dir).is_none() {
        super::init::run(dir, None)?;
    }
    // Held across every step below: no other clk changes the project between them.
    let _lock = super::hold(dir, "clk \"idea\"")?;
    let idea = idea::capture(dir, statement, None, Vec::new())?;
    let human = format == Format::Human;
    if human {
        println!("Idea recorded: {}", idea.title);
    }
    let rehearse = rehearsal(dir)?;
    if rehearse && human {
        println!(
            "Rehearsal: the shell provider has no model attached, so agents give a fixed reply \
             and change nothing. Each step runs once to show the flow. For real work: \
             CLK_PROVIDER=ollama (or `clk configure --set default_provider=...`)."
        );
    }
    let max_cycles = rehearse.then_some(1);
    let steps = [
        ("cast", Command::Cast { dry_run: false }),
        (
            "plan: discovery",
            Command::Run {
                workflow: "discovery".into(),
                max_cycles,
                dry_run: false,
            },
        ),
        (
            "plan: product",
            Command::Run {
                workflow: "product".into(),
                max_cycles,
                dry_run: false,
            },
        ),
        (
            "run: engineering",
            Command::Run {
                workflow: "engineering".into(),
                max_cycles,
                dry_run: false,
            },
        ),
        (
            "loop: ralph",
            Command::Loop {
                kind: crate::engine::runs::loops::LoopKind::Ralph,
                iterations: if rehearse { 1 } else { 0 },
                dry_run: false,
            },
        ),
    ];
    // Settings edited between steps apply from the next step; a broken edit keeps the last good.
    let mut live = Live::new(project(dir)?);
    for (label, cmd) in steps {
        if human {
            println!("== {label}");
        }
        let code = orchestrate::submit_step(&mut live, cmd, format)?;
        if code == super::EXIT_CANCELLED || code == super::EXIT_BAD_INPUT {
            return Ok(code);
        }
        // A rehearsal cannot finish the work; it succeeds when every step ran.
        if code != super::EXIT_OK && !rehearse {
            return Ok(code);
        }
    }
    if rehearse && human {
        println!("Rehearsal complete: every step ran. Attach a model to build for real.");
    }
    Ok(super::EXIT_OK)
}
