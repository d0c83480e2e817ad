//! `gauntlet` in clk.config.json: the quality loop in which a critic attacks a stage's result
//! against an answer key, the worker revises, and a final check verifies the key.

use serde::{Deserialize, Serialize};

/// `gauntlet.preset`: how many critique rounds a stage gets at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GauntletPreset {
    /// One round.
    Quick,
    /// Three rounds.
    Standard,
    /// Five rounds.
    Rigorous,
}

impl GauntletPreset {
    /// Critique rounds at most; each round that finds defects is followed by one revision.
    pub fn rounds(self) -> u32 {
        match self {
            GauntletPreset::Quick => 1,
            GauntletPreset::Standard => 3,
            GauntletPreset::Rigorous => 5,
        }
    }
}

/// `gauntlet.scope`: which stages the gauntlet covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GauntletScope {
    /// Stages marked `careful: true`.
    CarefulOnly,
    /// Stages that make something: they declare outputs or a builder (engineer, ralph) runs
    /// them; never review stages.
    Producing,
    /// Every stage except review stages and the critic's own.
    All,
}

/// The gauntlet's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct GauntletConfig {
    /// Off by default: the gauntlet costs several dispatches per stage.
    pub enabled: bool,
    pub preset: GauntletPreset,
    pub scope: GauntletScope,
    /// Gauntlet dispatches (key, critiques, revisions, checks, repairs) per session at most.
    pub budget: u32,
    /// The agent that derives keys, critiques and verifies.
    pub critic: String,
}

impl Default for GauntletConfig {
    fn default() -> Self {
        GauntletConfig {
            enabled: false,
            preset: GauntletPreset::Standard,
            scope: GauntletScope::Producing,
            budget: 500,
            critic: "critic".into(),
        }
    }
}
