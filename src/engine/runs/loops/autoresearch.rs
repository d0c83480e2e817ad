//! The autoresearch loop: each step ralph surveys the project and poses the open question, the
//! engineer runs the smallest experiment that can settle it, and the critic critiques the
//! finding.
//!
//! The finding is recorded whether or not the experiment worked: a refuted hypothesis is
//! knowledge too. Files the step wrote are committed only when the evaluation still passes;
//! writes that break it are undone, leaving the user's own changes alone. The reference had
//! an `analyst` run the experiment; here the engineer does, since it is on every roster and
//! experiments are code. Unlike the reference, plateau detection applies to this loop too: a
//! step *improved* when it kept files that pass the evaluation.

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

/// Characters of the engineer's reply kept as the finding.
const FINDING_CHARS: usize = 400;
/// Characters of the finding's prose shown to the critic.
const CRITIC_CHARS: usize = 1500;

/// Run the autoresearch loop until it is done, plateaus, is cancelled or reaches its cap.
pub async fn run_autoresearch(
    project: &Project,
    bus: &Bus,
    opts: &LoopOptions,
    cancel: &CancellationToken,
) -> LoopReport {
    drive(project, bus, LoopKind::Autoresearch, opts, cancel).await
}

/// One step, survey to record.
pub(super) async fn step(
    ctx: &Ctx<'_>,
    steer: &Steering,
    i: u32,
) -> Result<IterationResult, DispatchError> {
    let careful = steer.careful();
    let mut it = Iteration::begin(ctx, i);
    let survey = format!(
        "Autoresearch step #{i}: survey the state and propose the next experiment.{}",
        steer.note()
    );
    let ralph = it.ask(ctx, "ralph", survey, careful, &[]).await?;
    if ctx.opts.dry_run {
        let q = "(dry run) the question ralph poses";
        it.ask(ctx, "engineer", experiment_objective(q), careful, &[])
            .await?;
        it.ask(ctx, "critic", critic_objective(q, ""), careful, &[])
            .await?;
        return Ok(IterationResult {
            summary: "dry run: prompts rendered, nothing applied".into(),
            ..IterationResult::default()
        });
    }
    if let Some(why) = iteration::unusable(ctx, &ralph) {
        ctx.bus.emit(Event::Warning {
            message: format!("autoresearch step #{i} skipped: {why}"),
        });
        it.undo(ctx, &format!("ralph's survey was unusable: {why}"));
        let finished_at = iteration::now();
        iteration::record(
            ctx,
            &json!({
                "loop": "autoresearch",
                "index": i,
                "started_at": it.started_at,
                "finished_at": finished_at,
                "question": null,
                "finding": null,
                "improved": false,
                "committed": false,
                "skipped": why,
            }),
        );
        iteration::progress_line(
            ctx,
            &format!(
                "- step {i} @ {finished_at} improved=false committed=false :: skipped ({why})"
            ),
        );
        return Ok(IterationResult {
            summary: format!("skipped: {why}"),
            ..IterationResult::default()
        });
    }

    let question =
        text::question_line(&ralph.reply).unwrap_or_else(|| format!("Open question #{i}"));
    let engineer = it
        .ask(
            ctx,
            "engineer",
            experiment_objective(&question),
            careful,
            &[("from", "ralph")],
        )
        .await?;
    let finding: String = redact_text(&engineer.reply)
        .chars()
        .take(FINDING_CHARS)
        .collect();
    let prose = text::prose_lines(&engineer.reply).join("\n");
    let critic = it
        .ask(
            ctx,
            "critic",
            critic_objective(&question, &prose),
            careful,
            &[],
        )
        .await?;
    let eval = iteration::evaluate(ctx, i).await;
    let files = it.files();

    let why_not = if ctx.cancel.is_cancelled() {
        Some("the loop was cancelled".to_string())
    } else if let Some(e) = &engineer.error {
        Some(format!("the engineer failed: {}", e.message))
    } else if files.is_empty() {
        Some("no files changed".to_string())
    } else if !eval.ok {
        Some(format!("evaluation failed: {}", eval.summary))
    } else {
        None
    };
    let improved = why_not.is_none();
    let mut failure = None;
    let commit = match &why_not {
        None => {
            let notes = [
                format!(
                    "Autoresearch step {i}; critic ok={}; eval: {}",
                    critic.ok, eval.summary
                ),
                format!("Finding:\n{finding}"),
            ];
            it.keep(ctx, &question, &notes)
        }
        Some(why) => {
            failure = Some(it.fail(ctx, &question, why));
            None
        }
    };

    let finished_at = iteration::now();
    iteration::record(
        ctx,
        &json!({
            "loop": "autoresearch",
            "index": i,
            "started_at": it.started_at,
            "finished_at": finished_at,
            "question": redact_text(&question),
            "finding": finding,
            "improved": improved,
            "committed": commit.is_some(),
            "eval_summary": eval.summary,
            "eval_weak": eval.weak,
            "critic_ok": critic.ok,
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
            "- step {i} @ {finished_at} improved={improved} committed={} :: Q: {}",
            commit.is_some(),
            redact_text(&question)
        ),
    );
    Ok(IterationResult {
        improved,
        commit,
        summary: format!(
            "Q: {question} ({})",
            why_not.unwrap_or_else(|| eval.summary.clone())
        ),
        failure,
    })
}

fn experiment_objective(question: &str) -> String {
    format!(
        "Run a small experiment for: {question}\nWrite the smallest experiment that can settle \
         it (under experiments/), run it with ACTION: run, and record the result, confirmed or \
         refuted, in a POST: finding."
    )
}

fn critic_objective(question: &str, finding: &str) -> String {
    let mut shown: String = finding.chars().take(CRITIC_CHARS).collect();
    if shown.trim().is_empty() {
        shown = "(the engineer's reply had no prose; see its post on the board)".into();
    }
    format!(
        "Critique the finding on: {question}\nThe engineer reported:\n{shown}\n\nDoes the \
         experiment settle the question? Post a POST: critique with VERDICT: accept or revise."
    )
}
