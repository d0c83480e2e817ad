//! Task timeline lines from every machine attached to a PostgreSQL store, as they happen:
//! `LISTEN clk_tasks` on a connection of its own, on a thread of its own (the client blocks).

use std::time::Duration;

use fallible_iterator::FallibleIterator;
use postgres::NoTls;
use serde::{Deserialize, Serialize};

use super::StoreError;
use super::postgres::{CHANNEL, shown_url};

/// One timeline line as a worker somewhere wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    pub task: i64,
    pub kind: String,
    pub text: String,
    pub at: String,
    /// The worker (`host:pid`) or command that wrote it.
    pub worker: String,
}

/// Call `on` with every line written to the store at `url` from now on, until it returns
/// false. A broken connection is opened again after a second.
pub fn listen(
    url: &str,
    mut on: impl FnMut(Note) -> bool + Send + 'static,
) -> Result<std::thread::JoinHandle<()>, StoreError> {
    let config: postgres::Config = url.parse().map_err(|e: postgres::Error| StoreError {
        path: shown_url(url),
        message: format!("not a PostgreSQL URL: {e}"),
    })?;
    let handle = std::thread::Builder::new()
        .name("clk-pg-listen".into())
        .spawn(move || {
            loop {
                if let Ok(mut c) = config.connect(NoTls) {
                    if c.batch_execute(&format!("LISTEN {CHANNEL}")).is_ok() {
                        let mut n = c.notifications();
                        let mut it = n.blocking_iter();
                        while let Ok(Some(msg)) = it.next() {
                            if let Ok(note) = serde_json::from_str::<Note>(msg.payload()) {
                                if !on(note) {
                                    return;
                                }
                            }
                        }
                    }
                }
                std::thread::sleep(Duration::from_secs(1));
            }
        })
        .map_err(|e| StoreError {
            path: shown_url(url),
            message: e.to_string(),
        })?;
    Ok(handle)
}
