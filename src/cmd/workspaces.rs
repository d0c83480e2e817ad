//! `clk workspaces list|rename|switch|forget|clean`: the projects clk has set up or kicked
//! off, from the registry in the user's data folder.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

use super::{EXIT_OK, Failure};
use crate::cli::WorkspacesAction;
use crate::engine::ground::config::Env;
use crate::engine::store::git;
use crate::engine::store::workspaces::{self, Entry, check_name, find};
use crate::headless::Format;

fn gone(e: &Entry) -> bool {
    !e.path.join(".clk").is_dir()
}

fn pick(which: &str, env: &Env) -> Result<Entry, Failure> {
    let all = workspaces::list(env).map_err(Failure::bad_input)?;
    find(&all, which).cloned().ok_or_else(|| {
        Failure::bad_input(format!(
            "no workspace {which:?}; `clk workspaces list` shows their names"
        ))
    })
}

pub fn run(action: WorkspacesAction, format: Format) -> Result<u8, Failure> {
    let env = Env::process();
    match action {
        WorkspacesAction::List => list(&env, format),
        WorkspacesAction::Rename { which, name } => {
            check_name(&name).map_err(Failure::bad_input)?;
            let e = pick(&which, &env)?;
            workspaces::update(&env, |all| {
                if all.iter().any(|o| o.name == name && o.path != e.path) {
                    return Err(format!("the name {name:?} is taken; pick another"));
                }
                if let Some(slot) = all.iter_mut().find(|o| o.path == e.path) {
                    slot.name = name.clone();
                }
                Ok(())
            })
            .map_err(Failure::bad_input)?;
            println!("{} is now {name}", e.path.display());
            Ok(EXIT_OK)
        }
        WorkspacesAction::Switch { which } => {
            let e = pick(&which, &env)?;
            if gone(&e) {
                return Err(Failure::bad_input(format!(
                    "{} is gone; `clk workspaces forget {}` drops it",
                    e.path.display(),
                    e.name
                )));
            }
            // The path alone on stdout, for `cd "$(clk workspaces switch NAME)"`.
            println!("{}", e.path.display());
            if std::io::stdout().is_terminal() {
                eprintln!("cd there, or run: clk -C {} ", e.path.display());
            }
            Ok(EXIT_OK)
        }
        WorkspacesAction::Forget { which } => {
            let e = pick(&which, &env)?;
            workspaces::update(&env, |all| {
                all.retain(|o| o.path != e.path);
                Ok(())
            })
            .map_err(Failure::bad_input)?;
            println!(
                "forgot {} ({}); its files are untouched",
                e.name,
                e.path.display()
            );
            Ok(EXIT_OK)
        }
        WorkspacesAction::Clean { days, yes } => clean(&env, days, yes),
    }
}

fn list(env: &Env, format: Format) -> Result<u8, Failure> {
    let all = workspaces::list(env).map_err(Failure::bad_input)?;
    if format == Format::Json {
        let rows: Vec<serde_json::Value> = all
            .iter()
            .map(|e| {
                let mut v = serde_json::to_value(e).unwrap_or_default();
                v["gone"] = serde_json::Value::Bool(gone(e));
                v
            })
            .collect();
        println!("{}", serde_json::Value::Array(rows));
        return Ok(EXIT_OK);
    }
    if all.is_empty() {
        println!("no workspaces yet: `clk init` or ./kickoff.sh adds one");
        return Ok(EXIT_OK);
    }
    for e in &all {
        let when = e
            .last_used
            .get(..16)
            .unwrap_or(&e.last_used)
            .replace('T', " ");
        let mut line = format!("{:<24} {when}  {}", e.name, e.path.display());
        if e.kickoff {
            line.push_str("  (kickoff)");
        }
        if gone(e) {
            line.push_str("  (gone)");
        }
        if let Some(idea) = &e.idea {
            line.push_str(&format!("\n{:<24} {idea}", ""));
        }
        println!("{line}");
    }
    Ok(EXIT_OK)
}

/// Whether the folder has uncommitted changes (a folder git cannot read counts as changed,
/// so it is kept).
fn has_changes(path: &Path) -> bool {
    match git::open(path) {
        Some(repo) => git::dirty_paths(&repo).map_or(true, |d| !d.is_empty()),
        None => false,
    }
}

fn clean(env: &Env, days: u32, yes: bool) -> Result<u8, Failure> {
    let all = workspaces::list(env).map_err(Failure::bad_input)?;
    let cutoff = chrono::Local::now() - chrono::Duration::days(i64::from(days));
    let old =
        |e: &Entry| chrono::DateTime::parse_from_rfc3339(&e.last_used).is_ok_and(|t| t < cutoff);
    let missing: Vec<&Entry> = all.iter().filter(|e| gone(e)).collect();
    let mut doomed = Vec::new();
    for e in all.iter().filter(|e| e.kickoff && old(e) && !gone(e)) {
        if has_changes(&e.path) {
            println!(
                "kept {} ({}): it has uncommitted changes",
                e.name,
                e.path.display()
            );
        } else {
            doomed.push(e.clone());
        }
    }
    if doomed.is_empty() && missing.is_empty() {
        println!("nothing to clean: no kickoff workspace unused for {days} days");
        return Ok(EXIT_OK);
    }
    if !doomed.is_empty() {
        for e in &doomed {
            println!("{}  {}", e.name, e.path.display());
        }
        let question = format!(
            "delete these {} kickoff workspace folder(s), unused for {days}+ days?",
            doomed.len()
        );
        let agreed = if yes {
            true
        } else if std::io::stdin().is_terminal() {
            eprint!("{question} [y/N] ");
            let _ = std::io::stderr().flush();
            let mut line = String::new();
            let _ = std::io::stdin().lock().read_line(&mut line);
            matches!(line.trim().to_lowercase().as_str(), "y" | "yes")
        } else {
            return Err(Failure::bad_input(format!(
                "{question} No terminal to ask on: add --yes to delete them"
            )));
        };
        if !agreed {
            println!("nothing deleted");
            doomed.clear();
        }
    }
    let mut removed = Vec::new();
    for e in &doomed {
        match std::fs::remove_dir_all(&e.path) {
            Ok(()) => removed.push(e.path.clone()),
            Err(err) => println!("could not delete {}: {err}", e.path.display()),
        }
    }
    let dropped: Vec<_> = missing.iter().map(|e| e.path.clone()).collect();
    workspaces::update(env, |all| {
        all.retain(|o| !removed.contains(&o.path) && !dropped.contains(&o.path));
        Ok(())
    })
    .map_err(Failure::bad_input)?;
    println!(
        "deleted {} folder(s); forgot {} entr{} whose folder was gone",
        removed.len(),
        dropped.len(),
        if dropped.len() == 1 { "y" } else { "ies" }
    );
    Ok(EXIT_OK)
}
