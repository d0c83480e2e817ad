//! The worker (`clk work`): runs queued tasks, several at once, each in its own worktree.
//!
//! Every round it renews its lease on the tasks it runs (its PID and a heartbeat in the store),
//! stops a task the user paused or cancelled from another terminal, merges approved tasks one
//! at a time (`land.rs`), and starts queued tasks while fewer than `workers` run. A task whose
//! files overlap a running task's is held, with the reason in its state, until that one ends. On
//! start it finds tasks a dead worker left running and queues them again (their worktree and
//! turns kept), or marks them interrupted when the worktree is gone. At start and every few
//! seconds it removes the task worktrees no task needs any more (`sweep.rs`).
//!
//! Against a shared (PostgreSQL) store, workers on many machines take tasks from one queue:
//! a claim skips a row another worker holds, a lease that was not renewed in `store.lease_s`
//! puts its task back in the queue (every round, whoever notices first), `store.account_limit`
//! bounds the tasks one account runs over every worker, and merges happen one at a time over
//! all of them (`land.rs`, `shared.rs`). An idle worker there is woken by the store's NOTIFY
//! when a task is added, approved or moved, and otherwise looks once a second.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::budget;
use super::lease::LeaseKeeper;
use super::overlap::shared;
use super::run::{self, Ended};
use crate::engine::ground::events::Event;
use crate::engine::ground::task::TaskState;
use crate::engine::store::bus::Bus;
use crate::engine::store::tasks::{self, Move, Task, TaskStore, WorkerRow};
use crate::engine::store::workspace::Project;

/// How often the worker looks at the store (SQLite).
const TICK: Duration = Duration::from_millis(250);

/// How often it looks when the store wakes it on every change (PostgreSQL's NOTIFY): a
/// safety net for a wake lost while its listening connection was down.
const SAFETY_TICK: Duration = Duration::from_secs(1);

/// How often the worker looks for task worktrees no task needs any more (`sweep.rs`).
const SWEEP: Duration = Duration::from_secs(5);

/// A lease not renewed for this long is dead even when its PID exists (PID reuse).
const LEASE_STALE_S: i64 = 120;

/// How often the worker renews its leases and its row in `clk workers`.
const BEAT: Duration = Duration::from_secs(1);

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
    pub(super) store: Arc<dyn TaskStore>,
    pub(super) me: u32,
    /// `host:pid`, as `clk workers` shows it.
    pub(super) id: String,
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
        self.moved(id, from, to, reason, None)
    }

    /// Take task `id` to run it here; `account` and its limit bound it over every worker.
    fn claim(&self, t: &Task, account: &str, limit: u32, start_cap: Option<u64>) -> bool {
        let how = Some((account, limit, start_cap));
        self.moved(t.id, &[t.state], TaskState::Running, "", how)
    }

    fn moved(
        &self,
        id: i64,
        from: &[TaskState],
        to: TaskState,
        reason: &str,
        claim: Option<(&str, u32, Option<u64>)>,
    ) -> bool {
        let m = Move {
            id,
            from,
            to,
            reason,
        };
        let done = match claim {
            Some((account, limit, cap)) => self.store.claim(&m, self.me, account, limit, cap),
            None => self.store.move_state(&m, self.me),
        };
        match done {
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

    /// The tasks that can still change; finished ones are not read again every round.
    fn list(&self) -> Vec<Task> {
        self.store.list_open().unwrap_or_else(|e| {
            self.warn(e.to_string());
            Vec::new()
        })
    }

    /// Tasks a dead worker left running: queued again from their worktree, or interrupted.
    /// On a shared store, those whose lease ran out, from their last pushed turn.
    fn recover(&self) {
        if self.store.shared() {
            match self.store.requeue_expired() {
                Ok(back) => {
                    for (id, owner) in back {
                        self.bus.emit(Event::Report {
                            topic: "task".into(),
                            lines: vec![format!(
                                "task {id}: queued — its worker {owner} stopped renewing its lease"
                            )],
                        });
                    }
                }
                Err(e) => self.warn(e.to_string()),
            }
            return;
        }
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
        // Another worker took it over while this one was stopped or paused (its lease ran
        // out): whatever its work here ended with is not the task's any more; the sweep
        // removes the worktree.
        if t.state == TaskState::Running && t.lease_pid != self.me {
            return;
        }
        let running = [TaskState::Running];
        match end {
            // A cancelled task's worktree goes with the next sweep, unless it holds work.
            Ended::Stopped => {
                if t.state == TaskState::Running {
                    let why =
                        format!("clk work stopped before it was done; `clk task resume {id}`");
                    self.set(id, &running, TaskState::Interrupted, &why);
                }
            }
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
                    self.land_any(&t, cancel).await;
                }
            }
        }
    }
}

/// The account a task's turns are paid from: the provider its agent uses.
fn account_of(project: &Project, t: &Task) -> String {
    match project.agents.agents.get(&t.agent) {
        Some(a) => a
            .provider
            .clone()
            .unwrap_or_else(|| project.providers.active.clone()),
        None => t.agent.clone(),
    }
}

/// Why a task on `account` may not start here: this worker's share of `store.account_limit`
/// is used by the tasks it already runs (the store checks every worker's when it claims).
fn crowded(account: &str, limit: u32, busy: &[Task], project: &Project) -> Option<String> {
    let n = busy
        .iter()
        .filter(|b| account_of(project, b) == account)
        .count();
    (limit > 0 && n >= limit as usize).then(|| {
        format!("waits for account {account}: store.account_limit = {limit} tasks at once")
    })
}

impl Worker<'_> {
    /// Hold a queued task with `why` (or say the new reason of one already held).
    fn hold(&self, t: &Task, why: &str) {
        if t.state != TaskState::Held {
            self.set(t.id, &[TaskState::Queued], TaskState::Held, why);
        } else if t.reason != why {
            let _ = self.store.set_reason(t.id, why);
        }
    }

    /// Say in the store that this worker is alive, and what it runs.
    fn beat(&self, running: &HashMap<i64, CancellationToken>) {
        let mut ids: Vec<i64> = running.keys().copied().collect();
        ids.sort_unstable();
        let mut accounts = Vec::new();
        for id in &ids {
            if let Ok(Some(t)) = self.store.get(*id) {
                let a = account_of(self.project, &t);
                if !accounts.contains(&a) {
                    accounts.push(a);
                }
            }
        }
        let row = WorkerRow {
            id: self.id.clone(),
            host: tasks::host_name(),
            pid: self.me,
            tasks: ids,
            accounts,
            ..WorkerRow::default()
        };
        if let Err(e) = self.store.beat(&row) {
            self.warn(e.to_string());
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

/// When the store says a task was added, approved or moved elsewhere; never without a waker.
async fn woken(wake: Option<&tokio::sync::Notify>) {
    match wake {
        Some(w) => w.notified().await,
        None => std::future::pending().await,
    }
}

/// Run the queue until `cancel` (or, with `until_idle`, until nothing can run). Returns the
/// line that sums it up.
pub async fn work(
    project: &Project,
    bus: &Bus,
    opts: WorkOptions,
    cancel: &CancellationToken,
) -> Result<String, String> {
    let store = tasks::open_project(project).map_err(|e| e.to_string())?;
    let workers = opts
        .workers
        .unwrap_or(project.config.tasks.max_concurrent)
        .max(1) as usize;
    let mut w = Worker {
        project,
        bus,
        store: store.clone(),
        me: std::process::id(),
        id: tasks::worker_id(),
        tally: Tally::default(),
    };
    let limit = project.config.store.account_limit;
    let mut live = crate::engine::store::live::Live::new(project.clone());
    // Listening from before the first look, so a task added meanwhile is not missed.
    let wake = store.wake();
    let tick = if wake.is_some() { SAFETY_TICK } else { TICK };
    let mut beat_at: Option<Instant> = None;
    let (mut sweep_at, mut said): (Option<Instant>, HashMap<i64, Instant>) = (None, HashMap::new());
    w.recover();
    // Leases are renewed on their own thread, so a long merge here cannot let them lapse.
    let warn_bus = bus.clone();
    let _leases = LeaseKeeper::start(store.clone(), w.me, BEAT, move |message| {
        warn_bus.emit(Event::Warning { message })
    });
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
        if beat_at.is_none_or(|at| at.elapsed() >= BEAT) {
            beat_at = Some(Instant::now());
            w.beat(&running);
            if store.shared() {
                w.recover();
                w.repair_pushes();
            }
        }
        let all = w.list();
        // Paused or cancelled from elsewhere: stop its agent.
        // So is one whose lease ran out and that another worker took over, even when that
        // one merged it meanwhile (merged tasks are not in the list: read on its own).
        for (id, tok) in &running {
            let t = match all.iter().find(|t| t.id == *id) {
                Some(t) => Some(t.clone()),
                None => store.get(*id).ok().flatten(),
            };
            if t.is_some_and(|t| t.state != TaskState::Running || t.lease_pid != w.me) {
                tok.cancel();
            }
        }
        // Worktrees of tasks that ended here or elsewhere: at start, then every few seconds,
        // and at once for a task just cancelled whose worktree is here. One that is nowhere
        // here is forgotten, so the task leaves the open list.
        let mut now = sweep_at.is_none_or(|at| at.elapsed() >= SWEEP);
        for t in all.iter().filter(|t| {
            t.state == TaskState::Cancelled
                && !t.worktree.is_empty()
                && !running.contains_key(&t.id)
        }) {
            if Path::new(&t.worktree).is_dir() {
                now |= !said.contains_key(&t.id);
            } else {
                let _ = store.set_worktree(t.id, "", "", &t.base);
            }
        }
        if now {
            sweep_at = Some(Instant::now());
            w.sweep(&all, &running, &mut said);
        }
        for t in all.iter().filter(|t| t.state == TaskState::Approved) {
            w.land_any(t, cancel).await;
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
                let daily = &project.config.budget.daily;
                let used = store.day_usage(&tasks::today()).unwrap_or_default();
                let account = account_of(project, t);
                let over = budget::blocked(daily, &used, true)
                    .or_else(|| clash(t, &busy))
                    .or_else(|| crowded(&account, limit, &busy, project));
                if let Some(why) = over {
                    w.hold(t, &why);
                    continue;
                }
                // A task sent back or resumed is not started again. A first start is counted
                // with the claim, so racing workers never pass budget.daily.tasks.
                let fresh = t.started_at.is_empty();
                if !w.claim(t, &account, limit, fresh.then_some(daily.tasks)) {
                    let used = store.day_usage(&tasks::today()).unwrap_or_default();
                    if let Some(why) = budget::blocked(daily, &used, true).filter(|_| fresh) {
                        w.hold(t, &why);
                    }
                    continue;
                }
                busy.push(t.clone());
                let tok = cancel.child_token();
                running.insert(t.id, tok.clone());
                // Each task starts on the settings as they are now (edits told once).
                let p = live.refresh(bus).clone();
                let (b, s, task) = (bus.clone(), store.clone(), t.clone());
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
        // On a shared store, a task running elsewhere may come back (its worker may die), so
        // `--until-idle` waits for the whole queue to be idle.
        let elsewhere = store.shared() && all.iter().any(|t| t.state == TaskState::Running);
        if set.is_empty() && (stopping || (opts.until_idle && !startable && !elsewhere)) {
            break;
        }
        tokio::select! {
            Some(done) = set.join_next(), if !set.is_empty() => {
                if let Ok((id, end)) = done {
                    running.remove(&id);
                    ended.push((id, end));
                }
            }
            _ = woken(wake.as_deref()) => {}
            _ = tokio::time::sleep(tick) => {}
        }
    }
    let _ = store.leave(&w.id);
    let t = &w.tally;
    Ok(format!(
        "tasks: {} merged, {} wait for approval, {} failed",
        t.merged, t.approval, t.failed
    ))
}
