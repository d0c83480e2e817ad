//! The one event stream.
//!
//! `Bus::emit` writes the event (redacted, timestamped) as a line of
//! `.clk/logs/activity.jsonl` and broadcasts it to every consumer (dashboard, headless
//! printer, tests). Writing the log is synchronous so the file is complete whenever a command
//! returns; a full broadcast channel drops events for slow consumers, never for the log.
//! Past [`ACTIVITY_MAX`] the log starts a new file and keeps the old one beside it as
//! `activity.jsonl.1`, so long unattended work never fills the disk with it.
//!
//! The bus also carries the two signals that flow back from a person to running work:
//! answers to yes/no questions ([`Bus::ask`]) and the request to stop after the current step
//! ([`Bus::stop_requested`]). Every clone shares them. With no interactive front end
//! (headless runs, scripts) every question is answered no at once, so nothing waits forever
//! and nothing risky happens without a person saying yes.

use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{broadcast, oneshot};

use crate::engine::ground::config::GauntletPreset;
use crate::engine::ground::events::Event;
use crate::engine::ground::redact;
use crate::engine::store::workspace::open_jsonl;

/// Capacity of the broadcast channel; consumers that fall further behind see `Lagged`.
const CAPACITY: usize = 4096;

/// Size past which the activity log starts a new file; the one before stays as
/// `activity.jsonl.1` (replacing an older one), so the two hold at most about twice this.
pub const ACTIVITY_MAX: u64 = 64 * 1024 * 1024;

/// Cheap to clone; all clones share the channel and the log.
#[derive(Clone)]
pub struct Bus {
    tx: broadcast::Sender<Event>,
    log: Option<Arc<Mutex<ActivityLog>>>,
    control: Arc<Control>,
}

/// Signals from the person back to the work.
#[derive(Default)]
struct Control {
    interactive: AtomicBool,
    stop: AtomicBool,
    next_question: AtomicU64,
    pending: Mutex<HashMap<u64, oneshot::Sender<bool>>>,
    /// Spending caps set for this session (`/budget set`), by setting name, in dollars.
    caps: Mutex<std::collections::BTreeMap<String, f64>>,
    gauntlet: Mutex<GauntletSession>,
}

/// The gauntlet in this session: what `/gauntlet` set (None: the settings decide) and the
/// dispatches it has spent against `gauntlet.budget`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GauntletSession {
    pub enabled: Option<bool>,
    pub preset: Option<GauntletPreset>,
    pub used: u32,
    /// The budget's exhaustion was reported (it is said once per session).
    pub exhausted_told: bool,
}

/// The activity log, opened on first use and kept open: one write per event.
struct ActivityLog {
    path: PathBuf,
    file: Option<File>,
    /// Size past which it starts a new file ([`ACTIVITY_MAX`]).
    max: u64,
}

impl ActivityLog {
    /// Append `line`, first moving a full log aside (see [`ActivityLog::roll`]).
    fn append(&mut self, line: &[u8]) {
        let full = self
            .file
            .as_ref()
            .and_then(|f| f.metadata().ok())
            .is_some_and(|m| m.len() >= self.max);
        if full {
            self.roll();
        }
        if self.file.is_none() {
            match open_jsonl(&self.path) {
                Ok(f) => self.file = Some(f),
                Err(e) => tracing::warn!("cannot open {}: {e}", self.path.display()),
            }
        }
        if let Some(f) = self.file.as_mut() {
            if let Err(e) = f.write_all(line) {
                tracing::warn!("cannot append to {}: {e}", self.path.display());
                self.file = None;
            }
        }
    }

    /// The open log is full: rename it to `<name>.1` if it is still the file in place (under
    /// a lock, as several clk processes may write it), and let the next write open a new one.
    /// A process whose file another one moved already just opens the new file: every writer
    /// looks at the size of its own file before each line, and a moved file is a full one.
    fn roll(&mut self) {
        use std::os::unix::fs::MetadataExt;
        let Some(f) = self.file.take() else { return };
        let id = |m: std::fs::Metadata| (m.dev(), m.ino());
        let ours = f.metadata().ok().map(id);
        let path = &self.path;
        let moved = crate::engine::store::lock::with_file_lock(path, || {
            if std::fs::metadata(path).ok().map(id) != ours {
                return Ok(());
            }
            let mut old = path.as_os_str().to_owned();
            old.push(".1");
            std::fs::rename(path, old)
        });
        if let Err(e) = moved.and_then(|r| r) {
            tracing::warn!("cannot start a new {}: {e}", path.display());
        }
    }
}

impl Bus {
    /// A bus that logs to `activity` (when given) and broadcasts.
    pub fn new(activity: Option<PathBuf>) -> Bus {
        let (tx, _) = broadcast::channel(CAPACITY);
        Bus {
            tx,
            log: activity.map(|path| {
                Arc::new(Mutex::new(ActivityLog {
                    path,
                    file: None,
                    max: ACTIVITY_MAX,
                }))
            }),
            control: Arc::new(Control::default()),
        }
    }

    /// A bus whose log starts a new file past `max` bytes instead of [`ACTIVITY_MAX`].
    #[cfg(test)]
    fn with_log_limit(path: PathBuf, max: u64) -> Bus {
        let bus = Bus::new(Some(path));
        if let Some(log) = &bus.log {
            log.lock().unwrap().max = max;
        }
        bus
    }

    /// Say whether a person is there to answer questions (the dashboard, a terminal).
    pub fn set_interactive(&self, interactive: bool) {
        self.control
            .interactive
            .store(interactive, Ordering::SeqCst);
    }

    pub fn is_interactive(&self) -> bool {
        self.control.interactive.load(Ordering::SeqCst)
    }

    /// Ask the person a yes/no question and wait for the answer. No is the default: with
    /// nobody to ask, on abort, or when the engine goes away, the answer is no.
    pub async fn ask(&self, question: impl Into<String>) -> bool {
        self.ask_about(None, question).await
    }

    /// As [`Bus::ask`], naming the agent the question is about, so its card can say it waits.
    pub async fn ask_about(&self, about: Option<&str>, question: impl Into<String>) -> bool {
        let about = about.map(str::to_string);
        let id = self.control.next_question.fetch_add(1, Ordering::SeqCst) + 1;
        let question = question.into();
        if !self.is_interactive() {
            self.emit(Event::ConfirmRequested {
                id,
                question,
                about: about.clone(),
            });
            self.emit(Event::ConfirmAnswered {
                id,
                approve: false,
                by: "headless".into(),
            });
            return false;
        }
        let (tx, rx) = oneshot::channel();
        self.pending().insert(id, tx);
        self.emit(Event::ConfirmRequested {
            id,
            question,
            about: about.clone(),
        });
        rx.await.unwrap_or(false)
    }

    /// Deliver the answer to question `id`. False when no such question is waiting.
    pub fn answer(&self, id: u64, approve: bool) -> bool {
        let Some(tx) = self.pending().remove(&id) else {
            return false;
        };
        self.emit(Event::ConfirmAnswered {
            id,
            approve,
            by: "user".into(),
        });
        let _ = tx.send(approve);
        true
    }

    /// Answer every waiting question with no (on abort).
    pub fn answer_all_no(&self) {
        let waiting: Vec<_> = self.pending().drain().collect();
        for (id, tx) in waiting {
            self.emit(Event::ConfirmAnswered {
                id,
                approve: false,
                by: "abort".into(),
            });
            let _ = tx.send(false);
        }
    }

    /// Ids of the questions still waiting for an answer, oldest first.
    pub fn waiting_questions(&self) -> Vec<u64> {
        let mut ids: Vec<u64> = self.pending().keys().copied().collect();
        ids.sort_unstable();
        ids
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, HashMap<u64, oneshot::Sender<bool>>> {
        self.control
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Set a spending cap for the rest of the session (`budget.session_usd_cap` or
    /// `budget.agent_usd_caps.<agent>`); the next budget check sees it, even in running work.
    pub fn set_cap(&self, key: &str, usd: f64) {
        self.control
            .caps
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.to_string(), usd);
    }

    /// The caps set for this session, by setting name.
    pub fn session_caps(&self) -> std::collections::BTreeMap<String, f64> {
        self.control
            .caps
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The gauntlet's state in this session.
    pub fn gauntlet(&self) -> GauntletSession {
        self.gauntlet_lock().clone()
    }

    /// `/gauntlet on|off|<preset>`: for the rest of the session; None leaves a part as it is.
    pub fn set_gauntlet(&self, enabled: Option<bool>, preset: Option<GauntletPreset>) {
        let mut g = self.gauntlet_lock();
        if enabled.is_some() {
            g.enabled = enabled;
        }
        if preset.is_some() {
            g.preset = preset;
        }
    }

    /// Take one gauntlet dispatch from the session's `budget`; false when it is spent.
    pub fn gauntlet_spend(&self, budget: u32) -> bool {
        let mut g = self.gauntlet_lock();
        if g.used >= budget {
            return false;
        }
        g.used += 1;
        true
    }

    /// True the first time it is called after the budget ran out, so it is reported once.
    pub fn gauntlet_tell_exhausted(&self) -> bool {
        let mut g = self.gauntlet_lock();
        !std::mem::replace(&mut g.exhausted_told, true)
    }

    fn gauntlet_lock(&self) -> std::sync::MutexGuard<'_, GauntletSession> {
        self.control
            .gauntlet
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Ask running work to stop after its current step.
    pub fn request_stop(&self) {
        self.control.stop.store(true, Ordering::SeqCst);
    }

    /// True once a stop was requested; loops check it between steps.
    pub fn stop_requested(&self) -> bool {
        self.control.stop.load(Ordering::SeqCst)
    }

    /// Forget a stop request (when new work starts).
    pub fn clear_stop(&self) {
        self.control.stop.store(false, Ordering::SeqCst);
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
            let mut line = serde_json::to_string(&value).unwrap_or_default();
            line.push('\n');
            log.lock()
                .unwrap_or_else(|p| p.into_inner())
                .append(line.as_bytes());
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

    /// The lines of `path` (none when it is missing), each checked to be whole JSON.
    fn json_lines(path: &std::path::Path) -> Vec<serde_json::Value> {
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
            .collect()
    }

    fn note(writer: usize, n: usize) -> Event {
        Event::Warning {
            message: format!("writer {writer} line {n} {}", "x".repeat(60)),
        }
    }

    #[test]
    fn a_full_log_starts_a_new_file_and_keeps_the_last_one() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("logs/activity.jsonl");
        let bus = Bus::with_log_limit(log.clone(), 8 * 1024);
        for n in 0..100 {
            bus.emit(note(0, n));
        }
        let (old, new) = (json_lines(&log.with_extension("jsonl.1")), json_lines(&log));
        assert!(
            !old.is_empty() && !new.is_empty(),
            "{} / {}",
            old.len(),
            new.len()
        );
        assert_eq!(old.len() + new.len(), 100);
        assert!(std::fs::metadata(&log).unwrap().len() < 8 * 1024);
        // In order: the kept file ends where the new one starts.
        let text = |v: &serde_json::Value| v["message"].as_str().unwrap().to_string();
        assert!(text(old.last().unwrap()).contains(&format!("line {} ", old.len() - 1)));
        assert!(text(&new[0]).contains(&format!("line {} ", old.len())));
    }

    #[test]
    fn writers_in_several_processes_lose_no_line_when_the_log_rolls() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("logs/activity.jsonl");
        let kept = log.with_extension("jsonl.1");
        // Two buses, each with its own open file, as two clk processes have.
        let (a, b) = (
            Bus::with_log_limit(log.clone(), 4 * 1024),
            Bus::with_log_limit(log.clone(), 4 * 1024),
        );
        b.emit(note(1, 0));
        let mut n = 0;
        while !kept.exists() {
            a.emit(note(0, n));
            n += 1;
        }
        // `a` moved the full file aside and wrote to a new one; `b` still has the full one
        // open: it must open the new file, not move that one aside too (and lose the first).
        b.emit(note(1, 1));
        a.emit(note(0, n));
        let (old, new) = (json_lines(&kept), json_lines(&log));
        assert_eq!(
            old.len() + new.len(),
            n + 3,
            "{} + {}",
            old.len(),
            new.len()
        );
        assert_eq!(new.len(), 3);
    }

    #[tokio::test]
    async fn headless_questions_are_answered_no_at_once() {
        let bus = Bus::new(None);
        let mut rx = bus.subscribe();
        assert!(!bus.ask("spend more?").await);
        assert!(matches!(
            rx.try_recv().unwrap(),
            Event::ConfirmRequested { id: 1, .. }
        ));
        assert_eq!(
            rx.try_recv().unwrap(),
            Event::ConfirmAnswered {
                id: 1,
                approve: false,
                by: "headless".into()
            }
        );
        assert!(bus.waiting_questions().is_empty());
    }

    #[tokio::test]
    async fn an_interactive_question_waits_for_its_answer() {
        let bus = Bus::new(None);
        bus.set_interactive(true);
        let mut rx = bus.subscribe();
        let asker = bus.clone();
        let yes = tokio::spawn(async move { asker.ask("go on?").await });
        let Event::ConfirmRequested { id, question, .. } = rx.recv().await.unwrap() else {
            panic!("expected a question first");
        };
        assert_eq!(question, "go on?");
        assert!(!bus.answer(id + 100, true), "an unknown id is refused");
        assert!(bus.answer(id, true));
        assert!(yes.await.unwrap());
        // A second question, then an abort: the answer is no.
        let asker = bus.clone();
        let no = tokio::spawn(async move { asker.ask("again?").await });
        while bus.waiting_questions().is_empty() {
            tokio::task::yield_now().await;
        }
        bus.answer_all_no();
        assert!(!no.await.unwrap());
    }

    #[test]
    fn stop_is_shared_by_clones_until_cleared() {
        let bus = Bus::new(None);
        let other = bus.clone();
        assert!(!other.stop_requested());
        bus.request_stop();
        assert!(other.stop_requested());
        other.clear_stop();
        assert!(!bus.stop_requested());
    }

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
