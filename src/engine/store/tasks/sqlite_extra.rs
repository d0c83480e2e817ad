//! The SQLite side of what the worker asks beyond tasks themselves: daily budgets reserved in
//! one statement (a turn's estimated cost held until its real cost is kept, as on
//! PostgreSQL), and the `workers` rows `clk workers` lists (this machine's workers).

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::rows::int;
use super::{DayUsage, TURN_ESTIMATE, WorkerRow, now, today};

/// How many turns were ever kept, and the largest cost of the last ones.
fn estimate(c: &Connection) -> rusqlite::Result<(i64, i64)> {
    c.query_row(TURN_ESTIMATE, [], |r| Ok((r.get(0)?, r.get(1)?)))
}

/// Give back what task `id`'s running turn holds, on the day it was reserved.
pub(super) fn release(c: &Connection, id: i64) -> rusqlite::Result<()> {
    c.execute(
        "UPDATE budget_days
           SET reserved_micros = MAX(reserved_micros
                 - (SELECT reserved_micros FROM tasks WHERE id = ?1), 0),
               reserved_turns = MAX(reserved_turns - 1, 0)
         WHERE day = (SELECT reserved_day FROM tasks WHERE id = ?1 AND reserved_day <> '')",
        [id],
    )?;
    c.execute(
        "UPDATE tasks SET reserved_micros = 0, reserved_day = '' WHERE id = ?1
           AND reserved_day <> ''",
        [id],
    )?;
    Ok(())
}

/// See [`super::TaskStore::reserve_turn`]: the same statement as PostgreSQL's, in a
/// transaction that takes the write lock first.
pub(super) fn reserve_turn(
    c: &mut Connection,
    id: i64,
    turns_cap: u64,
    cost_cap: u64,
) -> rusqlite::Result<bool> {
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
    release(&tx, id)?;
    let (known, est) = estimate(&tx)?;
    let day = today();
    tx.execute(
        "INSERT INTO budget_days (day) VALUES (?1) ON CONFLICT(day) DO NOTHING",
        [&day],
    )?;
    let n = tx.execute(
        "UPDATE budget_days SET turns = turns + 1,
           reserved_micros = reserved_micros + ?4, reserved_turns = reserved_turns + 1
         WHERE day = ?1 AND (?2 = 0 OR turns < ?2)
           AND (?3 = 0 OR (cost_micros < ?3 AND cost_micros + reserved_micros + ?4 <= ?3
             AND (?5 OR reserved_turns = 0)))",
        params![day, int(turns_cap), int(cost_cap), est, known > 0],
    )?;
    if n == 0 {
        return Ok(false);
    }
    tx.execute(
        "UPDATE tasks SET reserved_micros = ?2, reserved_day = ?3 WHERE id = ?1",
        params![id, est, day],
    )?;
    tx.commit()?;
    Ok(true)
}

/// What was used on `day`, and what a turn started now would hold.
pub(super) fn usage(c: &Connection, day: &str) -> rusqlite::Result<DayUsage> {
    let n = |v: i64| u64::try_from(v).unwrap_or(0);
    let mut used = c
        .query_row(
            "SELECT tasks_started, turns, cost_micros, reserved_micros, reserved_turns
             FROM budget_days WHERE day = ?1",
            [day],
            |r| {
                Ok(DayUsage {
                    tasks_started: n(r.get(0)?),
                    turns: n(r.get(1)?),
                    cost_micros: n(r.get(2)?),
                    reserved_micros: n(r.get(3)?),
                    reserved_turns: n(r.get(4)?),
                    next_turn_micros: None,
                })
            },
        )
        .optional()?
        .unwrap_or_default();
    let (known, est) = estimate(c)?;
    used.next_turn_micros = (known > 0).then(|| n(est));
    Ok(used)
}

/// Count one more task started today unless `cap` (0: none) is reached. True when counted.
pub(super) fn reserve_start(c: &Connection, cap: u64) -> rusqlite::Result<bool> {
    c.execute(
        "INSERT INTO budget_days (day) VALUES (?1) ON CONFLICT(day) DO NOTHING",
        [today()],
    )?;
    let n = c.execute(
        "UPDATE budget_days SET tasks_started = tasks_started + 1 WHERE day = ?1
           AND (?2 = 0 OR tasks_started < ?2)",
        params![today(), int(cap)],
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
