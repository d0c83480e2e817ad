//! One writer per project, and no lost update to a shared state file.
//!
//! The project lock `.clk/state/clk.lock` is held, with an OS advisory lock (`flock`), by every
//! command that changes the project for as long as it runs; the file says who holds it (PID,
//! command, start time). The kernel drops a `flock` when its holder exits however it exits, so
//! a crashed or killed holder never blocks the next command: the lock is stale exactly when no
//! one holds it, whatever the file still says. The descriptor is opened close-on-exec, so a
//! child process (an agent's command, a CLI provider) never inherits the lock.
//!
//! [`with_file_lock`] guards one read-modify-write of a shared file (the usage totals) with a
//! blocking `flock` on a sibling `.lock` file, so two processes, or two threads of one, never
//! lose an increment.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::engine::ground::redact::redact_text;
use crate::engine::store::workspace::Workspace;

/// The project lock's file.
pub fn lock_path(ws: &Workspace) -> PathBuf {
    ws.state_dir().join("clk.lock")
}

/// Who holds the project lock, as its file says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    pub pid: u32,
    /// What the holder is, in words: `clk run`, `the clk dashboard`.
    pub command: String,
    /// When it took the lock (RFC 3339, local time).
    pub started_at: String,
}

impl Holder {
    /// The start time as people read it: `21:03`.
    pub fn since(&self) -> String {
        chrono::DateTime::parse_from_rfc3339(&self.started_at)
            .map(|t| t.format("%H:%M").to_string())
            .unwrap_or_else(|_| "a moment ago".into())
    }
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.pid == 0 {
            // Caught between taking the lock and writing its name.
            return write!(
                f,
                "another clk process is working in this project; wait for it or stop it"
            );
        }
        write!(
            f,
            "{} (pid {}, since {}) is working in this project; wait for it or stop it",
            self.command,
            self.pid,
            self.since()
        )
    }
}

/// Why the project lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process holds it.
    #[error("{0}")]
    Held(Holder),
    #[error("cannot use the project lock {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The held project lock; released when dropped (or when the process ends, however it ends).
#[derive(Debug)]
pub struct ProjectLock {
    file: File,
    pub holder: Holder,
}

/// `flock` on `file`; `Ok(false)` when `block` is false and another description holds it.
fn flock(file: &File, block: bool) -> std::io::Result<bool> {
    let op = if block {
        libc::LOCK_EX
    } else {
        libc::LOCK_EX | libc::LOCK_NB
    };
    loop {
        // SAFETY: flock on a descriptor this function borrows for the call.
        if unsafe { libc::flock(file.as_raw_fd(), op) } == 0 {
            return Ok(true);
        }
        let e = std::io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::EWOULDBLOCK) if !block => return Ok(false),
            _ => return Err(e),
        }
    }
}

fn open_lock_file(path: &Path) -> std::io::Result<File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    // std opens with O_CLOEXEC: children never inherit the lock.
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
}

fn read_holder(file: &mut File) -> Option<Holder> {
    let mut text = String::new();
    file.seek(SeekFrom::Start(0)).ok()?;
    file.read_to_string(&mut text).ok()?;
    serde_json::from_str(&text).ok()
}

impl ProjectLock {
    /// Take the project lock for this process, described as `command` (`clk run`). Refused
    /// with the holder when another process has it. One process takes it once: a second
    /// take in the same process is refused too.
    pub fn acquire(ws: &Workspace, command: &str) -> Result<ProjectLock, LockError> {
        let path = lock_path(ws);
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        let mut file = open_lock_file(&path).map_err(io)?;
        if !flock(&file, false).map_err(io)? {
            let holder = read_holder(&mut file).unwrap_or_else(|| Holder {
                pid: 0,
                command: String::new(),
                started_at: String::new(),
            });
            return Err(LockError::Held(holder));
        }
        let holder = Holder {
            pid: std::process::id(),
            command: redact_text(command),
            started_at: chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
        };
        let text = serde_json::to_string(&holder).map_err(|e| io(std::io::Error::other(e)))?;
        file.set_len(0).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        file.write_all(format!("{text}\n").as_bytes()).map_err(io)?;
        Ok(ProjectLock { file, holder })
    }
}

impl Drop for ProjectLock {
    fn drop(&mut self) {
        // Say no one holds it; closing the descriptor releases the flock itself.
        let _ = self.file.set_len(0);
    }
}

/// Who holds the project lock right now, if anyone (a stale file is no one).
pub fn current_holder(ws: &Workspace) -> Option<Holder> {
    let mut file = File::open(lock_path(ws)).ok()?;
    match flock(&file, false) {
        // We got it: no one else holds it. Closing the file releases it again.
        Ok(true) => None,
        Ok(false) => read_holder(&mut file),
        Err(_) => None,
    }
}

/// Run `f` while holding an exclusive `flock` on `<path>.lock`: one read-modify-write of a
/// file shared between processes and threads, never interleaved with another.
pub fn with_file_lock<T>(path: &Path, f: impl FnOnce() -> T) -> std::io::Result<T> {
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    let file = open_lock_file(Path::new(&name))?;
    flock(&file, true)?;
    let out = f();
    drop(file);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_refuses_with_its_holder_and_is_free_after_drop() {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::new(dir.path());
        assert!(current_holder(&ws).is_none());
        let lock = ProjectLock::acquire(&ws, "clk run").unwrap();
        let Err(LockError::Held(h)) = ProjectLock::acquire(&ws, "clk ask") else {
            panic!("a second take must be refused");
        };
        assert_eq!(h.pid, std::process::id());
        assert_eq!(h.command, "clk run");
        let line = h.to_string();
        assert!(
            line.starts_with(&format!("clk run (pid {}, since ", h.pid)),
            "{line}"
        );
        assert!(line.ends_with("is working in this project; wait for it or stop it"));
        assert_eq!(current_holder(&ws), Some(h));
        drop(lock);
        assert!(current_holder(&ws).is_none());
        let again = ProjectLock::acquire(&ws, "clk ask").unwrap();
        assert_eq!(again.holder.command, "clk ask");
        let unnamed = Holder {
            pid: 0,
            command: String::new(),
            started_at: String::new(),
        };
        assert_eq!(
            unnamed.to_string(),
            "another clk process is working in this project; wait for it or stop it"
        );
    }

    #[test]
    fn a_file_left_behind_without_a_holder_is_stale() {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::new(dir.path());
        std::fs::create_dir_all(ws.state_dir()).unwrap();
        let stale =
            r#"{"pid":999999999,"command":"clk run","started_at":"2026-01-01T00:00:00+00:00"}"#;
        std::fs::write(lock_path(&ws), stale).unwrap();
        assert!(current_holder(&ws).is_none());
        let lock = ProjectLock::acquire(&ws, "clk plan").unwrap();
        assert_eq!(lock.holder.pid, std::process::id());
    }

    #[test]
    fn threads_under_the_file_lock_lose_no_increment() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("count");
        std::fs::write(&path, "0").unwrap();
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let path = path.clone();
                std::thread::spawn(move || {
                    for _ in 0..25 {
                        with_file_lock(&path, || {
                            let n: u64 = std::fs::read_to_string(&path).unwrap().parse().unwrap();
                            std::thread::yield_now();
                            std::fs::write(&path, (n + 1).to_string()).unwrap();
                        })
                        .unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "200");
    }
}
