//! `clk mission "text"`, `clk mission --resume` and `clk mission status`.
//!
//! Starting and resuming go through the engine like `clk run`; the quick checks that need no
//! engine (a mission already under way, nothing to resume) answer first with exit code 2.
//! `status` only reads `.clk/mission/state.json`.

use std::path::Path;

use super::orchestrate::submit;
use super::{Failure, project};
use crate::engine::ground::events::Command;
use crate::engine::runs::mission::state;
use crate::headless::Format;

pub fn run(dir: &Path, text: Option<String>, resume: bool, format: Format) -> Result<u8, Failure> {
    let p = project(dir)?;
    if text.as_deref().is_some_and(|t| t.trim().is_empty()) {
        return Err(Failure::bad_input(
            "the mission text is empty; say what the mission should deliver",
        ));
    }
    let stored = state::load(&p.ws).map_err(Failure::bad_input)?;
    match (&stored, resume) {
        (None, true) => {
            return Err(Failure::bad_input(
                "no mission to resume; start one with `clk mission \"what to deliver\"`",
            ));
        }
        (Some(s), false) if s.status.unfinished() => {
            return Err(Failure::bad_input(format!(
                "a mission is under way ({}); continue it with `clk mission --resume`, or \
                 delete .clk/mission/ to start over",
                s.summary()
            )));
        }
        _ => {}
    }
    submit(dir, Command::Mission { text, resume }, format)
}

pub fn status(dir: &Path, format: Format) -> Result<u8, Failure> {
    let p = project(dir)?;
    let Some(st) = state::load(&p.ws).map_err(Failure::bad_input)? else {
        return Err(Failure::bad_input(
            "no mission yet; start one with `clk mission \"what to deliver\"`",
        ));
    };
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&st).unwrap_or_default()),
        Format::Human => {
            println!("{}", st.summary());
            println!("Objective: {}", st.objective);
            if let Some(c) = &st.charter {
                println!("Charter:   {}", c.mission);
                if !c.success.is_empty() {
                    println!("Success:   {}", c.success.join("; "));
                }
            }
            for (i, ph) in st.phases.iter().enumerate() {
                let word = ph.status.word();
                let last = ph
                    .gate_history
                    .last()
                    .map(|g| {
                        format!(
                            "; last gate {}: {}",
                            if g.passed { "passed" } else { "failed" },
                            g.detail.lines().next().unwrap_or("")
                        )
                    })
                    .unwrap_or_default();
                println!(
                    "{}. {} ({}) {word}, attempt {}/{}{last}",
                    i + 1,
                    ph.spec.id,
                    ph.spec.workflow,
                    ph.attempt,
                    st.max_attempts
                );
            }
            println!("Plan:      {}", state::plan_path(&p.ws).display());
        }
    }
    Ok(0)
}
