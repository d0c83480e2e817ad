//! The task store's schema as ordered migration steps. Step N brings a database at
//! `schema_version` N-1 to N; steps are never edited once shipped, only appended. How a
//! SQLite database is brought up to date is here too.

use rusqlite::{Connection, params};

use super::now;

/// Every migration, oldest first. The version a database is at is the number applied.
pub const MIGRATIONS: &[&str] = &[
    // 1: tasks, their turns and timeline, approvals, daily counters, templates, context rules.
    "CREATE TABLE tasks (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        prompt TEXT NOT NULL,
        flow TEXT NOT NULL,
        agent TEXT NOT NULL,
        autonomy TEXT NOT NULL,
        state TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT '',
        branch TEXT NOT NULL DEFAULT '',
        worktree TEXT NOT NULL DEFAULT '',
        base TEXT NOT NULL DEFAULT '',
        requested_by TEXT NOT NULL DEFAULT '',
        predicted_files TEXT NOT NULL DEFAULT '[]',
        touched_files TEXT NOT NULL DEFAULT '[]',
        lease_pid INTEGER NOT NULL DEFAULT 0,
        lease_heartbeat TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        started_at TEXT NOT NULL DEFAULT '',
        finished_at TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX tasks_state ON tasks(state);
    CREATE TABLE turns (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        task_id INTEGER NOT NULL REFERENCES tasks(id),
        n INTEGER NOT NULL,
        role TEXT NOT NULL,
        agent TEXT NOT NULL,
        provider TEXT NOT NULL,
        dispatch_id TEXT NOT NULL,
        ok INTEGER NOT NULL,
        input_tokens INTEGER NOT NULL DEFAULT 0,
        output_tokens INTEGER NOT NULL DEFAULT 0,
        cost_micros INTEGER NOT NULL DEFAULT 0,
        summary TEXT NOT NULL DEFAULT '',
        at TEXT NOT NULL
    );
    CREATE INDEX turns_task ON turns(task_id);
    CREATE TABLE timeline (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        task_id INTEGER NOT NULL REFERENCES tasks(id),
        kind TEXT NOT NULL,
        text TEXT NOT NULL,
        at TEXT NOT NULL
    );
    CREATE INDEX timeline_task ON timeline(task_id);
    CREATE TABLE approvals (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        task_id INTEGER NOT NULL REFERENCES tasks(id),
        by TEXT NOT NULL,
        note TEXT NOT NULL DEFAULT '',
        at TEXT NOT NULL
    );
    CREATE TABLE budget_days (
        day TEXT PRIMARY KEY,
        tasks_started INTEGER NOT NULL DEFAULT 0,
        turns INTEGER NOT NULL DEFAULT 0,
        cost_micros INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE templates (
        name TEXT PRIMARY KEY,
        prompt TEXT NOT NULL,
        flow TEXT NOT NULL DEFAULT '',
        agent TEXT NOT NULL DEFAULT '',
        autonomy TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL
    );
    CREATE TABLE context_rules (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        text TEXT NOT NULL,
        created_at TEXT NOT NULL
    );",
    // 2: where a task stopped mid-way: the checkpoint it waits at, its last handoff (so it
    // goes on from there), and which checkpoint each approval was for.
    "ALTER TABLE tasks ADD COLUMN checkpoint TEXT NOT NULL DEFAULT '';
    ALTER TABLE tasks ADD COLUMN handoff TEXT NOT NULL DEFAULT '';
    ALTER TABLE approvals ADD COLUMN checkpoint TEXT NOT NULL DEFAULT '';",
    // 3: the time a task was worked, summed over every `clk work` that ran it.
    "ALTER TABLE tasks ADD COLUMN runtime_ms INTEGER NOT NULL DEFAULT 0;",
    // 4: the `clk work` processes alive on this machine (`clk workers`).
    "CREATE TABLE workers (
        id TEXT PRIMARY KEY,
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        started_at TEXT NOT NULL,
        heartbeat TEXT NOT NULL,
        tasks TEXT NOT NULL DEFAULT '[]',
        accounts TEXT NOT NULL DEFAULT '[]'
    );",
    // 5: what turns running now hold of the daily USD budget, on the day and on each task.
    "ALTER TABLE budget_days ADD COLUMN reserved_micros INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE budget_days ADD COLUMN reserved_turns INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE tasks ADD COLUMN reserved_micros INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE tasks ADD COLUMN reserved_day TEXT NOT NULL DEFAULT '';",
];

pub(super) fn version(c: &Connection) -> rusqlite::Result<u32> {
    c.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_version",
        [],
        |r| r.get(0),
    )
}

/// Apply the migrations the database has not had yet, all in one transaction that takes the
/// write lock first and reads the version again under it: two processes opening a new database
/// at once cannot both migrate it (the second sees the first one's work). A database from a
/// newer clk (a version past ours) is refused rather than misread.
pub(super) fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)",
    )?;
    let too_new = |have: usize| {
        rusqlite::Error::InvalidParameterName(format!(
            "the database is at schema version {have}, newer than this clk knows ({}); update clk",
            MIGRATIONS.len()
        ))
    };
    let have = version(conn)? as usize;
    if have > MIGRATIONS.len() {
        return Err(too_new(have));
    }
    if have == MIGRATIONS.len() {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let have = version(&tx)? as usize;
    if have > MIGRATIONS.len() {
        return Err(too_new(have));
    }
    for (i, step) in MIGRATIONS.iter().enumerate().skip(have) {
        tx.execute_batch(step)?;
        tx.execute(
            "INSERT INTO schema_version (version, applied_at) VALUES (?1, ?2)",
            params![i + 1, now()],
        )?;
    }
    tx.commit()
}
