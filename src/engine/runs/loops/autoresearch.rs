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

use serde_json::{Map, Value, json};
use tokio_util::sync::CancellationToken;

use super::skeleton::{Done, Names, Recipe};
use super::{LoopKind, LoopOptions, LoopReport, drive, text};
use crate::engine::agents::dispatch::DispatchOutcome;
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

/// One small experiment per step, critiqued by the critic.
pub(super) struct Autoresearch;

/// The engineer's reply as the step's finding: redacted and short.
fn finding(done: &Done<'_>) -> String {
    redact_text(&done.engineer.reply)
        .chars()
        .take(FINDING_CHARS)
        .collect()
}

impl Recipe for Autoresearch {
    const NAMES: Names = Names {
        pass: "autoresearch step",
        short: "step",
        plan: "survey",
        reviewer: "critic",
        subject_field: "question",
        subject_prefix: "Q: ",
        null_when_skipped: &["finding"],
    };

    fn plan(&self, i: u32) -> String {
        format!("Autoresearch step #{i}: survey the state and propose the next experiment.")
    }

    fn subject(&self, plan_reply: &str, i: u32) -> String {
        text::question_line(plan_reply).unwrap_or_else(|| format!("Open question #{i}"))
    }

    fn dry_subject(&self, _: u32) -> String {
        "(dry run) the question ralph poses".into()
    }

    fn work(&self, subject: &str) -> String {
        experiment_objective(subject)
    }

    fn review(&self, _: u32, subject: &str, engineer: &DispatchOutcome, _: &[String]) -> String {
        critic_objective(subject, &text::prose_lines(&engineer.reply).join("\n"))
    }

    fn objection(&self, _: &Done<'_>) -> Option<String> {
        None
    }

    fn notes(&self, done: &Done<'_>) -> Vec<String> {
        vec![
            format!(
                "Autoresearch step {}; critic ok={}; eval: {}",
                done.index, done.review.ok, done.eval.summary
            ),
            format!("Finding:\n{}", finding(done)),
        ]
    }

    fn fields(&self, done: &Done<'_>) -> Map<String, Value> {
        let mut fields = Map::new();
        fields.insert("finding".into(), json!(finding(done)));
        fields.insert("critic_ok".into(), json!(done.review.ok));
        fields
    }
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
