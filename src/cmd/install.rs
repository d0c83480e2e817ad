//! `clk install NAME` and `clk install --list`: install a tool clk drives (the agent CLIs,
//! bubblewrap, gh) the usual way for this machine. The command is shown and asked about first
//! (without a terminal only `--yes` runs it); afterwards the tool must answer `--version`.

use std::io::{BufRead, IsTerminal, Write};
use std::process::Command;
use std::time::Duration;

use super::Failure;
use crate::engine::act::process::which;
use crate::engine::session::install::{self, Tool};

/// How long a freshly installed tool may take to print its version (gemini starts slowly).
const VERSION_LIMIT: Duration = Duration::from_secs(30);

pub fn run(name: Option<&str>, list: bool, yes: bool) -> Result<u8, Failure> {
    match name {
        Some(name) if !list => {
            let tool = install::find(name).map_err(Failure::bad_input)?;
            install_one(tool, yes)
        }
        _ => {
            print_list();
            Ok(super::EXIT_OK)
        }
    }
}

fn print_list() {
    let has = |p: &str| which(p).is_some();
    let root = install::is_root();
    for t in install::TOOLS {
        let state = match install::located(t) {
            Some(path) => format!("installed ({})", path.display()),
            None => "not installed".to_string(),
        };
        let how = match install::plan(t, &has, root) {
            Ok(cmd) => install::shown(&cmd),
            Err(why) => why,
        };
        println!(
            "{:<11} {state}\n            {}\n            how: {how}",
            t.name, t.what
        );
    }
}

/// Ask a y/N question on the terminal; no means no, and so does the end of input.
pub fn ask_yes(question: &str) -> bool {
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    matches!(line.trim().to_lowercase().as_str(), "y" | "yes")
}

/// Install one tool: show the command, ask (or `yes`), run it, then check the tool answers.
pub fn install_one(tool: &Tool, yes: bool) -> Result<u8, Failure> {
    if let Some(path) = install::located(tool) {
        let v = install::version(&path, VERSION_LIMIT).unwrap_or_else(|| "version unknown".into());
        println!(
            "{} is already installed: {} ({v})",
            tool.name,
            path.display()
        );
        return Ok(super::EXIT_OK);
    }
    let has = |p: &str| which(p).is_some();
    let cmd = install::plan(tool, &has, install::is_root()).map_err(Failure::failed)?;
    let line = install::shown(&cmd);
    println!("to install {}, clk runs:\n  {line}", tool.name);
    if !yes {
        if !std::io::stdin().is_terminal() {
            return Err(Failure::bad_input(format!(
                "no terminal to ask on: run `clk install {} --yes` to run `{line}`",
                tool.name
            )));
        }
        if !ask_yes("run it?") {
            println!("nothing installed");
            return Ok(super::EXIT_CANCELLED);
        }
    }
    let status = Command::new(&cmd[0])
        .args(&cmd[1..])
        .status()
        .map_err(|e| Failure::failed(format!("cannot start {}: {e}", cmd[0])))?;
    if !status.success() {
        return Err(Failure::failed(format!(
            "`{line}` failed ({status}); its output above says why"
        )));
    }
    let Some(path) = install::located(tool) else {
        return Err(Failure::failed(format!(
            "`{line}` finished but `{}` is not on PATH; add the folder it installed into \
             (for npm: `npm prefix -g`/bin) to PATH",
            tool.program
        )));
    };
    match install::version(&path, VERSION_LIMIT) {
        Some(v) => {
            println!("installed {}: {} ({v})", tool.name, path.display());
            Ok(super::EXIT_OK)
        }
        None => Err(Failure::failed(format!(
            "{} was installed at {} but `{} --version` did not answer; try running it yourself",
            tool.name,
            path.display(),
            tool.program
        ))),
    }
}
