//! Live reload: while the dashboard runs, edits to the settings files (`.clk/config/*.json`
//! and the user's `config.json`/`providers.json`), workflows and prompts are picked up.
//!
//! A burst of writes (an editor saving, `clk configure`) is taken as one change once the files
//! have been quiet for a moment. The change is checked first: settings that load become the
//! ones the next command or step uses (`SettingsReloaded`); a file that does not load is
//! reported with its line (`SettingsRejected`) and the settings before it stay: for a
//! workflow, runs use the version that last loaded. Work already running keeps the settings
//! it started with.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};

use super::session::Session;
use crate::engine::ground::events::Event;
use crate::engine::store::bus::Bus;
use crate::engine::store::roster::{current_agents, roster_names};
use crate::engine::store::user;
use crate::engine::store::workflow::{Problem, WorkflowError};
use crate::engine::store::workflow::{available, load_file, load_named};

/// Quiet time that ends a burst of writes.
const QUIET: Duration = Duration::from_millis(300);
/// Longest a burst is gathered before it is handled anyway.
const LONGEST: Duration = Duration::from_secs(2);

/// Start watching `session`'s settings; reports go on `bus`. A system without a file watcher
/// gets one warning and settings read at each command, as without live reload.
pub(super) fn start(session: Arc<Session>, bus: Bus) {
    let ws = &session.base.ws;
    let mut dirs = vec![
        (ws.config_dir(), RecursiveMode::Recursive),
        (ws.prompts_dir(), RecursiveMode::NonRecursive),
    ];
    if let Some(d) = user::config_dir(&session.base.env) {
        dirs.push((d, RecursiveMode::NonRecursive));
    }
    let started = crate::engine::act::watch::changes().and_then(|(mut w, rx)| {
        for (dir, mode) in &dirs {
            if dir.is_dir() {
                w.watch(dir, *mode)?;
            }
        }
        Ok((w, rx))
    });
    let (watcher, rx) = match started {
        Ok(w) => w,
        Err(e) => {
            bus.emit(Event::Warning {
                message: format!(
                    "live reload is off ({e}); settings edits apply at the next command"
                ),
            });
            return;
        }
    };
    session.keep(&session.base);
    session.live.store(true, Ordering::Relaxed);
    tokio::spawn(async move {
        // The watcher lives as long as this task.
        let _watcher = watcher;
        // Each workflow as it is now, so a run after an edit that breaks one uses this one.
        let roster = roster_names(&session.base.ws, &current_agents(&session.base));
        for name in available(&session.base.ws) {
            let _ = load_named(&session.base.ws, &name, &roster);
        }
        let mut rx = rx;
        while let Some(first) = rx.recv().await {
            let mut burst = vec![first];
            let until = tokio::time::Instant::now() + LONGEST;
            while let Ok(Some(p)) =
                tokio::time::timeout_at(until.min(tokio::time::Instant::now() + QUIET), rx.recv())
                    .await
            {
                burst.push(p);
            }
            let files: BTreeSet<PathBuf> =
                burst.into_iter().filter(|p| watched(&session, p)).collect();
            if !files.is_empty() {
                bus.emit(reload(&session, &files));
            }
        }
    });
}

/// Whether `path` is a file live reload cares about (not a backup, temp file or the like).
fn watched(session: &Session, path: &Path) -> bool {
    let ws = &session.base.ws;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if name.starts_with('.') {
        return false;
    }
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    if path.starts_with(ws.workflows_dir()) {
        return matches!(ext, "yaml" | "yml");
    }
    if path.parent() == Some(ws.config_dir().as_path()) {
        return ext == "json";
    }
    if path.parent() == Some(ws.prompts_dir().as_path()) {
        return ext == "md";
    }
    [
        user::config_file(&session.base.env),
        user::providers_file(&session.base.env),
    ]
    .iter()
    .flatten()
    .any(|f| f == path)
}

/// Check the changed `files`; keep the settings when they pass, say why when they do not.
fn reload(session: &Session, files: &BTreeSet<PathBuf>) -> Event {
    let ws = &session.base.ws;
    let shown = |p: &Path| p.strip_prefix(&ws.root).unwrap_or(p).display().to_string();
    let project = match ws.load(&session.base.env) {
        Ok(p) => p,
        Err(e) => return rejected_config(&e, files, &shown),
    };
    let roster = roster_names(ws, &current_agents(&project));
    for f in files {
        let ext = f.extension().and_then(|e| e.to_str()).unwrap_or("");
        if matches!(ext, "yaml" | "yml") && f.is_file() {
            if let Err(e) = load_file(f, &roster) {
                let line = match &e {
                    WorkflowError::Invalid {
                        problem: Problem::Yaml { line, .. },
                        ..
                    } if *line > 0 => Some(*line),
                    _ => None,
                };
                return Event::SettingsRejected {
                    file: shown(f),
                    line,
                    error: e.to_string(),
                };
            }
        }
        if ext == "md" && f.is_file() && std::fs::read_to_string(f).is_err() {
            return Event::SettingsRejected {
                file: shown(f),
                line: None,
                error: "not readable as UTF-8 text".into(),
            };
        }
    }
    session.keep(&project);
    Event::SettingsReloaded {
        files: files.iter().map(|f| shown(f)).collect(),
    }
}

/// The event for settings that do not load: the file and line the error names.
fn rejected_config(
    e: &crate::engine::ground::config::ConfigError,
    files: &BTreeSet<PathBuf>,
    shown: &dyn Fn(&Path) -> String,
) -> Event {
    use crate::engine::ground::config::ConfigError;
    let (file, detail) = match e {
        ConfigError::Parse { path, detail } => (shown(Path::new(path)), detail.clone()),
        ConfigError::Io { path, detail } => (shown(Path::new(path)), detail.clone()),
        ConfigError::Invalid(msg) => {
            // The message starts with the file's name when the loader knows it.
            let named = files.iter().find(|f| {
                f.file_name()
                    .is_some_and(|n| msg.starts_with(&*n.to_string_lossy()))
            });
            let first = files.iter().next();
            match named.or(first) {
                Some(f) => (shown(f), msg.clone()),
                None => ("settings".into(), msg.clone()),
            }
        }
    };
    Event::SettingsRejected {
        file,
        line: line_of(&detail),
        error: detail,
    }
}

/// The line number in a serde error's "... at line N column M".
fn line_of(detail: &str) -> Option<u64> {
    let rest = &detail[detail.rfind("line ")? + 5..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_comes_from_the_parsers_words() {
        assert_eq!(
            line_of("EOF while parsing an object at line 3 column 1"),
            Some(3)
        );
        assert_eq!(line_of("no line here"), None);
    }
}
