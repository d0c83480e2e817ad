//! Live reload: while the dashboard runs, edits to the settings files (`.clk/config/*.json`
//! and the user's `config.json`/`providers.json`), workflows and prompts are picked up.
//!
//! A burst of writes (an editor saving, `clk configure`) is taken as one change once the files
//! have been quiet for a moment. The change is checked first: settings that load become the
//! ones the next command or step uses (`SettingsReloaded`); a file that does not load is
//! reported with its line (`SettingsRejected`) and the settings before it stay: for a
//! workflow, runs use the version that last loaded. Whether an edit loads is decided in
//! `store/live.rs`, which long work also uses at its safe points (between stages, iterations
//! and tasks); an edit is told once, by whichever notices it first.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};

use super::session::Session;
use crate::engine::ground::events::Event;
use crate::engine::store::bus::Bus;
use crate::engine::store::live;
use crate::engine::store::roster::{current_agents, roster_names};
use crate::engine::store::user;
use crate::engine::store::workflow::{available, load_named};

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
                reload(&session, &bus, &files);
            }
        }
    });
}

/// Whether `path` is a file live reload cares about (not a backup, temp file or the like).
fn watched(session: &Session, path: &Path) -> bool {
    live::is_settings(&session.base.ws, &session.base.env, path)
}

/// Check the changed `files` (`store/live.rs` decides); keep the settings when they pass, and
/// say what happened unless a run already said it.
fn reload(session: &Session, bus: &Bus, files: &BTreeSet<PathBuf>) {
    let (ws, env) = (&session.base.ws, &session.base.env);
    let (project, event) = live::decide(ws, env, files);
    if let Some(p) = project {
        // An edit of the active provider in the files switches it, as `/provider` would.
        let before = session
            .good
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(|g| g.providers.active.clone());
        if before.is_some_and(|b| b != p.providers.active) {
            *session.active.lock().unwrap_or_else(|e| e.into_inner()) = p.providers.active.clone();
        }
        session.keep(&p);
    }
    live::tell(ws, env, bus, event);
}
