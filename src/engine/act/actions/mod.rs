//! The one gate that applies ACTION blocks.
//!
//! Order of checks for a batch: count file actions against the caps (over the refuse limit,
//! every file action of the batch is refused, so a batch is never half applied), then for each
//! action in order: path jail, the user's uncommitted changes, backup of the original, apply.
//! `run` commands pass the deny-list and run in the project root in their own process group
//! with a time limit. Every decision is an `Event::Action` with its reason.

pub mod jail;
pub mod native;
pub mod rules;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::engine::act::process;
use crate::engine::ground::events::{Decision, Event};
use crate::engine::ground::protocol::{Action, ActionBlock};
use crate::engine::ground::redact;
use crate::engine::store::bus::Bus;
use jail::{Access, Jailed};

/// What the gate needs to know about the batch it applies.
#[derive(Debug, Clone)]
pub struct GateContext {
    /// Canonical project root.
    pub root: PathBuf,
    pub agent: String,
    pub run_id: String,
    /// `.clk/backups/<run_id>/`: originals of mutated files.
    pub backups: PathBuf,
    pub warn_files: u32,
    pub max_files: u32,
    pub run_timeout: Duration,
    /// Files with uncommitted changes of the user's, which agents must leave alone.
    pub user_dirty: BTreeSet<String>,
    /// Where `ACTION: done` writes its request.
    pub done_file: PathBuf,
}

/// One `run` action's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandRecord {
    pub cmd: String,
    pub exit_code: Option<i32>,
    pub timed_out: bool,
}

impl CommandRecord {
    pub fn ok(&self) -> bool {
        self.exit_code == Some(0) && !self.timed_out
    }
}

/// What a batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    /// Files written, edited or appended (relative paths, in order, no repeats).
    pub written: Vec<String>,
    pub deleted: Vec<String>,
    pub commands: Vec<CommandRecord>,
    /// `"<kind> <target>: <reason>"` for every skipped or refused action.
    pub refused: Vec<String>,
    pub done: Option<String>,
}

impl BatchOutcome {
    /// Every path whose content changed, for the commit.
    pub fn changed_paths(&self) -> Vec<String> {
        let mut v = self.written.clone();
        for d in &self.deleted {
            if !v.contains(d) {
                v.push(d.clone());
            }
        }
        v
    }

    /// e.g. `wrote 2, deleted 1, ran 1 (1 failed), refused 1, done`.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        if !self.written.is_empty() {
            parts.push(format!("wrote {}", self.written.len()));
        }
        if !self.deleted.is_empty() {
            parts.push(format!("deleted {}", self.deleted.len()));
        }
        if !self.commands.is_empty() {
            let failed = self.commands.iter().filter(|c| !c.ok()).count();
            if failed > 0 {
                parts.push(format!("ran {} ({failed} failed)", self.commands.len()));
            } else {
                parts.push(format!("ran {}", self.commands.len()));
            }
        }
        if !self.refused.is_empty() {
            parts.push(format!("refused {}", self.refused.len()));
        }
        if self.done.is_some() {
            parts.push("done".into());
        }
        if parts.is_empty() {
            "no actions".into()
        } else {
            parts.join(", ")
        }
    }
}

/// Paths of a batch's file actions, jailed, for checking the user's changes beforehand.
pub fn file_targets(root: &Path, actions: &[ActionBlock]) -> Vec<String> {
    actions
        .iter()
        .filter(|a| a.action.is_file_change())
        .filter_map(|a| jail::resolve(root, a.action.target(), access_for(&a.action)).ok())
        .map(|j| j.rel)
        .collect()
}

fn access_for(a: &Action) -> Access {
    match a {
        Action::Write { .. } => Access::Write,
        Action::Edit { .. }
        | Action::Append { .. }
        | Action::Delete { .. }
        | Action::Run { .. }
        | Action::Done { .. } => Access::Modify,
    }
}

struct Applier<'a> {
    ctx: &'a GateContext,
    bus: &'a Bus,
    out: BatchOutcome,
}

impl Applier<'_> {
    fn decide(&mut self, kind: &str, target: &str, decision: Decision, reason: String) {
        if decision != Decision::Applied {
            self.out.refused.push(format!("{kind} {target}: {reason}"));
        }
        self.bus.emit(Event::Action {
            agent: self.ctx.agent.clone(),
            run_id: self.ctx.run_id.clone(),
            kind: kind.to_string(),
            target: target.to_string(),
            decision,
            reason,
        });
    }

    fn backup(&self, j: &Jailed) -> std::io::Result<()> {
        if j.abs.is_file() {
            let dest = self.ctx.backups.join(&j.rel);
            if !dest.exists() {
                if let Some(p) = dest.parent() {
                    std::fs::create_dir_all(p)?;
                }
                std::fs::copy(&j.abs, &dest)?;
            }
        }
        Ok(())
    }

    fn note_written(&mut self, rel: &str) {
        if !self.out.written.iter().any(|w| w == rel) {
            self.out.written.push(rel.to_string());
        }
        self.out.deleted.retain(|d| d != rel);
    }

    fn apply_file(&mut self, action: &Action) {
        let kind = action.kind();
        let target = action.target().to_string();
        let j = match jail::resolve(&self.ctx.root, &target, access_for(action)) {
            Ok(j) => j,
            Err(r) => return self.decide(kind, &target, Decision::Rejected, r.0),
        };
        if self.ctx.user_dirty.contains(&j.rel) {
            return self.decide(
                kind,
                &j.rel,
                Decision::Skipped,
                "the file has uncommitted changes of yours; commit or stash them, then ask again"
                    .into(),
            );
        }
        if let Some(why) = not_a_plain_file(&j.abs) {
            return self.decide(kind, &j.rel, Decision::Rejected, why);
        }
        let new_text = match action {
            Action::Write { content, .. } | Action::Append { content, .. } => Some(content),
            Action::Edit { new, .. } => Some(new),
            Action::Delete { .. } | Action::Run { .. } | Action::Done { .. } => None,
        };
        // The file would be committed: a key in it would end up in git history.
        if let Some(masked) = new_text.and_then(|t| redact::known_secret_in(t)) {
            return self.decide(
                kind,
                &j.rel,
                Decision::Rejected,
                format!(
                    "refused: it holds a secret clk knows ({masked}); read keys from the \
                     environment instead of writing them into files"
                ),
            );
        }
        if let Err(e) = self.backup(&j) {
            return self.decide(
                kind,
                &j.rel,
                Decision::Skipped,
                format!("cannot back up the original: {e}"),
            );
        }
        let result = match action {
            Action::Write { content, .. } => write_file(&j.abs, &with_newline(content)),
            Action::Append { content, .. } => append_file(&j.abs, &with_newline(content)),
            Action::Edit { old, new, .. } => edit_file(&j.abs, old, new),
            Action::Delete { .. } => delete_file(&j.abs),
            Action::Run { .. } | Action::Done { .. } => Err("not a file action".into()),
        };
        match result {
            Ok(summary) => {
                if matches!(action, Action::Delete { .. }) {
                    self.out.written.retain(|w| w != &j.rel);
                    self.out.deleted.push(j.rel.clone());
                } else {
                    self.note_written(&j.rel);
                }
                self.decide(kind, &j.rel, Decision::Applied, summary);
            }
            Err(reason) => self.decide(kind, &j.rel, Decision::Skipped, reason),
        }
    }

    async fn run_command(&mut self, cmd: &str, cancel: &CancellationToken) {
        if cmd.trim().is_empty() {
            return self.decide("run", cmd, Decision::Skipped, "empty command".into());
        }
        if let Some(why) = rules::refusal(cmd) {
            return self.decide("run", cmd, Decision::Rejected, format!("refused: it {why}"));
        }
        let before = tree_changes(&self.ctx.root);
        let mut spec = process::Spec::shell(cmd, self.ctx.root.clone(), self.ctx.run_timeout);
        spec.without_secrets = true;
        let bus = self.bus.clone();
        let (agent, run_id) = (self.ctx.agent.clone(), self.ctx.run_id.clone());
        let res = process::run(
            &spec,
            cancel,
            |_| {},
            |stream, line| {
                bus.emit(Event::AgentOutput {
                    agent: agent.clone(),
                    run_id: run_id.clone(),
                    stream,
                    line: redact::redact_text(line),
                })
            },
        )
        .await;
        match res {
            Err(e) => self.decide("run", cmd, Decision::Skipped, e.to_string()),
            Ok(o) => {
                let (exit_code, timed_out) = match o.ending {
                    process::Ending::Exited(c) => (c, false),
                    process::Ending::TimedOut | process::Ending::Idle => (None, true),
                    process::Ending::Cancelled => (None, false),
                };
                let combined = o.combined();
                let tail: Vec<&str> = combined.lines().rev().take(20).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                self.out.commands.push(CommandRecord {
                    cmd: cmd.to_string(),
                    exit_code,
                    timed_out,
                });
                self.bus.emit(Event::CommandFinished {
                    agent: self.ctx.agent.clone(),
                    run_id: self.ctx.run_id.clone(),
                    command: redact::redact_text(cmd),
                    exit_code,
                    timed_out,
                    elapsed_ms: o.elapsed.as_millis() as u64,
                    output_tail: redact::redact_text(&tail.join("\n")),
                });
                let how = if timed_out {
                    format!("timed out after {}s", self.ctx.run_timeout.as_secs())
                } else {
                    match exit_code {
                        Some(c) => format!("exit {c}"),
                        None => "stopped".into(),
                    }
                };
                self.decide("run", cmd, Decision::Applied, how);
                self.attribute_command_changes(before);
            }
        }
    }

    /// Files the command created, changed or deleted belong to this batch (and its commit),
    /// not to the user: anything newly changed that was not already the user's.
    fn attribute_command_changes(&mut self, before: Option<BTreeSet<String>>) {
        let (Some(before), Some(after)) = (before, tree_changes(&self.ctx.root)) else {
            return;
        };
        for rel in after.difference(&before) {
            if rel.starts_with(".clk/") || self.ctx.user_dirty.contains(rel) {
                continue;
            }
            let abs = self.ctx.root.join(rel);
            let exists = std::fs::symlink_metadata(&abs).is_ok();
            if exists {
                self.note_written(rel);
            } else if !self.out.deleted.contains(rel) {
                self.out.written.retain(|w| w != rel);
                self.out.deleted.push(rel.clone());
            }
            self.bus.emit(Event::Action {
                agent: self.ctx.agent.clone(),
                run_id: self.ctx.run_id.clone(),
                kind: "run_change".into(),
                target: rel.clone(),
                decision: Decision::Applied,
                reason: if exists {
                    "changed by the command".into()
                } else {
                    "deleted by the command".into()
                },
            });
        }
    }

    fn done(&mut self, reason: &str) {
        let reason = if reason.trim().is_empty() {
            "(no reason given)".to_string()
        } else {
            reason.trim().to_string()
        };
        let text = format!(
            "# Done requested\n\nBy: {}\nReason: {reason}\nAt: {}\n",
            self.ctx.agent,
            chrono::Local::now().to_rfc3339()
        );
        if let Err(e) =
            crate::engine::store::workspace::write_atomic(&self.ctx.done_file, text.as_bytes())
        {
            return self.decide("done", &reason, Decision::Skipped, e.to_string());
        }
        self.out.done = Some(reason.clone());
        self.bus.emit(Event::DoneRequested {
            agent: self.ctx.agent.clone(),
            reason: reason.clone(),
        });
        self.decide("done", &reason, Decision::Applied, "requested".into());
    }
}

/// Apply a batch of actions in order. Never panics; every decision is an event.
pub async fn apply(
    ctx: &GateContext,
    bus: &Bus,
    actions: &[ActionBlock],
    cancel: &CancellationToken,
) -> BatchOutcome {
    let mut ap = Applier {
        ctx,
        bus,
        out: BatchOutcome::default(),
    };
    let file_count = actions.iter().filter(|a| a.action.is_file_change()).count() as u32;
    let over_cap = file_count > ctx.max_files;
    if over_cap {
        bus.emit(Event::BatchWarning {
            agent: ctx.agent.clone(),
            run_id: ctx.run_id.clone(),
            message: format!(
                "refused all {file_count} file actions: the limit is {} per reply \
                 (validation.max_files_per_batch); split the work into smaller replies",
                ctx.max_files
            ),
        });
    } else if file_count > ctx.warn_files {
        bus.emit(Event::BatchWarning {
            agent: ctx.agent.clone(),
            run_id: ctx.run_id.clone(),
            message: format!(
                "large batch: {file_count} file actions (warning above {})",
                ctx.warn_files
            ),
        });
    }
    for block in actions {
        if cancel.is_cancelled() {
            let a = &block.action;
            ap.decide(a.kind(), a.target(), Decision::Skipped, "aborted".into());
            continue;
        }
        match &block.action {
            a @ (Action::Write { .. }
            | Action::Edit { .. }
            | Action::Append { .. }
            | Action::Delete { .. }) => {
                if over_cap {
                    ap.decide(
                        a.kind(),
                        a.target(),
                        Decision::Rejected,
                        format!("batch over the limit of {} file actions", ctx.max_files),
                    );
                } else {
                    ap.apply_file(a);
                }
            }
            Action::Run { cmd } => ap.run_command(cmd, cancel).await,
            Action::Done { reason } => ap.done(reason),
        }
    }
    ap.out
}

/// Every changed, untracked or deleted path in the work tree, when the root is a repository.
fn tree_changes(root: &Path) -> Option<BTreeSet<String>> {
    let repo = crate::engine::store::git::open(root)?;
    crate::engine::store::git::dirty_paths(&repo)
        .ok()
        .map(|v| v.into_iter().collect())
}

/// Why an existing path must not be written as a file: folders, FIFOs, devices and sockets
/// (a FIFO would block the write forever), and files with other hard links (writing one
/// would change the other name too, which may lie in .git/ or outside the project).
fn not_a_plain_file(abs: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::symlink_metadata(abs).ok()?;
    if meta.is_dir() {
        return Some("is a directory".into());
    }
    if !meta.is_file() {
        return Some("is not a regular file (a FIFO, device or socket)".into());
    }
    if meta.nlink() > 1 {
        return Some("has other hard links; agents may only change files with one name".into());
    }
    None
}

fn with_newline(s: &str) -> String {
    if s.is_empty() || s.ends_with('\n') {
        s.to_string()
    } else {
        format!("{s}\n")
    }
}

fn write_file(abs: &Path, content: &str) -> Result<String, String> {
    if let Some(p) = abs.parent() {
        std::fs::create_dir_all(p).map_err(|e| format!("cannot create folder: {e}"))?;
    }
    let existed = abs.exists();
    std::fs::write(abs, content).map_err(|e| format!("cannot write: {e}"))?;
    Ok(format!(
        "{} ({} bytes)",
        if existed { "overwrote" } else { "created" },
        content.len()
    ))
}

fn append_file(abs: &Path, content: &str) -> Result<String, String> {
    use std::io::Write;
    if let Some(p) = abs.parent() {
        std::fs::create_dir_all(p).map_err(|e| format!("cannot create folder: {e}"))?;
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(abs)
        .map_err(|e| format!("cannot open: {e}"))?;
    f.write_all(content.as_bytes())
        .map_err(|e| format!("cannot append: {e}"))?;
    Ok(format!("appended {} bytes", content.len()))
}

fn edit_file(abs: &Path, old: &str, new: &str) -> Result<String, String> {
    if old.is_empty() {
        return Err("OLD is empty; quote the exact text to replace".into());
    }
    let text = std::fs::read_to_string(abs).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => "file does not exist; use ACTION: write".to_string(),
        _ => format!("cannot read: {e}"),
    })?;
    // Agents write \n; keep a CRLF file's line endings.
    let (old, new) = if !text.contains(old) && text.contains("\r\n") {
        (old.replace('\n', "\r\n"), new.replace('\n', "\r\n"))
    } else {
        (old.to_string(), new.to_string())
    };
    match text.matches(old.as_str()).count() {
        0 => Err("OLD text not found in the file; copy it exactly from the current file".into()),
        1 => {
            let updated = text.replacen(old.as_str(), &new, 1);
            std::fs::write(abs, &updated).map_err(|e| format!("cannot write: {e}"))?;
            Ok("replaced 1 match".into())
        }
        n => Err(format!(
            "OLD text matches {n} places; include more surrounding lines so it matches once"
        )),
    }
}

fn delete_file(abs: &Path) -> Result<String, String> {
    match std::fs::remove_file(abs) {
        Ok(()) => Ok("deleted".into()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err("file does not exist".into()),
        Err(e) => Err(format!("cannot delete: {e}")),
    }
}

#[cfg(test)]
mod tests;
