//! clk's own record of posts, kept from the commands agents run.
//!
//! The done gate believes only the posts clk recorded in `.clk/state/posts.jsonl`, and agents
//! read the blackboard folder's posts. The OS sandbox keeps `.clk/` read-only for commands;
//! where it is off, or a command slips past the deny-list's wording, [`ClkGuard`] notes both
//! before a command runs and puts them back afterwards: a post the command added is removed,
//! one it changed or removed is restored, and the record is restored byte for byte. Each put
//! back is reported, so the attempt is seen.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Blackboard bytes kept in memory for putting posts back; past this, new files are still
/// removed but changed ones cannot be restored.
const KEEP_BYTES: usize = 16 * 1024 * 1024;

/// The record and the blackboard folder as they were before a command.
#[derive(Debug)]
pub(super) struct ClkGuard {
    record: PathBuf,
    record_before: Option<Vec<u8>>,
    board: PathBuf,
    board_before: BTreeMap<String, Vec<u8>>,
}

fn board_files(dir: &Path) -> BTreeMap<String, Option<Vec<u8>>> {
    let mut out = BTreeMap::new();
    let mut kept = 0usize;
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let bytes = if kept < KEEP_BYTES {
            std::fs::read(e.path()).ok()
        } else {
            None
        };
        kept += bytes.as_ref().map_or(0, Vec::len);
        out.insert(name, bytes);
    }
    out
}

impl ClkGuard {
    /// Note the record and the folder under `root/.clk`.
    pub(super) fn begin(root: &Path) -> ClkGuard {
        let record = root.join(".clk/state/posts.jsonl");
        let board = root.join(".clk/blackboard");
        ClkGuard {
            record_before: std::fs::read(&record).ok(),
            record,
            board_before: board_files(&board)
                .into_iter()
                .filter_map(|(k, v)| v.map(|v| (k, v)))
                .collect(),
            board,
        }
    }

    /// A guard that watches nothing (what is left after [`ClkGuard::finish`] is taken).
    pub(super) fn empty() -> ClkGuard {
        ClkGuard {
            record: PathBuf::new(),
            record_before: None,
            board: PathBuf::new(),
            board_before: BTreeMap::new(),
        }
    }

    /// Put back whatever changed; the `.clk/…` paths that had to be put back, each with what
    /// became of it.
    pub(super) fn finish(self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let now = std::fs::read(&self.record).ok();
        if now != self.record_before {
            let res = match &self.record_before {
                Some(bytes) => std::fs::write(&self.record, bytes),
                None => std::fs::remove_file(&self.record),
            };
            out.push((".clk/state/posts.jsonl".to_string(), outcome(res)));
        }
        let after = board_files(&self.board);
        for (name, bytes) in &after {
            let path = self.board.join(name);
            let res = match self.board_before.get(name) {
                Some(old) if bytes.as_ref() == Some(old) => continue,
                Some(old) => std::fs::write(&path, old),
                None if path.is_dir() => std::fs::remove_dir_all(&path),
                None => std::fs::remove_file(&path),
            };
            out.push((format!(".clk/blackboard/{name}"), outcome(res)));
        }
        for (name, old) in &self.board_before {
            if !after.contains_key(name) {
                let res = std::fs::write(self.board.join(name), old);
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
}
