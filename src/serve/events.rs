//! `GET /events`: the engine's events as Server-Sent Events, the same JSON as `--json`.
//!
//! The activity log (`.clk/logs/activity.jsonl`) is the record: one hub task reads each new
//! line once, when the bus says something was written (and every half second, for lines other
//! clk processes write), and passes it to every client. An event's id is the byte offset just
//! past its line, so a client that reconnects with `Last-Event-ID` is served the rest of the
//! log from there and loses nothing; a client that falls behind the hub catches up the same way.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio_util::sync::CancellationToken;

use super::AppState;
use super::reply::ApiError;
use crate::engine::ground::events::Event;
use crate::engine::store::bus::Bus;

/// One event as sent: its id (the log offset past it), its JSON, and the SSE frame made of
/// them once for every client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub id: u64,
    pub data: Arc<str>,
    pub frame: Bytes,
}

/// Most frames sent in one write when a client has several waiting.
const BATCH: usize = 256;
/// A comment line sent on an idle stream, so proxies and clients know it is alive.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// Lines the hub keeps for clients between their reads; one that falls further behind reads
/// the log instead.
const CAPACITY: usize = 1024;
/// How often the hub looks for lines other processes wrote.
const POLL: Duration = Duration::from_millis(500);

/// The reader of the activity log every client shares. Cheap to clone.
#[derive(Clone)]
pub struct Hub {
    path: Arc<PathBuf>,
    tx: broadcast::Sender<Line>,
    end: Arc<AtomicU64>,
}

impl Hub {
    /// Start reading `path` from its current end, woken by `bus`, until `stop`.
    pub fn start(path: PathBuf, bus: &Bus, stop: CancellationToken) -> Hub {
        let start = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        let (tx, _) = broadcast::channel(CAPACITY);
        let hub = Hub {
            path: Arc::new(path),
            tx,
            end: Arc::new(AtomicU64::new(start)),
        };
        let me = hub.clone();
        let mut wake = bus.subscribe();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    r = wake.recv() => if let Err(RecvError::Closed) = r { break },
                    _ = tokio::time::sleep(POLL) => {}
                }
                me.read_new();
            }
        });
        hub
    }

    /// Pass on the lines written since the last read.
    fn read_new(&self) {
        let from = self.end.load(Ordering::Acquire);
        let (lines, end) = read_from(&self.path, from);
        for l in lines {
            let _ = self.tx.send(l);
        }
        self.end.store(end, Ordering::Release);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Line> {
        self.tx.subscribe()
    }

    /// The offset the hub has read to.
    pub fn end(&self) -> u64 {
        self.end.load(Ordering::Acquire)
    }

    /// Follow the events after `last` (an event id), or from now, until `stop`.
    pub fn follow(&self, last: Option<u64>, stop: CancellationToken) -> Follower {
        // Subscribe before reading the log: a line is then either read here or received.
        let rx = self.subscribe();
        let mut f = Follower {
            cursor: last.unwrap_or_else(|| self.end()),
            hub: self.clone(),
            rx,
            pending: VecDeque::new(),
            stop,
        };
        f.catch_up();
        f
    }
}

/// The complete lines of `path` after byte `from`, with the offset past the last one. A log
/// shorter than `from` (replaced) is read from its start.
pub fn read_from(path: &Path, from: u64) -> (Vec<Line>, u64) {
    let Ok(mut f) = std::fs::File::open(path) else {
        return (Vec::new(), from);
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let from = if len < from { 0 } else { from };
    let mut bytes = Vec::new();
    if f.seek(SeekFrom::Start(from)).is_err() || f.read_to_end(&mut bytes).is_err() {
        return (Vec::new(), from);
    }
    let mut out = Vec::new();
    let mut at = from;
    let mut rest = bytes.as_slice();
    while let Some(nl) = rest.iter().position(|b| *b == b'\n') {
        let (line, tail) = rest.split_at(nl + 1);
        at += line.len() as u64;
        rest = tail;
        let text = String::from_utf8_lossy(&line[..nl]);
        if let Some(data) = as_json_event(text.trim()) {
            let frame = Bytes::from(format!("id: {at}\ndata: {data}\n\n"));
            out.push(Line {
                id: at,
                data: data.into(),
                frame,
            });
        }
    }
    (out, at)
}

/// A log line as `--json` prints it: the event without the log's timestamp. A line this
/// version cannot read is passed on as it is, less the timestamp.
fn as_json_event(line: &str) -> Option<String> {
    if line.is_empty() {
        return None;
    }
    let mut value: serde_json::Value = serde_json::from_str(line).ok()?;
    if let serde_json::Value::Object(map) = &mut value {
        map.remove("ts");
    }
    match serde_json::from_value::<Event>(value.clone()) {
        Ok(ev) => serde_json::to_string(&ev).ok(),
        Err(_) => serde_json::to_string(&value).ok(),
    }
}

/// One reader's place in the stream: a `/events` client, or a chat adapter following the
/// events. Made by [`Hub::follow`].
pub struct Follower {
    hub: Hub,
    rx: broadcast::Receiver<Line>,
    /// The id of the last line sent.
    cursor: u64,
    pending: VecDeque<Line>,
    stop: CancellationToken,
}

impl Follower {
    /// Queue the log's lines after the cursor (the hub may not have passed them on yet).
    fn catch_up(&mut self) {
        let (lines, _) = read_from(&self.hub.path, self.cursor);
        self.pending.extend(lines);
    }

    /// The next line not sent yet, waiting for one; `None` once the server stops.
    pub async fn next(&mut self) -> Option<Line> {
        loop {
            if let Some(l) = self.take_pending() {
                return Some(l);
            }
            let got = tokio::select! {
                _ = self.stop.cancelled() => return None,
                got = self.rx.recv() => got,
            };
            self.got(got)?;
        }
    }

    fn take_pending(&mut self) -> Option<Line> {
        while let Some(l) = self.pending.pop_front() {
            if l.id > self.cursor {
                self.cursor = l.id;
                return Some(l);
            }
        }
        None
    }

    /// Queue what the hub passed on; `None` when the hub is gone.
    fn got(&mut self, got: Result<Line, RecvError>) -> Option<()> {
        match got {
            Ok(l) => self.pending.push_back(l),
            Err(RecvError::Lagged(_)) => self.catch_up(),
            Err(RecvError::Closed) => return None,
        }
        Some(())
    }

    /// The next write: the frames waiting now (at least one, waiting for it), or a keep-alive
    /// comment after a quiet spell.
    pub async fn chunk(&mut self) -> Option<Bytes> {
        let first = match tokio::time::timeout(KEEP_ALIVE, self.next()).await {
            Ok(line) => line?,
            Err(_) => return Some(Bytes::from_static(b":\n\n")),
        };
        let mut more: Vec<Bytes> = Vec::new();
        while more.len() + 1 < BATCH {
            if self.pending.is_empty() {
                match self.rx.try_recv() {
                    Ok(l) => self.pending.push_back(l),
                    Err(TryRecvError::Lagged(_)) => self.catch_up(),
                    Err(_) => break,
                }
            }
            if let Some(l) = self.take_pending() {
                more.push(l.frame);
            }
        }
        if more.is_empty() {
            // The usual case: one frame, shared with every other client, not copied.
            return Some(first.frame);
        }
        let mut out = first.frame.to_vec();
        for f in more {
            out.extend_from_slice(&f);
        }
        Some(Bytes::from(out))
    }
}

/// `GET /events`: live from now, or from just after `Last-Event-ID`.
pub async fn stream(State(app): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let last = match headers.get("last-event-id") {
        None => None,
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok())
                .ok_or_else(|| {
                    ApiError::bad("Last-Event-ID must be the id of an event this server sent")
                })?,
        ),
    };
    let client = app.hub.follow(last, app.stop.clone());
    let frames = futures_util::stream::unfold(client, |mut c| async move {
        let chunk = c.chunk().await?;
        Some((Ok::<_, Infallible>(chunk), c))
    });
    Ok((
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(frames),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_read_whole_with_their_end_offset_and_without_the_timestamp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("activity.jsonl");
        let a = r#"{"event":"stop_requested","ts":"2026-01-01T00:00:00.000+00:00"}"#;
        std::fs::write(&path, format!("{a}\n{{\"event\":\"stop_req")).unwrap();
        let (lines, end) = read_from(&path, 0);
        assert_eq!(lines.len(), 1, "the half-written line waits");
        assert_eq!(end, a.len() as u64 + 1);
        assert_eq!(lines[0].id, end);
        assert_eq!(&*lines[0].data, r#"{"event":"stop_requested"}"#);
        let (again, _) = read_from(&path, end);
        assert!(again.is_empty());
    }

    /// A client that falls more than the hub's buffer behind reads the rest from the log:
    /// it still gets every event, once, in order.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_client_that_falls_behind_catches_up_from_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("activity.jsonl");
        let bus = Bus::new(Some(path.clone()));
        let stop = CancellationToken::new();
        let hub = Hub::start(path.clone(), &bus, stop.clone());
        let mut client = hub.follow(None, stop.clone());
        let n = CAPACITY * 3;
        for _ in 0..n {
            bus.emit(Event::StopRequested);
        }
        let mut got = Vec::new();
        while got.len() < n {
            let l = tokio::time::timeout(Duration::from_secs(10), client.next())
                .await
                .unwrap()
                .unwrap();
            got.push(l.id);
        }
        let (all, _) = read_from(&path, 0);
        assert_eq!(got, all.iter().map(|l| l.id).collect::<Vec<_>>());
        stop.cancel();
        assert_eq!(
            client.next().await,
            None,
            "the stream ends when the server stops"
        );
    }
}
