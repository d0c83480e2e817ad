//! Acting on the plateau verdicts between iterations: warn and work carefully, ask the chief to
//! reframe, ask the critic to critique a failed change, or stop.
//!
//! The decisions themselves are the pure ones in [`super::plateau`]; this module only carries
//! them out and keeps what the next prompts need (recent outcomes, the last failure and its
//! diff). The chief and the critic act between iterations, so their batches commit at once
//! under their own names and are never part of an iteration's undo.

use super::iteration::{self, Failure};
use super::plateau::{PlateauGuard, Step, Trend, assess, effective_window};
use super::{Ask, Ctx, IterationResult, StopReason};
use crate::engine::agents::dispatch::{CommitPolicy, DispatchError};
use crate::engine::ground::config::RobustnessConfig;
use crate::engine::ground::events::Event;

/// Outcomes the chief is shown when reframing.
const RECENT_SHOWN: usize = 8;

pub(super) struct Steering {
    window: usize,
    /// False when `robustness.plateau_action` is off: outcomes are recorded, nothing is done.
    enabled: bool,
    history: Vec<bool>,
    /// `#i improved=<b> :: <what was tried> (<evaluation>)`, one per iteration.
    labels: Vec<String>,
    guard: PlateauGuard,
    last_trend: Trend,
    last_failure: Option<Failure>,
}

impl Steering {
    pub fn new(rb: &RobustnessConfig) -> Steering {
        Steering {
            window: effective_window(rb.plateau_window),
            enabled: rb.plateau_steering(),
            history: Vec::new(),
            labels: Vec::new(),
            guard: PlateauGuard::new(),
            last_trend: Trend::Improving,
            last_failure: None,
        }
    }

    /// Escalated: the loop has plateaued and works carefully until something improves.
    pub fn careful(&self) -> bool {
        self.guard.streak() > 0
    }

    /// What the next iteration's planner should know about the recent trend ("" when fine).
    pub fn note(&self) -> String {
        if self.careful() {
            return format!(
                "\n\nProgress has stalled: none of the last {} iterations improved the project. \
                 Work carefully: choose a different area or a qualitatively different kind of \
                 change than the recent attempts.",
                self.window
            );
        }
        match (&self.last_trend, &self.last_failure) {
            (Trend::Regressing, Some(f)) => format!(
                "\n\nThe last iteration (#{}: {}) failed and was undone: {}. The critic's \
                 critique is on the board; fix the cause or choose a safer change.",
                f.index, f.objective, f.why
            ),
            (Trend::Regressing, None) | (Trend::Improving | Trend::Plateau, _) => String::new(),
        }
    }

    /// Fold one iteration in and act on the verdict; Some(reason) ends the loop.
    pub async fn after(
        &mut self,
        ctx: &Ctx<'_>,
        index: u32,
        outcome: IterationResult,
    ) -> Result<Option<StopReason>, DispatchError> {
        self.history.push(outcome.improved);
        self.labels.push(format!(
            "#{index} improved={} :: {}",
            outcome.improved, outcome.summary
        ));
        if outcome.improved {
            self.last_failure = None;
        } else if outcome.failure.is_some() {
            self.last_failure = outcome.failure;
        }
        if !self.enabled {
            return Ok(None);
        }
        let trend = assess(&self.history, self.window);
        self.last_trend = trend;
        let title = ctx.kind.title();
        let steered = |step: &str, message: String| {
            ctx.bus.emit(Event::LoopSteered {
                loop_name: ctx.kind.name().to_string(),
                iteration: index,
                step: step.to_string(),
                message,
            })
        };
        match self.guard.next(trend) {
            Step::Continue => Ok(None),
            Step::Escalate => {
                steered(
                    "escalated",
                    format!(
                        "{title} plateau: no improvement in the last {} iterations; the next \
                         iterations work carefully (consensus and critic review as configured)",
                        self.window
                    ),
                );
                Ok(None)
            }
            Step::Reframe => {
                steered(
                    "reframed",
                    format!("{title} still on a plateau; the chief reframes the approach"),
                );
                let objective = self.reframe_objective(ctx, index);
                let extra = [("phase", "recovery")];
                ctx.ask(
                    Ask::Steer,
                    "chief",
                    objective,
                    index,
                    true,
                    CommitPolicy::Now,
                    &extra,
                )
                .await?;
                Ok(None)
            }
            Step::Stop => {
                let message = format!(
                    "{title} stopped: plateau (no improvement in the last {} iterations, \
                     after escalating and reframing)",
                    self.window
                );
                steered("stopped", message.clone());
                iteration::progress_line(ctx, &format!("- {} :: {message}", iteration::now()));
                Ok(Some(StopReason::Plateau))
            }
            Step::Critique => {
                steered(
                    "critiqued",
                    "the last iteration failed after an earlier one improved; the critic \
                     reviews the failing change"
                        .to_string(),
                );
                let objective = self.critique_objective(ctx);
                ctx.ask(
                    Ask::Steer,
                    "critic",
                    objective,
                    index,
                    false,
                    CommitPolicy::Now,
                    &[],
                )
                .await?;
                Ok(None)
            }
        }
    }

    fn reframe_objective(&self, ctx: &Ctx<'_>, index: u32) -> String {
        let start = self.labels.len().saturating_sub(RECENT_SHOWN);
        let recent = self.labels[start..].join("\n- ");
        format!(
            "RECOVERY: the {} has plateaued: none of the last {} iterations (up to #{index}) \
             improved the project, even working carefully.\nLast outcomes:\n- {recent}\n\n\
             Re-cast the team (PROPOSE_ROLE) or re-author the engineering workflow \
             (PROPOSE_WORKFLOW) around a qualitatively different approach, or remove the \
             blocker directly with ACTION blocks. Another small tweak of the same kind will not \
             help.",
            ctx.kind.title(),
            self.window
        )
    }

    fn critique_objective(&self, ctx: &Ctx<'_>) -> String {
        let Some(f) = &self.last_failure else {
            return format!(
                "Critique the last iteration of the {}: it improved nothing after earlier \
                 iterations did. Post a POST: critique saying what went wrong and what to try \
                 instead.",
                ctx.kind.title()
            );
        };
        let diff = if f.diff.trim().is_empty() {
            "(no files were changed)".to_string()
        } else {
            f.diff.clone()
        };
        format!(
            "Critique the failing change of {} iteration #{}: {}\nIt was undone because: {}\n\n\
             The change that failed:\n{diff}\n\nPost a POST: critique saying what went wrong \
             and what to try instead, before the next plan.",
            ctx.kind.title(),
            f.index,
            f.objective,
            f.why
        )
    }
}
