//! The Ralph loop: each iteration ralph names one measurable improvement, the engineer makes
//! it, qa audits it, and the evaluator decides whether the iteration is committed or undone.
//!
//! The engineer's objective is ralph's first prose line, word for word (the ralph prompt
//! promises that). The commit subject is `[ralph] <that line>`; when the line is missing or is
//! the shell provider's stub, the subject is `[ralph] iteration #<i> improvement` rather than
//! stub text. An iteration *improved* when the evaluation passed, the engineer answered, files
//! changed, and qa did not say FAIL while the evaluation was weak (with no real checks, qa's
//! verdict is the only evidence there is).

use serde_json::{Map, Value, json};
use tokio_util::sync::CancellationToken;

use super::skeleton::{Done, Names, Recipe};
use super::{LoopKind, LoopOptions, LoopReport, drive, text};
use crate::engine::agents::dispatch::DispatchOutcome;
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

/// One measurable improvement per iteration, audited by qa.
pub(super) struct Ralph;

impl Recipe for Ralph {
    const NAMES: Names = Names {
        pass: "Ralph iteration",
        short: "iter",
        plan: "reply",
        reviewer: "qa",
        subject_field: "objective",
        subject_prefix: "",
        null_when_skipped: &[],
    };

    fn plan(&self, i: u32) -> String {
        format!("Ralph iteration #{i}: select and execute one measurable improvement.")
    }

    fn subject(&self, plan_reply: &str, i: u32) -> String {
        text::objective_line(plan_reply).unwrap_or_else(|| format!("iteration #{i} improvement"))
    }

    fn dry_subject(&self, i: u32) -> String {
        format!("(dry run) the improvement ralph names for iteration #{i}")
    }

    fn work(&self, subject: &str) -> String {
        subject.to_string()
    }

    fn review(&self, i: u32, subject: &str, _: &DispatchOutcome, files: &[String]) -> String {
        let files = if files.is_empty() {
            "(none)".to_string()
        } else {
            files.join(", ")
        };
        format!(
            "Audit the changes of iteration #{i} and validate.\nImprovement: {subject}\n\
             Files changed: {files}\nPost a POST: qa whose body starts with PASS or FAIL."
        )
    }

    /// With no real checks, qa's verdict is the only evidence there is.
    fn objection(&self, done: &Done<'_>) -> Option<String> {
        let verdict = text::qa_verdict(&done.review.parsed.posts);
        (done.eval.weak && verdict == Some(false))
            .then(|| "qa said FAIL and the evaluation was weak".to_string())
    }

    fn notes(&self, done: &Done<'_>) -> Vec<String> {
        let verdict = text::qa_verdict(&done.review.parsed.posts);
        vec![format!(
            "Ralph iteration {}; qa ok={} verdict={}; eval: {}",
            done.index,
            done.review.ok,
            verdict_word(verdict),
            done.eval.summary
        )]
    }

    fn fields(&self, done: &Done<'_>) -> Map<String, Value> {
        let verdict = text::qa_verdict(&done.review.parsed.posts);
        let mut fields = Map::new();
        fields.insert("qa_verdict".into(), json!(verdict_word(verdict)));
        fields
    }
}
