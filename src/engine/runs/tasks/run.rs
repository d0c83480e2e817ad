//! One task worked to its end in its own worktree on `clk/task-<id>`: the implementer's turns,
//! each kept in the store with its usage and cost, then the files it changed. Merging is not
//! done here: the worker does that, one task at a time.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::engine::agents::dispatch::DispatchRequest;
use crate::engine::ground::events::Event;
use crate::engine::store::bus::Bus;
use crate::engine::store::git::{self, worktree};
use crate::engine::store::tasks::{SqliteStore, Task, TaskStore, TurnRecord, now};
use crate::engine::store::workspace::Project;

/// How a task's work ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// The implementer finished; these files differ from where the branch started.
    Finished { files: Vec<String> },
    /// It could not finish; the line says why.
    Failed(String),
    /// Its token was cancelled (a pause, a cancel, or `clk work` stopping).
    Stopped,
}

/// The run id of task `id`'s worktree (its branch is `clk/task-<id>`).
pub fn run_id(id: i64) -> String {
    format!("task-{id}")
}

/// The task's worktree: the one it already has (a resumed task), else a new one.
fn tree(project: &Project, task: &Task) -> Result<worktree::RunTree, String> {
    let repo = git::open(&project.ws.root)
        .ok_or("this project is not a git repository with a commit; run `clk init` here first")?;
    let id = run_id(task.id);
    if let Some(t) = worktree::open(&repo, &id) {
        return Ok(t);
    }
    worktree::create(&repo, &id).map_err(|e| format!("could not create its worktree: {e}"))
}

/// The project the task's agent works in: the worktree as work root, and a provider named as
/// the agent pinned on the engineer.
fn task_project(project: &Project, task: &Task, path: &Path) -> (Project, String) {
    let mut p = project.clone();
    p.ws = project.ws.with_work(path.to_path_buf());
    if p.agents.agents.contains_key(&task.agent) {
        return (p, task.agent.clone());
    }
    let mut spec = p.agents.spec("engineer");
    spec.provider = Some(task.agent.clone());
    p.agents.agents.insert("engineer".into(), spec);
    (p, "engineer".into())
}

/// The files that differ between `base` and the worktree's HEAD.
fn changed_files(path: &Path, base: &str) -> Vec<String> {
    let Ok(repo) = git2::Repository::open(path) else {
        return Vec::new();
    };
    let trees = || -> Result<Vec<String>, git2::Error> {
        let old = repo.find_commit(git2::Oid::from_str(base)?)?.tree()?;
        let new = repo.head()?.peel_to_tree()?;
        let diff = repo.diff_tree_to_tree(Some(&old), Some(&new), None)?;
        Ok(diff
            .deltas()
            .filter_map(|d| {
                d.new_file()
                    .path()
                    .and_then(|p| p.to_str())
                    .map(String::from)
            })
            .collect())
    };
    trees().unwrap_or_default()
}

fn objective(task: &Task, turn: u32) -> String {
    let again = if turn > 1 {
        "\n\nYour earlier turn on this task did not finish it; carry on from what is in the \
         worktree."
    } else {
        ""
    };
    format!(
        "Task {}: {}\n\nWork in this project until the task is done: change the files it needs, \
         with tests where they fit.{again}",
        task.id, task.prompt
    )
}

/// Work `task` to its end. `cancel` stops it between or during turns.
pub async fn run(
    project: &Project,
    bus: &Bus,
    store: &Arc<SqliteStore>,
    task: &Task,
    cancel: &CancellationToken,
) -> Ended {
    let t = match tree(project, task) {
        Ok(t) => t,
        Err(e) => return Ended::Failed(e),
    };
    let path = t.path.display().to_string();
    // A resumed task keeps the base it started from: its changes are measured against it.
    let base = if task.base.is_empty() {
        t.base.clone()
    } else {
        task.base.clone()
    };
    if let Err(e) = store.set_worktree(task.id, &t.branch, &path, &base) {
        return Ended::Failed(e.to_string());
    }
    let _ = store.log(task.id, "worktree", &format!("{} at {path}", t.branch));
    bus.emit(Event::WorktreeCreated {
        run_id: t.run_id.clone(),
        branch: t.branch.clone(),
        path: path.clone(),
    });
    let (tp, agent) = task_project(project, task, &t.path);
    let max_turns = project.config.tasks.max_turns.max(1);
    let limit = project.config.tasks.max_runtime_s;
    let started = Instant::now();
    let done_before = store.turns(task.id).map(|t| t.len()).unwrap_or(0);
    let first = u32::try_from(done_before)
        .unwrap_or(u32::MAX)
        .saturating_add(1);
    // Solo flow: one implementer turn does the task; a failed turn is tried again while
    // turns and time are left.
    for n in first..=max_turns {
        if cancel.is_cancelled() {
            return Ended::Stopped;
        }
        let req = DispatchRequest {
            agent: agent.clone(),
            objective: objective(task, n),
            stage: Some(run_id(task.id)),
            workflow: Some(format!("task-{}", task.flow)),
            ..Default::default()
        };
        let call = crate::engine::runs::call::dispatch(&tp, bus, &req, cancel);
        let out = if limit > 0 {
            let left = Duration::from_secs(limit).saturating_sub(started.elapsed());
            match tokio::time::timeout(left, call).await {
                Ok(r) => r,
                Err(_) => {
                    return Ended::Failed(format!(
                        "ran longer than tasks.max_runtime_s ({limit} s)"
                    ));
                }
            }
        } else {
            call.await
        };
        if cancel.is_cancelled() {
            return Ended::Stopped;
        }
        let out = match out {
            Ok(o) => o,
            Err(e) => return Ended::Failed(e.to_string()),
        };
        let summary = match &out.error {
            Some(e) => format!("failed: {}", e.message),
            None => out.batch.summary(),
        };
        let turn = TurnRecord {
            n,
            role: "implementer".into(),
            agent: agent.clone(),
            provider: out.provider.clone(),
            dispatch_id: out.run_id.clone(),
            ok: out.error.is_none(),
            input_tokens: out.usage.input_tokens,
            output_tokens: out.usage.output_tokens,
            cost_micros: out.cost.micros,
            summary: summary.clone(),
            at: now(),
        };
        if let Err(e) = store.record_turn(task.id, &turn) {
            return Ended::Failed(e.to_string());
        }
        let _ = store.log(task.id, "turn", &format!("implementer turn {n}: {summary}"));
        if out.error.is_none() {
            return Ended::Finished {
                files: changed_files(&t.path, &base),
            };
        }
    }
    Ended::Failed(format!(
        "no turn succeeded within tasks.max_turns ({max_turns})"
    ))
}
