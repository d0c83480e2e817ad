//! `clk doctor [--fix]`: health of providers, config and git, one line per finding.
//!
//! Runs from the folder alone, so it works when a config file is broken. With `--fix` each
//! repair is asked on the terminal (y/N, default no); without a terminal nothing is repaired.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

use super::{EXIT_FAILED, EXIT_OK, Failure, runtime};
use crate::engine::ground::events::Event;
use crate::engine::session::doctor;
use crate::engine::store::bus::Bus;
use crate::engine::store::workspace::Workspace;

pub fn run(dir: &Path, fix: bool) -> Result<u8, Failure> {
    let root = super::clk_root(dir)?;
    let ws = Workspace::new(root);
    let bus = Bus::new(None);
    let ask = fix && std::io::stdin().is_terminal();
    bus.set_interactive(ask);
    let rt = runtime()?;
    let checkup = rt.block_on(async {
        let mut questions = bus.subscribe();
        let answerer = bus.clone();
        let (done_tx, mut done_rx) = tokio::sync::oneshot::channel::<()>();
        let prompts = tokio::spawn(async move {
            loop {
                // Events first: everything emitted before the end is printed before leaving.
                let ev = tokio::select! {
                    biased;
                    ev = questions.recv() => match ev {
                        Ok(ev) => ev,
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                    },
                    _ = &mut done_rx => break,
                };
                match ev {
                    Event::ConfirmRequested { id, question, .. } if answerer.is_interactive() => {
                        let yes = tokio::task::spawn_blocking(move || {
                            eprint!("{question} [y/N] ");
                            let _ = std::io::stderr().flush();
                            let mut line = String::new();
                            let _ = std::io::stdin().lock().read_line(&mut line);
                            matches!(line.trim().to_lowercase().as_str(), "y" | "yes")
                        })
                        .await
                        .unwrap_or(false);
                        answerer.answer(id, yes);
                    }
                    Event::Report { lines, .. } => {
                        for l in lines {
                            println!("{}", for_cli(&l));
                        }
                    }
                    _ => {}
                }
            }
        });
        let out = doctor::run(&ws, &bus, fix).await;
        let _ = done_tx.send(());
        let _ = prompts.await;
        out
    });
    for l in checkup.lines {
        println!("{}", for_cli(&l));
    }
    if fix && !ask {
        eprintln!("(no terminal to ask on, so nothing was repaired)");
    }
    Ok(if checkup.failing {
        EXIT_FAILED
    } else {
        EXIT_OK
    })
}

/// Findings name the dashboard's command; on the command line it is `clk doctor --fix`.
fn for_cli(line: &str) -> String {
    line.replace("/doctor --fix", "clk doctor --fix")
}
