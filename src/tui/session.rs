//! What a dashboard session leaves on disk: the session lock and the status-log mirror.
//!
//! The dashboard holds the project lock (`store::lock`) for its lifetime, so a second dashboard, or
//! a state-changing `clk` command, is refused while it runs. The marker `.clk/state/.tui-active`
//! holds the dashboard's PID: found by the next dashboard (which holds the project lock, so its
//! writer is gone), it means the last session crashed (a panic or a kill leaves it on purpose); the
//! next start says so and points at the preserved conversation. The mirror `.clk/logs/session.log`
//! gets every status-log line with its level, between `=== session start/end ===` markers.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::fmt;
use super::log::{Level, Log};
use crate::engine::store::lock::{LockError, ProjectLock};
use crate::engine::store::workspace::Workspace;

/// The held lock; released on a clean exit (and on an early error), kept after a panic.
#[derive(Debug)]
pub struct SessionLock {
    path: PathBuf,
    pid: u32,
    /// The project lock, held for the dashboard's lifetime: no other clk changes the project
    /// meanwhile, and a second dashboard is refused. The OS drops it however the process ends.
    _project: ProjectLock,
}

/// Why a dashboard cannot start, or what it found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockState {
    /// No earlier session, or it ended cleanly.
    Fresh,
    /// An earlier session died without cleaning up.
    Recovered { prior_pid: u32 },
}

pub fn lock_path(ws: &Workspace) -> PathBuf {
    ws.state_dir().join(".tui-active")
}

pub fn conversation_path(ws: &Workspace) -> PathBuf {
    crate::engine::store::conversation::log_path(ws)
}

/// How the dashboard is named to a command it refuses.
pub const HOLDER: &str = "the clk dashboard";

impl SessionLock {
    /// Take the project lock for this process, then the crash marker.
    pub fn acquire(ws: &Workspace) -> Result<(SessionLock, LockState), String> {
        let project = ProjectLock::acquire(ws, HOLDER).map_err(|e| match e {
            LockError::Held(h) if h.command == HOLDER => format!(
                "another clk dashboard (pid {}, since {}) is open on this project; use that one",
                h.pid,
                h.since()
            ),
            e => e.to_string(),
        })?;
        let path = lock_path(ws);
        let me = std::process::id();
        let mut state = LockState::Fresh;
        // We hold the project lock, so a marker left by another PID is from a crashed session.
        if let Ok(text) = std::fs::read_to_string(&path) {
            let prior = text.trim().parse::<u32>().unwrap_or(0);
            if prior != me {
                state = LockState::Recovered { prior_pid: prior };
            }
        }
        std::fs::write(&path, format!("{me}\n"))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        Ok((
            SessionLock {
                path,
                pid: me,
                _project: project,
            },
            state,
        ))
    }

    /// Remove the lock if it is still ours.
    pub fn release(&self) {
        let ours = std::fs::read_to_string(&self.path)
            .ok()
            .and_then(|t| t.trim().parse::<u32>().ok())
            == Some(self.pid);
        if ours {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

impl Drop for SessionLock {
    fn drop(&mut self) {
        // A panic is a crash: leave the marker so the next start reports it.
        if !std::thread::panicking() {
            self.release();
        }
    }
}

/// The recovery line shown when a crashed session's lock was found.
pub fn recovery_note(ws: &Workspace, prior_pid: u32) -> String {
    format!(
        "recovered from a crashed session (pid {prior_pid}); the conversation is preserved in {}",
        display_rel(ws, &conversation_path(ws))
    )
}

fn display_rel(ws: &Workspace, p: &Path) -> String {
    p.strip_prefix(&ws.root)
        .map(|r| r.display().to_string())
        .unwrap_or_else(|_| p.display().to_string())
}

/// Lines of earlier sessions shown when the dashboard starts.
pub const PREVIOUS_TAIL: usize = 12;

/// How much of the end of `.clk/logs/session.log` is read for the tail: far more than
/// [`PREVIOUS_TAIL`] lines, and never the whole of a long history.
const TAIL_BYTES: u64 = 256 * 1024;

/// The last `n` lines of `.clk/logs/session.log`, as (level, time of day, text); empty when
/// there was none. They reach back past the newest session when it was short (a start and a
/// `/quit` says nothing about where the work stands).
pub fn previous_tail(ws: &Workspace, n: usize) -> Vec<(Level, u32, String)> {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut file) = File::open(ws.logs_dir().join("session.log")) else {
        return Vec::new();
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let from = len.saturating_sub(TAIL_BYTES);
    let mut bytes = Vec::new();
    if file.seek(SeekFrom::Start(from)).is_err() || file.read_to_end(&mut bytes).is_err() {
        return Vec::new();
    }
    let text = String::from_utf8_lossy(&bytes);
    // Read from the middle of the file, the first line is likely cut: skip it.
    let text = match (from > 0, text.split_once('\n')) {
        (true, Some((_, rest))) => rest,
        _ => &text,
    };
    let mut lines: Vec<(Level, u32, String)> = text.lines().filter_map(parse_line).collect();
    let skip = lines.len().saturating_sub(n);
    lines.drain(..skip);
    lines
}

/// `HH:MM:SS [LEVEL] text`, as the mirror writes it.
fn parse_line(line: &str) -> Option<(Level, u32, String)> {
    let (clock, rest) = line.split_once(' ')?;
    let mut hms = clock.split(':').map(|p| p.parse::<u32>().ok());
    let (h, m, s) = (hms.next()??, hms.next()??, hms.next()??);
    let (tag, text) = rest.strip_prefix('[')?.split_once("] ")?;
    let level = [
        Level::Info,
        Level::Warn,
        Level::Error,
        Level::User,
        Level::System,
    ]
    .into_iter()
    .find(|l| l.tag() == tag)?;
    Some((level, h * 3600 + m * 60 + s, text.to_string()))
}

fn history_path(ws: &Workspace) -> PathBuf {
    ws.state_dir().join("input_history.txt")
}

/// What the user typed in earlier sessions of this project, oldest first.
pub fn load_history(ws: &Workspace) -> Vec<String> {
    std::fs::read_to_string(history_path(ws))
        .map(|t| {
            t.lines()
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Keep the input history for the next session (redacted: a key typed by mistake stays out).
pub fn save_history(ws: &Workspace, history: &[String]) {
    let text: String = history
        .iter()
        .map(|h| format!("{}\n", crate::engine::ground::redact::redact_text(h)))
        .collect();
    let _ = crate::engine::store::workspace::replace_file(
        &history_path(ws),
        text.as_bytes(),
        crate::engine::store::workspace::Durability::ClkCrash,
    );
}

/// Appends new status-log lines to `.clk/logs/session.log`.
pub struct SessionLog {
    out: Option<BufWriter<File>>,
    /// The next log sequence number to write.
    next: u64,
}

fn stamp() -> String {
    chrono::Local::now().format("%Y-%m-%d %H:%M:%S").to_string()
}

impl SessionLog {
    /// Open (append) and write the start marker. A log that cannot be opened is skipped:
    /// the dashboard works without its mirror.
    pub fn open(ws: &Workspace) -> SessionLog {
        let dir = ws.logs_dir();
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("session.log");
        // A full mirror is kept as session.log.1 and a new one starts.
        let _ =
            crate::engine::store::prune::roll_if_over(&path, crate::engine::store::prune::LOG_MAX);
        let out = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .ok()
            .map(BufWriter::new);
        let mut s = SessionLog { out, next: 0 };
        s.line(&format!("=== session start {} ===", stamp()));
        s
    }

    fn line(&mut self, text: &str) {
        if let Some(out) = self.out.as_mut()
            && writeln!(out, "{text}").is_err()
        {
            self.out = None;
        }
    }

    /// Write every log entry not yet written (entries already dropped from memory are gone
    /// from the screen too; the log keeps 100,000, far more than one burst).
    pub fn sync(&mut self, log: &Log) {
        let mut lines = Vec::new();
        for e in log.since(self.next) {
            lines.push(format!(
                "{} [{}] {}",
                fmt::clock(e.tod_secs),
                e.level.tag(),
                e.text
            ));
        }
        for l in lines {
            self.line(&l);
        }
        self.next = log.next_seq();
        if let Some(out) = self.out.as_mut() {
            let _ = out.flush();
        }
    }

    /// Do not write entries before `seq` (the previous session's tail shown at start is in
    /// the file already).
    pub fn skip_to(&mut self, seq: u64) {
        self.next = seq;
    }

    pub fn close(mut self, log: &Log) {
        self.sync(log);
        self.line(&format!("=== session end {} ===", stamp()));
        if let Some(out) = self.out.as_mut() {
            let _ = out.flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_lock_refuses_and_a_dead_one_is_recovered() {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::new(dir.path());
        let (lock, state) = SessionLock::acquire(&ws).unwrap();
        assert_eq!(state, LockState::Fresh);
        let refused = SessionLock::acquire(&ws).unwrap_err();
        assert!(
            refused.starts_with(&format!(
                "another clk dashboard (pid {}",
                std::process::id()
            )),
            "{refused}"
        );
        drop(lock);
        assert!(!lock_path(&ws).exists(), "a clean drop releases");
        // A marker of a PID no process has: the earlier session crashed.
        std::fs::write(lock_path(&ws), "999999999\n").unwrap();
        let (lock, state) = SessionLock::acquire(&ws).unwrap();
        assert_eq!(
            state,
            LockState::Recovered {
                prior_pid: 999_999_999
            }
        );
        lock.release();
        assert!(!lock_path(&ws).exists());
        assert!(recovery_note(&ws, 7).contains(".clk/state/conversation.jsonl"));
    }

    #[test]
    fn the_mirror_gets_every_line_once_between_markers() {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::new(dir.path());
        let mut log = Log::default();
        let mut m = SessionLog::open(&ws);
        log.push(Level::Info, 61, "one");
        m.sync(&log);
        log.push(Level::Warn, 62, "two");
        m.sync(&log);
        m.close(&log);
        let text = std::fs::read_to_string(ws.logs_dir().join("session.log")).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("=== session start"), "{text}");
        assert_eq!(lines[1], "00:01:01 [INFO] one");
        assert_eq!(lines[2], "00:01:02 [WARN] two");
        assert!(lines[3].starts_with("=== session end"), "{text}");
        let tail = previous_tail(&ws, 1);
        assert_eq!(tail, vec![(Level::Warn, 62, "two".to_string())]);
        assert_eq!(previous_tail(&ws, 9).len(), 2);
        // A short session after it (a start and a /quit): the tail reaches back to the work.
        let mut log = Log::default();
        let m = SessionLog::open(&ws);
        log.push(Level::User, 70, "> /quit");
        m.close(&log);
        assert_eq!(
            previous_tail(&ws, 3),
            vec![
                (Level::Info, 61, "one".to_string()),
                (Level::Warn, 62, "two".to_string()),
                (Level::User, 70, "> /quit".to_string()),
            ]
        );
    }

    #[test]
    fn the_tail_of_a_long_log_is_read_from_its_end() {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::new(dir.path());
        std::fs::create_dir_all(ws.logs_dir()).unwrap();
        let mut text = String::new();
        for i in 0..20_000u32 {
            text.push_str(&format!(
                "00:00:{:02} [INFO] line {i} {}\n",
                i % 60,
                "x".repeat(20)
            ));
        }
        std::fs::write(ws.logs_dir().join("session.log"), &text).unwrap();
        let tail = previous_tail(&ws, 2);
        assert_eq!(tail.len(), 2);
        assert!(tail[1].2.starts_with("line 19999 "), "{tail:?}");
    }

    #[test]
    fn history_survives_a_restart_without_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::new(dir.path());
        std::fs::create_dir_all(ws.state_dir()).unwrap();
        assert!(load_history(&ws).is_empty());
        let key = format!("sk-ant-{}", "a".repeat(40));
        save_history(&ws, &["/run".into(), format!("use {key}")]);
        let h = load_history(&ws);
        assert_eq!(h[0], "/run");
        assert!(!h[1].contains(&key), "{h:?}");
    }
}
