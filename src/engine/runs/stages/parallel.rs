//! Ready stages side by side: up to `workflow.max_parallel_stages` stages whose dependencies
//! are met run at once, each in its own git worktree branched from the work tree's HEAD, and
//! their branches are merged back one by one in stage order.
//!
//! Two ready stages that declare the same output never share a batch: the later one waits for
//! the next. A stage whose branch cannot be merged (its files conflict with an earlier stage's
//! in the same batch, or hold uncommitted work) fails with that reason and its branch is
//! dropped; the stages before it keep theirs. Without a git work tree to branch from, or when
//! a worktree cannot be made, the batch runs one stage after another in place. Stage
//! worktrees a killed clk left behind are removed when the next batch starts.

use tokio_util::sync::CancellationToken;

use super::checkpoint::Course;
use super::runner::{PassOptions, StageReport, run_stage};
use crate::engine::agents::dispatch::DispatchError;
use crate::engine::ground::events::Event;
use crate::engine::store::bus::Bus;
use crate::engine::store::git::{self, merge::MergeOutcome, worktree};
use crate::engine::store::workflow::{Outcome, Stage, Workflow};
use crate::engine::store::workspace::Project;

/// The ready stages to start together, in file order: at most `max`, none declaring an
/// output an earlier pick declares. The rest wait.
pub(super) fn batch(ready: &[Stage], max: usize) -> Vec<Stage> {
    let mut picked: Vec<Stage> = Vec::new();
    for s in ready {
        if picked.len() >= max.max(1) {
            break;
        }
        let overlaps = picked.iter().any(|p| {
            p.outputs
                .iter()
                .any(|o| s.outputs.iter().any(|k| k.eq_ignore_ascii_case(o)))
        });
        if !overlaps {
            picked.push(s.clone());
        }
    }
    picked
}

/// One stage's own worktree.
struct Tree {
    id: String,
    branch: String,
    project: Project,
}

/// Prefix of a stage's worktree id: `stage-<stamp>-<pid>-<stage>`.
const PREFIX: &str = "stage-";

/// Remove the stage worktrees and branches a clk process left when it died mid-batch: its run
/// runs the stage again, and the branch must not wait for `clk merge` as if it were a run.
fn sweep(repo: &git2::Repository) {
    let Ok(branches) = repo.branches(Some(git2::BranchType::Local)) else {
        return;
    };
    let ids: Vec<String> = branches
        .flatten()
        .filter_map(|(b, _)| b.name().ok().flatten().map(str::to_string))
        .filter_map(|n| n.strip_prefix(worktree::BRANCH_PREFIX).map(str::to_string))
        .filter(|id| {
            let pid = id
                .strip_prefix(PREFIX)
                .and_then(|rest| rest.split('-').nth(1))
                .and_then(|p| p.parse::<u32>().ok());
            pid.is_some_and(|p| p != std::process::id() && !crate::engine::runs::isolate::alive(p))
        })
        .collect();
    for id in ids {
        let _ = worktree::remove(repo, &id, false);
    }
}

/// Make a worktree per stage; None (and nothing left behind) when any cannot be made.
fn trees(project: &Project, bus: &Bus, stages: &[Stage]) -> Option<Vec<Tree>> {
    let repo = git::open(&project.ws.work)?;
    repo.head().ok()?.peel_to_commit().ok()?;
    sweep(&repo);
    let stamp = chrono::Local::now().format("%Y%m%dT%H%M%S%3f");
    let mut made: Vec<Tree> = Vec::new();
    for s in stages {
        let id = format!(
            "{PREFIX}{stamp}-{}-{}",
            std::process::id(),
            crate::engine::store::workspace::slug(&s.id, 40)
        );
        match worktree::create(&repo, &id) {
            Ok(t) => {
                let mut p = project.clone();
                p.ws.work = t.path.clone();
                made.push(Tree {
                    id,
                    branch: t.branch,
                    project: p,
                });
            }
            Err(e) => {
                bus.emit(Event::Warning {
                    message: format!(
                        "stages run one at a time: no worktree for stage {}: {}",
                        s.id, e.0
                    ),
                });
                for t in made {
                    let _ = worktree::remove(&repo, &t.id, false);
                }
                return None;
            }
        }
    }
    Some(made)
}

/// Run `stages` at once and merge their work in stage order. The reports come back in the
/// same order.
pub(super) async fn run_batch(
    project: &Project,
    bus: &Bus,
    wf: &Workflow,
    stages: &[Stage],
    opts: &PassOptions,
    direction: Option<&str>,
    cancel: &CancellationToken,
) -> Result<Vec<(StageReport, Course)>, DispatchError> {
    let Some(trees) = trees(project, bus, stages) else {
        let mut out = Vec::new();
        for s in stages {
            if bus.stop_requested() {
                break;
            }
            out.push(run_stage(project, bus, wf, s, opts, direction, cancel).await?);
        }
        return Ok(out);
    };
    let runs = stages
        .iter()
        .zip(&trees)
        .map(|(s, t)| run_stage(&t.project, bus, wf, s, opts, direction, cancel));
    let results = futures_util::future::join_all(runs).await;
    let mut out = Vec::new();
    let mut first_error = None;
    for ((stage, tree), result) in stages.iter().zip(&trees).zip(results) {
        let _ = git::deferred::flush(&tree.project.ws.work);
        match result {
            Ok((mut report, course)) => {
                if let Err(why) = merge_back(project, &tree.branch) {
                    let reason = format!("its work could not be merged: {why}");
                    bus.emit(Event::Warning {
                        message: format!("stage {} failed: {reason}", stage.id),
                    });
                    report.outcome = Outcome::Failed { reason };
                    report.files.clear();
                    report.commit = None;
                }
                out.push((report, course));
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
        if let Some(repo) = git::open(&project.ws.work) {
            if let Err(e) = worktree::release(&repo, &tree.id, false) {
                bus.emit(Event::Warning {
                    message: format!("could not remove stage {}'s worktree: {}", stage.id, e.0),
                });
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

/// Merge a stage's branch into the work tree's HEAD.
fn merge_back(project: &Project, branch: &str) -> Result<(), String> {
    let repo = git::open(&project.ws.work).ok_or("the work tree is not a git repository")?;
    match git::merge::merge_branch(&repo, branch, false).map_err(|e| e.0)? {
        MergeOutcome::UpToDate | MergeOutcome::FastForward { .. } | MergeOutcome::Commit { .. } => {
            Ok(())
        }
        MergeOutcome::Conflict { files } => Err(format!(
            "it changed {} as another stage of the same batch did",
            files.join(", ")
        )),
        MergeOutcome::Dirty { files } => {
            Err(format!("{} hold uncommitted changes", files.join(", ")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(id: &str, outputs: &[&str]) -> Stage {
        let v = serde_json::json!({"id": id, "agent": "engineer", "objective": "x", "outputs": outputs});
        serde_json::from_value(v).unwrap()
    }

    fn ids(v: &[Stage]) -> Vec<&str> {
        v.iter().map(|s| s.id.as_str()).collect()
    }

    #[test]
    fn a_batch_takes_ready_stages_in_order_up_to_the_cap() {
        let ready = [stage("a", &[]), stage("b", &[]), stage("c", &[])];
        assert_eq!(ids(&batch(&ready, 2)), ["a", "b"]);
        assert_eq!(ids(&batch(&ready, 1)), ["a"]);
        assert_eq!(ids(&batch(&ready, 0)), ["a"]);
        assert_eq!(ids(&batch(&ready, 5)), ["a", "b", "c"]);
    }

    #[test]
    fn stages_declaring_the_same_output_never_share_a_batch() {
        let ready = [
            stage("a", &["design"]),
            stage("b", &["Design", "notes"]),
            stage("c", &["code"]),
        ];
        assert_eq!(ids(&batch(&ready, 2)), ["a", "c"]);
    }
}
