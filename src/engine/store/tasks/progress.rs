//! Where a task stands between its turns, kept so it goes on from there in a later `clk work`: the
//! checkpoint it waits at, its last handoff, the approvals it was given (each for one checkpoint,
//! or for its merge) and the time it was worked so far. The SQL of these few calls, for
//! `sqlite.rs`.

use rusqlite::{Connection, params};

use super::{Progress, now};
use crate::engine::ground::redact::redact_text;

pub(super) fn read(c: &Connection, id: i64) -> rusqlite::Result<Progress> {
    let (checkpoint, handoff, runtime_ms) = c.query_row(
        "SELECT checkpoint, handoff, runtime_ms FROM tasks WHERE id = ?1",
        [id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)?)),
    )?;
    let mut st = c.prepare(
        "SELECT checkpoint FROM approvals WHERE task_id = ?1 AND checkpoint != '' ORDER BY id",
    )?;
    let approved = st
        .query_map([id], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    Ok(Progress {
        checkpoint,
        handoff,
        approved,
        runtime_ms: runtime_ms.try_into().unwrap_or(0),
    })
}

pub(super) fn add_runtime(c: &Connection, id: i64, ms: u64) -> rusqlite::Result<u64> {
    c.query_row(
        "UPDATE tasks SET runtime_ms = runtime_ms + ?2 WHERE id = ?1 RETURNING runtime_ms",
        params![id, i64::try_from(ms).unwrap_or(i64::MAX)],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n.try_into().unwrap_or(0))
}

pub(super) fn set_checkpoint(c: &Connection, id: i64, name: &str) -> rusqlite::Result<()> {
    c.execute(
        "UPDATE tasks SET checkpoint = ?2, updated_at = ?3 WHERE id = ?1",
        params![id, name, now()],
    )
    .map(|_| ())
}

pub(super) fn set_handoff(c: &Connection, id: i64, json: &str) -> rusqlite::Result<()> {
    c.execute(
        "UPDATE tasks SET handoff = ?2 WHERE id = ?1",
        params![id, redact_text(json)],
    )
    .map(|_| ())
}

/// Keep an approval and say in the timeline who gave it, for what, and when.
pub(super) fn approve(
    c: &mut Connection,
    id: i64,
    checkpoint: &str,
    by: &str,
    note: &str,
) -> rusqlite::Result<()> {
    let tx = c.transaction()?;
    let at = now();
    let note = redact_text(note);
    tx.execute(
        "INSERT INTO approvals (task_id, by, note, at, checkpoint) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![id, by, note, at, checkpoint],
    )?;
    let what = if checkpoint.is_empty() {
        "its merge".to_string()
    } else {
        format!("checkpoint {checkpoint}")
    };
    let mut line = format!("{what} approved by {by} at {at}");
    if !note.is_empty() {
        line.push_str(&format!(": {note}"));
    }
    tx.execute(
        "INSERT INTO timeline (task_id, kind, text, at) VALUES (?1, 'approval', ?2, ?3)",
        params![id, line, at],
    )?;
    tx.commit()
}
