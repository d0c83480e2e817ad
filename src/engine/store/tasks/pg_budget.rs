//! The daily budgets on PostgreSQL, exact over every worker: a start or a turn is counted in
//! the one `UPDATE` that checks its cap, so racing workers wait for each other's update and
//! read the cap again. A turn under a USD limit also holds an estimate of its cost (on the
//! day's row and on its task) until its real cost is kept or its task stops running.

use postgres::GenericClient;

use super::postgres::{PgResult, PgStore, big};
use super::{DayUsage, StoreError, TURN_ESTIMATE, today};

/// How many turns were ever kept, and the largest cost of the last ones.
fn estimate(c: &mut impl GenericClient) -> PgResult<(i64, i64)> {
    let r = c.query_one(TURN_ESTIMATE, &[])?;
    Ok((r.get(0), r.get(1)))
}

fn day_row(c: &mut impl GenericClient, day: &str) -> PgResult<()> {
    c.execute(
        "INSERT INTO budget_days (day) VALUES ($1) ON CONFLICT (day) DO NOTHING",
        &[&day],
    )?;
    Ok(())
}

/// Give back what task `id`'s running turn holds, on the day it was reserved. Callers hold
/// the task's row first (then the day's), the order every budget change takes.
pub(super) fn release(c: &mut impl GenericClient, id: i64) -> PgResult<()> {
    c.execute(
        "UPDATE budget_days b
           SET reserved_micros = GREATEST(b.reserved_micros - t.reserved_micros, 0),
               reserved_turns = GREATEST(b.reserved_turns - 1, 0)
         FROM tasks t WHERE t.id = $1 AND t.reserved_day <> '' AND b.day = t.reserved_day",
        &[&id],
    )?;
    c.execute(
        "UPDATE tasks SET reserved_micros = 0, reserved_day = '' WHERE id = $1
           AND reserved_day <> ''",
        &[&id],
    )?;
    Ok(())
}

impl PgStore {
    /// Count one more start today unless `cap` (0: none) is reached.
    pub(super) fn reserve_start_row(&self, cap: u64) -> Result<bool, StoreError> {
        let cap = big(cap);
        self.with(move |c| {
            let day = today();
            day_row(c, &day)?;
            let n = c.execute(
                "UPDATE budget_days SET tasks_started = tasks_started + 1 WHERE day = $1
                   AND ($2::BIGINT = 0 OR tasks_started < $2::BIGINT)",
                &[&day, &cap],
            )?;
            Ok(n == 1)
        })
    }

    pub(super) fn unreserve(&self) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(
                "UPDATE budget_days SET tasks_started = GREATEST(tasks_started - 1, 0)
                 WHERE day = $1",
                &[&today()],
            )?;
            Ok(())
        })
    }

    /// See [`super::TaskStore::reserve_turn`].
    pub(super) fn reserve_turn_row(
        &self,
        id: i64,
        turns_cap: u64,
        cost_cap: u64,
    ) -> Result<bool, StoreError> {
        let (turns_cap, cost_cap) = (big(turns_cap), big(cost_cap));
        self.with(move |c| {
            let mut tx = c.transaction()?;
            // The task's row first, as every move does, then the day's: no deadlock.
            tx.execute("SELECT 1 FROM tasks WHERE id = $1 FOR UPDATE", &[&id])?;
            release(&mut tx, id)?;
            let (known, est) = estimate(&mut tx)?;
            let day = today();
            day_row(&mut tx, &day)?;
            // One statement: a racing worker's update is waited for and the caps read again.
            let n = tx.execute(
                "UPDATE budget_days SET turns = turns + 1,
                   reserved_micros = reserved_micros + $4, reserved_turns = reserved_turns + 1
                 WHERE day = $1 AND ($2::BIGINT = 0 OR turns < $2::BIGINT)
                   AND ($3::BIGINT = 0 OR (cost_micros < $3::BIGINT
                     AND cost_micros + reserved_micros + $4 <= $3::BIGINT
                     AND ($5 OR reserved_turns = 0)))",
                &[&day, &turns_cap, &cost_cap, &est, &(known > 0)],
            )?;
            if n == 0 {
                return Ok(false);
            }
            tx.execute(
                "UPDATE tasks SET reserved_micros = $2, reserved_day = $3 WHERE id = $1",
                &[&id, &est, &day],
            )?;
            tx.commit()?;
            Ok(true)
        })
    }

    pub(super) fn usage(&self, day: &str) -> Result<DayUsage, StoreError> {
        self.with(|c| {
            let row = c.query_opt(
                "SELECT tasks_started, turns, cost_micros, reserved_micros, reserved_turns
                 FROM budget_days WHERE day = $1",
                &[&day],
            )?;
            let (known, est) = estimate(c)?;
            let n = |r: &postgres::Row, i| r.get::<_, i64>(i).try_into().unwrap_or(0);
            let mut used = row.map_or_else(DayUsage::default, |r| DayUsage {
                tasks_started: n(&r, 0),
                turns: n(&r, 1),
                cost_micros: n(&r, 2),
                reserved_micros: n(&r, 3),
                reserved_turns: n(&r, 4),
                next_turn_micros: None,
            });
            used.next_turn_micros = (known > 0).then(|| est.try_into().unwrap_or(0));
            Ok(used)
        })
    }
}
