//! The PostgreSQL task store, for workers on many machines: the same tables as SQLite, plus a
//! lease on each running task (owner `host:pid`, heartbeat, expiry), the account it uses, the
//! workers' rows, and a `NOTIFY` on `clk_tasks` for every timeline line.
//!
//! The `postgres` client runs its own small runtime and blocks on it; called from a thread
//! inside clk's tokio runtime that would panic. So every call runs on a short-lived scoped
//! thread outside the runtime, holding the one connection (reconnected when it broke).

use std::sync::{Arc, Mutex};

use postgres::{Client, Transaction};

use super::pg_schema::MIGRATIONS;
use super::pg_tls::{Link, split_tls};
use super::{Move, StoreError, WorkerRow, now, today, worker_id};
use crate::engine::ground::redact::{self, redact_text};
use crate::engine::ground::task::TaskState;

/// The channel every timeline line is sent on (`clk serve` listens).
pub(super) const CHANNEL: &str = "clk_tasks";
/// Advisory lock keys: migrations, and the merge queue.
const MIGRATE_LOCK: i64 = 0x636c_6b00_0001;
const MERGE_LOCK: i64 = 0x636c_6b00_0002;

/// An error inside a call: the database's, or one of ours.
#[derive(Debug)]
pub(super) struct PgErr(pub(super) String);

impl From<postgres::Error> for PgErr {
    fn from(e: postgres::Error) -> Self {
        // The server's own message (e.g. `ERROR: relation "tasks" does not exist`) says most.
        let text = match e.as_db_error() {
            Some(db) => format!("{}: {}", db.severity(), db.message()),
            None => e.to_string(),
        };
        PgErr(text)
    }
}

pub(super) type PgResult<T> = Result<T, PgErr>;

/// The PostgreSQL back end.
pub struct PgStore {
    pub(super) shown: String,
    pub(super) link: Arc<Link>,
    client: Mutex<Option<Client>>,
    pub(super) owner: String,
    pub(super) lease_s: f64,
}

/// `url` fit to show: its password replaced, in the user part or a `password=` parameter.
pub fn shown_url(url: &str) -> String {
    match split_tls(url).0.parse::<postgres::Config>() {
        Ok(c) if c.get_password().is_some() => {
            let Some((scheme, rest)) = url.split_once("://") else {
                return "postgres://…".into();
            };
            let (main, query) = match rest.split_once('?') {
                Some((main, query)) => (main, Some(query)),
                None => (rest, None),
            };
            let main = match main.rsplit_once('@') {
                Some((user, host)) => match user.split_once(':') {
                    Some((user, _)) => format!("{user}:***@{host}"),
                    None => main.to_string(),
                },
                None => main.to_string(),
            };
            let Some(query) = query else {
                return format!("{scheme}://{main}");
            };
            let query: Vec<&str> = query
                .split('&')
                .map(|p| match p.split_once('=') {
                    Some(("password", _)) => "password=***",
                    _ => p,
                })
                .collect();
            format!("{scheme}://{main}?{}", query.join("&"))
        }
        Ok(_) => redact_text(url),
        Err(_) => "postgres://…".into(),
    }
}

impl PgStore {
    /// Connect to `url` and bring its schema up to date. A database whose schema is newer
    /// than this clk knows is refused.
    pub fn open(url: &str, lease_s: u64) -> Result<PgStore, StoreError> {
        let shown = shown_url(url);
        let link = Link::parse(url, &shown)?;
        if let Some(pw) = link.config.get_password() {
            redact::register(&String::from_utf8_lossy(pw));
        }
        let store = PgStore {
            shown,
            link: Arc::new(link),
            client: Mutex::new(None),
            owner: worker_id(),
            lease_s: lease_s.max(1) as f64,
        };
        store.with(migrate)?;
        Ok(store)
    }

    /// The version the database is at (the number of migrations applied).
    pub fn version(&self) -> Result<u32, StoreError> {
        self.with(|c| {
            let v: i32 = c
                .query_one("SELECT COALESCE(MAX(version), 0) FROM schema_version", &[])?
                .get(0);
            Ok(u32::try_from(v).unwrap_or(0))
        })
    }

    /// Whether this store's connection is encrypted, as the server sees it, with the TLS
    /// version; and the `sslmode` it was opened with.
    pub fn encryption(&self) -> Result<(Option<String>, &'static str), StoreError> {
        let tls = self.with(|c| {
            let row = c.query_opt(
                "SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                &[],
            )?;
            Ok(row.and_then(|r| {
                let on: bool = r.get(0);
                on.then(|| {
                    r.get::<_, Option<String>>(1)
                        .unwrap_or_else(|| "TLS".into())
                })
            }))
        })?;
        Ok((tls, self.link.mode.word()))
    }

    /// Whether the store is only on this machine (loopback or a Unix socket).
    pub fn is_local(&self) -> bool {
        super::pg_tls::local_only(&self.link.config)
    }

    /// Run `f` with the connection, on a thread outside any async runtime.
    pub(super) fn with<T: Send>(
        &self,
        f: impl FnOnce(&mut Client) -> PgResult<T> + Send,
    ) -> Result<T, StoreError> {
        let mut guard = self.client.lock().unwrap_or_else(|p| p.into_inner());
        let slot: &mut Option<Client> = &mut guard;
        let link = &self.link;
        let out = std::thread::scope(|s| {
            s.spawn(move || -> PgResult<T> {
                if slot.as_ref().is_none_or(Client::is_closed) {
                    *slot = None;
                    *slot = Some(link.connect()?);
                }
                match slot.as_mut() {
                    Some(c) => f(c),
                    None => Err(PgErr("no connection".into())),
                }
            })
            .join()
        });
        match out {
            Ok(r) => r.map_err(|e| self.fail(e.0)),
            Err(_) => Err(self.fail("the database call failed unexpectedly".into())),
        }
    }

    fn fail(&self, message: String) -> StoreError {
        StoreError {
            path: self.shown.clone(),
            message: redact_text(&message),
        }
    }

    pub(super) fn claim_row(
        &self,
        m: &Move<'_>,
        pid: u32,
        account: &str,
        limit: u32,
        claim: Option<Option<u64>>,
    ) -> Result<bool, StoreError> {
        let (owner, lease) = (self.owner.clone(), self.lease_s);
        let reason = redact_text(m.reason);
        let (id, from, to) = (m.id, m.from, m.to);
        self.with(move |c| {
            let mut tx = c.transaction()?;
            if limit > 0 && !account.is_empty() {
                // Claims on one account take turns, so the count below stays true until commit.
                tx.execute(
                    "SELECT pg_advisory_xact_lock(hashtext($1))",
                    &[&format!("clk-account:{account}")],
                )?;
                let n: i64 = tx
                    .query_one(
                        "SELECT COUNT(*) FROM tasks WHERE state = 'running' AND account = $1",
                        &[&account],
                    )?
                    .get(0);
                if n >= i64::from(limit) {
                    return Ok(false);
                }
            }
            let lock = if claim.is_some() {
                "FOR UPDATE SKIP LOCKED"
            } else {
                "FOR UPDATE"
            };
            let row = tx.query_opt(
                &format!("SELECT state FROM tasks WHERE id = $1 {lock}"),
                &[&id],
            )?;
            let Some(state) = row.and_then(|r| TaskState::parse(&r.get::<_, String>(0))) else {
                return Ok(false);
            };
            if !from.contains(&state) {
                return Ok(false);
            }
            let lease = Lease {
                pid,
                owner: &owner,
                seconds: lease,
                account,
            };
            moved(&mut tx, id, state, to, &reason, &lease)?;
            // A first start is counted by the worker that won the row only, so racing workers
            // neither pass budget.daily.tasks nor all update its row; last, so the hot row is
            // locked only until the commit right after.
            if let Some(Some(cap)) = claim {
                let day = today();
                tx.execute(
                    "INSERT INTO budget_days (day) VALUES ($1) ON CONFLICT (day) DO NOTHING",
                    &[&day],
                )?;
                let n = tx.execute(
                    "UPDATE budget_days SET tasks_started = tasks_started + 1 WHERE day = $1
                       AND ($2::BIGINT = 0 OR tasks_started < $2::BIGINT)",
                    &[&day, &big(cap)],
                )?;
                if n == 0 {
                    return Ok(false);
                }
            }
            tx.commit()?;
            Ok(true)
        })
    }

    pub(super) fn renew(&self) -> Result<(), StoreError> {
        let (owner, lease) = (self.owner.clone(), self.lease_s);
        self.with(move |c| {
            c.execute(
                "UPDATE tasks SET lease_heartbeat = $2,
                   lease_expires = now() + make_interval(secs => $3)
                 WHERE lease_owner = $1 AND state = 'running'",
                &[&owner, &now(), &lease],
            )?;
            Ok(())
        })
    }

    pub(super) fn expired(&self) -> Result<Vec<(i64, String)>, StoreError> {
        self.with(|c| {
            let mut tx = c.transaction()?;
            let rows = tx.query(
                "SELECT t.id, t.lease_owner, (SELECT COUNT(*) FROM turns u WHERE u.task_id = t.id)
                 FROM tasks t WHERE t.state = 'running' AND t.lease_expires < now()
                 ORDER BY t.id FOR UPDATE SKIP LOCKED",
                &[],
            )?;
            let mut out = Vec::new();
            for r in rows {
                let (id, owner, turns): (i64, String, i64) = (r.get(0), r.get(1), r.get(2));
                let why = format!(
                    "its worker {owner} stopped renewing its lease; continues from its last \
                     pushed turn ({turns} turn(s))"
                );
                moved(
                    &mut tx,
                    id,
                    TaskState::Running,
                    TaskState::Queued,
                    &why,
                    &Lease::default(),
                )?;
                out.push((id, owner));
            }
            tx.commit()?;
            Ok(out)
        })
    }

    pub(super) fn beat_row(&self, w: &WorkerRow) -> Result<(), StoreError> {
        let tasks = serde_json::to_string(&w.tasks).unwrap_or_else(|_| "[]".into());
        let accounts = serde_json::to_string(&w.accounts).unwrap_or_else(|_| "[]".into());
        let (id, host, pid) = (w.id.clone(), w.host.clone(), i64::from(w.pid));
        self.with(move |c| {
            c.execute(
                "INSERT INTO workers (id, host, pid, started_at, heartbeat, tasks, accounts)
                 VALUES ($1, $2, $3, $4, $4, $5, $6)
                 ON CONFLICT (id) DO UPDATE SET heartbeat = $4, tasks = $5, accounts = $6",
                &[&id, &host, &pid, &now(), &tasks, &accounts],
            )?;
            Ok(())
        })
    }

    pub(super) fn worker_rows(&self) -> Result<Vec<WorkerRow>, StoreError> {
        self.with(|c| {
            let rows = c.query(
                "SELECT id, host, pid, started_at, heartbeat, tasks, accounts FROM workers
                 ORDER BY heartbeat DESC, id",
                &[],
            )?;
            Ok(rows
                .iter()
                .map(|r| WorkerRow {
                    id: r.get(0),
                    host: r.get(1),
                    pid: u32::try_from(r.get::<_, i64>(2)).unwrap_or(0),
                    started_at: r.get(3),
                    heartbeat: r.get(4),
                    tasks: serde_json::from_str(r.get(5)).unwrap_or_default(),
                    accounts: serde_json::from_str(r.get(6)).unwrap_or_default(),
                })
                .collect())
        })
    }

    pub(super) fn lock_merges(&self, take: bool) -> Result<bool, StoreError> {
        self.with(move |c| {
            let sql = if take {
                "SELECT pg_try_advisory_lock($1)"
            } else {
                "SELECT pg_advisory_unlock($1)"
            };
            Ok(c.query_one(sql, &[&MERGE_LOCK])?.get(0))
        })
    }
}

impl Drop for PgStore {
    /// Closing the connection blocks on the client's runtime too: off any async runtime.
    fn drop(&mut self) {
        let client = self
            .client
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(c) = client {
            std::thread::scope(|s| {
                s.spawn(move || drop(c));
            });
        }
    }
}

pub(super) fn big(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Who holds a task moved to `Running` (nobody for other moves).
#[derive(Default)]
pub(super) struct Lease<'a> {
    pub(super) pid: u32,
    pub(super) owner: &'a str,
    pub(super) seconds: f64,
    pub(super) account: &'a str,
}

/// Move task `id` from `state` to `to` (the row already locked), with its timeline line.
pub(super) fn moved(
    tx: &mut Transaction<'_>,
    id: i64,
    state: TaskState,
    to: TaskState,
    reason: &str,
    lease: &Lease<'_>,
) -> PgResult<()> {
    let at = now();
    let running = to == TaskState::Running;
    let (pid, owner, heartbeat) = if running {
        (i64::from(lease.pid), lease.owner, at.clone())
    } else {
        (0, "", String::new())
    };
    tx.execute(
        "UPDATE tasks SET state = $2, reason = $3, lease_pid = $4, lease_heartbeat = $5,
           lease_owner = $6,
           lease_expires = CASE WHEN $2 = 'running' THEN now() + make_interval(secs => $7)
                           ELSE NULL END,
           account = CASE WHEN $2 = 'running' THEN $8 ELSE account END,
           updated_at = $9,
           started_at = CASE WHEN $2 = 'running' AND started_at = '' THEN $9 ELSE started_at END,
           finished_at = CASE WHEN $2 IN ('merged', 'cancelled') THEN $9 ELSE '' END
         WHERE id = $1",
        &[
            &id,
            &to.name(),
            &reason,
            &pid,
            &heartbeat,
            &owner,
            &lease.seconds,
            &lease.account,
            &at,
        ],
    )?;
    if !running {
        // A turn cut short (its task paused, failed, or its worker's lease run out) gives
        // back what it held of today's budget.
        super::pg_budget::release(tx, id)?;
    }
    let text = if reason.is_empty() {
        format!("{} → {}", state.name(), to.name())
    } else {
        format!("{} → {}: {}", state.name(), to.name(), reason)
    };
    line(tx, id, "state", &text, &at)
}

/// Add a timeline line and tell every listener (sent when the transaction commits).
pub(super) fn line(
    c: &mut impl postgres::GenericClient,
    id: i64,
    kind: &str,
    text: &str,
    at: &str,
) -> PgResult<()> {
    let text = redact_text(text);
    c.execute(
        "INSERT INTO timeline (task_id, kind, text, at) VALUES ($1, $2, $3, $4)",
        &[&id, &kind, &text, &at],
    )?;
    // A NOTIFY payload is at most 8000 bytes: a long line is cut for listeners.
    let short: String = text.chars().take(1000).collect();
    let note = serde_json::json!({
        "task": id, "kind": kind, "text": short, "at": at, "worker": worker_id(),
    });
    c.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &note.to_string()])?;
    Ok(())
}

/// Bring the schema up to date under an advisory lock, so two first opens never both migrate.
fn migrate(c: &mut Client) -> PgResult<()> {
    let mut tx = c.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATE_LOCK])?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)",
    )?;
    let have: i32 = tx
        .query_one("SELECT COALESCE(MAX(version), 0) FROM schema_version", &[])?
        .get(0);
    let have = usize::try_from(have).unwrap_or(0);
    if have > MIGRATIONS.len() {
        return Err(PgErr(format!(
            "the database is at schema version {have}, newer than this clk knows ({}); update \
             clk on this machine",
            MIGRATIONS.len()
        )));
    }
    for (i, step) in MIGRATIONS.iter().enumerate().skip(have) {
        tx.batch_execute(step)?;
        let v = i32::try_from(i + 1).unwrap_or(i32::MAX);
        tx.execute(
            "INSERT INTO schema_version (version, applied_at) VALUES ($1, $2)",
            &[&v, &now()],
        )?;
    }
    tx.commit()?;
    Ok(())
}
