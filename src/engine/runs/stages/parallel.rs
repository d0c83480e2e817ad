//! Ready stages side by side: up to `workflow.max_parallel_stages` stages whose dependencies
//! are met run at once, each in its own git worktree branched from the work tree's HEAD. When
//! one ends, its branch is merged back at once and its slot goes to the next ready stage, which
//! branches from the HEAD that now holds the work merged so far.
//!
//! Two stages that declare the same output never run at once: the later one waits for a
//! slot after the first ends. A stage whose branch cannot be merged (its files conflict with
//! those of a stage that ran beside it and ended first, or hold uncommitted work) fails with
//! that reason and its branch is dropped; the work merged before it stays. Without a git work
//! tree to branch from, or when a worktree cannot be made, ready stages run one after another
//! in place. Stage worktrees a killed clk left behind are removed when the next ones start.

use tokio_util::sync::CancellationToken;

use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use futures_util::stream::FuturesUnordered;

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

/// What a stage that ran in its own worktree hands back.
type Finished = (Stage, Tree, Result<(StageReport, Course), DispatchError>);

/// Stages running side by side, each in its own worktree. A slot that frees is taken by the
/// next ready stage at once: a slow stage holds up only the stages that depend on it.
pub(super) struct Pool<'a> {
    running: FuturesUnordered<BoxFuture<'a, Finished>>,
    /// The outputs each running stage declares, by stage id.
    outputs: Vec<(String, Vec<String>)>,
}

impl<'a> Pool<'a> {
    pub(super) fn new() -> Pool<'a> {
        Pool {
            running: FuturesUnordered::new(),
            outputs: Vec::new(),
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.running.is_empty()
    }

    /// The ready stages that may start now: as many as there are free slots under `max`,
    /// none declaring an output that a running stage or an earlier pick declares.
    pub(super) fn pick(&self, ready: &[Stage], max: usize) -> Vec<Stage> {
        let free = max.max(1).saturating_sub(self.running.len());
        let busy: Vec<&String> = self.outputs.iter().flat_map(|(_, o)| o).collect();
        let open: Vec<Stage> = ready
            .iter()
            .filter(|s| {
                !s.outputs
                    .iter()
                    .any(|o| busy.iter().any(|b| b.eq_ignore_ascii_case(o)))
            })
            .cloned()
            .collect();
        if free == 0 {
            return Vec::new();
        }
        batch(&open, free)
    }

    /// Start `stages`, each in a worktree of its own branched from the work tree's HEAD as
    /// it is now (with the work of the stages merged so far). False, and nothing started,
    /// when the worktrees cannot be made.
    #[allow(clippy::too_many_arguments)] // the pass's context, handed on to each stage
    pub(super) fn start(
        &mut self,
        project: &Project,
        bus: &'a Bus,
        wf: &'a Workflow,
        stages: Vec<Stage>,
        opts: &'a PassOptions,
        direction: Option<String>,
        cancel: &'a CancellationToken,
    ) -> bool {
        let Some(trees) = trees(project, bus, &stages) else {
            return false;
        };
        for (stage, tree) in stages.into_iter().zip(trees) {
            self.outputs.push((stage.id.clone(), stage.outputs.clone()));
            let direction = direction.clone();
            self.running.push(Box::pin(async move {
                let result = run_stage(
                    &tree.project,
                    bus,
                    wf,
                    &stage,
                    opts,
                    direction.as_deref(),
                    cancel,
                )
                .await;
                (stage, tree, result)
            }));
        }
        true
    }

    /// Wait for the next running stage to end, merge its branch into the work tree's HEAD and
    /// hand its worktree back. None when nothing runs.
    pub(super) async fn next(
        &mut self,
        project: &Project,
        bus: &Bus,
    ) -> Option<(Stage, Result<(StageReport, Course), DispatchError>)> {
        let (stage, tree, mut result) = self.running.next().await?;
        self.outputs.retain(|(id, _)| *id != stage.id);
        let _ = git::deferred::flush(&tree.project.ws.work);
        if let Ok((report, _)) = &mut result {
            if let Err(why) = merge_back(project, &tree.branch) {
                let reason = format!("its work could not be merged: {why}");
                bus.emit(Event::Warning {
                    message: format!("stage {} failed: {reason}", stage.id),
                });
                report.outcome = Outcome::Failed { reason };
                report.files.clear();
                report.commit = None;
            }
        }
        if let Some(repo) = git::open(&project.ws.work) {
            if let Err(e) = worktree::release(&repo, &tree.id, false) {
                bus.emit(Event::Warning {
                    message: format!("could not remove stage {}'s worktree: {}", stage.id, e.0),
                });
            }
        }
        Some((stage, result))
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
            "it changed {} as a stage that ran beside it did",
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
    fn a_stage_waits_while_a_running_one_declares_its_output_and_slots_are_counted() {
        let mut pool = Pool::new();
        pool.outputs.push(("a".into(), vec!["design".into()]));
        let ready = [
            stage("b", &["Design"]),
            stage("c", &["code"]),
            stage("d", &[]),
        ];
        // Nothing runs yet in this pool, so every slot under the cap is free.
        assert_eq!(ids(&pool.pick(&ready, 2)), ["c", "d"]);
        assert_eq!(ids(&pool.pick(&ready, 1)), ["c"]);
        pool.outputs.clear();
        assert_eq!(ids(&pool.pick(&ready, 3)), ["b", "c", "d"]);
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
