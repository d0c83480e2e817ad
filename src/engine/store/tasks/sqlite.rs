//! The SQLite task store: one file, WAL, a busy timeout so processes take turns, and the
//! migrations of `schema.rs` applied in order on open.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};

use super::rows::{TASK_COLUMNS, int, json, task_row, template_row};
use super::schema::{migrate, version};
use super::{
    DayUsage, Move, NewTask, Progress, Rule, StoreError, Task, TaskStore, Template, TimelineEntry,
    TurnRecord, WorkerRow, now, progress, sqlite_extra, today,
};
use crate::engine::ground::redact::redact_text;
use crate::engine::ground::task::TaskState;

/// The SQLite back end.
pub struct SqliteStore {
    path: PathBuf,
    conn: Mutex<Connection>,
}

impl SqliteStore {
    /// Open (creating and migrating) the database at `path`.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let fail = |e: &dyn std::fmt::Display| StoreError {
            path: path.display().to_string(),
            message: e.to_string(),
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| fail(&e))?;
        }
        let mut conn = Connection::open(path).map_err(|e| fail(&e))?;
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(|e| fail(&e))?;
        // Switching a new database to WAL and migrating it need a lock that SQLite may refuse
        // at once (without waiting) while another process does the same: try again briefly.
        busy_retry(|| conn.pragma_update(None, "journal_mode", "WAL")).map_err(|e| fail(&e))?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(|e| fail(&e))?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(|e| fail(&e))?;
        busy_retry(|| migrate(&mut conn)).map_err(|e| fail(&e))?;
        Ok(SqliteStore {
            path: path.to_path_buf(),
            conn: Mutex::new(conn),
        })
    }

    /// The version the database is at (the number of migrations applied).
    pub fn version(&self) -> Result<u32, StoreError> {
        self.with(|c| version(c))
    }

    pub(super) fn with<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut conn).map_err(|e| StoreError {
            path: self.path.display().to_string(),
            message: e.to_string(),
        })
    }

    fn get_with(c: &Connection, id: i64) -> rusqlite::Result<Option<Task>> {
        c.query_row(
            &format!("SELECT {TASK_COLUMNS} FROM tasks t WHERE t.id = ?1"),
            [id],
            task_row,
        )
        .optional()
    }
}

/// Run `f` again while SQLite answers "busy" without having waited (at most about 5 s).
fn busy_retry<T>(mut f: impl FnMut() -> rusqlite::Result<T>) -> rusqlite::Result<T> {
    let mut tries = 0u32;
    loop {
        match f() {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy && tries < 100 =>
            {
                tries += 1;
                std::thread::sleep(Duration::from_millis(20 + u64::from(tries % 7) * 5));
            }
            other => return other,
        }
    }
}

pub(super) fn bump_day(c: &Connection, tasks: u64, turns: u64, cost: u64) -> rusqlite::Result<()> {
    c.execute(
        "INSERT INTO budget_days (day, tasks_started, turns, cost_micros) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(day) DO UPDATE SET tasks_started = tasks_started + ?2,
           turns = turns + ?3, cost_micros = cost_micros + ?4",
        params![today(), int(tasks), int(turns), int(cost)],
    )?;
    Ok(())
}

impl TaskStore for SqliteStore {
    fn add(&self, t: &NewTask) -> Result<Task, StoreError> {
        self.with(|c| {
            let at = now();
            c.execute(
                "INSERT INTO tasks (prompt, flow, agent, autonomy, state, requested_by, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, 'queued', ?5, ?6, ?6)",
                params![redact_text(&t.prompt), t.flow, t.agent, t.autonomy, t.requested_by, at],
            )?;
            let id = c.last_insert_rowid();
            c.execute(
                "INSERT INTO timeline (task_id, kind, text, at) VALUES (?1, 'added', ?2, ?3)",
                params![id, format!("queued by {}", t.requested_by), at],
            )?;
            Self::get_with(c, id)?.ok_or(rusqlite::Error::QueryReturnedNoRows)
        })
    }

    fn get(&self, id: i64) -> Result<Option<Task>, StoreError> {
        self.with(|c| Self::get_with(c, id))
    }

    fn list(&self) -> Result<Vec<Task>, StoreError> {
        self.with(|c| {
            let mut st = c.prepare(&format!("SELECT {TASK_COLUMNS} FROM tasks t ORDER BY t.id"))?;
            st.query_map([], task_row)?.collect()
        })
    }

    fn list_open(&self) -> Result<Vec<Task>, StoreError> {
        self.with(|c| {
            let mut st = c.prepare(&format!(
                "SELECT {TASK_COLUMNS} FROM tasks t {} ORDER BY t.id",
                super::OPEN_TASKS
            ))?;
            st.query_map([], task_row)?.collect()
        })
    }

    fn move_state(&self, m: &Move<'_>, pid: u32) -> Result<bool, StoreError> {
        self.with(|c| {
            let tx = c.transaction()?;
            let state: Option<String> = tx
                .query_row("SELECT state FROM tasks WHERE id = ?1", [m.id], |r| r.get(0))
                .optional()?;
            let Some(state) = state.and_then(|s| TaskState::parse(&s)) else {
                return Ok(false);
            };
            if !m.from.contains(&state) {
                return Ok(false);
            }
            let at = now();
            let (lease_pid, heartbeat) = if m.to == TaskState::Running {
                (i64::from(pid), at.clone())
            } else {
                (0, String::new())
            };
            tx.execute(
                "UPDATE tasks SET state = ?2, reason = ?3, lease_pid = ?4, lease_heartbeat = ?5,
                   updated_at = ?6,
                   started_at = CASE WHEN ?2 = 'running' AND started_at = '' THEN ?6 ELSE started_at END,
                   finished_at = CASE WHEN ?2 IN ('merged', 'cancelled') THEN ?6 ELSE '' END
                 WHERE id = ?1",
                params![m.id, m.to.name(), redact_text(m.reason), lease_pid, heartbeat, at],
            )?;
            if m.to != TaskState::Running {
                sqlite_extra::release(&tx, m.id)?;
            }
            let text = redact_text(&if m.reason.is_empty() {
                format!("{} → {}", state.name(), m.to.name())
            } else {
                format!("{} → {}: {}", state.name(), m.to.name(), m.reason)
            });
            tx.execute(
                "INSERT INTO timeline (task_id, kind, text, at) VALUES (?1, 'state', ?2, ?3)",
                params![m.id, text, at],
            )?;
            tx.commit()?;
            Ok(true)
        })
    }

    fn set_reason(&self, id: i64, reason: &str) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(
                "UPDATE tasks SET reason = ?2, updated_at = ?3 WHERE id = ?1",
                params![id, redact_text(reason), now()],
            )
            .map(|_| ())
        })
    }

    fn set_worktree(
        &self,
        id: i64,
        branch: &str,
        path: &str,
        base: &str,
    ) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(
                "UPDATE tasks SET branch = ?2, worktree = ?3, base = ?4, updated_at = ?5 WHERE id = ?1",
                params![id, branch, path, base, now()],
            )
            .map(|_| ())
        })
    }

    fn set_predicted(&self, id: i64, files: &[String]) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(
                "UPDATE tasks SET predicted_files = ?2 WHERE id = ?1",
                params![id, json(files)],
            )
            .map(|_| ())
        })
    }

    fn set_touched(&self, id: i64, files: &[String]) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(
                "UPDATE tasks SET touched_files = ?2 WHERE id = ?1",
                params![id, json(files)],
            )
            .map(|_| ())
        })
    }

    fn heartbeat(&self, pid: u32) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(
                "UPDATE tasks SET lease_heartbeat = ?2 WHERE lease_pid = ?1 AND state = 'running'",
                params![i64::from(pid), now()],
            )
            .map(|_| ())
        })
    }

    fn log(&self, id: i64, kind: &str, text: &str) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(
                "INSERT INTO timeline (task_id, kind, text, at) VALUES (?1, ?2, ?3, ?4)",
                params![id, kind, redact_text(text), now()],
            )
            .map(|_| ())
        })
    }

    fn timeline(&self, id: i64) -> Result<Vec<TimelineEntry>, StoreError> {
        self.with(|c| {
            let mut st =
                c.prepare("SELECT at, kind, text FROM timeline WHERE task_id = ?1 ORDER BY id")?;
            st.query_map([id], |r| {
                Ok(TimelineEntry {
                    at: r.get(0)?,
                    kind: r.get(1)?,
                    text: r.get(2)?,
                })
            })?
            .collect()
        })
    }

    fn record_turn(&self, id: i64, t: &TurnRecord) -> Result<(), StoreError> {
        self.with(|c| {
            let tx = c.transaction()?;
            tx.execute(
                "INSERT INTO turns (task_id, n, role, agent, provider, dispatch_id, ok,
                   input_tokens, output_tokens, cost_micros, summary, at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                params![
                    id,
                    t.n,
                    t.role,
                    t.agent,
                    t.provider,
                    t.dispatch_id,
                    t.ok,
                    int(t.input_tokens),
                    int(t.output_tokens),
                    int(t.cost_micros),
                    redact_text(&t.summary),
                    t.at
                ],
            )?;
            let line = format!("{} turn {} ({}): {}", t.role, t.n, t.provider, t.summary);
            tx.execute(
                "INSERT INTO timeline (task_id, kind, text, at) VALUES (?1, 'turn', ?2, ?3)",
                params![id, redact_text(&line), t.at],
            )?;
            // The turn itself was counted when it was reserved (`reserve_turn`).
            bump_day(&tx, 0, 0, t.cost_micros)?;
            sqlite_extra::release(&tx, id)?;
            tx.commit()
        })
    }

    fn turns(&self, id: i64) -> Result<Vec<TurnRecord>, StoreError> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT n, role, agent, provider, dispatch_id, ok, input_tokens, output_tokens,
                   cost_micros, summary, at FROM turns WHERE task_id = ?1 ORDER BY id",
            )?;
            st.query_map([id], |r| {
                Ok(TurnRecord {
                    n: r.get(0)?,
                    role: r.get(1)?,
                    agent: r.get(2)?,
                    provider: r.get(3)?,
                    dispatch_id: r.get(4)?,
                    ok: r.get(5)?,
                    input_tokens: r.get::<_, i64>(6)?.try_into().unwrap_or(0),
                    output_tokens: r.get::<_, i64>(7)?.try_into().unwrap_or(0),
                    cost_micros: r.get::<_, i64>(8)?.try_into().unwrap_or(0),
                    summary: r.get(9)?,
                    at: r.get(10)?,
                })
            })?
            .collect()
        })
    }

    fn approve(&self, id: i64, by: &str, note: &str) -> Result<(), StoreError> {
        self.approve_at(id, "", by, note)
    }

    fn approve_at(
        &self,
        id: i64,
        checkpoint: &str,
        by: &str,
        note: &str,
    ) -> Result<(), StoreError> {
        self.with(|c| progress::approve(c, id, checkpoint, by, note))
    }

    fn progress(&self, id: i64) -> Result<Progress, StoreError> {
        self.with(|c| progress::read(c, id))
    }

    fn set_checkpoint(&self, id: i64, name: &str) -> Result<(), StoreError> {
        self.with(|c| progress::set_checkpoint(c, id, name))
    }

    fn set_handoff(&self, id: i64, json: &str) -> Result<(), StoreError> {
        self.with(|c| progress::set_handoff(c, id, json))
    }

    fn add_runtime(&self, id: i64, ms: u64) -> Result<u64, StoreError> {
        self.with(|c| progress::add_runtime(c, id, ms))
    }

    fn count_started(&self) -> Result<(), StoreError> {
        self.with(|c| bump_day(c, 1, 0, 0))
    }

    fn day_usage(&self, day: &str) -> Result<DayUsage, StoreError> {
        self.with(|c| sqlite_extra::usage(c, day))
    }

    fn add_rule(&self, text: &str) -> Result<i64, StoreError> {
        self.with(|c| {
            c.execute(
                "INSERT INTO context_rules (text, created_at) VALUES (?1, ?2)",
                params![redact_text(text), now()],
            )?;
            Ok(c.last_insert_rowid())
        })
    }

    fn rules(&self) -> Result<Vec<Rule>, StoreError> {
        self.with(|c| {
            let mut st = c.prepare("SELECT id, text, created_at FROM context_rules ORDER BY id")?;
            st.query_map([], |r| {
                Ok(Rule {
                    id: r.get(0)?,
                    text: r.get(1)?,
                    created_at: r.get(2)?,
                })
            })?
            .collect()
        })
    }

    fn remove_rule(&self, id: i64) -> Result<bool, StoreError> {
        self.with(|c| Ok(c.execute("DELETE FROM context_rules WHERE id = ?1", [id])? > 0))
    }

    fn save_template(&self, t: &Template) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(
                "INSERT INTO templates (name, prompt, flow, agent, autonomy, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT(name) DO UPDATE SET prompt = ?2, flow = ?3, agent = ?4, autonomy = ?5",
                params![
                    t.name,
                    redact_text(&t.prompt),
                    t.flow,
                    t.agent,
                    t.autonomy,
                    now()
                ],
            )
            .map(|_| ())
        })
    }

    fn template(&self, name: &str) -> Result<Option<Template>, StoreError> {
        self.with(|c| {
            c.query_row(
                "SELECT name, prompt, flow, agent, autonomy FROM templates WHERE name = ?1",
                [name],
                template_row,
            )
            .optional()
        })
    }

    fn templates(&self) -> Result<Vec<Template>, StoreError> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT name, prompt, flow, agent, autonomy FROM templates ORDER BY name",
            )?;
            st.query_map([], template_row)?.collect()
        })
    }

    fn claim(
        &self,
        m: &Move<'_>,
        pid: u32,
        _account: &str,
        _limit: u32,
        start_cap: Option<u64>,
    ) -> Result<bool, StoreError> {
        // One machine: the worker counts its own tasks per account (`work.rs`).
        if let Some(cap) = start_cap {
            if !self.reserve_start(cap)? {
                return Ok(false);
            }
        }
        let moved = self.move_state(m, pid)?;
        if !moved && start_cap.is_some() {
            self.unreserve_start()?;
        }
        Ok(moved)
    }

    fn reserve_start(&self, cap: u64) -> Result<bool, StoreError> {
        self.with(|c| sqlite_extra::reserve_start(c, cap))
    }

    fn unreserve_start(&self) -> Result<(), StoreError> {
        self.with(|c| sqlite_extra::unreserve_start(c))
    }

    fn reserve_turn(&self, id: i64, turns_cap: u64, cost_cap: u64) -> Result<bool, StoreError> {
        self.with(|c| sqlite_extra::reserve_turn(c, id, turns_cap, cost_cap))
    }

    fn beat(&self, w: &WorkerRow) -> Result<(), StoreError> {
        self.with(|c| sqlite_extra::beat(c, w))
    }

    fn leave(&self, id: &str) -> Result<(), StoreError> {
        self.with(|c| sqlite_extra::leave(c, id))
    }

    fn workers(&self) -> Result<Vec<WorkerRow>, StoreError> {
        self.with(|c| sqlite_extra::workers(c))
    }
}
