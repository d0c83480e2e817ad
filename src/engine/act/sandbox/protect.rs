//! The check after a command that its protected paths (the worktree's `.git` pointer, `.clk/`)
//! are as they were.
//!
//! Bubblewrap mounts them read-only, so there the check only catches a path that did not exist
//! and was created. Landlock cannot take back write access below a writable directory, so
//! there this check is the protection: files are restored byte for byte, created paths are
//! removed, and a changed directory is put back from a copy taken before the command (when it
//! is small: at most [`MAX_COPY_BYTES`]; a bigger one is only reported). Since nothing the
//! command started outlives it, nothing can change them again between the check and clk's
//! next git operation.

use std::collections::hash_map::DefaultHasher;
use std::fs;
use std::hash::{Hash, Hasher};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Most entries hashed for one directory; a bigger tree is compared on its first ones.
const MAX_ENTRIES: usize = 100_000;

/// Largest directory copied before the command so that it can be put back.
pub const MAX_COPY_BYTES: u64 = 8 << 20;

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Missing,
    File { bytes: Vec<u8>, mode: u32 },
    Link(PathBuf),
    Dir(u64),
}

/// What the protected paths were before the command.
#[derive(Debug, Default)]
pub struct Snapshot {
    items: Vec<(PathBuf, State)>,
    /// Copies of small protected directories: (original, copy).
    copies: Vec<(PathBuf, PathBuf)>,
    /// Where the copies live; removed on drop.
    copy_root: Option<PathBuf>,
}

/// Bytes under `dir`, or None once past `limit`.
fn tree_size(dir: &Path, limit: u64) -> Option<u64> {
    let mut total = 0u64;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).ok()?.filter_map(Result::ok) {
            let m = e.metadata().ok()?;
            total += m.len().max(1);
            if total > limit {
                return None;
            }
            if m.is_dir() {
                stack.push(e.path());
            }
        }
    }
    Some(total)
}

/// Copy a tree: directories, files (with their modes) and symlinks.
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    fs::create_dir_all(to)?;
    fs::set_permissions(to, fs::metadata(from)?.permissions())?;
    for e in fs::read_dir(from)? {
        let e = e?;
        let (src, dst) = (e.path(), to.join(e.file_name()));
        let t = e.file_type()?;
        if t.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(&src)?, &dst)?;
        } else if t.is_dir() {
            copy_tree(&src, &dst)?;
        } else {
            fs::copy(&src, &dst)?;
        }
    }
    Ok(())
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
    if m.file_type().is_symlink() {
        return State::Link(fs::read_link(path).unwrap_or_default());
    }
    if m.is_dir() {
        let own = (m.mtime(), m.mtime_nsec(), m.mode(), m.ino());
        let mut h = DefaultHasher::new();
        (own, hash_tree(path)).hash(&mut h);
        return State::Dir(h.finish());
    }
    State::File {
        bytes: fs::read(path).unwrap_or_default(),
        mode: m.permissions().mode(),
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

impl Snapshot {
    /// Record `paths`; with `copy_root`, also copy the small directories among them there.
    pub fn take(paths: &[PathBuf], copy_root: Option<PathBuf>) -> Snapshot {
        let mut snap = Snapshot {
            items: paths.iter().map(|p| (p.clone(), state_of(p))).collect(),
            copies: Vec::new(),
            copy_root: None,
        };
        let Some(root) = copy_root else {
            return snap;
        };
        for (i, (path, state)) in snap.items.iter().enumerate() {
            if !matches!(state, State::Dir(_)) || tree_size(path, MAX_COPY_BYTES).is_none() {
                continue;
            }
            let copy = root.join(i.to_string());
            if copy_tree(path, &copy).is_ok() {
                snap.copies.push((path.clone(), copy));
            }
        }
        snap.copy_root = Some(root);
        snap
    }

    /// Paths that changed; files and created paths are put back as they were.
    pub fn verify_and_restore(&mut self) -> Vec<PathBuf> {
        let mut changed = Vec::new();
        for (path, before) in &self.items {
            let now = state_of(path);
            if &now == before {
                continue;
            }
            changed.push(path.clone());
            match before {
                State::Missing => remove_any(path),
                State::File { bytes, mode } => {
                    remove_any(path);
                    if fs::write(path, bytes).is_ok() {
                        let _ = fs::set_permissions(path, fs::Permissions::from_mode(*mode));
                    }
                }
                State::Link(target) => {
                    remove_any(path);
                    let _ = std::os::unix::fs::symlink(target, path);
                }
                State::Dir(_) => {
                    if let Some((_, copy)) = self.copies.iter().find(|(p, _)| p == path) {
                        remove_any(path);
                        let _ = copy_tree(copy, path);
                    }
                }
            }
        }
        // What was put back is the new baseline.
        for (path, state) in self.items.iter_mut() {
            if changed.contains(path) {
                *state = state_of(path);
            }
        }
        changed
    }
}

impl Drop for Snapshot {
    fn drop(&mut self) {
        if let Some(root) = self.copy_root.take() {
            let _ = fs::remove_dir_all(root);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restores_files_removes_new_paths_and_reports_dirs() {
        let dir = tempfile::tempdir().unwrap();
        let pointer = dir.path().join(".git");
        let state = dir.path().join(".clk");
        let absent = dir.path().join("absent");
        fs::write(&pointer, "gitdir: /repo/.git/worktrees/x\n").unwrap();
        fs::create_dir(&state).unwrap();
        fs::write(state.join("config"), "a").unwrap();
        let copies = dir.path().join("copies");
        let mut snap = Snapshot::take(
            &[pointer.clone(), state.clone(), absent.clone()],
            Some(copies),
        );
        assert!(snap.verify_and_restore().is_empty());

        fs::write(&pointer, "gitdir: /evil\n").unwrap();
        fs::write(state.join("config"), "b").unwrap();
        fs::create_dir(&absent).unwrap();
        let changed = snap.verify_and_restore();
        assert_eq!(changed, [pointer.clone(), state.clone(), absent.clone()]);
        assert_eq!(
            fs::read_to_string(&pointer).unwrap(),
            "gitdir: /repo/.git/worktrees/x\n"
        );
        assert!(!absent.exists());
        assert_eq!(fs::read_to_string(state.join("config")).unwrap(), "a");
        assert!(
            snap.verify_and_restore().is_empty(),
            "restored state is the same"
        );
    }
}
