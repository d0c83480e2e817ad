//! Applying one action at a time: the jail, the user's changes, a key check, a backup, the
//! file operation or the command (`command.rs`), and the event that says what was decided and
//! why.

use tokio_util::sync::CancellationToken;

use super::batch::{BatchOutcome, GateContext};
use super::files::{
    append_file, delete_file, edit_file, not_a_plain_file, with_newline, write_file,
};
use super::jail::{self, Access, Jailed};
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
        runs_started: 0,
        runs_spent: std::time::Duration::ZERO,
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

pub(super) struct Applier<'a> {
    pub(super) ctx: &'a GateContext,
    pub(super) bus: &'a Bus,
    pub(super) out: BatchOutcome,
    /// `run` blocks of this reply that were started, and the time they took together.
    pub(super) runs_started: u32,
    pub(super) runs_spent: std::time::Duration,
}

impl Applier<'_> {
    pub(super) fn decide(&mut self, kind: &str, target: &str, decision: Decision, reason: String) {
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

    pub(super) fn note_written(&mut self, rel: &str) {
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
        // The file would be committed: a key in it, or in its name, would end up in git
        // history. The same check as for files a command or a provider's tools changed.
        if let Some(masked) = redact::secret_in(&j.rel) {
            return self.decide(
                kind,
                &j.rel,
                Decision::Rejected,
                format!("refused: its name holds a key ({masked})"),
            );
        }
        if let Some(masked) = new_text.and_then(|t| redact::secret_in(t)) {
            return self.decide(
                kind,
                &j.rel,
                Decision::Rejected,
                format!(
                    "refused: it holds a key ({masked}); read keys from the environment \
                     instead of writing them into files"
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

    fn done(&mut self, reason: &str) {
        // The reason is the agent's text and lands in a state file: redacted like the logs.
        let reason = if reason.trim().is_empty() {
            "(no reason given)".to_string()
        } else {
            redact::redact_text(reason.trim())
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
