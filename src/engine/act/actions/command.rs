//! One `ACTION: run` command: the per-reply bounds, the deny-list, the run itself with its
//! output kept as head and tail, and the check of every file it changed.
//!
//! A reply may run at most `limits.max_runs` commands, and all of them together get one time
//! budget; each command gets the smaller of its own limit and what is left of the budget.
//! Output lines reach the event stream (and the activity log) until the first half of
//! `limits.keep_output_bytes` is used; after that only the last half is kept and sent when the
//! command ends, after one line that says how many bytes were left out. Every file the command
//! created, changed or deleted is judged by the same rules as a provider's own edits
//! ([`super::native`]), and clk's own record of posts is put back if it changed
//! ([`super::guard`]).

use std::collections::BTreeSet;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::applier::Applier;
use super::batch::CommandRecord;
use super::guard::ClkGuard;
use super::output::OutputCap;
use super::{native, rules};
use crate::engine::act::process;
use crate::engine::ground::events::{Decision, Event, Stream};
use crate::engine::ground::redact;
use crate::engine::store::bus::Bus;

fn emit_line(bus: &Bus, agent: &str, run_id: &str, stream: Stream, line: &str) {
    bus.emit(Event::AgentOutput {
        agent: agent.to_string(),
        run_id: run_id.to_string(),
        stream,
        line: redact::redact_text(line),
    });
}

impl Applier<'_> {
    pub(super) async fn run_command(&mut self, cmd: &str, cancel: &CancellationToken) {
        let limits = self.ctx.limits;
        if cmd.trim().is_empty() {
            return self.decide("run", cmd, Decision::Skipped, "empty command".into());
        }
        if self.runs_started >= limits.max_runs {
            return self.decide(
                "run",
                cmd,
                Decision::Rejected,
                format!(
                    "refused: a reply may run at most {} commands \
                     (validation.max_runs_per_reply); run the rest in a later reply",
                    limits.max_runs
                ),
            );
        }
        let left = limits.budget.saturating_sub(self.runs_spent);
        if left.is_zero() {
            return self.decide(
                "run",
                cmd,
                Decision::Rejected,
                format!(
                    "refused: this reply's commands used their {}s together \
                     (validation.runs_budget_s)",
                    limits.budget.as_secs()
                ),
            );
        }
        if let Some(why) = rules::refusal(cmd) {
            return self.decide("run", cmd, Decision::Rejected, format!("refused: it {why}"));
        }
        self.runs_started += 1;
        let timeout = self.ctx.run_timeout.min(left);
        let own: BTreeSet<String> = self.out.changed_paths().into_iter().collect();
        let watch = native::Watch::begin_excluding(&self.ctx.root, &own);
        // Outside a repository there is no watch, and its guard of clk's posts with it.
        let guard = watch.is_none().then(|| ClkGuard::begin(&self.ctx.root));
        let spec = process::Spec::shell(
            cmd,
            self.ctx.root.clone(),
            timeout,
            self.ctx.sandbox.clone(),
        );
        let bus = self.bus.clone();
        let (agent, run_id) = (self.ctx.agent.clone(), self.ctx.run_id.clone());
        // The command's line comes before its output in every log.
        bus.emit(Event::CommandStarted {
            agent: agent.clone(),
            run_id: run_id.clone(),
            command: redact::redact_text(cmd),
        });
        // `on_line` is a shared `Fn`; the cap sits behind a lock it alone takes.
        let cap = std::sync::Mutex::new(OutputCap::new(limits.keep_output_bytes));
        let res = process::run(
            &spec,
            cancel,
            |_| {},
            |stream, line| {
                let now = cap
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .line(stream, line);
                if let Some(line) = now {
                    emit_line(&bus, &agent, &run_id, stream, &line);
                }
            },
        )
        .await;
        let cap = cap.into_inner().unwrap_or_else(|p| p.into_inner());
        for (stream, line) in cap.finish() {
            emit_line(&bus, &agent, &run_id, stream, &line);
        }
        if let Ok(o) = &res {
            self.runs_spent += o.elapsed;
        }
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
                let tail = last_bytes(&tail.join("\n"), limits.keep_output_bytes / 2);
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
                    output_tail: redact::redact_text(&tail),
                });
                let how = if timed_out {
                    format!("timed out after {}s", secs(timeout))
                } else {
                    match exit_code {
                        Some(c) => format!("exit {c}"),
                        None => "stopped".into(),
                    }
                };
                self.decide("run", cmd, Decision::Applied, how);
            }
        }
        for (path, what) in guard.map(ClkGuard::finish).unwrap_or_default() {
            self.decide(
                "run_change",
                &path,
                Decision::Rejected,
                format!(
                    "{}; posts come only from POST blocks, which clk records; {what}",
                    super::jail::CLK_REFUSAL
                ),
            );
        }
        if let Some(watch) = watch {
            self.judge_changes(watch);
        }
    }

    /// The command's changes join the batch, each checked like a file action: the path jail,
    /// the user's files, keys in names and contents. Refused ones are already put back.
    fn judge_changes(&mut self, watch: native::Watch) {
        let judged = watch.finish(
            &native::Judge {
                kind: "run_change",
                agent: &self.ctx.agent,
                run_id: &self.ctx.run_id,
                max_files: self.ctx.max_files,
                keep: true,
            },
            self.bus,
        );
        for rel in judged.written {
            self.note_written(&rel);
        }
        for rel in judged.deleted {
            self.out.written.retain(|w| w != &rel);
            if !self.out.deleted.contains(&rel) {
                self.out.deleted.push(rel);
            }
        }
        // A refused path the batch had written before the command is no longer its change.
        for r in &judged.refused {
            if let Some(path) = r
                .strip_prefix("run_change ")
                .and_then(|r| r.split_once(": "))
                .map(|(p, _)| p.to_string())
            {
                self.out.written.retain(|w| w != &path);
            }
        }
        self.out.refused.extend(judged.refused);
    }
}

/// At most the last `max` bytes of `text`, cut at a character boundary.
fn last_bytes(text: &str, max: usize) -> String {
    let mut start = text.len().saturating_sub(max);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    text[start..].to_string()
}

fn secs(d: Duration) -> u64 {
    d.as_secs().max(1)
}

#[cfg(test)]
mod tests {
    use super::last_bytes;

    #[test]
    fn the_tail_is_cut_at_a_character_boundary() {
        assert_eq!(last_bytes("abcdef", 3), "def");
        assert_eq!(last_bytes("ab", 10), "ab");
        assert_eq!(last_bytes("aé", 1), "");
        assert_eq!(last_bytes("aéb", 2), "b");
    }
}
