//! clk's own record of posts, kept from the commands agents run.
//!
//! The done gate believes only the posts clk recorded in `.clk/state/posts.jsonl`, and agents
//! read the blackboard folder's posts. The OS sandbox keeps `.clk/` read-only for commands;
//! where it is off, or a command slips past the deny-list's wording, [`ClkGuard`] notes both
//! before a command runs and puts them back afterwards: a post the command added is removed,
//! one it changed or removed is restored, and the record is restored byte for byte. Each put
//! back is reported, so the attempt is seen.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

/// Blackboard bytes kept in memory for putting posts back; past this, new files are still
/// removed but changed ones cannot be restored.
const KEEP_BYTES: usize = 16 * 1024 * 1024;

/// A file changed less than this before a look may change again without its times moving
/// (the clock ticks coarsely); such a file is read and compared, not trusted by its stamp.
const RACY: Duration = Duration::from_secs(2);

/// What a file's metadata says about it. Any write moves the change time to the clock's
/// now, which no command can set back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    len: u64,
    mtime: i128,
    ctime: i128,
    ino: u64,
}

impl Stamp {
    fn of(meta: &std::fs::Metadata) -> Stamp {
        use std::os::unix::fs::MetadataExt;
        Stamp {
            len: meta.len(),
            mtime: meta.mtime() as i128 * 1_000_000_000 + meta.mtime_nsec() as i128,
            ctime: meta.ctime() as i128 * 1_000_000_000 + meta.ctime_nsec() as i128,
            ino: meta.ino(),
        }
    }

    /// Old enough that a later change must show in the stamp.
    fn settled(&self, now: i128) -> bool {
        self.mtime.max(self.ctime) + (RACY.as_nanos() as i128) < now
    }
}

fn now_ns() -> i128 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128)
}

/// A file as it was, and the bytes it had.
#[derive(Debug, Clone)]
struct Seen {
    stamp: Stamp,
    bytes: Option<Arc<Vec<u8>>>,
}

/// The last look at each guarded file in this process: a file whose stamp has not moved
/// since is not read again, so a guard costs what changed, not the number of posts.
static LAST: LazyLock<Mutex<HashMap<PathBuf, Seen>>> = LazyLock::new(Default::default);

/// Look at `path`: its bytes from the last look when its stamp says it has not changed
/// since, else read (when `read`). None when it is not a file.
fn look(last: &HashMap<PathBuf, Seen>, path: &Path, now: i128, read: bool) -> Option<Seen> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    if !meta.is_file() {
        return Some(Seen {
            stamp: Stamp::of(&meta),
            bytes: None,
        });
    }
    let stamp = Stamp::of(&meta);
    if let Some(old) = last.get(path) {
        if old.stamp == stamp && stamp.settled(now) && old.bytes.is_some() {
            return Some(old.clone());
        }
    }
    let bytes = if read {
        std::fs::read(path).ok().map(Arc::new)
    } else {
        None
    };
    Some(Seen { stamp, bytes })
}

/// The record and the blackboard folder as they were before a command.
#[derive(Debug)]
pub(super) struct ClkGuard {
    record: PathBuf,
    record_before: Option<Seen>,
    board: PathBuf,
    board_before: BTreeMap<String, Seen>,
    /// When the first look was taken.
    at: i128,
}

fn board_files(last: &HashMap<PathBuf, Seen>, dir: &Path, now: i128) -> BTreeMap<String, Seen> {
    let mut out = BTreeMap::new();
    let mut kept = 0usize;
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(seen) = look(last, &e.path(), now, kept < KEEP_BYTES) else {
            continue;
        };
        kept += seen.bytes.as_ref().map_or(0, |b| b.len());
        out.insert(name, seen);
    }
    out
}

impl ClkGuard {
    /// Note the record and the folder under `root/.clk`.
    pub(super) fn begin(root: &Path) -> ClkGuard {
        let record = root.join(".clk/state/posts.jsonl");
        let board = root.join(".clk/blackboard");
        let at = now_ns();
        let mut last = LAST.lock().unwrap_or_else(PoisonError::into_inner);
        let record_before = look(&last, &record, at, true).filter(|s| s.bytes.is_some());
        let board_before = board_files(&last, &board, at);
        // What this look saw is what the next one compares with.
        last.retain(|k, _| !k.starts_with(&board) && *k != record);
        for (name, seen) in &board_before {
            last.insert(board.join(name), seen.clone());
        }
        if let Some(seen) = &record_before {
            last.insert(record.clone(), seen.clone());
        }
        ClkGuard {
            record,
            record_before,
            board,
            board_before,
            at,
        }
    }

    /// A guard that watches nothing (what is left after [`ClkGuard::finish`] is taken).
    pub(super) fn empty() -> ClkGuard {
        ClkGuard {
            record: PathBuf::new(),
            record_before: None,
            board: PathBuf::new(),
            board_before: BTreeMap::new(),
            at: 0,
        }
    }

    /// Whether the file at `path`, seen as `before` by [`ClkGuard::begin`], is unchanged:
    /// by its stamp when that was settled then, else by its bytes.
    fn same(&self, path: &Path, before: &Seen) -> bool {
        let Ok(meta) = std::fs::symlink_metadata(path) else {
            return false;
        };
        if !meta.is_file() {
            return false;
        }
        if Stamp::of(&meta) == before.stamp && before.stamp.settled(self.at) {
            return true;
        }
        match &before.bytes {
            Some(old) => std::fs::read(path).is_ok_and(|now| now == **old),
            None => false,
        }
    }

    /// Put back whatever changed; the `.clk/…` paths that had to be put back, each with what
    /// became of it.
    pub(super) fn finish(self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let record_same = match &self.record_before {
            Some(before) => self.same(&self.record, before),
            None => std::fs::symlink_metadata(&self.record).is_err(),
        };
        if !record_same {
            let res = match self.record_before.as_ref().and_then(|s| s.bytes.as_ref()) {
                Some(bytes) => std::fs::write(&self.record, bytes.as_slice()),
                None => std::fs::remove_file(&self.record),
            };
            out.push((".clk/state/posts.jsonl".to_string(), outcome(res)));
        }
        let mut names = std::collections::HashSet::new();
        if let Ok(rd) = std::fs::read_dir(&self.board) {
            for e in rd.flatten() {
                names.insert(e.file_name().to_string_lossy().into_owned());
            }
        }
        let mut sorted: Vec<&String> = names.iter().collect();
        sorted.sort();
        for name in sorted {
            let path = self.board.join(name);
            let res = match self.board_before.get(name) {
                Some(old) if self.same(&path, old) => continue,
                Some(Seen {
                    bytes: Some(old), ..
                }) => {
                    if path.is_dir() {
                        let _ = std::fs::remove_dir_all(&path);
                    }
                    std::fs::write(&path, old.as_slice())
                }
                // Changed, but too big a folder to have kept its bytes: it stays.
                Some(_) => continue,
                None if path.is_dir() => std::fs::remove_dir_all(&path),
                None => std::fs::remove_file(&path),
            };
            out.push((format!(".clk/blackboard/{name}"), outcome(res)));
        }
        for (name, old) in &self.board_before {
            if names.contains(name) {
                continue;
            }
            if let Some(bytes) = &old.bytes {
                let res = std::fs::write(self.board.join(name), bytes.as_slice());
                out.push((format!(".clk/blackboard/{name}"), outcome(res)));
            }
        }
        out
    }
}

fn outcome(res: std::io::Result<()>) -> String {
    match res {
        Ok(()) => "put back".into(),
        Err(e) => format!("could not be put back: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forged_and_rewritten_posts_are_put_back() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join(".clk/state")).unwrap();
        std::fs::create_dir_all(root.join(".clk/blackboard")).unwrap();
        std::fs::write(root.join(".clk/state/posts.jsonl"), "{\"id\":\"a\"}\n").unwrap();
        std::fs::write(root.join(".clk/blackboard/a.json"), "FAIL").unwrap();
        let guard = ClkGuard::begin(root);
        std::fs::write(root.join(".clk/state/posts.jsonl"), "forged\n").unwrap();
        std::fs::write(root.join(".clk/blackboard/a.json"), "PASS").unwrap();
        std::fs::write(root.join(".clk/blackboard/b.json"), "PASS").unwrap();
        let put_back = guard.finish();
        assert_eq!(put_back.len(), 3, "{put_back:?}");
        let read = |p: &str| std::fs::read_to_string(root.join(p)).unwrap();
        assert_eq!(read(".clk/state/posts.jsonl"), "{\"id\":\"a\"}\n");
        assert_eq!(read(".clk/blackboard/a.json"), "FAIL");
        assert!(!root.join(".clk/blackboard/b.json").exists());
        assert!(ClkGuard::begin(root).finish().is_empty());
    }

    #[test]
    fn a_settled_post_rewritten_to_the_same_size_is_put_back() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join(".clk/blackboard")).unwrap();
        std::fs::write(root.join(".clk/blackboard/a.json"), "FAIL").unwrap();
        std::fs::write(root.join(".clk/blackboard/c.json"), "keep").unwrap();
        // Old enough to be trusted by its stamp: the next looks do not read it.
        std::thread::sleep(RACY + Duration::from_millis(100));
        assert!(ClkGuard::begin(root).finish().is_empty());
        let guard = ClkGuard::begin(root);
        std::fs::write(root.join(".clk/blackboard/a.json"), "PASS").unwrap();
        std::fs::remove_file(root.join(".clk/blackboard/c.json")).unwrap();
        let put_back = guard.finish();
        assert_eq!(put_back.len(), 2, "{put_back:?}");
        let read = |p: &str| std::fs::read_to_string(root.join(p)).unwrap();
        assert_eq!(read(".clk/blackboard/a.json"), "FAIL");
        assert_eq!(read(".clk/blackboard/c.json"), "keep");
    }
}
