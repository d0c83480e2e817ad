//! Rows of the SQLite task store read into their types, and values written into columns.

use rusqlite::Row;

use super::{Task, Template};
use crate::engine::ground::task::TaskState;

pub(super) const TASK_COLUMNS: &str = "t.id, t.prompt, t.flow, t.agent, t.autonomy, t.state, t.reason, \
     t.branch, t.worktree, t.base, t.requested_by, t.predicted_files, t.touched_files, \
     t.lease_pid, t.lease_heartbeat, t.created_at, t.updated_at, t.started_at, t.finished_at, \
     (SELECT COUNT(*) FROM turns u WHERE u.task_id = t.id), \
     (SELECT COALESCE(SUM(cost_micros), 0) FROM turns u WHERE u.task_id = t.id)";

fn files(text: String) -> Vec<String> {
    serde_json::from_str(&text).unwrap_or_default()
}

pub(super) fn task_row(r: &Row<'_>) -> rusqlite::Result<Task> {
    let state: String = r.get(5)?;
    Ok(Task {
        id: r.get(0)?,
        prompt: r.get(1)?,
        flow: r.get(2)?,
        agent: r.get(3)?,
        autonomy: r.get(4)?,
        // A state this version does not know (a newer clk wrote it) reads as failed, with
        // the word kept in the reason, rather than making the whole list unreadable.
        state: TaskState::parse(&state).unwrap_or(TaskState::Failed),
        reason: r.get(6)?,
        branch: r.get(7)?,
        worktree: r.get(8)?,
        base: r.get(9)?,
        requested_by: r.get(10)?,
        predicted_files: files(r.get(11)?),
        touched_files: files(r.get(12)?),
        lease_pid: r.get::<_, i64>(13)?.try_into().unwrap_or(0),
        lease_heartbeat: r.get(14)?,
        created_at: r.get(15)?,
        updated_at: r.get(16)?,
        started_at: r.get(17)?,
        finished_at: r.get(18)?,
        turns: r.get::<_, i64>(19)?.try_into().unwrap_or(0),
        cost_micros: r.get::<_, i64>(20)?.try_into().unwrap_or(0),
        // One machine: no shared remote to push to.
        unpushed: String::new(),
    })
}

pub(super) fn json(files: &[String]) -> String {
    serde_json::to_string(files).unwrap_or_else(|_| "[]".into())
}

pub(super) fn int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

pub(super) fn template_row(r: &Row<'_>) -> rusqlite::Result<Template> {
    Ok(Template {
        name: r.get(0)?,
        prompt: r.get(1)?,
        flow: r.get(2)?,
        agent: r.get(3)?,
        autonomy: r.get(4)?,
    })
}
