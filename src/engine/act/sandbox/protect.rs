//! The check after a command that its protected paths (the worktree's `.git` pointer, `.clk/`)
//! are as they were.
//!
//! Bubblewrap mounts them read-only, so there the check only catches a path that did not exist
//! and was created. Landlock cannot take back write access below a writable directory, so
//! there this check is the protection: files and small directories (at most
//! [`MAX_COPY_BYTES`], held in memory) are put back byte for byte, created paths are removed,
//! and a change to a bigger directory is only reported. Since nothing the command started
//! outlives it, nothing can change them again between the check and clk's next git operation.
//! Nothing is written to disk when nothing changed: on slow disks a copy costs milliseconds.

use std::collections::hash_map::DefaultHasher;
use std::fs;
use std::hash::{Hash, Hasher};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Most entries hashed for one big directory; a bigger tree is compared on its first ones.
const MAX_ENTRIES: usize = 100_000;

/// Largest directory kept in memory so that it can be put back.
pub const MAX_COPY_BYTES: u64 = 8 << 20;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    Dir { mode: u32 },
    File { bytes: Vec<u8>, mode: u32 },
    Link(PathBuf),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Missing,
    /// A file, symlink or small directory, whole: (path relative to the protected path, node).
    Tree(Vec<(PathBuf, Node)>),
    /// A directory too big to keep: a hash of its entries' metadata.
    BigDir(u64),
}

/// What the protected paths were before the command.
#[derive(Debug, Default)]
pub struct Snapshot {
    items: Vec<(PathBuf, State)>,
}

fn node(path: &Path, m: &fs::Metadata) -> Node {
    let mode = m.permissions().mode();
    if m.file_type().is_symlink() {
        Node::Link(fs::read_link(path).unwrap_or_default())
    } else if m.is_dir() {
        Node::Dir { mode }
    } else {
        Node::File {
            bytes: fs::read(path).unwrap_or_default(),
            mode,
        }
    }
}

/// Every entry under `root` with its content, parents first; None past `limit` bytes.
fn read_tree(root: &Path, root_meta: &fs::Metadata, limit: u64) -> Option<Vec<(PathBuf, Node)>> {
    let mut out = vec![(PathBuf::new(), node(root, root_meta))];
    let mut total = 0u64;
    let mut i = 0;
    while i < out.len() {
        if matches!(out[i].1, Node::Dir { .. }) {
            let rel = out[i].0.clone();
            let mut entries: Vec<_> = fs::read_dir(root.join(&rel)).ok()?.flatten().collect();
            entries.sort_by_key(|e| e.file_name());
            for e in entries {
                let m = fs::symlink_metadata(e.path()).ok()?;
                total += m.len().max(1);
                if total > limit {
                    return None;
                }
                out.push((rel.join(e.file_name()), node(&e.path(), &m)));
            }
        }
        i += 1;
    }
    Some(out)
}

fn hash_tree(dir: &Path) -> u64 {
    let mut h = DefaultHasher::new();
    let mut stack = vec![dir.to_path_buf()];
    let mut seen = 0;
    while let Some(d) = stack.pop() {
        let Ok(entries) = fs::read_dir(&d) else {
            continue;
        };
        let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            seen += 1;
            if seen > MAX_ENTRIES {
                return h.finish();
            }
            let Ok(m) = e.metadata() else { continue };
            e.path().hash(&mut h);
            (m.len(), m.mtime(), m.mtime_nsec(), m.mode(), m.ino()).hash(&mut h);
            if m.is_dir() {
                stack.push(e.path());
            }
        }
    }
    h.finish()
}

fn state_of(path: &Path) -> State {
    let Ok(m) = fs::symlink_metadata(path) else {
        return State::Missing;
    };
    match read_tree(path, &m, MAX_COPY_BYTES) {
        Some(tree) => State::Tree(tree),
        None => State::BigDir(hash_tree(path)),
    }
}

fn remove_any(path: &Path) {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => {
            let _ = fs::remove_dir_all(path);
        }
        Ok(_) => {
            let _ = fs::remove_file(path);
        }
        Err(_) => {}
    }
}

fn write_tree(root: &Path, tree: &[(PathBuf, Node)]) -> std::io::Result<()> {
    for (rel, node) in tree {
        // `root.join("")` would add a trailing slash, which a file path cannot take.
        let path = if rel.as_os_str().is_empty() {
            root.to_path_buf()
        } else {
            root.join(rel)
        };
        match node {
            Node::Dir { mode } => {
                fs::create_dir(&path)?;
                fs::set_permissions(&path, fs::Permissions::from_mode(*mode))?;
            }
            Node::File { bytes, mode } => {
                fs::write(&path, bytes)?;
                fs::set_permissions(&path, fs::Permissions::from_mode(*mode))?;
            }
            Node::Link(target) => std::os::unix::fs::symlink(target, &path)?,
        }
    }
    Ok(())
}

impl Snapshot {
    pub fn take(paths: &[PathBuf]) -> Snapshot {
        Snapshot {
            items: paths.iter().map(|p| (p.clone(), state_of(p))).collect(),
        }
    }

    /// Paths that changed; all but big directories are put back as they were.
    pub fn verify_and_restore(&mut self) -> Vec<PathBuf> {
        let mut changed = Vec::new();
        for (path, before) in &mut self.items {
            let now = state_of(path);
            if &now == before {
                continue;
            }
            changed.push(path.clone());
            match before {
                State::Missing => remove_any(path),
                State::Tree(tree) => {
                    remove_any(path);
                    let _ = write_tree(path, tree);
                }
                // Too big to have been kept; the caller reports it.
                State::BigDir(_) => {}
            }
            // What is there now is the new baseline.
            *before = state_of(path);
        }
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restores_files_and_dirs_and_removes_new_paths() {
        let dir = tempfile::tempdir().unwrap();
        let pointer = dir.path().join(".git");
        let state = dir.path().join(".clk");
        let absent = dir.path().join("absent");
        fs::write(&pointer, "gitdir: /repo/.git/worktrees/x\n").unwrap();
        fs::create_dir_all(state.join("prompts")).unwrap();
        fs::write(state.join("config"), "a").unwrap();
        fs::write(state.join("prompts/qa.md"), "qa").unwrap();
        let mut snap = Snapshot::take(&[pointer.clone(), state.clone(), absent.clone()]);
        assert!(snap.verify_and_restore().is_empty());

        fs::write(&pointer, "gitdir: /evil\n").unwrap();
        fs::write(state.join("config"), "b").unwrap();
        fs::remove_file(state.join("prompts/qa.md")).unwrap();
        fs::write(state.join("forged"), "x").unwrap();
        fs::create_dir(&absent).unwrap();
        let changed = snap.verify_and_restore();
        assert_eq!(changed, [pointer.clone(), state.clone(), absent.clone()]);
        assert_eq!(
            fs::read_to_string(&pointer).unwrap(),
            "gitdir: /repo/.git/worktrees/x\n"
        );
        assert!(!absent.exists());
        assert_eq!(fs::read_to_string(state.join("config")).unwrap(), "a");
        assert_eq!(
            fs::read_to_string(state.join("prompts/qa.md")).unwrap(),
            "qa"
        );
        assert!(!state.join("forged").exists());
        assert!(snap.verify_and_restore().is_empty());
    }

    #[test]
    fn a_big_directory_is_compared_not_kept() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big");
        fs::create_dir(&big).unwrap();
        fs::write(big.join("blob"), vec![0u8; MAX_COPY_BYTES as usize + 1]).unwrap();
        let mut snap = Snapshot::take(std::slice::from_ref(&big));
        assert!(matches!(snap.items[0].1, State::BigDir(_)));
        fs::write(big.join("new"), "x").unwrap();
        assert_eq!(snap.verify_and_restore(), [big]);
    }
}
