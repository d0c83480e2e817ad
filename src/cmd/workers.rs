//! `clk workers [--store URL]`: the `clk work` processes that use the task store, with their
//! last heartbeat, the tasks they run and the accounts those use. On SQLite, this machine's.

use std::path::Path;

use super::{Failure, project};
use crate::engine::store::tasks;
use crate::headless::Format;

/// How long ago `at` was, in words (`3s ago`), or `?` when it does not parse.
fn ago(at: &str) -> String {
    let Ok(t) = chrono::DateTime::parse_from_rfc3339(at) else {
        return "?".into();
    };
    let s = (chrono::Utc::now() - t.with_timezone(&chrono::Utc))
        .num_seconds()
        .max(0);
    if s < 120 {
        format!("{s}s ago")
    } else if s < 7200 {
        format!("{}m ago", s / 60)
    } else {
        format!("{}h ago", s / 3600)
    }
}

pub fn run(dir: &Path, store: Option<String>, format: Format) -> Result<u8, Failure> {
    let mut p = project(dir)?;
    super::use_store(&mut p, store);
    let s = tasks::open_project(&p).map_err(|e| Failure::bad_input(e.to_string()))?;
    let rows = s.workers().map_err(|e| Failure::failed(e.to_string()))?;
    if format == Format::Json {
        println!(
            "{}",
            serde_json::to_string(&rows).map_err(|e| Failure::failed(e.to_string()))?
        );
        return Ok(super::EXIT_OK);
    }
    if rows.is_empty() {
        println!("No workers; `clk work` starts one.");
        return Ok(super::EXIT_OK);
    }
    let lease = p.config.store.lease_s;
    println!(
        "{:<28} {:<12} {:<12} ACCOUNT",
        "WORKER", "HEARTBEAT", "TASKS"
    );
    for w in rows {
        let tasks = if w.tasks.is_empty() {
            "-".to_string()
        } else {
            w.tasks
                .iter()
                .map(|t| t.to_string())
                .collect::<Vec<_>>()
                .join(",")
        };
        let accounts = if w.accounts.is_empty() {
            "-".to_string()
        } else {
            w.accounts.join(",")
        };
        let gone = chrono::DateTime::parse_from_rfc3339(&w.heartbeat).is_ok_and(|t| {
            (chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_seconds()
                > i64::try_from(lease).unwrap_or(i64::MAX)
        });
        let mark = if gone { "  (silent: gone?)" } else { "" };
        println!(
            "{:<28} {:<12} {:<12} {accounts}{mark}",
            w.id,
            ago(&w.heartbeat),
            tasks
        );
    }
    Ok(super::EXIT_OK)
}
