//! Unit tests for workflow loading, scheduling and proposals; selectors are tested in place.

mod files;
mod propose;
mod schedule;
mod validate;

use std::collections::BTreeMap;

use super::{Stage, Workflow, load};

/// The baseline roster.
pub(crate) const ROSTER: [&str; 5] = ["chief", "critic", "engineer", "qa", "ralph"];

/// A stage with just the required fields.
pub(crate) fn stage(id: &str, agent: &str, deps: &[&str]) -> Stage {
    Stage {
        id: id.into(),
        agent: agent.into(),
        objective: format!("do {id}"),
        depends_on: deps.iter().map(|d| d.to_string()).collect(),
        validation: None,
        commit: true,
        careful: false,
        phase: None,
        inputs: Vec::new(),
        outputs: Vec::new(),
        refine: None,
        rounds: None,
        metadata: BTreeMap::new(),
    }
}

pub(crate) fn workflow(stages: Vec<Stage>) -> Workflow {
    Workflow {
        name: "t".into(),
        description: None,
        stages,
    }
}

/// The error text of loading `yaml` as `engineering.yaml` with the baseline roster.
pub(crate) fn error(yaml: &str) -> String {
    match load("engineering.yaml", yaml, &ROSTER) {
        Ok(wf) => panic!("expected an error, loaded {wf:?}"),
        Err(e) => e.to_string(),
    }
}
