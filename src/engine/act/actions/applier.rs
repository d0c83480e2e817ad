//! Applying one action at a time: the jail, the user's changes, a backup, the file operation
//! or the command, and the event that says what was decided and why.

use std::collections::BTreeSet;
use std::path::Path;

use tokio_util::sync::CancellationToken;

use super::batch::{BatchOutcome, CommandRecord, GateContext};
use super::files::{
    append_file, delete_file, edit_file, not_a_plain_file, with_newline, write_file,
};
use super::jail::{self, Access, Jailed};
use super::rules;
use crate::engine::act::process;
use crate::engine::ground::events::{Decision, Event};
use crate::engine::ground::protocol::{Action, ActionBlock};
use crate::engine::ground::redact;
use crate::engine::store::bus::Bus;

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

pub(super) fn access_for(a: &Action) -> Access {
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
        let spec = process::Spec::shell(
            cmd,
            self.ctx.root.clone(),
            self.ctx.run_timeout,
            self.ctx.sandbox.clone(),
        );
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
                if let Some(w) = &o.sandbox_warning {
                    self.bus.emit(Event::Warning {
                        message: redact::redact_text(&format!("command `{cmd}`: {w}")),
                    });
                }
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

/// Every changed, untracked or deleted path in the work tree, when the root is a repository.
fn tree_changes(root: &Path) -> Option<BTreeSet<String>> {
    let repo = crate::engine::store::git::open(root)?;
    crate::engine::store::git::dirty_paths(&repo)
        .ok()
        .map(|v| v.into_iter().collect())
}
