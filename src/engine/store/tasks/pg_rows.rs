//! Rows of the PostgreSQL task store read into their types (the same `Task` SQLite gives).

use postgres::Row;

use super::{Task, Template, TimelineEntry, TurnRecord};
use crate::engine::ground::task::TaskState;

pub(super) const TASK_COLUMNS: &str = "t.id, t.prompt, t.flow, t.agent, t.autonomy, t.state, t.reason, \
     t.branch, t.worktree, t.base, t.requested_by, t.predicted_files, t.touched_files, \
     t.lease_pid, t.lease_heartbeat, t.created_at, t.updated_at, t.started_at, t.finished_at, \
     (SELECT COUNT(*) FROM turns u WHERE u.task_id = t.id), \
     (SELECT COALESCE(SUM(cost_micros), 0)::BIGINT FROM turns u WHERE u.task_id = t.id), \
     t.unpushed";

fn files(text: String) -> Vec<String> {
    serde_json::from_str(&text).unwrap_or_default()
}

fn count(r: &Row, i: usize) -> Result<u64, postgres::Error> {
    Ok(r.try_get::<_, i64>(i)?.try_into().unwrap_or(0))
}

pub(super) fn task(r: &Row) -> Result<Task, postgres::Error> {
    let state: String = r.try_get(5)?;
    Ok(Task {
        id: r.try_get(0)?,
        prompt: r.try_get(1)?,
        flow: r.try_get(2)?,
        agent: r.try_get(3)?,
        autonomy: r.try_get(4)?,
        // A state this version does not know (a newer clk wrote it) reads as failed.
        state: TaskState::parse(&state).unwrap_or(TaskState::Failed),
        reason: r.try_get(6)?,
        branch: r.try_get(7)?,
        worktree: r.try_get(8)?,
        base: r.try_get(9)?,
        requested_by: r.try_get(10)?,
        predicted_files: files(r.try_get(11)?),
        touched_files: files(r.try_get(12)?),
        lease_pid: u32::try_from(count(r, 13)?).unwrap_or(0),
        lease_heartbeat: r.try_get(14)?,
        created_at: r.try_get(15)?,
        updated_at: r.try_get(16)?,
        started_at: r.try_get(17)?,
        finished_at: r.try_get(18)?,
        turns: u32::try_from(count(r, 19)?).unwrap_or(u32::MAX),
        cost_micros: count(r, 20)?,
        unpushed: r.try_get(21)?,
    })
}

pub(super) fn turn(r: &Row) -> Result<TurnRecord, postgres::Error> {
    Ok(TurnRecord {
        n: u32::try_from(count(r, 0)?).unwrap_or(u32::MAX),
        role: r.try_get(1)?,
        agent: r.try_get(2)?,
        provider: r.try_get(3)?,
        dispatch_id: r.try_get(4)?,
        ok: r.try_get(5)?,
        input_tokens: count(r, 6)?,
        output_tokens: count(r, 7)?,
        cost_micros: count(r, 8)?,
        summary: r.try_get(9)?,
        at: r.try_get(10)?,
    })
}

pub(super) fn entry(r: &Row) -> Result<TimelineEntry, postgres::Error> {
    Ok(TimelineEntry {
        at: r.try_get(0)?,
        kind: r.try_get(1)?,
        text: r.try_get(2)?,
    })
}

pub(super) fn template(r: &Row) -> Result<Template, postgres::Error> {
    Ok(Template {
        name: r.try_get(0)?,
        prompt: r.try_get(1)?,
        flow: r.try_get(2)?,
        agent: r.try_get(3)?,
        autonomy: r.try_get(4)?,
    })
}

pub(super) fn all<T>(
    rows: Vec<Row>,
    f: impl Fn(&Row) -> Result<T, postgres::Error>,
) -> Result<Vec<T>, postgres::Error> {
    rows.iter().map(f).collect()
}
