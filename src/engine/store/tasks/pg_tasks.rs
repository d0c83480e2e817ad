//! The [`TaskStore`] calls of the PostgreSQL back end: the same answers as SQLite's, so `clk
//! task ...` reads the same against either store. Leases, budgets and workers are in
//! `postgres.rs`.

use super::pg_budget::release;
use super::pg_rows::{self, TASK_COLUMNS, all};
use super::postgres::{PgResult, PgStore, big, line};
use super::{
    DayUsage, Move, NewTask, Progress, Rule, StoreError, Task, TaskStore, Template, TimelineEntry,
    TurnRecord, WorkerRow, now, today,
};
use crate::engine::ground::redact::redact_text;

fn get_with(c: &mut impl postgres::GenericClient, id: i64) -> PgResult<Option<Task>> {
    let row = c.query_opt(
        &format!("SELECT {TASK_COLUMNS} FROM tasks t WHERE t.id = $1"),
        &[&id],
    )?;
    Ok(row.as_ref().map(pg_rows::task).transpose()?)
}

fn files(list: &[String]) -> String {
    serde_json::to_string(list).unwrap_or_else(|_| "[]".into())
}

fn update(s: &PgStore, sql: &'static str, id: i64, value: String) -> Result<(), StoreError> {
    s.with(move |c| {
        c.execute(sql, &[&id, &value, &now()])?;
        Ok(())
    })
}

impl TaskStore for PgStore {
    fn add(&self, t: &NewTask) -> Result<Task, StoreError> {
        self.with(|c| {
            let mut tx = c.transaction()?;
            let at = now();
            let id: i64 = tx
                .query_one(
                    "INSERT INTO tasks (prompt, flow, agent, autonomy, state, requested_by,
                       created_at, updated_at)
                     VALUES ($1, $2, $3, $4, 'queued', $5, $6, $6) RETURNING id",
                    &[
                        &redact_text(&t.prompt),
                        &t.flow,
                        &t.agent,
                        &t.autonomy,
                        &t.requested_by,
                        &at,
                    ],
                )?
                .get(0);
            line(
                &mut tx,
                id,
                "added",
                &format!("queued by {}", t.requested_by),
                &at,
            )?;
            let task = get_with(&mut tx, id)?;
            tx.commit()?;
            task.ok_or_else(|| super::postgres::PgErr("the new task vanished".into()))
        })
    }

    fn get(&self, id: i64) -> Result<Option<Task>, StoreError> {
        self.with(|c| get_with(c, id))
    }

    fn list(&self) -> Result<Vec<Task>, StoreError> {
        self.with(|c| {
            let rows = c.query(
                &format!("SELECT {TASK_COLUMNS} FROM tasks t ORDER BY t.id"),
                &[],
            )?;
            Ok(all(rows, pg_rows::task)?)
        })
    }

    fn list_open(&self) -> Result<Vec<Task>, StoreError> {
        self.with(|c| {
            let rows = c.query(
                &format!(
                    "SELECT {TASK_COLUMNS} FROM tasks t {} ORDER BY t.id",
                    super::OPEN_TASKS
                ),
                &[],
            )?;
            Ok(all(rows, pg_rows::task)?)
        })
    }

    fn move_state(&self, m: &Move<'_>, pid: u32) -> Result<bool, StoreError> {
        self.claim_row(m, pid, "", 0, None)
    }

    fn set_reason(&self, id: i64, reason: &str) -> Result<(), StoreError> {
        let sql = "UPDATE tasks SET reason = $2, updated_at = $3 WHERE id = $1";
        update(self, sql, id, redact_text(reason))
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
                "UPDATE tasks SET branch = $2, worktree = $3, base = $4, updated_at = $5
                 WHERE id = $1",
                &[&id, &branch, &path, &base, &now()],
            )?;
            Ok(())
        })
    }

    fn set_predicted(&self, id: i64, list: &[String]) -> Result<(), StoreError> {
        let sql = "UPDATE tasks SET predicted_files = $2, updated_at = $3 WHERE id = $1";
        update(self, sql, id, files(list))
    }

    fn set_touched(&self, id: i64, list: &[String]) -> Result<(), StoreError> {
        let sql = "UPDATE tasks SET touched_files = $2, updated_at = $3 WHERE id = $1";
        update(self, sql, id, files(list))
    }

    fn heartbeat(&self, _pid: u32) -> Result<(), StoreError> {
        self.renew()
    }

    fn log(&self, id: i64, kind: &str, text: &str) -> Result<(), StoreError> {
        self.with(|c| line(c, id, kind, text, &now()))
    }

    fn timeline(&self, id: i64) -> Result<Vec<TimelineEntry>, StoreError> {
        self.with(|c| {
            let rows = c.query(
                "SELECT at, kind, text FROM timeline WHERE task_id = $1 ORDER BY id",
                &[&id],
            )?;
            Ok(all(rows, pg_rows::entry)?)
        })
    }

    fn record_turn(&self, id: i64, t: &TurnRecord) -> Result<(), StoreError> {
        self.with(|c| {
            let mut tx = c.transaction()?;
            // The task's row first, then the day's, as every budget change takes them.
            tx.execute("SELECT 1 FROM tasks WHERE id = $1 FOR UPDATE", &[&id])?;
            release(&mut tx, id)?;
            tx.execute(
                "INSERT INTO turns (task_id, n, role, agent, provider, dispatch_id, ok,
                   input_tokens, output_tokens, cost_micros, summary, at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                &[
                    &id,
                    &i64::from(t.n),
                    &t.role,
                    &t.agent,
                    &t.provider,
                    &t.dispatch_id,
                    &t.ok,
                    &big(t.input_tokens),
                    &big(t.output_tokens),
                    &big(t.cost_micros),
                    &redact_text(&t.summary),
                    &t.at,
                ],
            )?;
            let text = format!("{} turn {} ({}): {}", t.role, t.n, t.provider, t.summary);
            line(&mut tx, id, "turn", &text, &t.at)?;
            // The turn itself was counted when it was reserved (`reserve_turn`).
            tx.execute(
                "INSERT INTO budget_days (day, cost_micros) VALUES ($1, $2)
                 ON CONFLICT (day) DO UPDATE SET cost_micros = budget_days.cost_micros + $2",
                &[&today(), &big(t.cost_micros)],
            )?;
            tx.commit()?;
            Ok(())
        })
    }

    fn turns(&self, id: i64) -> Result<Vec<TurnRecord>, StoreError> {
        self.with(|c| {
            let rows = c.query(
                "SELECT n, role, agent, provider, dispatch_id, ok, input_tokens, output_tokens,
                   cost_micros, summary, at FROM turns WHERE task_id = $1 ORDER BY id",
                &[&id],
            )?;
            Ok(all(rows, pg_rows::turn)?)
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
        self.with(|c| {
            let mut tx = c.transaction()?;
            let at = now();
            let note = redact_text(note);
            tx.execute(
                "INSERT INTO approvals (task_id, by_whom, note, at, checkpoint)
                 VALUES ($1, $2, $3, $4, $5)",
                &[&id, &by, &note, &at, &checkpoint],
            )?;
            let what = if checkpoint.is_empty() {
                "its merge".to_string()
            } else {
                format!("checkpoint {checkpoint}")
            };
            let mut text = format!("{what} approved by {by} at {at}");
            if !note.is_empty() {
                text.push_str(&format!(": {note}"));
            }
            line(&mut tx, id, "approval", &text, &at)?;
            tx.commit()?;
            Ok(())
        })
    }

    fn progress(&self, id: i64) -> Result<Progress, StoreError> {
        self.with(|c| {
            let r = c.query_one(
                "SELECT checkpoint, handoff, runtime_ms FROM tasks WHERE id = $1",
                &[&id],
            )?;
            let approved = c
                .query(
                    "SELECT checkpoint FROM approvals WHERE task_id = $1 AND checkpoint != ''
                     ORDER BY id",
                    &[&id],
                )?
                .iter()
                .map(|r| r.get(0))
                .collect();
            Ok(Progress {
                checkpoint: r.get(0),
                handoff: r.get(1),
                approved,
                runtime_ms: r.get::<_, i64>(2).try_into().unwrap_or(0),
            })
        })
    }

    fn set_checkpoint(&self, id: i64, name: &str) -> Result<(), StoreError> {
        let sql = "UPDATE tasks SET checkpoint = $2, updated_at = $3 WHERE id = $1";
        update(self, sql, id, name.to_string())
    }

    fn set_handoff(&self, id: i64, json: &str) -> Result<(), StoreError> {
        let sql = "UPDATE tasks SET handoff = $2, updated_at = $3 WHERE id = $1";
        update(self, sql, id, redact_text(json))
    }

    fn add_runtime(&self, id: i64, ms: u64) -> Result<u64, StoreError> {
        self.with(|c| {
            let total: i64 = c
                .query_one(
                    "UPDATE tasks SET runtime_ms = runtime_ms + $2 WHERE id = $1
                     RETURNING runtime_ms",
                    &[&id, &big(ms)],
                )?
                .get(0);
            Ok(total.try_into().unwrap_or(0))
        })
    }

    fn count_started(&self) -> Result<(), StoreError> {
        self.reserve_start_row(0).map(|_| ())
    }

    fn day_usage(&self, day: &str) -> Result<DayUsage, StoreError> {
        self.usage(day)
    }

    fn add_rule(&self, text: &str) -> Result<i64, StoreError> {
        self.with(|c| {
            Ok(c.query_one(
                "INSERT INTO context_rules (text, created_at) VALUES ($1, $2) RETURNING id",
                &[&redact_text(text), &now()],
            )?
            .get(0))
        })
    }

    fn rules(&self) -> Result<Vec<Rule>, StoreError> {
        self.with(|c| {
            let rows = c.query(
                "SELECT id, text, created_at FROM context_rules ORDER BY id",
                &[],
            )?;
            Ok(rows
                .iter()
                .map(|r| Rule {
                    id: r.get(0),
                    text: r.get(1),
                    created_at: r.get(2),
                })
                .collect())
        })
    }

    fn remove_rule(&self, id: i64) -> Result<bool, StoreError> {
        self.with(|c| Ok(c.execute("DELETE FROM context_rules WHERE id = $1", &[&id])? > 0))
    }

    fn save_template(&self, t: &Template) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(
                "INSERT INTO templates (name, prompt, flow, agent, autonomy, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (name) DO UPDATE SET prompt = $2, flow = $3, agent = $4,
                   autonomy = $5",
                &[
                    &t.name,
                    &redact_text(&t.prompt),
                    &t.flow,
                    &t.agent,
                    &t.autonomy,
                    &now(),
                ],
            )?;
            Ok(())
        })
    }

    fn template(&self, name: &str) -> Result<Option<Template>, StoreError> {
        self.with(|c| {
            let row = c.query_opt(
                "SELECT name, prompt, flow, agent, autonomy FROM templates WHERE name = $1",
                &[&name],
            )?;
            Ok(row.as_ref().map(pg_rows::template).transpose()?)
        })
    }

    fn templates(&self) -> Result<Vec<Template>, StoreError> {
        self.with(|c| {
            let rows = c.query(
                "SELECT name, prompt, flow, agent, autonomy FROM templates ORDER BY name",
                &[],
            )?;
            Ok(all(rows, pg_rows::template)?)
        })
    }

    fn shared(&self) -> bool {
        true
    }

    fn claim(
        &self,
        m: &Move<'_>,
        pid: u32,
        account: &str,
        limit: u32,
        start_cap: Option<u64>,
    ) -> Result<bool, StoreError> {
        self.claim_row(m, pid, account, limit, Some(start_cap))
    }

    fn requeue_expired(&self) -> Result<Vec<(i64, String)>, StoreError> {
        self.expired()
    }

    fn reserve_start(&self, cap: u64) -> Result<bool, StoreError> {
        self.reserve_start_row(cap)
    }

    fn unreserve_start(&self) -> Result<(), StoreError> {
        self.unreserve()
    }

    fn reserve_turn(&self, id: i64, turns_cap: u64, cost_cap: u64) -> Result<bool, StoreError> {
        self.reserve_turn_row(id, turns_cap, cost_cap)
    }

    fn beat(&self, w: &WorkerRow) -> Result<(), StoreError> {
        self.beat_row(w)
    }

    fn leave(&self, id: &str) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute("DELETE FROM workers WHERE id = $1", &[&id])?;
            Ok(())
        })
    }

    fn workers(&self) -> Result<Vec<WorkerRow>, StoreError> {
        self.worker_rows()
    }

    fn set_unpushed(&self, id: i64, sha: &str, reason: &str) -> Result<(), StoreError> {
        let reason = redact_text(reason);
        self.with(|c| {
            let mut tx = c.transaction()?;
            let at = now();
            let n = tx.execute(
                "UPDATE tasks SET unpushed = $2, reason = $3, updated_at = $4
                 WHERE id = $1 AND (unpushed <> $2 OR reason <> $3)",
                &[&id, &sha, &reason, &at],
            )?;
            if n > 0 {
                line(&mut tx, id, "push", &reason, &at)?;
            }
            tx.commit()?;
            Ok(())
        })
    }

    fn unpushed(&self) -> Result<Vec<Task>, StoreError> {
        self.with(|c| {
            let rows = c.query(
                &format!("SELECT {TASK_COLUMNS} FROM tasks t WHERE t.unpushed <> '' ORDER BY t.id"),
                &[],
            )?;
            Ok(all(rows, pg_rows::task)?)
        })
    }

    fn wake(&self) -> Option<std::sync::Arc<tokio::sync::Notify>> {
        self.waker().ok()
    }

    fn merge_lock(&self) -> Result<bool, StoreError> {
        self.lock_merges(true)
    }

    fn merge_unlock(&self) -> Result<(), StoreError> {
        self.lock_merges(false).map(|_| ())
    }
}
