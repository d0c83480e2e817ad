//! Task worktrees no task needs any more, removed with their local branch: `clk work` looks at
//! the `task-<id>` worktrees and `clk/task-<id>` branches of its clone when it starts and every
//! few seconds, and asks the store about each. A task merged or cancelled (here or by another
//! worker) needs neither; on a shared store, neither does one whose store row names another
//! worktree (another worker took it over, or merged it from the remote). A worktree with
//! uncommitted work is kept and said once; a task this worker runs is never touched; nothing
//! but clk's task worktrees and branches is looked at.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use git2::Repository;
use tokio_util::sync::CancellationToken;

use super::run;
use super::work::Worker;
use crate::engine::ground::events::Event;
use crate::engine::ground::task::TaskState;
use crate::engine::store::git::{self, worktree};
use crate::engine::store::tasks::{Task, TaskStore, WorkerRow, host_name};
use crate::engine::store::workspace::Project;

/// How long a worktree kept for its uncommitted work is left alone before it is looked at again.
const RECHECK: Duration = Duration::from_secs(60);

/// Why task `t`'s worktree and branch at `here` are not needed any more, or `None` to keep
/// them. `t` is `None` when the store has no such task: kept, it may be another store's.
pub(super) fn needless(t: Option<&Task>, here: &Path, shared: bool) -> Option<String> {
    let t = t?;
    match t.state {
        TaskState::Merged => return Some("it is merged".into()),
        TaskState::Cancelled => return Some("it was cancelled".into()),
        _ => {}
    }
    // Only a shared store has other clones: on SQLite a path that differs is a moved project.
    (shared && !t.worktree.is_empty() && Path::new(&t.worktree) != here)
        .then(|| format!("another worker has it now, at {}", t.worktree))
}

/// What happened to one task's worktree.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Dropped {
    /// Removed, with its branch.
    Removed,
    /// Kept: these files hold work that is not on its branch.
    Kept(Vec<String>),
}

/// Remove task `id`'s worktree and local branch unless the worktree holds uncommitted work.
pub(super) fn drop_tree(repo: &Repository, id: i64) -> Result<Dropped, String> {
    let run_id = run::run_id(id);
    let dirty = worktree::uncommitted(repo, &run_id).map_err(|e| e.to_string())?;
    if !dirty.is_empty() {
        return Ok(Dropped::Kept(dirty));
    }
    worktree::remove(repo, &run_id, false).map_err(|e| e.to_string())?;
    Ok(Dropped::Removed)
}

/// The one line that says a worktree was kept.
fn kept_line(id: i64, path: &Path, why: &str, files: &[String]) -> String {
    let mut shown: Vec<&str> = files.iter().take(5).map(String::as_str).collect();
    if files.len() > shown.len() {
        shown.push("…");
    }
    format!(
        "task {id}: its worktree {} is kept although {why}: uncommitted changes to {}; copy what \
         you need elsewhere and delete them there, then `clk work` removes it and its branch",
        path.display(),
        shown.join(", ")
    )
}

/// `clk task cancel` of a task no worker runs: its worktree and branch go at once (when they
/// are in this clone and hold no uncommitted work). Returns a line to add to the reply.
pub(super) fn cancelled(project: &Project, store: &dyn TaskStore, t: &Task) -> Option<String> {
    let repo = git::open(&project.ws.root)?;
    let run_id = run::run_id(t.id);
    let path = worktree::worktrees_dir(&repo).join(&run_id);
    let here = path.exists()
        || repo
            .find_branch(&format!("clk/{run_id}"), git2::BranchType::Local)
            .is_ok();
    if !here {
        return None;
    }
    match drop_tree(&repo, t.id) {
        Ok(Dropped::Removed) => {
            if Path::new(&t.worktree) == path {
                let _ = store.set_worktree(t.id, "", "", &t.base);
            }
            let _ = store.log(
                t.id,
                "worktree",
                "removed its worktree and branch: cancelled",
            );
            Some(format!("its worktree and branch {} are removed", t.branch))
        }
        Ok(Dropped::Kept(files)) => Some(kept_line(t.id, &path, "it was cancelled", &files)),
        Err(e) => Some(format!("its worktree could not be removed: {e}")),
    }
}

impl Worker<'_> {
    /// Remove the worktrees and branches of this clone's tasks that no task needs (see the
    /// module's words). `open` is this round's list of open tasks; others are read one by one
    /// (only the ones this clone holds, so a long history costs nothing). `said` keeps the
    /// ids whose kept worktree was already reported, and when: such a worktree is looked at
    /// again once a minute, not every sweep (that look reads its whole tree).
    pub(super) fn sweep(
        &self,
        open: &[Task],
        running: &HashMap<i64, CancellationToken>,
        said: &mut HashMap<i64, Instant>,
    ) {
        let Some(repo) = git::open(&self.project.ws.root) else {
            return;
        };
        let shared = self.store.shared();
        let mut workers = None;
        for id in worktree::task_ids(&repo) {
            let recent = said.get(&id).is_some_and(|at| at.elapsed() < RECHECK);
            if running.contains_key(&id) || recent {
                continue;
            }
            let t = match open.iter().find(|t| t.id == id) {
                Some(t) => Some(t.clone()),
                None => match self.store.get(id) {
                    Ok(t) => t,
                    Err(e) => return self.warn(e.to_string()),
                },
            };
            let path = worktree::worktrees_dir(&repo).join(run::run_id(id));
            let why = needless(t.as_ref(), &path, shared).or_else(|| {
                let t = t.as_ref().filter(|t| self.maybe_elsewhere(t))?;
                let w = workers.get_or_insert_with(|| self.store.workers().unwrap_or_default());
                elsewhere(t, w)
            });
            let (Some(t), Some(why)) = (t, why) else {
                continue;
            };
            match drop_tree(&repo, id) {
                Ok(Dropped::Removed) => {
                    if t.state == TaskState::Cancelled && Path::new(&t.worktree) == path {
                        let _ = self.store.set_worktree(id, "", "", &t.base);
                    }
                    self.say(
                        id,
                        format!("task {id}: removed its worktree and branch here: {why}"),
                    );
                }
                Ok(Dropped::Kept(files)) => {
                    if said.insert(id, Instant::now()).is_none() {
                        self.say(id, kept_line(id, &path, &why, &files));
                    }
                }
                Err(e) => {
                    if said.insert(id, Instant::now()).is_none() {
                        self.warn(format!("task {id}: its worktree could not be removed: {e}"));
                    }
                }
            }
        }
    }

    /// One line on the bus and in the task's timeline, which names this worker.
    fn say(&self, id: i64, line: String) {
        let _ = self
            .store
            .log(id, "worktree", &format!("{}: {line}", self.id));
        self.bus.emit(Event::Report {
            topic: "task".into(),
            lines: vec![line],
        });
    }

    /// Whether `t` may run under another worker with a folder at the same path as this one:
    /// on a shared store, running, under another lease (then the workers' rows are read).
    fn maybe_elsewhere(&self, t: &Task) -> bool {
        self.store.shared() && t.state == TaskState::Running && t.lease_pid != self.me
    }
}

/// A task running under a worker on another machine, as the workers' rows say.
fn elsewhere(t: &Task, workers: &[WorkerRow]) -> Option<String> {
    let host = host_name();
    workers
        .iter()
        .find(|w| w.tasks.contains(&t.id) && w.host != host)
        .map(|w| format!("worker {} runs it now", w.id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(state: TaskState, worktree: &str) -> Task {
        Task {
            id: 7,
            prompt: String::new(),
            flow: String::new(),
            agent: String::new(),
            autonomy: String::new(),
            state,
            reason: String::new(),
            branch: "clk/task-7".into(),
            worktree: worktree.into(),
            base: String::new(),
            requested_by: String::new(),
            predicted_files: Vec::new(),
            touched_files: Vec::new(),
            lease_pid: 0,
            lease_heartbeat: String::new(),
            created_at: String::new(),
            updated_at: String::new(),
            started_at: String::new(),
            finished_at: String::new(),
            turns: 0,
            cost_micros: 0,
            unpushed: String::new(),
        }
    }

    #[test]
    fn finished_tasks_need_no_worktree_and_others_keep_theirs() {
        let here = Path::new("/w1/.git/clk/worktrees/task-7");
        let mine = here.to_str().unwrap_or_default();
        for shared in [false, true] {
            assert!(needless(Some(&task(TaskState::Merged, mine)), here, shared).is_some());
            assert!(needless(Some(&task(TaskState::Cancelled, "")), here, shared).is_some());
            for s in [
                TaskState::Queued,
                TaskState::Running,
                TaskState::Paused,
                TaskState::Failed,
                TaskState::Approval,
                TaskState::Interrupted,
            ] {
                assert_eq!(needless(Some(&task(s, mine)), here, shared), None, "{s:?}");
                assert_eq!(needless(Some(&task(s, "")), here, shared), None, "{s:?}");
            }
        }
        assert_eq!(needless(None, here, true), None, "an unknown task is kept");
    }

    #[test]
    fn a_task_another_clone_has_is_not_needed_here_on_a_shared_store_only() {
        let here = Path::new("/w1/.git/clk/worktrees/task-7");
        let theirs = task(TaskState::Running, "/w2/.git/clk/worktrees/task-7");
        let why = needless(Some(&theirs), here, true).unwrap_or_default();
        assert!(why.contains("/w2/"), "{why}");
        // On SQLite the project may have moved: its worktree is still the task's.
        assert_eq!(needless(Some(&theirs), here, false), None);
    }

    #[test]
    fn a_task_a_worker_on_another_host_runs_is_elsewhere() {
        let t = task(TaskState::Running, "/w/.git/clk/worktrees/task-7");
        let row = |host: &str, tasks: Vec<i64>| WorkerRow {
            id: format!("{host}:42"),
            host: host.into(),
            tasks,
            ..WorkerRow::default()
        };
        let here = host_name();
        assert_eq!(elsewhere(&t, &[row(&here, vec![7])]), None, "this host");
        assert_eq!(
            elsewhere(&t, &[row("other-box", vec![8])]),
            None,
            "another task"
        );
        let why = elsewhere(&t, &[row("other-box", vec![3, 7])]).unwrap_or_default();
        assert!(why.contains("other-box:42"), "{why}");
    }
}
