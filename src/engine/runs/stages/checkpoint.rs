//! Checkpoints after `phase: review` stages: the chief answers `CHECKPOINT: continue`,
//! `redirect` or `abort`, and the runner acts on it.
//!
//! When the review stage is the chief's own, its reply carries the verdict; otherwise the chief
//! is dispatched once more to judge the stage's reply, unless every robustness knob is off
//! (then nothing costs an extra call, and the run continues). Continue (also what a reply without a
//! CHECKPOINT line means) changes nothing; redirect hands the chief's note to every later stage
//! of the pass and to the next cycle; abort ends the run with outcome "aborted" and the note as
//! the reason.

use tokio_util::sync::CancellationToken;

use crate::engine::agents::dispatch::{
    CommitPolicy, DispatchError, DispatchOutcome, DispatchRequest,
};
use crate::engine::agents::robust::policy::{CHIEF, checkpoint_note, checkpoint_word};
use crate::engine::ground::events::Event;
use crate::engine::ground::protocol::Checkpoint;
use crate::engine::runs::call::dispatch;
use crate::engine::store::bus::Bus;
use crate::engine::store::workflow::{Stage, Workflow};
use crate::engine::store::workspace::Project;

/// What the runner does after a review stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Course {
    Continue,
    /// Later stages and the next cycle get this direction.
    Redirect(String),
    /// The run ends; the reason.
    Abort(String),
}

/// The line added to a chief's review objective so its reply carries a verdict.
pub(super) const ASK: &str = "\n\nEnd with a checkpoint verdict on its own line: \
`CHECKPOINT: continue` when the work is on course, `CHECKPOINT: redirect` followed by one line \
giving the new direction, or `CHECKPOINT: abort` followed by one line saying why the run must \
stop.";

/// Longest piece of the stage's reply shown to the chief, in characters.
const MAX_SHOWN_CHARS: usize = 4000;

/// Judge a finished review stage and say what comes next.
pub(super) async fn after_review(
    project: &Project,
    bus: &Bus,
    wf: &Workflow,
    stage: &Stage,
    out: &DispatchOutcome,
    cancel: &CancellationToken,
) -> Result<Course, DispatchError> {
    if !stage.is_review() || !out.ok {
        return Ok(Course::Continue);
    }
    if stage.agent != CHIEF && project.config.robustness.all_off() {
        return Ok(Course::Continue);
    }
    let (verdict, reply) = if stage.agent == CHIEF {
        (out.parsed.footer.checkpoint, out.reply.clone())
    } else {
        let shown: String = out.reply.chars().take(MAX_SHOWN_CHARS).collect();
        let req = DispatchRequest {
            agent: CHIEF.into(),
            objective: format!(
                "CHECKPOINT after the review stage \"{}\" of workflow {} ({}'s reply below). \
                 Decide whether the work goes on as planned, changes course, or stops.{ASK}\n\n\
                 Stage objective:\n{}\n\n{}'s reply:\n{shown}",
                stage.id, wf.name, stage.agent, stage.objective, stage.agent
            ),
            stage: Some(format!("{}-checkpoint", stage.id)),
            workflow: Some(wf.name.clone()),
            vars: [("phase".to_string(), "checkpoint".to_string())].into(),
            dry_run: false,
            commit: CommitPolicy::Now,
        };
        let judged = dispatch(project, bus, &req, cancel).await?;
        (judged.parsed.footer.checkpoint, judged.reply)
    };
    let verdict = verdict.unwrap_or(Checkpoint::Continue);
    let note = checkpoint_note(&reply);
    let course = match verdict {
        Checkpoint::Continue => Course::Continue,
        Checkpoint::Redirect if note.is_empty() => {
            bus.emit(Event::Warning {
                message: format!(
                    "the chief redirected after {} without saying where to; carrying on",
                    stage.id
                ),
            });
            Course::Continue
        }
        Checkpoint::Redirect => Course::Redirect(note.clone()),
        Checkpoint::Abort => Course::Abort(if note.is_empty() {
            format!("the chief stopped the run at the {} checkpoint", stage.id)
        } else {
            note.clone()
        }),
    };
    bus.emit(Event::CheckpointVerdict {
        workflow: wf.name.clone(),
        stage: stage.id.clone(),
        verdict: checkpoint_word(verdict).to_string(),
        note,
    });
    Ok(course)
}

/// The direction appended to the objectives of the stages after a redirect.
pub(super) fn with_direction(objective: &str, direction: Option<&str>) -> String {
    match direction {
        Some(d) if !d.trim().is_empty() => {
            format!("{objective}\n\nDirection from the chief's last checkpoint (follow it): {d}")
        }
        Some(_) | None => objective.to_string(),
    }
}
