//! One pass of either loop, start to record: ralph says what to do, the engineer does it, a
//! reviewer looks, the checks run, and the pass's files are kept (committed) or put back.
//!
//! Every pass ends in one record and one progress line, whether it improved anything, failed
//! or was skipped because ralph's answer was unusable. A pass *improved* when it was not
//! cancelled, the engineer answered, files changed, the evaluation passed and the loop's own
//! [`Recipe::objection`] has none. What a loop asks and records of its own is its [`Recipe`];
//! the order of the steps and the rules for keeping are here, once. A dry run renders the
//! same three prompts with the recipe's [`Recipe::dry_subject`] and applies nothing.

use serde_json::{Map, Value, json};

use super::iteration::{self, Iteration};
use super::steer::Steering;
use super::{Ctx, IterationResult};
use crate::engine::agents::dispatch::{DispatchError, DispatchOutcome};
use crate::engine::ground::events::Event;
use crate::engine::ground::redact::redact_text;
use crate::engine::runs::evaluate::Evaluation;

/// How a loop names its parts in messages and records.
pub(super) struct Names {
    /// In warnings: "Ralph iteration".
    pub pass: &'static str,
    /// In progress lines: "iter".
    pub short: &'static str,
    /// What ralph's answer is, in the reason a skipped pass is put back: "reply".
    pub plan: &'static str,
    /// The agent that reviews the engineer's work: "qa".
    pub reviewer: &'static str,
    /// The record's field for the subject: "objective".
    pub subject_field: &'static str,
    /// Before the subject in progress lines and summaries: "Q: " for a question.
    pub subject_prefix: &'static str,
    /// The loop's own record fields that a skipped pass records as null.
    pub null_when_skipped: &'static [&'static str],
}

/// What a pass did, for the recipe's judgement, commit notes and record.
pub(super) struct Done<'a> {
    pub index: u32,
    pub engineer: &'a DispatchOutcome,
    pub review: &'a DispatchOutcome,
    pub eval: &'a Evaluation,
}

/// What makes a loop's pass its own.
pub(super) trait Recipe {
    const NAMES: Names;

    /// Ralph's objective for pass `i`, before the steering note.
    fn plan(&self, i: u32) -> String;

    /// What pass `i` is about, from ralph's reply (the improvement, the question).
    fn subject(&self, plan_reply: &str, i: u32) -> String;

    /// The subject a dry run's pass `i` renders its prompts with.
    fn dry_subject(&self, i: u32) -> String;

    /// The engineer's objective.
    fn work(&self, subject: &str) -> String;

    /// The reviewer's objective, once the engineer is done.
    fn review(&self, i: u32, subject: &str, engineer: &DispatchOutcome, files: &[String])
    -> String;

    /// Why not to keep a pass that passed the common rules, if the loop has a reason.
    fn objection(&self, done: &Done<'_>) -> Option<String>;

    /// The notes of the pass's commit.
    fn notes(&self, done: &Done<'_>) -> Vec<String>;

    /// The record's fields of the loop's own.
    fn fields(&self, done: &Done<'_>) -> Map<String, Value>;
}

/// Run pass `i` of `recipe`'s loop.
pub(super) async fn run<R: Recipe>(
    ctx: &Ctx<'_>,
    steer: &Steering,
    i: u32,
    recipe: &R,
) -> Result<IterationResult, DispatchError> {
    let names = &R::NAMES;
    let careful = steer.careful();
    let mut it = Iteration::begin(ctx, i);
    let plan = format!("{}{}", recipe.plan(i), steer.note());
    let ralph = it.ask(ctx, "ralph", plan, careful, &[]).await?;
    let dry_run = ctx.opts.dry_run;
    if !dry_run && let Some(why) = iteration::unusable(ctx, &ralph) {
        return Ok(skip::<R>(ctx, &it, &why));
    }
    let subject = if dry_run {
        recipe.dry_subject(i)
    } else {
        recipe.subject(&ralph.reply, i)
    };
    let from_ralph = [("from", "ralph")];
    let engineer = it
        .ask(ctx, "engineer", recipe.work(&subject), careful, &from_ralph)
        .await?;
    let objective = recipe.review(i, &subject, &engineer, &it.files());
    let review = it.ask(ctx, names.reviewer, objective, careful, &[]).await?;
    if dry_run {
        return Ok(IterationResult {
            summary: "dry run: prompts rendered, nothing applied".into(),
            ..IterationResult::default()
        });
    }
    let eval = iteration::evaluate(ctx, i).await;
    let files = it.files();
    let done = Done {
        index: i,
        engineer: &engineer,
        review: &review,
        eval: &eval,
    };

    let why_not = if ctx.cancel.is_cancelled() {
        Some("the loop was cancelled".to_string())
    } else if let Some(e) = &engineer.error {
        Some(format!("the engineer failed: {}", e.message))
    } else if files.is_empty() {
        Some("no files changed".to_string())
    } else if !eval.ok {
        Some(format!("evaluation failed: {}", eval.summary))
    } else {
        recipe.objection(&done)
    };
    let improved = why_not.is_none();
    let mut failure = None;
    let commit = match &why_not {
        None => it.keep(ctx, &subject, &recipe.notes(&done)),
        Some(why) => {
            failure = Some(it.fail(ctx, &subject, why));
            None
        }
    };

    let mut fields = json!({
        names.subject_field: redact_text(&subject),
        "eval_summary": eval.summary,
        "eval_weak": eval.weak,
        "files": files,
        "reason": why_not,
        "careful": careful,
    });
    if let Some(fields) = fields.as_object_mut() {
        fields.extend(recipe.fields(&done));
    }
    let prefix = names.subject_prefix;
    close::<R>(
        ctx,
        &it,
        Ending {
            improved,
            committed: commit.is_some(),
            fields,
            tail: format!("{prefix}{}", redact_text(&subject)),
        },
    );
    Ok(IterationResult {
        improved,
        commit,
        summary: format!(
            "{prefix}{subject} ({})",
            why_not.unwrap_or_else(|| eval.summary.clone())
        ),
        failure,
    })
}

/// Ralph's answer was not worth acting on: put back anything it changed and record the skip.
fn skip<R: Recipe>(ctx: &Ctx<'_>, it: &Iteration, why: &str) -> IterationResult {
    let names = &R::NAMES;
    let i = it.index;
    ctx.bus.emit(Event::Warning {
        message: format!("{} #{i} skipped: {why}", names.pass),
    });
    it.undo(ctx, &format!("ralph's {} was unusable: {why}", names.plan));
    let mut fields = json!({ names.subject_field: null, "skipped": why });
    if let Some(fields) = fields.as_object_mut() {
        for name in names.null_when_skipped {
            fields.insert((*name).to_string(), Value::Null);
        }
    }
    close::<R>(
        ctx,
        it,
        Ending {
            improved: false,
            committed: false,
            fields,
            tail: format!("skipped ({why})"),
        },
    );
    IterationResult {
        summary: format!("skipped: {why}"),
        ..IterationResult::default()
    }
}

/// How a pass ended, for its record and its progress line.
struct Ending {
    improved: bool,
    committed: bool,
    /// The record's fields beyond those every pass has.
    fields: Value,
    /// The progress line's last words.
    tail: String,
}

/// Append pass `it`'s record and its progress line.
fn close<R: Recipe>(ctx: &Ctx<'_>, it: &Iteration, ending: Ending) {
    let finished_at = iteration::now();
    let mut record = json!({
        "loop": ctx.kind.name(),
        "index": it.index,
        "started_at": it.started_at,
        "finished_at": finished_at,
        "improved": ending.improved,
        "committed": ending.committed,
        "sha_before": it.sha_before,
        "sha_after": it.sha_now(ctx),
    });
    if let (Some(record), Value::Object(fields)) = (record.as_object_mut(), ending.fields) {
        record.extend(fields);
    }
    iteration::record(ctx, &record);
    iteration::progress_line(
        ctx,
        &format!(
            "- {} {} @ {finished_at} improved={} committed={} :: {}",
            R::NAMES.short,
            it.index,
            ending.improved,
            ending.committed,
            ending.tail
        ),
    );
}
