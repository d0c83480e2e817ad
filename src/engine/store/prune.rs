//! Old records removed, so long work does not fill the disk with them. Logs written a line at
//! a time by one process at once (`clk.log`, the dashboard's `session.log`) start a new file
//! when one opens past [`LOG_MAX`], the old one kept as `<name>.1` ([`roll_if_over`]; the
//! activity log, which several processes write, rolls itself in `bus.rs`). Run records: past
//! `records.keep_runs` (and a tenth more, so removals come in batches), the oldest folders of
//! `.clk/runs/` go, and as many of `.clk/backups/` (the originals of files agents changed).
//!
//! A run's folder name starts with the time it began, so the oldest sort first. A dispatch
//! counts itself, and at a process's first dispatch and every [`LOOK_EVERY`]th after, a thread
//! of its own looks and removes: a dispatch never waits for it. A process that ends first
//! leaves the rest for the next look.

use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::engine::store::workspace::Workspace;

/// Size past which a log opened by [`roll_if_over`] starts a new file.
pub const LOG_MAX: u64 = 16 * 1024 * 1024;

/// Before `path` is opened for appending: when it holds `max` bytes or more, move it to
/// `<path>.1` (replacing an older one). Under a lock, so two processes starting at once move
/// it once. Whether it was moved.
pub fn roll_if_over(path: &Path, max: u64) -> std::io::Result<bool> {
    crate::engine::store::lock::with_file_lock(path, || {
        match std::fs::metadata(path) {
            Ok(m) if m.len() >= max => {}
            Ok(_) => return Ok(false),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e),
        }
        let mut old = path.as_os_str().to_owned();
        old.push(".1");
        std::fs::rename(path, old).map(|()| true)
    })?
}

/// Dispatches between two looks at how many run folders there are.
pub const LOOK_EVERY: u32 = 200;

/// Dispatches this process made since its last look.
static SINCE_LOOK: AtomicU32 = AtomicU32::new(0);

/// Called by each dispatch: now and then, remove old run records past `keep` in a thread of
/// its own. 0 keeps all.
pub fn now_and_then(ws: &Workspace, keep: u32) {
    if keep == 0 || SINCE_LOOK.fetch_add(1, Ordering::Relaxed) % LOOK_EVERY != 0 {
        return;
    }
    let ws = ws.clone();
    let spawned = std::thread::Builder::new()
        .name("clk-prune".into())
        .spawn(move || {
            if let Err(e) = prune(&ws, keep as usize) {
                tracing::warn!("could not remove old run records: {e}");
            }
        });
    if let Err(e) = spawned {
        tracing::warn!("could not start removing old run records: {e}");
    }
}

/// Remove the oldest run folders past `keep`, and the oldest backup folders past `keep`, once
/// either holds more than `keep` and a tenth. How many folders went.
pub fn prune(ws: &Workspace, keep: usize) -> std::io::Result<usize> {
    Ok(prune_dir(&ws.runs_dir(), keep)? + prune_dir(&ws.backups_dir(), keep)?)
}

fn prune_dir(dir: &Path, keep: usize) -> std::io::Result<usize> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut names: Vec<std::ffi::OsString> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.file_name())
        .collect();
    if names.len() <= keep + keep / 10 {
        return Ok(0);
    }
    names.sort();
    let old = names.len() - keep;
    let mut gone = 0;
    for name in &names[..old] {
        // Another clk may be removing the same folder: what is gone already is fine.
        match std::fs::remove_dir_all(dir.join(name)) {
            Ok(()) => gone += 1,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(gone)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folders(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_log_past_its_size_is_moved_aside_once() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("clk.log");
        assert!(!roll_if_over(&log, 10).unwrap(), "no log yet");
        std::fs::write(&log, "123456789").unwrap();
        assert!(!roll_if_over(&log, 10).unwrap());
        std::fs::write(&log, "1234567890").unwrap();
        assert!(roll_if_over(&log, 10).unwrap());
        assert!(!log.exists());
        assert_eq!(
            std::fs::read_to_string(log.with_extension("log.1")).unwrap(),
            "1234567890"
        );
        // The next one replaces the kept one; a small new log stays where it is.
        std::fs::write(&log, "abcdefghijk").unwrap();
        assert!(roll_if_over(&log, 10).unwrap());
        assert_eq!(
            std::fs::read_to_string(log.with_extension("log.1")).unwrap(),
            "abcdefghijk"
        );
        std::fs::write(&log, "new").unwrap();
        assert!(!roll_if_over(&log, 10).unwrap());
    }

    #[test]
    fn the_oldest_runs_and_backups_go_once_past_a_tenth_more_than_kept() {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::new(dir.path());
        let run = |i: u32| format!("20260101T0000{i:05}-engineer");
        for i in 0..110 {
            std::fs::create_dir_all(ws.runs_dir().join(run(i))).unwrap();
            std::fs::write(ws.runs_dir().join(run(i)).join("meta.json"), "{}").unwrap();
        }
        for i in (0..110).step_by(2) {
            std::fs::create_dir_all(ws.backups_dir().join(run(i)).join("src")).unwrap();
        }
        // 110 is not past 100 and a tenth: nothing goes yet.
        assert_eq!(prune(&ws, 100).unwrap(), 0);
        std::fs::create_dir_all(ws.runs_dir().join(run(110))).unwrap();
        // A file beside the folders is not a run's record and stays.
        std::fs::write(ws.runs_dir().join("notes.txt"), "mine").unwrap();
        assert_eq!(prune(&ws, 100).unwrap(), 11);
        let left = folders(&ws.runs_dir());
        assert_eq!(left.len(), 101, "100 folders and the file");
        assert_eq!(left[0], run(11));
        assert!(left.contains(&"notes.txt".to_string()));
        // 55 backups are not past 100: all stay.
        assert_eq!(folders(&ws.backups_dir()).len(), 55);
        assert_eq!(prune(&ws, 40).unwrap(), 60 + 15);
        assert_eq!(folders(&ws.runs_dir())[0], run(71));
        assert_eq!(folders(&ws.backups_dir())[0], run(30));
    }
}
