//! Which stages may run next, and which never will: pure functions over a workflow and the
//! outcomes so far, so the runner's ordering can be tested without running anything.
//!
//! A stage is ready when it has not started and every dependency completed. It is blocked
//! when some dependency failed or was skipped, directly or further upstream; the runner sends
//! the chief into recovery for blocked stages. File order breaks every tie, so two runs of the
//! same workflow dispatch in the same order. Nothing here panics on a hand-built workflow with
//! unknown dependencies or a cycle (those never become ready; `topo_order` lists them last).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use super::spec::{Stage, Workflow};

/// How a dispatched stage ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The reply was usable and validation (if any) passed; dependants may run.
    Completed,
    /// The agent errored or validation failed; `reason` is what the chief is told.
    Failed { reason: String },
    /// The runner gave up on it (for example after the recovery limit).
    Skipped { reason: String },
}

/// A stage that cannot run in this pass, and the failed or skipped stage behind it.
#[derive(Debug, Clone, PartialEq)]
pub struct Blocked<'a> {
    pub stage: &'a Stage,
    /// The stage's own dependency that will not complete.
    pub dependency: String,
    /// The failed or skipped stage at the root: `dependency` itself, or one further upstream.
    pub root: String,
    /// The root's outcome (never `Completed`).
    pub root_outcome: Outcome,
}

impl fmt::Display for Blocked<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "stage \"{}\" cannot run: ", self.stage.id)?;
        if self.dependency == self.root {
            write!(f, "dependency \"{}\" ", self.dependency)?;
        } else {
            write!(
                f,
                "dependency \"{}\" waits on \"{}\", which ",
                self.dependency, self.root
            )?;
        }
        match &self.root_outcome {
            Outcome::Completed => write!(f, "completed"),
            Outcome::Failed { reason } => write!(f, "failed: {reason}"),
            Outcome::Skipped { reason } => write!(f, "was skipped: {reason}"),
        }
    }
}

/// The ids whose outcome is `Completed`.
pub fn completed(outcomes: &BTreeMap<String, Outcome>) -> BTreeSet<String> {
    outcomes
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::Completed))
        .map(|(id, _)| id.clone())
        .collect()
}

/// Stages not yet started whose dependencies are all done, in file order.
pub fn ready<'a>(
    wf: &'a Workflow,
    done: &BTreeSet<String>,
    started: &BTreeSet<String>,
) -> Vec<&'a Stage> {
    wf.stages
        .iter()
        .filter(|s| !started.contains(&s.id) && !done.contains(&s.id))
        .filter(|s| s.depends_on.iter().all(|d| done.contains(d)))
        .collect()
}

/// Stages with no outcome yet that can never run because a dependency failed or was skipped,
/// directly or transitively, in file order. For each, the first such dependency in its
/// `depends_on` order is named.
pub fn blocked<'a>(wf: &'a Workflow, outcomes: &BTreeMap<String, Outcome>) -> Vec<Blocked<'a>> {
    // Visit in dependency order so an upstream stage's verdict is known before its dependants.
    // Each entry: (the stage's own dependency, the root id, the root's outcome).
    let mut found: HashMap<&str, (String, String, Outcome)> = HashMap::new();
    for id in topo_order(wf) {
        let Some(stage) = wf.stage(id) else { continue };
        if outcomes.contains_key(id) || found.contains_key(id) {
            continue;
        }
        for dep in &stage.depends_on {
            let root = match outcomes.get(dep) {
                Some(o @ (Outcome::Failed { .. } | Outcome::Skipped { .. })) => {
                    Some((dep.clone(), o.clone()))
                }
                Some(Outcome::Completed) => None,
                None => found
                    .get(dep.as_str())
                    .map(|(_, r, o)| (r.clone(), o.clone())),
            };
            if let Some((root, outcome)) = root {
                found.insert(id, (dep.clone(), root, outcome));
                break;
            }
        }
    }
    wf.stages
        .iter()
        .filter_map(|stage| {
            let (dependency, root, root_outcome) = found.get(stage.id.as_str())?.clone();
            Some(Blocked {
                stage,
                dependency,
                root,
                root_outcome,
            })
        })
        .collect()
}

/// Stage ids in an order that puts every stage after its dependencies, ties in file order.
/// Stages caught in a cycle (only possible in a workflow that skipped `load`) come last, in
/// file order; dependencies on unknown ids are ignored.
pub fn topo_order(wf: &Workflow) -> Vec<&str> {
    let ids: BTreeSet<&str> = wf.stages.iter().map(|s| s.id.as_str()).collect();
    let mut placed: BTreeSet<&str> = BTreeSet::new();
    let mut order: Vec<&str> = Vec::with_capacity(wf.stages.len());
    // Quadratic in the number of stages; workflows have a handful, and this keeps ties stable.
    loop {
        let next = wf.stages.iter().find(|s| {
            !placed.contains(s.id.as_str())
                && s.depends_on
                    .iter()
                    .all(|d| placed.contains(d.as_str()) || !ids.contains(d.as_str()))
        });
        let Some(stage) = next else { break };
        placed.insert(&stage.id);
        order.push(&stage.id);
    }
    for s in &wf.stages {
        if placed.insert(&s.id) {
            order.push(&s.id);
        }
    }
    order
}
