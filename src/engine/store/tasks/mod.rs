//! The task store: tasks of the work queue, each turn an agent took on one, the timeline of
//! everything that happened to it, approvals, daily counters for budgets, templates and context
//! rules.
//!
//! Behind [`TaskStore`], two back ends: SQLite (`sqlite.rs`, `.clk/state/clk.db`), the
//! default, and PostgreSQL (`postgres.rs`), which workers on many machines share. This folder
//! is the only code that writes SQL. Several processes may use the SQLite file at once (`clk
//! work` in one terminal, `clk task add` in another): WAL mode and a busy timeout make them
//! wait for each other instead of failing.

mod pg_budget;
mod pg_listen;
mod pg_rows;
mod pg_schema;
mod pg_tasks;
mod pg_tls;
mod postgres;
mod progress;
mod rows;
mod schema;
mod sqlite;
mod sqlite_extra;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use pg_listen::{Note, listen};
pub use postgres::{PgStore, shown_url};
pub use sqlite::SqliteStore;

use crate::engine::ground::task::TaskState;
use crate::engine::store::workspace::{Project, Workspace};

/// A store that could not do what was asked; the line says why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("task store {path}: {message}")]
pub struct StoreError {
    pub path: String,
    pub message: String,
}

/// What `task add` gives.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewTask {
    pub prompt: String,
    pub flow: String,
    pub agent: String,
    pub autonomy: String,
    pub requested_by: String,
}

/// One task as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    pub id: i64,
    pub prompt: String,
    pub flow: String,
    pub agent: String,
    pub autonomy: String,
    pub state: TaskState,
    /// Why it waits, failed or stopped; empty when nothing needs saying.
    pub reason: String,
    pub branch: String,
    pub worktree: String,
    /// The user's commit the branch started from.
    pub base: String,
    pub requested_by: String,
    /// Files it is expected to change (from its prompt), then the ones it did change.
    pub predicted_files: Vec<String>,
    pub touched_files: Vec<String>,
    /// The `clk work` process working it, and when it last said it is alive.
    pub lease_pid: u32,
    pub lease_heartbeat: String,
    pub created_at: String,
    pub updated_at: String,
    pub started_at: String,
    pub finished_at: String,
    /// Turns taken and what they cost (summed from the turns).
    pub turns: u32,
    pub cost_micros: u64,
    /// A merge made in one worker's clone that the shared remote refused: that merge's commit,
    /// until a push succeeds (its reason says why). Empty: nothing waits to be pushed.
    #[serde(default)]
    pub unpushed: String,
}

impl Task {
    /// The files it will or did change: what it touched, else what was predicted.
    pub fn files(&self) -> Vec<String> {
        let mut out = self.predicted_files.clone();
        for f in &self.touched_files {
            if !out.contains(f) {
                out.push(f.clone());
            }
        }
        out
    }
}

/// One dispatch made for a task.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TurnRecord {
    pub n: u32,
    /// implementer, reviewer, ...
    pub role: String,
    pub agent: String,
    pub provider: String,
    /// The dispatch's run id (its record under `.clk/runs/`).
    pub dispatch_id: String,
    pub ok: bool,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_micros: u64,
    pub summary: String,
    pub at: String,
}

/// One line of a task's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEntry {
    pub at: String,
    pub kind: String,
    pub text: String,
}

/// What the workspace used on one day (UTC), for the daily budgets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayUsage {
    pub tasks_started: u64,
    pub turns: u64,
    pub cost_micros: u64,
    /// Held for turns running now, until each one's real cost is kept (`reserve_turn`).
    pub reserved_micros: u64,
    /// How many turns hold a part of `reserved_micros`.
    pub reserved_turns: u64,
    /// What a turn started now would hold: the largest cost of the last turns; `None`
    /// before any turn was kept (then one turn runs at a time under a USD limit).
    pub next_turn_micros: Option<u64>,
}

/// A change of state that only happens when the task is still in one of `from`: two
/// processes (a worker and `clk task pause`) never overwrite each other's move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Move<'a> {
    pub id: i64,
    pub from: &'a [TaskState],
    pub to: TaskState,
    pub reason: &'a str,
}

/// Where tasks are kept. Every method is one short transaction.
pub trait TaskStore: Send + Sync {
    fn add(&self, task: &NewTask) -> Result<Task, StoreError>;
    fn get(&self, id: i64) -> Result<Option<Task>, StoreError>;
    /// Every task, oldest first.
    fn list(&self) -> Result<Vec<Task>, StoreError>;
    /// The tasks something can still happen to, oldest first: all but merged ones and
    /// cancelled ones whose worktree is gone. What `clk work` reads every round, so a long
    /// history of finished tasks costs it nothing.
    fn list_open(&self) -> Result<Vec<Task>, StoreError> {
        Ok(self.list()?.into_iter().filter(is_open).collect())
    }
    /// Move the task if it is still in one of `m.from`; false when it was not. Moving to
    /// `Running` takes the lease for `pid`; moving away from it gives the lease up.
    fn move_state(&self, m: &Move<'_>, pid: u32) -> Result<bool, StoreError>;
    /// Say why a task waits or what it is doing, without moving it.
    fn set_reason(&self, id: i64, reason: &str) -> Result<(), StoreError>;
    fn set_worktree(&self, id: i64, branch: &str, path: &str, base: &str)
    -> Result<(), StoreError>;
    fn set_predicted(&self, id: i64, files: &[String]) -> Result<(), StoreError>;
    fn set_touched(&self, id: i64, files: &[String]) -> Result<(), StoreError>;
    /// Renew the lease of every task `pid` runs.
    fn heartbeat(&self, pid: u32) -> Result<(), StoreError>;
    fn log(&self, id: i64, kind: &str, text: &str) -> Result<(), StoreError>;
    fn timeline(&self, id: i64) -> Result<Vec<TimelineEntry>, StoreError>;
    /// Keep a turn, with its line in the timeline, and count it (and its cost) in today's
    /// usage, giving back what its reservation held: one transaction.
    fn record_turn(&self, id: i64, turn: &TurnRecord) -> Result<(), StoreError>;
    fn turns(&self, id: i64) -> Result<Vec<TurnRecord>, StoreError>;
    fn approve(&self, id: i64, by: &str, note: &str) -> Result<(), StoreError>;
    /// Keep an approval for `checkpoint` (empty: the merge) with a timeline line that says who
    /// gave it and when.
    fn approve_at(&self, id: i64, checkpoint: &str, by: &str, note: &str)
    -> Result<(), StoreError>;
    /// Where the task stands between turns: see [`Progress`].
    fn progress(&self, id: i64) -> Result<Progress, StoreError>;
    /// The checkpoint the task now waits at (empty: none).
    fn set_checkpoint(&self, id: i64, name: &str) -> Result<(), StoreError>;
    /// Keep the implementer's last valid handoff (JSON), so a later run goes on from it.
    fn set_handoff(&self, id: i64, json: &str) -> Result<(), StoreError>;
    /// Count `ms` more of work on the task; returns its total.
    fn add_runtime(&self, id: i64, ms: u64) -> Result<u64, StoreError>;
    /// Count a task started today.
    fn count_started(&self) -> Result<(), StoreError>;
    /// What was used on `day` (`YYYY-MM-DD`, UTC).
    fn day_usage(&self, day: &str) -> Result<DayUsage, StoreError>;
    /// Add a context rule (every task's agents see it); returns its id.
    fn add_rule(&self, text: &str) -> Result<i64, StoreError>;
    /// Every context rule, oldest first.
    fn rules(&self) -> Result<Vec<Rule>, StoreError>;
    /// Remove rule `id`; false when there was none.
    fn remove_rule(&self, id: i64) -> Result<bool, StoreError>;
    /// Save (or replace) a template.
    fn save_template(&self, t: &Template) -> Result<(), StoreError>;
    fn template(&self, name: &str) -> Result<Option<Template>, StoreError>;
    /// Every template, by name.
    fn templates(&self) -> Result<Vec<Template>, StoreError>;

    /// True when workers on other machines share this store: leases then expire by time
    /// (not by a local PID), and each task branch goes through the shared git remote.
    fn shared(&self) -> bool {
        false
    }
    /// Take task `id` for this worker: like a move to `Running`, but skipped (false) when
    /// another worker holds the row right now, when `account` already runs `limit` tasks (0:
    /// no limit) over every worker, or, for a task's first start (`start_cap` given), when
    /// today's starts reached that cap (0: none). The start is counted with the claim.
    fn claim(
        &self,
        m: &Move<'_>,
        pid: u32,
        account: &str,
        limit: u32,
        start_cap: Option<u64>,
    ) -> Result<bool, StoreError>;
    /// Put back in the queue every running task whose lease ran out; returns each with the
    /// worker that held it. Only shared stores have leases that expire by time.
    fn requeue_expired(&self) -> Result<Vec<(i64, String)>, StoreError> {
        Ok(Vec::new())
    }
    /// Count one more task started today unless that would pass `cap` (0: no cap); false
    /// when it would. One statement, so racing workers never pass the cap.
    fn reserve_start(&self, cap: u64) -> Result<bool, StoreError>;
    /// Give back a start reserved for a task another worker claimed first.
    fn unreserve_start(&self) -> Result<(), StoreError>;
    /// Count one more turn of task `id` today unless the turns cap is reached, or, under the
    /// cost cap (micro-dollars; 0: none), unless what was spent, what running turns hold and
    /// this turn's estimate ([`DayUsage::next_turn_micros`]) would pass it; false when so.
    /// The estimate is held on the task until [`TaskStore::record_turn`] keeps the real cost
    /// or the task leaves `Running` (a dead worker's lease running out included). One
    /// statement decides, so racing workers never pass either cap.
    fn reserve_turn(&self, id: i64, turns_cap: u64, cost_cap: u64) -> Result<bool, StoreError>;
    /// Say this worker is alive, with what it runs.
    fn beat(&self, w: &WorkerRow) -> Result<(), StoreError>;
    /// The worker ended: drop its row.
    fn leave(&self, id: &str) -> Result<(), StoreError>;
    /// Every worker that said it is alive, most recent first.
    fn workers(&self) -> Result<Vec<WorkerRow>, StoreError>;
    /// Notified when another process adds, approves or moves a task, so an idle worker takes
    /// it at once instead of at its next look; `None` (SQLite): look every round.
    fn wake(&self) -> Option<Arc<tokio::sync::Notify>> {
        None
    }
    /// Keep that task `id`'s merge, commit `sha`, is not on the shared remote yet (empty: it
    /// is now), with `reason` as the task's reason and a timeline line when it changed. Only
    /// shared stores have a remote to push to.
    fn set_unpushed(&self, _id: i64, _sha: &str, _reason: &str) -> Result<(), StoreError> {
        Ok(())
    }
    /// Merged tasks whose merge is not on the shared remote yet, oldest first.
    fn unpushed(&self) -> Result<Vec<Task>, StoreError> {
        Ok(Vec::new())
    }
    /// Try to become the one place that merges (false: another worker merges now). Held until
    /// [`TaskStore::merge_unlock`] or the worker's end.
    fn merge_lock(&self) -> Result<bool, StoreError> {
        Ok(true)
    }
    fn merge_unlock(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

/// A `clk work` process as the store knows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerRow {
    /// `host:pid`.
    pub id: String,
    pub host: String,
    pub pid: u32,
    pub started_at: String,
    /// When it last said it is alive.
    pub heartbeat: String,
    /// The tasks it runs now.
    pub tasks: Vec<i64>,
    /// The accounts (providers) those tasks use.
    pub accounts: Vec<String>,
}

/// This machine's name, for worker ids.
pub fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at most that many bytes.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    match std::str::from_utf8(&buf[..end]) {
        Ok(name) if rc == 0 && !name.is_empty() => name.to_string(),
        _ => "localhost".into(),
    }
}

/// This process as a worker id: `host:pid`.
pub fn worker_id() -> String {
    format!("{}:{}", host_name(), std::process::id())
}

/// What a task keeps between its turns so a later `clk work` goes on where it stopped.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// The checkpoint it waits at (`plan`, `risky:PATH`); empty when it waits at none.
    pub checkpoint: String,
    /// The implementer's last valid handoff, as JSON; empty before the first.
    pub handoff: String,
    /// Checkpoints a person approved, oldest first.
    pub approved: Vec<String>,
    /// How long it was worked, over every `clk work` that ran it (`tasks.max_runtime_s`).
    pub runtime_ms: u64,
}

/// A saved task: its prompt and, when set, its flow, agent and autonomy (empty: the default).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Template {
    pub name: String,
    pub prompt: String,
    pub flow: String,
    pub agent: String,
    pub autonomy: String,
}

/// A context rule: a line every agent working a task of the workspace is given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    pub id: i64,
    pub text: String,
    pub created_at: String,
}

/// See [`TaskStore::list_open`]; the stores' SQL says the same in [`OPEN_TASKS`].
pub fn is_open(t: &Task) -> bool {
    !(t.state == TaskState::Merged || (t.state == TaskState::Cancelled && t.worktree.is_empty()))
}

/// The `WHERE` clause of [`TaskStore::list_open`] over `tasks t`.
const OPEN_TASKS: &str =
    "WHERE NOT (t.state = 'merged' OR (t.state = 'cancelled' AND t.worktree = ''))";

/// What a turn started now reserves under a USD limit: how many turns were kept (none:
/// unknown), and the largest cost of the last 50. Plain SQL both stores read.
const TURN_ESTIMATE: &str = "SELECT COUNT(*), COALESCE(MAX(cost_micros), 0)
     FROM (SELECT cost_micros FROM turns ORDER BY id DESC LIMIT 50) r";

/// Today as the store's day key.
pub fn today() -> String {
    chrono::Utc::now().format("%Y-%m-%d").to_string()
}

/// Now as the store's timestamps.
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The workspace's SQLite task store (`.clk/state/clk.db`), created and migrated on first use.
pub fn open(ws: &Workspace) -> Result<SqliteStore, StoreError> {
    SqliteStore::open(&ws.state_dir().join("clk.db"))
}

/// The task store `url` names: empty is the workspace's SQLite file, `postgres://…` a shared
/// database (migrated on first use; one from a newer clk is refused).
pub fn connect(ws: &Workspace, url: &str, lease_s: u64) -> Result<Arc<dyn TaskStore>, StoreError> {
    let url = url.trim();
    if url.is_empty() {
        return Ok(Arc::new(open(ws)?));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(Arc::new(PgStore::open(url, lease_s)?));
    }
    Err(StoreError {
        path: shown_url(url),
        message: "store.url takes a postgres:// URL, or nothing for SQLite in .clk/state".into(),
    })
}

/// The project's task store, as `store.url` (or `CLK_STORE_URL`) names it.
pub fn open_project(p: &Project) -> Result<Arc<dyn TaskStore>, StoreError> {
    connect(&p.ws, &p.config.store.url, p.config.store.lease_s)
}

#[cfg(test)]
mod tests;
