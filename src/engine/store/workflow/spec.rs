//! The shape of a workflow file: a named list of stages, each run by one agent.
//!
//! These types hold a workflow that already passed [`super::load`]: ids are unique and well
//! formed, every agent is on the roster, every dependency names a stage of the same workflow,
//! the dependencies have no cycle, objectives are not empty and `inputs` selectors parse.
//! Load files through `load`, not through serde directly: serde alone checks none of that.
//! The serde derives are for handing a loaded workflow around (events, state files) and reading
//! it back; they reject unknown keys, as `load` does, so a typo never vanishes on a round trip.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One workflow: what runs, in which order, with which checks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Workflow {
    /// The `name:` key, or the file stem when the file has none.
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// In file order; file order breaks ties when several stages are ready at once.
    pub stages: Vec<Stage>,
}

/// One step of a workflow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stage {
    /// Unique within the workflow; matches `[a-z0-9][a-z0-9_-]*`.
    pub id: String,
    /// A roster name.
    pub agent: String,
    /// The task text the agent gets (never empty).
    pub objective: String,
    /// Stage ids that must have completed (reply ok and validation passed) first.
    #[serde(default)]
    pub depends_on: Vec<String>,
    /// Shell command run after the stage; the stage passes only when it exits 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation: Option<String>,
    /// Commit the stage's changes when it passes.
    #[serde(default = "yes")]
    pub commit: bool,
    /// Checkpoint, debate and rollback apply to careful stages.
    #[serde(default)]
    pub careful: bool,
    /// Lower-cased; `review` makes the runner synthesise a review objective.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// Blackboard selectors (see [`super::inputs`]); empty means every post.
    #[serde(default)]
    pub inputs: Vec<String>,
    /// Contract keys some POST of this stage must list under `PRODUCES`.
    #[serde(default)]
    pub outputs: Vec<String>,
    /// Present when the stage opts into the critic loop (`refine: true` gives all defaults).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refine: Option<Refine>,
    /// Turn-based re-dispatch count (at least 1); None means one round.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rounds: Option<u32>,
    /// Free-form data passed through to the agent untouched.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, serde_json::Value>,
}

/// The critic loop's settings for one stage; None fields use the project config.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Refine {
    /// Critic agent (a roster name); None means `critic`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub critic: Option<String>,
    /// At least 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_rounds: Option<u32>,
    /// Between 0 and 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accept_threshold: Option<f64>,
    /// `refine` (one critic) or `debate` (a panel, one critic per lens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// Debate lenses (correctness, security, ...); empty means correctness, security and
    /// simplicity.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub critics: Vec<String>,
}

fn yes() -> bool {
    true
}

impl Workflow {
    /// The stage with this id.
    pub fn stage(&self, id: &str) -> Option<&Stage> {
        self.stages.iter().find(|s| s.id == id)
    }
}

impl Stage {
    /// True for `phase: review` stages, whose objective the runner synthesises from upstream.
    pub fn is_review(&self) -> bool {
        self.phase.as_deref() == Some("review")
    }
}
