//! The duo flow: the implementer works in turns, each ending with a JSON handoff (summary,
//! changed files, checklist, open questions, next action); a handoff that does not parse or fit
//! the schema is sent back with the reason. When every checklist item is done, a reviewer on
//! the opposite provider (`tasks.review_pairs`, claude ↔ codex by default) reads the diff and
//! answers approve or revise; revise sends its requests back to the implementer, at most
//! `tasks.max_review_rounds` times. Without a reviewer provider the task runs single-agent and
//! its timeline says so. `task review ID` queues a task for another review pass: it starts with
//! the reviewer on the branch as it is, and a revise goes back to the implementer as above.

use std::path::Path;

use super::checkpoint;
use super::handoff::{
    Handoff, handoff_instructions, parse_handoff, parse_verdict, verdict_instructions,
};
use super::run::{Ctx, Ended, task_project};
use crate::engine::agents::dispatch::CommitPolicy;
use crate::engine::agents::providers::registry;
use crate::engine::ground::events::Event;
use crate::engine::store::git;
use crate::engine::store::tasks::Task;
use crate::engine::store::workspace::Project;

/// Most characters of the diff a reviewer is shown.
const MAX_DIFF: usize = 30_000;

/// The provider that reviews work done on `implementer`, when one is configured.
fn reviewer_for(project: &Project, implementer: &str) -> Option<String> {
    project
        .config
        .tasks
        .review_pairs
        .get(implementer)
        .filter(|r| *r != implementer && project.providers.providers.contains_key(*r))
        .cloned()
}

/// The provider that works `task` and the one paired to review it, if any.
pub(super) fn pair(project: &Project, task: &Task) -> (String, Option<String>) {
    let (tp, agent) = task_project(project, task, &project.ws.root);
    let implementer = registry::choose(&tp, &agent);
    let reviewer = reviewer_for(project, &implementer);
    (implementer, reviewer)
}

/// The start of a task's reason when the user asked for another review pass.
pub const REVIEW_REQUESTED: &str = "review requested by the user";

/// The branch's changes since `base`, as a patch (cut at [`MAX_DIFF`]).
fn diff_text(path: &Path, base: &str) -> String {
    let make = || -> Result<String, git2::Error> {
        let repo = git2::Repository::open(path)?;
        let old = repo.find_commit(git2::Oid::from_str(base)?)?.tree()?;
        let new = repo.head()?.peel_to_tree()?;
        let diff = repo.diff_tree_to_tree(Some(&old), Some(&new), None)?;
        let mut out = String::new();
        diff.print(git2::DiffFormat::Patch, |_, _, line| {
            if out.len() < MAX_DIFF {
                if matches!(line.origin(), '+' | '-' | ' ') {
                    out.push(line.origin());
                }
                out.push_str(&String::from_utf8_lossy(line.content()));
            }
            true
        })?;
        Ok(out)
    };
    match make() {
        Ok(d) if d.len() >= MAX_DIFF => format!("{d}\n[diff cut at {MAX_DIFF} characters]"),
        Ok(d) => d,
        Err(e) => format!("(the diff could not be read: {})", e.message()),
    }
}

/// Put back whatever the reviewer wrote: a review changes no file.
fn discard_uncommitted(path: &Path) -> Vec<String> {
    // `git::open` writes an index clk kept in memory first, so the status is against HEAD.
    let Some(repo) = git::open(path) else {
        return Vec::new();
    };
    let dirty = git::dirty_paths(&repo).unwrap_or_default();
    if dirty.is_empty() {
        return dirty;
    }
    git::restore_paths(&repo, None, &dirty).unwrap_or_default()
}

fn implementer_objective(ctx: &Ctx<'_>, last: Option<&Handoff>, feedback: Option<&str>) -> String {
    let mut o = format!(
        "Task {}: {}\n\nWork in this project on the task: change the files it needs, with \
         tests where they fit.",
        ctx.task.id, ctx.task.prompt
    );
    if let Some(h) = last {
        o.push_str("\n\nYour last handoff:\n");
        o.push_str(&crate::engine::ground::fixed::json(h).to_string());
    }
    if let Some(f) = feedback {
        o.push_str("\n\n");
        o.push_str(f);
    }
    o.push_str("\n\n");
    o.push_str(&handoff_instructions());
    o
}

/// What the reviewer is asked: the implementer's last handoff when there is one, and (a pass
/// the user asked for) the user's note.
fn review_objective(ctx: &Ctx<'_>, last: Option<&Handoff>, asked: Option<&str>) -> String {
    let mut says = match last {
        Some(h) => format!(
            "The implementer says: {}\nChecklist: {}",
            h.summary,
            h.checklist
                .iter()
                .map(|i| format!("{} [{}]", i.item, i.status))
                .collect::<Vec<_>>()
                .join("; ")
        ),
        None => String::new(),
    };
    let user = match asked {
        None if !says.is_empty() => None,
        Some("") | None => {
            Some("The user asks for another review of the task's branch as it is now.".into())
        }
        Some(note) => Some(format!(
            "The user asks for another review of the task's branch as it is now: {note}"
        )),
    };
    if let Some(u) = user {
        if !says.is_empty() {
            says.push('\n');
        }
        says.push_str(&u);
    }
    format!(
        "Review task {} independently: {}\n\n{says}\n\nThe change (a diff against where the \
         task started):\n{}\n\n{}",
        ctx.task.id,
        ctx.task.prompt,
        diff_text(&ctx.path, &ctx.base),
        verdict_instructions()
    )
}

/// When the user asked for this run to start with a review pass: their note (maybe empty).
fn review_asked(task: &Task) -> Option<String> {
    let rest = task.reason.strip_prefix(REVIEW_REQUESTED)?;
    Some(rest.trim_start_matches(':').trim().to_string())
}

/// Run the duo flow on `ctx`'s task.
pub async fn run(ctx: &mut Ctx<'_>) -> Ended {
    go(ctx).await.unwrap_or_else(|end| end)
}

async fn go(ctx: &mut Ctx<'_>) -> Result<Ended, Ended> {
    let implementer = registry::choose(&ctx.tp, &ctx.agent);
    let reviewer = reviewer_for(&ctx.project, &implementer);
    // A pass the user asked for: the reviewer goes first, on the branch as it is.
    let mut asked = review_asked(ctx.task);
    if asked.is_some() && reviewer.is_none() {
        return Err(Ended::Failed(format!(
            "another review was asked for, but no reviewer provider is paired with \
             {implementer} (tasks.review_pairs)"
        )));
    }
    if reviewer.is_none() {
        let line = format!(
            "single-agent mode: no reviewer provider is paired with {implementer} \
             (tasks.review_pairs), so its own checklist decides when it is done"
        );
        ctx.log("mode", &line);
        ctx.bus.emit(Event::Report {
            topic: "task".into(),
            lines: vec![format!("task {}: {line}", ctx.task.id)],
        });
    }
    let max_rounds = ctx.project.config.tasks.max_review_rounds.max(1);
    let mut rounds = 0;
    // A task that stopped (a checkpoint, a pause, a dead worker) goes on from its last handoff.
    let mut last: Option<Handoff> = ctx.last_handoff();
    // A person's word at a checkpoint reaches the implementer (a checkpoint is only reached
    // while its checklist has work left, so an implementer turn always comes next).
    let mut feedback: Option<String> = ctx
        .sent_back()
        .or_else(|| checkpoint::decided(&ctx.task.reason));
    loop {
        // Settings edited since the last turn count from this one.
        ctx.refresh();
        let (tp, agent) = (ctx.tp.clone(), ctx.agent.clone());
        // A pass the user asked for starts with the reviewer; after it the loop runs as usual.
        let note = asked.take();
        if note.is_none() {
            let objective = implementer_objective(ctx, last.as_ref(), feedback.take().as_deref());
            let t = ctx
                .turn("implementer", &tp, &agent, objective, CommitPolicy::Now)
                .await?;
            if let Some(e) = t.error {
                feedback = Some(format!("Your last turn failed: {e}. Try again."));
                continue;
            }
            match parse_handoff(&t.reply) {
                Err(why) => {
                    ctx.log("handoff", &format!("turn {}: handoff rejected: {why}", t.n));
                    feedback = Some(format!(
                        "Your last reply's handoff was rejected: {why}. Carry on and end this \
                         reply with a valid handoff."
                    ));
                    continue;
                }
                Ok(h) => {
                    let done = h.checklist.iter().filter(|i| i.status == "done").count();
                    ctx.log(
                        "handoff",
                        &format!(
                            "turn {}: {} ({done}/{} item(s) done)",
                            t.n,
                            h.summary,
                            h.checklist.len()
                        ),
                    );
                    let complete = h.complete();
                    let kept = crate::engine::ground::fixed::json(&h).to_string();
                    if let Err(e) = ctx.store.set_handoff(ctx.task.id, &kept) {
                        return Err(Ended::Failed(e.to_string()));
                    }
                    ctx.checkpoint(Some(&h))?;
                    last = Some(h);
                    if !complete {
                        continue;
                    }
                }
            }
        }
        let Some(rev) = reviewer.as_ref() else {
            return Ok(ctx.finished());
        };
        rounds += 1;
        let mut rp = tp.clone();
        let mut spec = rp.agents.spec("critic");
        spec.provider = Some(rev.clone());
        rp.agents.agents.insert("critic".into(), spec);
        let objective = review_objective(ctx, last.as_ref(), note.as_deref());
        let t = ctx
            .turn("reviewer", &rp, "critic", objective, CommitPolicy::Later)
            .await?;
        let put_back = discard_uncommitted(&ctx.path);
        if !put_back.is_empty() {
            ctx.log(
                "review",
                &format!(
                    "the reviewer's edits were put back: {}",
                    put_back.join(", ")
                ),
            );
        }
        let verdict = match (&t.error, parse_verdict(&t.reply)) {
            (Some(e), _) => Err(format!("the review call failed: {e}")),
            (None, v) => v,
        };
        match verdict {
            Ok(v) if v.approves() => {
                ctx.log(
                    "review",
                    &format!(
                        "review {rounds} by {}: approve — {}",
                        t.provider,
                        v.reasons.join("; ")
                    ),
                );
                return Ok(ctx.finished());
            }
            Ok(v) => {
                let asks = v.requests.join("; ");
                ctx.log(
                    "review",
                    &format!("review {rounds} by {}: revise — {asks}", t.provider),
                );
                if rounds >= max_rounds {
                    return Err(Ended::Failed(format!(
                        "the reviewer ({}) still asks for changes after {rounds} round(s) \
                         (tasks.max_review_rounds): {asks}",
                        t.provider
                    )));
                }
                feedback = Some(format!(
                    "An independent reviewer asks for these changes: {asks}. Make them; the \
                     checklist is done again only when they are."
                ));
            }
            Err(why) => {
                ctx.log(
                    "review",
                    &format!("review {rounds}: no usable verdict: {why}"),
                );
                if rounds >= max_rounds {
                    return Err(Ended::Failed(format!(
                        "no usable review verdict after {rounds} round(s): {why}"
                    )));
                }
                // A pass the user asked for is tried again; there is no new work to show.
                asked = note;
            }
        }
    }
}
