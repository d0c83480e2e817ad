//! Scheduling: readiness in file order, blocked stages with their root cause, topological order.

use std::collections::{BTreeMap, BTreeSet};

use super::{stage, workflow};
use crate::engine::store::workflow::{Outcome, blocked, completed, ready, topo_order};

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

fn ids(stages: &[&crate::engine::store::workflow::Stage]) -> Vec<String> {
    stages.iter().map(|s| s.id.clone()).collect()
}

fn failed(reason: &str) -> Outcome {
    Outcome::Failed {
        reason: reason.into(),
    }
}

/// implement -> refine -> qa -> supervise, plus docs beside refine.
fn engineering() -> crate::engine::store::workflow::Workflow {
    workflow(vec![
        stage("implement", "engineer", &[]),
        stage("refine", "ralph", &["implement"]),
        stage("docs", "engineer", &["implement"]),
        stage("qa", "qa", &["refine", "docs"]),
        stage("supervise", "chief", &["qa"]),
    ])
}

#[test]
fn ready_stages_follow_dependencies_in_file_order() {
    let wf = engineering();
    assert_eq!(ids(&ready(&wf, &set(&[]), &set(&[]))), ["implement"]);
    assert!(ready(&wf, &set(&[]), &set(&["implement"])).is_empty());
    let done = set(&["implement"]);
    assert_eq!(
        ids(&ready(&wf, &done, &set(&["implement"]))),
        ["refine", "docs"]
    );
    assert_eq!(
        ids(&ready(&wf, &done, &set(&["implement", "refine"]))),
        ["docs"]
    );
    let done = set(&["implement", "refine", "docs"]);
    assert_eq!(ids(&ready(&wf, &done, &done)), ["qa"]);
    let all = set(&["implement", "refine", "docs", "qa", "supervise"]);
    assert!(ready(&wf, &all, &all).is_empty());
}

#[test]
fn blocked_names_the_dependency_and_the_root_cause() {
    let wf = engineering();
    let mut outcomes = BTreeMap::new();
    outcomes.insert("implement".to_string(), Outcome::Completed);
    outcomes.insert("refine".to_string(), failed("validation_failed: exit 1"));
    assert_eq!(completed(&outcomes), set(&["implement"]));
    let b = blocked(&wf, &outcomes);
    let lines: Vec<String> = b.iter().map(|b| b.to_string()).collect();
    assert_eq!(
        lines,
        [
            "stage \"qa\" cannot run: dependency \"refine\" failed: validation_failed: exit 1",
            "stage \"supervise\" cannot run: dependency \"qa\" waits on \"refine\", which failed: validation_failed: exit 1",
        ]
    );
    assert_eq!(b[1].dependency, "qa");
    assert_eq!(b[1].root, "refine");
    // docs can still run: it is ready, not blocked.
    assert!(b.iter().all(|b| b.stage.id != "docs"));

    outcomes.insert(
        "refine".to_string(),
        Outcome::Skipped {
            reason: "recovery limit".into(),
        },
    );
    let b = blocked(&wf, &outcomes);
    assert_eq!(
        b[0].to_string(),
        "stage \"qa\" cannot run: dependency \"refine\" was skipped: recovery limit"
    );
    // A stage that already has an outcome is never listed.
    outcomes.insert("qa".to_string(), failed("x"));
    let b = blocked(&wf, &outcomes);
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].stage.id, "supervise");
    assert_eq!(b[0].dependency, b[0].root);
}

#[test]
fn nothing_is_blocked_while_dependencies_are_pending_or_done() {
    let wf = engineering();
    assert!(blocked(&wf, &BTreeMap::new()).is_empty());
    let mut outcomes = BTreeMap::new();
    outcomes.insert("implement".to_string(), Outcome::Completed);
    assert!(blocked(&wf, &outcomes).is_empty());
}

#[test]
fn topo_order_puts_dependencies_first_and_keeps_file_order_for_ties() {
    let wf = workflow(vec![
        stage("qa", "qa", &["build", "docs"]),
        stage("docs", "engineer", &[]),
        stage("build", "engineer", &["plan"]),
        stage("plan", "chief", &[]),
    ]);
    assert_eq!(topo_order(&wf), ["docs", "plan", "build", "qa"]);
    assert_eq!(
        topo_order(&engineering()),
        ["implement", "refine", "docs", "qa", "supervise"]
    );
}

#[test]
fn hand_built_cycles_and_unknown_dependencies_do_not_panic() {
    let wf = workflow(vec![
        stage("a", "qa", &["b"]),
        stage("b", "qa", &["a"]),
        stage("c", "qa", &["ghost"]),
        stage("d", "qa", &[]),
    ]);
    assert_eq!(topo_order(&wf), ["c", "d", "a", "b"]);
    assert_eq!(ids(&ready(&wf, &set(&[]), &set(&[]))), ["d"]);
    let mut outcomes = BTreeMap::new();
    outcomes.insert("d".to_string(), failed("boom"));
    assert!(blocked(&wf, &outcomes).is_empty());
}
