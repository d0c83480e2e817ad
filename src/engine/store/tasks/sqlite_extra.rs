//! The SQLite side of what the worker asks beyond tasks themselves: daily budgets reserved in
//! one statement, and the `workers` rows `clk workers` lists (this machine's workers).

use rusqlite::{Connection, params};

use super::rows::int;
use super::{WorkerRow, now, today};

/// Add one to `column` of today's counters unless it is at `cap` (0: no cap), or today's cost
/// is at `cost_cap` (0: none). True when counted.
pub(super) fn reserve(
    c: &Connection,
    column: &str,
    cap: u64,
    cost_cap: u64,
) -> rusqlite::Result<bool> {
    let column = if column == "turns" {
        "turns"
    } else {
        "tasks_started"
    };
    c.execute(
        "INSERT INTO budget_days (day) VALUES (?1) ON CONFLICT(day) DO NOTHING",
        [today()],
    )?;
    let n = c.execute(
        &format!(
            "UPDATE budget_days SET {column} = {column} + 1 WHERE day = ?1
               AND (?2 = 0 OR {column} < ?2) AND (?3 = 0 OR cost_micros < ?3)"
        ),
        params![today(), int(cap), int(cost_cap)],
    )?;
    Ok(n == 1)
}

pub(super) fn unreserve_start(c: &Connection) -> rusqlite::Result<()> {
    c.execute(
        "UPDATE budget_days SET tasks_started = MAX(tasks_started - 1, 0) WHERE day = ?1",
        [today()],
    )
    .map(|_| ())
}

fn list<T: serde::Serialize>(v: &[T]) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

pub(super) fn beat(c: &Connection, w: &WorkerRow) -> rusqlite::Result<()> {
    c.execute(
        "INSERT INTO workers (id, host, pid, started_at, heartbeat, tasks, accounts)
         VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6)
         ON CONFLICT(id) DO UPDATE SET heartbeat = ?4, tasks = ?5, accounts = ?6",
        params![
            w.id,
            w.host,
            w.pid,
            now(),
            list(&w.tasks),
            list(&w.accounts)
        ],
    )
    .map(|_| ())
}

pub(super) fn leave(c: &Connection, id: &str) -> rusqlite::Result<()> {
    c.execute("DELETE FROM workers WHERE id = ?1", [id])
        .map(|_| ())
}

pub(super) fn workers(c: &Connection) -> rusqlite::Result<Vec<WorkerRow>> {
    let mut st = c.prepare(
        "SELECT id, host, pid, started_at, heartbeat, tasks, accounts FROM workers
         ORDER BY heartbeat DESC, id",
    )?;
    st.query_map([], |r| {
        Ok(WorkerRow {
            id: r.get(0)?,
            host: r.get(1)?,
            pid: r.get(2)?,
            started_at: r.get(3)?,
            heartbeat: r.get(4)?,
            tasks: serde_json::from_str(&r.get::<_, String>(5)?).unwrap_or_default(),
            accounts: serde_json::from_str(&r.get::<_, String>(6)?).unwrap_or_default(),
        })
    })?
    .collect()
}
