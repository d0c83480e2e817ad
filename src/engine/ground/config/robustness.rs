//! `robustness` in clk.config.json: what clk spends on the quality of replies.

use serde::{Deserialize, Serialize};

use super::choices::{AutoConsensus, AutoRefine, PlateauAction};

/// What clk spends on the quality of replies; every key here is read by
/// [`crate::engine::agents::robust`], the Q&A router or the improvement loops.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RobustnessConfig {
    /// Fan a dispatch out into consensus samples: off | on_careful | always.
    pub auto_consensus: AutoConsensus,
    /// Critic loops: off (none, not even a stage's `refine:` block) | careful_only (stages with
    /// `refine:` and careful stages) | all (every stage).
    pub auto_refine: AutoRefine,
    /// Repair dispatches after a reply fails the quality check (0: none).
    pub max_quality_retries: u32,
    /// A reply shorter than this, once trimmed, counts as empty.
    pub min_response_chars: u32,
    /// Replies that report CONFIDENCE below this are treated as weak.
    pub min_confidence: f64,
    /// Critic reviews per refine loop when the stage does not say.
    pub refine_max_rounds: u32,
    /// A critic SCORE at or above this accepts the work.
    pub refine_accept_threshold: f64,
    pub max_qa_depth: u32,
    /// Iterations without improvement before a loop counts as on a plateau.
    pub plateau_window: u32,
    /// What a loop does on a plateau: escalate_then_reframe (escalate, reframe, then stop) or
    /// off (no escalation, reframe, critique or plateau stop: the loop runs to its cap).
    pub plateau_action: PlateauAction,
}

impl RobustnessConfig {
    /// True when every knob that spends extra calls is off: no consensus, no critic, no
    /// quality repair, no plateau steering. Then each stage costs exactly its own call.
    pub fn all_off(&self) -> bool {
        self.auto_consensus == AutoConsensus::Off
            && self.auto_refine == AutoRefine::Off
            && self.max_quality_retries == 0
            && !self.plateau_steering()
    }

    /// False when `plateau_action` is off.
    pub fn plateau_steering(&self) -> bool {
        match self.plateau_action {
            PlateauAction::EscalateThenReframe => true,
            PlateauAction::Off => false,
        }
    }
}

impl Default for RobustnessConfig {
    fn default() -> Self {
        RobustnessConfig {
            auto_consensus: AutoConsensus::OnCareful,
            auto_refine: AutoRefine::CarefulOnly,
            max_quality_retries: 2,
            min_response_chars: 40,
            min_confidence: 0.5,
            refine_max_rounds: 3,
            refine_accept_threshold: 0.8,
            max_qa_depth: 4,
            plateau_window: 3,
            plateau_action: PlateauAction::EscalateThenReframe,
        }
    }
}
