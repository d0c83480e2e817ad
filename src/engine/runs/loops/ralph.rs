//! The Ralph loop: each iteration ralph names one measurable improvement, the engineer makes
//! it, qa audits it, and the evaluator decides whether the iteration is committed or undone.
//!
//! The engineer's objective is ralph's first prose line, word for word (the ralph prompt
//! promises that). The commit subject is `[ralph] <that line>`; when the line is missing or is
//! the shell provider's stub, the subject is `[ralph] iteration #<i> improvement` rather than
//! stub text. An iteration *improved* when the evaluation passed, the engineer answered, files
//! changed, and qa did not say FAIL while the evaluation was weak (with no real checks, qa's
//! verdict is the only evidence there is).

use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::iteration::{self, Iteration};
use super::steer::Steering;
use super::{Ctx, IterationResult, LoopKind, LoopOptions, LoopReport, drive, text};
use crate::engine::agents::dispatch::DispatchError;
use crate::engine::ground::events::Event;
use crate::engine::ground::redact::redact_text;
use crate::engine::store::bus::Bus;
use crate::engine::store::workspace::Project;

/// Run the Ralph loop until it is done, plateaus, is cancelled or reaches its cap.
pub async fn run_ralph(
    project: &Project,
    bus: &Bus,
    opts: &LoopOptions,
    cancel: &CancellationToken,
) -> LoopReport {
    drive(project, bus, LoopKind::Ralph, opts, cancel).await
}

fn verdict_word(v: Option<bool>) -> &'static str {
    match v {
        Some(true) => "PASS",
        Some(false) => "FAIL",
        None => "none",
    }
}

/// One iteration, start to record.
pub(super) async fn iteration(
    ctx: &Ctx<'_>,
    steer: &Steering,
    i: u32,
) -> Result<IterationResult, DispatchError> {
    let careful = steer.careful();
    let mut it = Iteration::begin(ctx, i);
    let plan = format!(
        "Ralph iteration #{i}: select and execute one measurable improvement.{}",
        steer.note()
    );
    let ralph = it.ask(ctx, "ralph", plan, careful, &[]).await?;
    if ctx.opts.dry_run {
        let objective = format!("(dry run) the improvement ralph names for iteration #{i}");
        it.ask(ctx, "engineer", objective, careful, &[("from", "ralph")])
            .await?;
        it.ask(ctx, "qa", qa_objective(i, "(dry run)", &[]), careful, &[])
            .await?;
        return Ok(IterationResult {
            summary: "dry run: prompts rendered, nothing applied".into(),
            ..IterationResult::default()
        });
    }

    if let Some(why) = iteration::unusable(ctx, &ralph) {
        return Ok(skip(ctx, &it, &why));
    }
    let objective =
        text::objective_line(&ralph.reply).unwrap_or_else(|| format!("iteration #{i} improvement"));
    let engineer = it
        .ask(
            ctx,
            "engineer",
            objective.clone(),
            careful,
            &[("from", "ralph")],
        )
        .await?;
    let qa = it
        .ask(
            ctx,
            "qa",
            qa_objective(i, &objective, &it.files()),
            careful,
            &[],
        )
        .await?;
    let eval = iteration::evaluate(ctx, i).await;
    let verdict = text::qa_verdict(&qa.parsed.posts);
    let files = it.files();

    let why_not = if ctx.cancel.is_cancelled() {
        Some("the loop was cancelled".to_string())
    } else if let Some(e) = &engineer.error {
        Some(format!("the engineer failed: {}", e.message))
    } else if files.is_empty() {
        Some("no files changed".to_string())
    } else if !eval.ok {
        Some(format!("evaluation failed: {}", eval.summary))
    } else if eval.weak && verdict == Some(false) {
        Some("qa said FAIL and the evaluation was weak".to_string())
    } else {
        None
    };
    let improved = why_not.is_none();
    let mut failure = None;
    let commit = match &why_not {
        None => {
            let note = format!(
                "Ralph iteration {i}; qa ok={} verdict={}; eval: {}",
                qa.ok,
                verdict_word(verdict),
                eval.summary
            );
            it.keep(ctx, &objective, &[note])
        }
        Some(why) => {
            failure = Some(it.fail(ctx, &objective, why));
            None
        }
    };

    let finished_at = iteration::now();
    iteration::record(
        ctx,
        &json!({
            "loop": "ralph",
            "index": i,
            "started_at": it.started_at,
            "finished_at": finished_at,
            "objective": redact_text(&objective),
            "improved": improved,
            "committed": commit.is_some(),
            "eval_summary": eval.summary,
            "eval_weak": eval.weak,
            "qa_verdict": verdict_word(verdict),
            "files": files,
            "reason": why_not,
            "careful": careful,
            "sha_before": it.sha_before,
            "sha_after": it.sha_now(ctx),
        }),
    );
    iteration::progress_line(
        ctx,
        &format!(
            "- iter {i} @ {finished_at} improved={improved} committed={} :: {}",
            commit.is_some(),
            redact_text(&objective)
        ),
    );
    Ok(IterationResult {
        improved,
        commit,
        summary: format!(
            "{objective} ({})",
            why_not.unwrap_or_else(|| eval.summary.clone())
        ),
        failure,
    })
}

fn qa_objective(i: u32, objective: &str, files: &[String]) -> String {
    let files = if files.is_empty() {
        "(none)".to_string()
    } else {
        files.join(", ")
    };
    format!(
        "Audit the changes of iteration #{i} and validate.\nImprovement: {objective}\n\
         Files changed: {files}\nPost a POST: qa whose body starts with PASS or FAIL."
    )
}

/// Ralph's reply was not worth acting on: put back anything it changed and record the skip.
fn skip(ctx: &Ctx<'_>, it: &Iteration, why: &str) -> IterationResult {
    let i = it.index;
    ctx.bus.emit(Event::Warning {
        message: format!("Ralph iteration #{i} skipped: {why}"),
    });
    it.undo(ctx, &format!("ralph's reply was unusable: {why}"));
    let finished_at = iteration::now();
    iteration::record(
        ctx,
        &json!({
            "loop": "ralph",
            "index": i,
            "started_at": it.started_at,
            "finished_at": finished_at,
            "objective": null,
            "improved": false,
            "committed": false,
            "skipped": why,
            "sha_before": it.sha_before,
            "sha_after": it.sha_now(ctx),
        }),
    );
    iteration::progress_line(
        ctx,
        &format!("- iter {i} @ {finished_at} improved=false committed=false :: skipped ({why})"),
    );
    IterationResult {
        improved: false,
        commit: None,
        summary: format!("skipped: {why}"),
        failure: None,
    }
}
