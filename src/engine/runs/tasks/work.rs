//! The worker (`clk work`): runs queued tasks, several at once, each in its own worktree.
//!
//! Every round it renews its lease on the tasks it runs (its PID and a heartbeat in the store),
//! stops a task the user paused or cancelled from another terminal, merges approved tasks one
//! at a time (`land.rs`), and starts queued tasks while fewer than `workers` run. A task whose
//! files overlap a running task's is held, with the reason in its state, until that one ends. On
//! start it finds tasks a dead worker left running and queues them again (their worktree and
//! turns kept), or marks them interrupted when the worktree is gone.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::budget;
use super::overlap::shared;
use super::run::{self, Ended};
use crate::engine::ground::events::Event;
use crate::engine::ground::task::TaskState;
use crate::engine::store::bus::Bus;
use crate::engine::store::git::{self, worktree};
use crate::engine::store::tasks::{self, Move, SqliteStore, Task, TaskStore};
use crate::engine::store::workspace::Project;

/// How often the worker looks at the store.
const TICK: Duration = Duration::from_millis(250);

/// A lease not renewed for this long is dead even when its PID exists (PID reuse).
const LEASE_STALE_S: i64 = 120;

/// What `clk work` was asked for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WorkOptions {
    /// Most tasks at once; `None` is `tasks.max_concurrent`.
    pub workers: Option<u32>,
    /// End when nothing can run any more.
    pub until_idle: bool,
}

/// Tally of what one `clk work` did, for its last line.
#[derive(Debug, Default)]
pub(super) struct Tally {
    pub(super) merged: u32,
    pub(super) approval: u32,
    pub(super) failed: u32,
}

pub(super) struct Worker<'a> {
    pub(super) project: &'a Project,
    pub(super) bus: &'a Bus,
    pub(super) store: Arc<SqliteStore>,
    pub(super) me: u32,
    pub(super) tally: Tally,
}

fn alive(pid: u32) -> bool {
    // SAFETY: signal 0 only asks whether the process exists; nothing is sent.
    pid > 0 && unsafe { libc::kill(pid as i32, 0) } == 0
}

fn stale(heartbeat: &str) -> bool {
    chrono::DateTime::parse_from_rfc3339(heartbeat).map_or(true, |at| {
        (chrono::Utc::now() - at.with_timezone(&chrono::Utc)).num_seconds() > LEASE_STALE_S
    })
}

impl Worker<'_> {
    /// Move task `id` if it is still in one of `from`, and say so on the bus.
    pub(super) fn set(&self, id: i64, from: &[TaskState], to: TaskState, reason: &str) -> bool {
        let m = Move {
            id,
            from,
            to,
            reason,
        };
        match self.store.move_state(&m, self.me) {
            Ok(true) => {
                let line = if reason.is_empty() {
                    format!("task {id}: {}", to.name())
                } else {
                    format!("task {id}: {} — {reason}", to.name())
                };
                self.bus.emit(Event::Report {
                    topic: "task".into(),
                    lines: vec![line],
                });
                true
            }
            Ok(false) => false,
            Err(e) => {
                self.warn(e.to_string());
                false
            }
        }
    }

    pub(super) fn warn(&self, message: String) {
        self.bus.emit(Event::Warning { message });
    }

    fn list(&self) -> Vec<Task> {
        self.store.list().unwrap_or_else(|e| {
            self.warn(e.to_string());
            Vec::new()
        })
    }

    /// Tasks a dead worker left running: queued again from their worktree, or interrupted.
    fn recover(&self) {
        for t in self.list() {
            if t.state != TaskState::Running || t.lease_pid == self.me {
                continue;
            }
            if alive(t.lease_pid) && !stale(&t.lease_heartbeat) {
                continue;
            }
            let pid = t.lease_pid;
            if !t.worktree.is_empty() && !Path::new(&t.worktree).is_dir() {
                let why = format!(
                    "its worker (PID {pid}) died and its worktree is gone; `clk task resume {}` \
                     starts it again",
                    t.id
                );
                self.set(t.id, &[TaskState::Running], TaskState::Interrupted, &why);
            } else {
                let why = format!(
                    "its worker (PID {pid}) died; continues from its worktree and {} turn(s)",
                    t.turns
                );
                self.set(t.id, &[TaskState::Running], TaskState::Queued, &why);
            }
        }
    }

    /// What to do once a task's work ended.
    async fn ended(&mut self, id: i64, end: Ended, cancel: &CancellationToken) {
        let Ok(Some(t)) = self.store.get(id) else {
            return;
        };
        let running = [TaskState::Running];
        match end {
            Ended::Stopped => match t.state {
                TaskState::Cancelled => {
                    if let Some(repo) = git::open(&self.project.ws.root) {
                        let _ = worktree::remove(&repo, &run::run_id(id), false);
                    }
                }
                TaskState::Running => {
                    let why =
                        format!("clk work stopped before it was done; `clk task resume {id}`");
                    self.set(id, &running, TaskState::Interrupted, &why);
                }
                _ => {}
            },
            Ended::Budget(why) => {
                self.set(id, &running, TaskState::Held, &why);
            }
            Ended::Paused(why) => {
                self.set(id, &running, TaskState::Paused, &why);
            }
            Ended::Checkpoint(stop) => {
                if let Err(e) = self.store.set_checkpoint(id, &stop.name) {
                    self.warn(e.to_string());
                }
                let why = format!(
                    "{}; `clk task approve {id}` lets it go on, `clk task reject {id} NOTE` \
                     sends it back",
                    stop.why
                );
                self.tally.approval += 1;
                self.set(id, &running, TaskState::AwaitingApproval, &why);
            }
            Ended::Failed(why) => {
                self.tally.failed += 1;
                self.set(id, &running, TaskState::Failed, &why);
            }
            Ended::Finished { files } => {
                if let Err(e) = self.store.set_touched(id, &files) {
                    self.warn(e.to_string());
                }
                if let Ok(Some(t)) = self.store.get(id) {
                    self.land(&t, cancel).await;
                }
            }
        }
    }
}

/// Whether `t` may start now: `Err` names the running task whose files it shares.
fn clash(t: &Task, busy: &[Task]) -> Option<String> {
    let mine = t.files();
    busy.iter().find_map(|b| {
        let both = shared(&mine, &b.files());
        (!both.is_empty()).then(|| {
            format!(
                "waits for task {}, which changes {} too",
                b.id,
                both.join(", ")
            )
        })
    })
}

/// Run the queue until `cancel` (or, with `until_idle`, until nothing can run). Returns the
/// line that sums it up.
pub async fn work(
    project: &Project,
    bus: &Bus,
    opts: WorkOptions,
    cancel: &CancellationToken,
) -> Result<String, String> {
    let store = Arc::new(tasks::open(&project.ws).map_err(|e| e.to_string())?);
    let workers = opts
        .workers
        .unwrap_or(project.config.tasks.max_concurrent)
        .max(1) as usize;
    let mut w = Worker {
        project,
        bus,
        store: store.clone(),
        me: std::process::id(),
        tally: Tally::default(),
    };
    w.recover();
    let mut running: HashMap<i64, CancellationToken> = HashMap::new();
    let mut set: JoinSet<(i64, Ended)> = JoinSet::new();
    // Tasks whose work ended: merged after the next ones start, so a free slot is not kept
    // waiting for a merge.
    let mut ended: Vec<(i64, Ended)> = Vec::new();
    loop {
        while let Some(done) = set.try_join_next() {
            if let Ok((id, end)) = done {
                running.remove(&id);
                ended.push((id, end));
            }
        }
        if let Err(e) = store.heartbeat(w.me) {
            w.warn(e.to_string());
        }
        let all = w.list();
        // Paused or cancelled from elsewhere: stop its agent.
        for t in &all {
            if let Some(tok) = running.get(&t.id) {
                if t.state != TaskState::Running {
                    tok.cancel();
                }
            }
        }
        // A task cancelled while it was not running leaves its worktree and branch here.
        for t in all
            .iter()
            .filter(|t| t.state == TaskState::Cancelled && !t.worktree.is_empty())
        {
            if !running.contains_key(&t.id) {
                if let Some(repo) = git::open(&project.ws.root) {
                    let _ = worktree::remove(&repo, &run::run_id(t.id), false);
                }
                let _ = store.set_worktree(t.id, "", "", &t.base);
            }
        }
        for t in all.iter().filter(|t| t.state == TaskState::Approved) {
            w.land(t, cancel).await;
        }
        let stopping = cancel.is_cancelled() || bus.stop_requested();
        let mut startable = false;
        if !stopping {
            let mut busy: Vec<Task> = all
                .iter()
                .filter(|t| t.state == TaskState::Running)
                .cloned()
                .collect();
            for t in all.iter().filter(|t| t.state.runnable()) {
                if running.len() >= workers {
                    startable = true;
                    break;
                }
                let used = store.day_usage(&tasks::today()).unwrap_or_default();
                let over = budget::blocked(&project.config.budget.daily, &used, true);
                if let Some(why) = over.or_else(|| clash(t, &busy)) {
                    if t.state != TaskState::Held {
                        w.set(t.id, &[TaskState::Queued], TaskState::Held, &why);
                    } else if t.reason != why {
                        let _ = store.set_reason(t.id, &why);
                    }
                    continue;
                }
                if !w.set(t.id, &[t.state], TaskState::Running, "") {
                    continue;
                }
                // A task sent back or resumed is not started again.
                if t.started_at.is_empty() {
                    let _ = store.count_started();
                }
                busy.push(t.clone());
                let tok = cancel.child_token();
                running.insert(t.id, tok.clone());
                let (p, b, s, task) = (project.clone(), bus.clone(), store.clone(), t.clone());
                set.spawn(async move {
                    let end = run::run(&p, &b, &s, &task, &tok).await;
                    (task.id, end)
                });
            }
        }
        if !ended.is_empty() {
            for (id, end) in std::mem::take(&mut ended) {
                w.ended(id, end, cancel).await;
            }
            // What they held may start now.
            continue;
        }
        if set.is_empty() && (stopping || (opts.until_idle && !startable)) {
            break;
        }
        tokio::select! {
            Some(done) = set.join_next(), if !set.is_empty() => {
                if let Ok((id, end)) = done {
                    running.remove(&id);
                    ended.push((id, end));
                }
            }
            _ = tokio::time::sleep(TICK) => {}
        }
    }
    let t = &w.tally;
    Ok(format!(
        "tasks: {} merged, {} wait for approval, {} failed",
        t.merged, t.approval, t.failed
    ))
}
