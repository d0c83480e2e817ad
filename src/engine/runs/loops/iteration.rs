//! One iteration's changes as a unit, and the loops' records.
//!
//! Invariant: the files an iteration keeps or puts back are exactly the union of what its
//! agents' batches changed. Keeping commits them together on top of HEAD (the user's other
//! changes stay out of the commit); putting back restores them as they were in the commit the
//! iteration started from, and touches nothing else. Records are best effort: a record that
//! cannot be written is reported as a warning and never ends the loop.

use std::fs::OpenOptions;
use std::io::Write;

use serde_json::Value;

use super::Ctx;
use crate::engine::act::actions::BatchOutcome;
use crate::engine::agents::dispatch::{
    CommitPolicy, DispatchError, DispatchOutcome, commit_message,
};
use crate::engine::ground::events::{Event, Usage};
use crate::engine::ground::protocol::{Flag, ScoreOptions, score};
use crate::engine::runs::evaluate::{self, Evaluation};
use crate::engine::store::git;
use crate::engine::store::workspace::append_jsonl;

/// What a failed iteration tried and why it was undone, for the critic.
#[derive(Debug, Clone, Default)]
pub(super) struct Failure {
    pub index: u32,
    pub objective: String,
    pub why: String,
    /// The change as a patch, cut to a bounded length; empty when nothing changed.
    pub diff: String,
}

/// Longest diff shown to the critic, in characters.
const MAX_DIFF: usize = 4000;

/// Local time for records and progress lines.
pub(super) fn now() -> String {
    chrono::Local::now()
        .format("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

fn head_sha(ctx: &Ctx<'_>) -> Option<String> {
    let repo = git::open(&ctx.project.ws.work)?;
    let commit = repo.head().ok()?.peel_to_commit().ok()?;
    Some(commit.id().to_string())
}

pub(super) struct Iteration {
    pub index: u32,
    pub started_at: String,
    /// HEAD when the iteration began; None outside git or before the first commit.
    pub sha_before: Option<String>,
    batch: BatchOutcome,
    usage: Usage,
    run_ids: Vec<String>,
}

impl Iteration {
    pub fn begin(ctx: &Ctx<'_>, index: u32) -> Iteration {
        Iteration {
            index,
            started_at: now(),
            sha_before: head_sha(ctx),
            batch: BatchOutcome::default(),
            usage: Usage::default(),
            run_ids: Vec::new(),
        }
    }

    /// Dispatch `agent` inside the iteration: its batch is applied uncommitted and counted as
    /// the iteration's. On a setup error the iteration's files so far are put back.
    pub async fn ask(
        &mut self,
        ctx: &Ctx<'_>,
        agent: &str,
        objective: String,
        careful: bool,
        extra: &[(&str, &str)],
    ) -> Result<DispatchOutcome, DispatchError> {
        let asked = ctx
            .ask(
                super::Ask::Work,
                agent,
                objective,
                self.index,
                careful,
                CommitPolicy::Later,
                extra,
            )
            .await;
        match asked {
            Ok(out) => {
                self.absorb(&out);
                Ok(out)
            }
            Err(e) => {
                self.undo(ctx, &format!("the iteration stopped: {e}"));
                Err(e)
            }
        }
    }

    /// Count one dispatch's batch as part of this iteration.
    fn absorb(&mut self, out: &DispatchOutcome) {
        let b = &out.batch;
        for p in &b.written {
            if !self.batch.written.contains(p) {
                self.batch.written.push(p.clone());
            }
        }
        for p in &b.deleted {
            if !self.batch.deleted.contains(p) {
                self.batch.deleted.push(p.clone());
            }
        }
        self.batch.commands.extend(b.commands.iter().cloned());
        self.batch.refused.extend(b.refused.iter().cloned());
        if b.done.is_some() {
            self.batch.done.clone_from(&b.done);
        }
        self.usage.input_tokens += out.usage.input_tokens;
        self.usage.output_tokens += out.usage.output_tokens;
        self.usage.cached_input_tokens += out.usage.cached_input_tokens;
        self.usage.estimated |= out.usage.estimated;
        self.run_ids.push(out.run_id.clone());
    }

    pub fn files(&self) -> Vec<String> {
        self.batch.changed_paths()
    }

    /// HEAD now, for the record.
    pub fn sha_now(&self, ctx: &Ctx<'_>) -> Option<String> {
        head_sha(ctx)
    }

    /// Commit the iteration's files as one commit by the loop; returns its sha. Without
    /// `auto_commit`, or outside git, the files stay in the tree uncommitted.
    pub fn keep(&self, ctx: &Ctx<'_>, subject: &str, notes: &[String]) -> Option<String> {
        let files = self.files();
        if files.is_empty() || !ctx.project.config.auto_commit {
            return None;
        }
        let author = ctx.kind.name();
        let Some(repo) = git::open(&ctx.project.ws.work) else {
            ctx.bus.emit(Event::Warning {
                message: format!(
                    "{} iteration #{}: not a git repository; its changes were kept uncommitted",
                    author, self.index
                ),
            });
            return None;
        };
        let mut notes = notes.to_vec();
        notes.push(format!("Runs: {}", self.run_ids.join(", ")));
        let run_id = self.run_ids.last().map(String::as_str).unwrap_or_default();
        let message = commit_message(author, subject, &self.batch, &self.usage, run_id, &notes);
        match git::commit_paths(&repo, author, &files, &message) {
            Ok(Some(info)) => {
                ctx.bus.emit(Event::Committed {
                    agent: author.to_string(),
                    sha: info.sha.clone(),
                    subject: info.subject,
                    files,
                });
                Some(info.sha)
            }
            Ok(None) => None,
            Err(e) => {
                ctx.bus.emit(Event::Warning {
                    message: format!("commit of {author} iteration #{} failed: {e}", self.index),
                });
                None
            }
        }
    }

    /// Put the iteration's files back as they were when it began; returns the undone change
    /// as a patch (bounded), for the critic.
    /// Put the iteration's files back and describe the failure for the critic.
    pub fn fail(&self, ctx: &Ctx<'_>, objective: &str, why: &str) -> Failure {
        Failure {
            index: self.index,
            objective: objective.to_string(),
            why: why.to_string(),
            diff: self.undo(ctx, why),
        }
    }

    pub fn undo(&self, ctx: &Ctx<'_>, reason: &str) -> String {
        let files = self.files();
        if files.is_empty() {
            return String::new();
        }
        let agent = ctx.kind.name().to_string();
        let Some(repo) = git::open(&ctx.project.ws.work) else {
            ctx.bus.emit(Event::Warning {
                message: format!(
                    "{agent} iteration #{} failed; not a git repository, so its files were kept",
                    self.index
                ),
            });
            return String::new();
        };
        let diff = patch(&repo, self.sha_before.as_deref(), &files);
        match git::restore_paths(&repo, self.sha_before.as_deref(), &files) {
            Ok(_) => ctx.bus.emit(Event::ChangesUndone {
                agent,
                files,
                reason: reason.to_string(),
            }),
            Err(e) => ctx.bus.emit(Event::Warning {
                message: format!("could not undo {agent} iteration #{}: {e}", self.index),
            }),
        }
        diff
    }
}

/// The work-tree change of `paths` since `rev` as a unified patch, cut at [`MAX_DIFF`].
fn patch(repo: &git2::Repository, rev: Option<&str>, paths: &[String]) -> String {
    let tree = rev
        .and_then(|r| repo.revparse_single(r).ok())
        .and_then(|o| o.peel_to_tree().ok());
    let mut opts = git2::DiffOptions::new();
    opts.include_untracked(true)
        .recurse_untracked_dirs(true)
        .show_untracked_content(true)
        .disable_pathspec_match(true);
    for p in paths {
        opts.pathspec(p);
    }
    let Ok(diff) = repo.diff_tree_to_workdir(tree.as_ref(), Some(&mut opts)) else {
        return String::new();
    };
    let mut out = String::new();
    // Returning false from the callback stops the walk early; the error that reports is moot.
    let _ = diff.print(git2::DiffFormat::Patch, |_, _, line| {
        if matches!(line.origin(), '+' | '-' | ' ') {
            out.push(line.origin());
        }
        out.push_str(&String::from_utf8_lossy(line.content()));
        out.chars().count() < MAX_DIFF
    });
    if out.chars().count() >= MAX_DIFF {
        out = out.chars().take(MAX_DIFF).collect();
        out.push_str("\n… (cut)\n");
    }
    out
}

/// Run the loop's checks and report each as a `validation_ran` event.
pub(super) async fn evaluate(ctx: &Ctx<'_>, index: u32) -> Evaluation {
    let eval = evaluate::evaluate(ctx.project, &ctx.opts.checks, ctx.cancel).await;
    for r in &eval.ran {
        ctx.bus.emit(Event::ValidationRan {
            workflow: ctx.kind.name().to_string(),
            stage: format!("iteration-{index}"),
            command: r.command.clone(),
            exit_code: r.exit_code,
            timed_out: r.timed_out,
            output_tail: r.output_tail.clone(),
        });
    }
    if eval.ran.is_empty() && index == 1 {
        ctx.bus.emit(Event::Warning {
            message: format!(
                "{}: no checks found for this project, so iterations are judged by their \
                 agents alone (weak evaluation); pass explicit checks to make them count",
                ctx.kind.title()
            ),
        });
    }
    eval
}

/// Append one record to `.clk/state/experiments.jsonl`.
pub(super) fn record(ctx: &Ctx<'_>, value: &Value) {
    let path = ctx.project.ws.state_dir().join("experiments.jsonl");
    if let Err(e) = append_jsonl(&path, value) {
        ctx.bus.emit(Event::Warning {
            message: format!("cannot append to {}: {e}", path.display()),
        });
    }
}

/// Append one line to `.clk/state/progress.md` (clk's log; the root PROGRESS.md is the
/// product's and agents write it themselves).
pub(super) fn progress_line(ctx: &Ctx<'_>, line: &str) {
    let path = ctx.project.ws.state_dir().join("progress.md");
    let line = line.replace('\n', " ");
    let written = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(format!("{line}\n").as_bytes()));
    if let Err(e) = written {
        ctx.bus.emit(Event::Warning {
            message: format!("cannot append to {}: {e}", path.display()),
        });
    }
}

/// Why a planner's reply is not worth acting on (no reply, empty, or a refusal); None when it
/// is usable. Softer flaws (no confidence line, a malformed post) do not skip an iteration.
pub(super) fn unusable(ctx: &Ctx<'_>, out: &DispatchOutcome) -> Option<String> {
    if let Some(e) = &out.error {
        return Some(format!("no reply: {}", e.message));
    }
    let rb = &ctx.project.config.robustness;
    let opts = ScoreOptions {
        min_chars: rb.min_response_chars as usize,
        min_confidence: rb.min_confidence,
        ..ScoreOptions::default()
    };
    let q = score(&out.reply, &out.parsed, &opts);
    q.flags
        .iter()
        .find(|f| matches!(f, Flag::Empty | Flag::Refusal))
        .map(Flag::reason)
}
