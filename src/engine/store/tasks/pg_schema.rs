//! The PostgreSQL task store's schema as ordered migration steps, like SQLite's (`schema.rs`):
//! step N brings a database at `schema_version` N-1 to N; steps are only ever appended. The
//! tables match SQLite's, plus what workers on many machines need: a lease with an owner and
//! an expiry, the account a running task uses, and the workers' own rows.

/// Every migration, oldest first. The version a database is at is the number applied.
pub const MIGRATIONS: &[&str] = &[
    // 1: everything SQLite's first four steps made, plus leases, accounts and workers.
    "CREATE TABLE tasks (
        id BIGSERIAL PRIMARY KEY,
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
        lease_pid BIGINT NOT NULL DEFAULT 0,
        lease_heartbeat TEXT NOT NULL DEFAULT '',
        lease_owner TEXT NOT NULL DEFAULT '',
        lease_expires TIMESTAMPTZ,
        account TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        started_at TEXT NOT NULL DEFAULT '',
        finished_at TEXT NOT NULL DEFAULT '',
        checkpoint TEXT NOT NULL DEFAULT '',
        handoff TEXT NOT NULL DEFAULT '',
        runtime_ms BIGINT NOT NULL DEFAULT 0
    );
    CREATE INDEX tasks_state ON tasks(state, id);
    CREATE TABLE turns (
        id BIGSERIAL PRIMARY KEY,
        task_id BIGINT NOT NULL REFERENCES tasks(id),
        n BIGINT NOT NULL,
        role TEXT NOT NULL,
        agent TEXT NOT NULL,
        provider TEXT NOT NULL,
        dispatch_id TEXT NOT NULL,
        ok BOOLEAN NOT NULL,
        input_tokens BIGINT NOT NULL DEFAULT 0,
        output_tokens BIGINT NOT NULL DEFAULT 0,
        cost_micros BIGINT NOT NULL DEFAULT 0,
        summary TEXT NOT NULL DEFAULT '',
        at TEXT NOT NULL
    );
    CREATE INDEX turns_task ON turns(task_id);
    CREATE TABLE timeline (
        id BIGSERIAL PRIMARY KEY,
        task_id BIGINT NOT NULL REFERENCES tasks(id),
        kind TEXT NOT NULL,
        text TEXT NOT NULL,
        at TEXT NOT NULL
    );
    CREATE INDEX timeline_task ON timeline(task_id);
    CREATE TABLE approvals (
        id BIGSERIAL PRIMARY KEY,
        task_id BIGINT NOT NULL REFERENCES tasks(id),
        by_whom TEXT NOT NULL,
        note TEXT NOT NULL DEFAULT '',
        at TEXT NOT NULL,
        checkpoint TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE budget_days (
        day TEXT PRIMARY KEY,
        tasks_started BIGINT NOT NULL DEFAULT 0,
        turns BIGINT NOT NULL DEFAULT 0,
        cost_micros BIGINT NOT NULL DEFAULT 0
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
        id BIGSERIAL PRIMARY KEY,
        text TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE TABLE workers (
        id TEXT PRIMARY KEY,
        host TEXT NOT NULL,
        pid BIGINT NOT NULL,
        started_at TEXT NOT NULL,
        heartbeat TEXT NOT NULL,
        tasks TEXT NOT NULL DEFAULT '[]',
        accounts TEXT NOT NULL DEFAULT '[]'
    );",
    // 2: what turns running now hold of the daily USD budget, on the day and on each task.
    "ALTER TABLE budget_days ADD COLUMN reserved_micros BIGINT NOT NULL DEFAULT 0,
        ADD COLUMN reserved_turns BIGINT NOT NULL DEFAULT 0;
    ALTER TABLE tasks ADD COLUMN reserved_micros BIGINT NOT NULL DEFAULT 0,
        ADD COLUMN reserved_day TEXT NOT NULL DEFAULT '';",
    // 3: a merge the shared remote refused, kept until a push succeeds.
    "ALTER TABLE tasks ADD COLUMN unpushed TEXT NOT NULL DEFAULT '';
    CREATE INDEX tasks_unpushed ON tasks(id) WHERE unpushed <> '';",
];
