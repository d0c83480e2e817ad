//! Task timeline lines from every machine attached to a PostgreSQL store, as they happen:
//! `LISTEN clk_tasks` on a connection of its own, on a thread of its own (the client blocks).
//! `clk serve` shows them; an idle `clk work` wakes on the ones that may give it work.

use std::sync::Arc;
use std::sync::mpsc::{SyncSender, sync_channel};
use std::time::Duration;

use fallible_iterator::FallibleIterator;
use serde::{Deserialize, Serialize};

use super::StoreError;
use super::pg_tls::Link;
use super::postgres::{CHANNEL, PgStore, shown_url};

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
    on: impl FnMut(Note) -> bool + Send + 'static,
) -> Result<std::thread::JoinHandle<()>, StoreError> {
    let shown = shown_url(url);
    let link = Link::parse(url, &shown)?;
    listen_to(Arc::new(link), shown, None, on)
}

/// [`listen`], saying on `ready` each time it listens (again).
fn listen_to(
    link: Arc<Link>,
    shown: String,
    ready: Option<SyncSender<()>>,
    mut on: impl FnMut(Note) -> bool + Send + 'static,
) -> Result<std::thread::JoinHandle<()>, StoreError> {
    let handle = std::thread::Builder::new()
        .name("clk-pg-listen".into())
        .spawn(move || {
            loop {
                if let Ok(mut c) = link.connect() {
                    if c.batch_execute(&format!("LISTEN {CHANNEL}")).is_ok() {
                        if let Some(r) = &ready {
                            let _ = r.try_send(());
                        }
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
            path: shown,
            message: e.to_string(),
        })?;
    Ok(handle)
}

/// Whether a line may give an idle worker something to do: a task added, approved, or moved
/// (queued again, paused, a running one ended so a held one may start).
fn wakes(note: &Note) -> bool {
    matches!(note.kind.as_str(), "added" | "approval" | "state")
}

impl PgStore {
    /// Told at once when another process adds, approves or moves a task (see [`wakes`]); the
    /// listening thread ends at the first line after the last holder lets go. Returns once it
    /// listens (or after 5 s, when the database is slow to answer).
    pub(super) fn waker(&self) -> Result<Arc<tokio::sync::Notify>, StoreError> {
        let wake = Arc::new(tokio::sync::Notify::new());
        let weak = Arc::downgrade(&wake);
        let me = self.owner.clone();
        let (ready, listening) = sync_channel(1);
        let (link, shown) = (self.link.clone(), self.shown.clone());
        listen_to(link, shown, Some(ready), move |note| {
            let Some(wake) = weak.upgrade() else {
                return false;
            };
            if note.worker != me && wakes(&note) {
                wake.notify_one();
            }
            true
        })?;
        let _ = listening.recv_timeout(Duration::from_secs(5));
        Ok(wake)
    }
}
