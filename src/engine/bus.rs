//! The one event stream.
//!
//! `Bus::emit` writes the event (redacted, timestamped) as a line of
//! `.clk/logs/activity.jsonl` and broadcasts it to every consumer (dashboard, headless
//! printer, tests). Writing the log is synchronous so the file is complete whenever a command
//! returns; a full broadcast channel drops events for slow consumers, never for the log.

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;

use super::events::Event;
use super::redact;
use super::workspace::open_jsonl;

/// Capacity of the broadcast channel; consumers that fall further behind see `Lagged`.
const CAPACITY: usize = 4096;

/// Cheap to clone; all clones share the channel and the log.
#[derive(Clone)]
pub struct Bus {
    tx: broadcast::Sender<Event>,
    log: Option<Arc<Mutex<ActivityLog>>>,
}

/// The activity log, opened on first use and kept open: one write per event.
struct ActivityLog {
    path: PathBuf,
    file: Option<File>,
}

impl Bus {
    /// A bus that logs to `activity` (when given) and broadcasts.
    pub fn new(activity: Option<PathBuf>) -> Bus {
        let (tx, _) = broadcast::channel(CAPACITY);
        Bus {
            tx,
            log: activity.map(|path| Arc::new(Mutex::new(ActivityLog { path, file: None }))),
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.tx.subscribe()
    }

    /// Record and broadcast one event, redacted for both.
    pub fn emit(&self, event: Event) {
        let mut value = serde_json::to_value(&event).unwrap_or_default();
        redact::redact_json(&mut value);
        let event: Event = serde_json::from_value(value.clone()).unwrap_or(event);
        if let Some(log) = &self.log {
            if let serde_json::Value::Object(map) = &mut value {
                map.insert(
                    "ts".into(),
                    chrono::Local::now()
                        .format("%Y-%m-%dT%H:%M:%S%.3f%:z")
                        .to_string()
                        .into(),
                );
            }
            let mut log = log.lock().unwrap_or_else(|p| p.into_inner());
            if log.file.is_none() {
                match open_jsonl(&log.path) {
                    Ok(f) => log.file = Some(f),
                    Err(e) => tracing::warn!("cannot open {}: {e}", log.path.display()),
                }
            }
            if let Some(f) = log.file.as_mut() {
                let mut line = serde_json::to_string(&value).unwrap_or_default();
                line.push('\n');
                if let Err(e) = f.write_all(line.as_bytes()) {
                    tracing::warn!("cannot append to {}: {e}", log.path.display());
                    log.file = None;
                }
            }
        }
        // No receivers is fine: headless commands may run without a printer.
        let _ = self.tx.send(event);
    }
}

impl std::fmt::Debug for Bus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bus").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_logged_redacted_and_broadcast() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("logs/activity.jsonl");
        let bus = Bus::new(Some(log.clone()));
        let mut rx = bus.subscribe();
        redact::register("bus-test-secret-123");
        bus.emit(Event::Warning {
            message: "key bus-test-secret-123".into(),
        });
        let got = rx.try_recv().unwrap();
        assert_eq!(got.name(), "warning");
        // Consumers (the screen, --json) get the redacted event too.
        assert_eq!(
            got,
            Event::Warning {
                message: "key <redacted: 19 chars>".into()
            }
        );
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(text.contains("\"event\":\"warning\""), "{text}");
        assert!(text.contains("\"ts\":"), "{text}");
        assert!(!text.contains("bus-test-secret-123"), "{text}");
    }
}
