//! Which paths of a work tree differ from git now, without walking the whole tree each time.
//!
//! The first look at a work tree in this process is a full status (and puts an inotify watch
//! on each of its folders). Later looks read what the kernel reported since, and ask git about
//! those paths only, so a command's before-and-after costs what it touched, not the size of
//! the repository. The answer is the same as [`git::dirty_paths`]: changed, untracked or
//! staged paths, ignored ones left out.
//!
//! Any doubt falls back to the full status: a lost event (queue overflow), a folder that could
//! not be watched, a `.gitignore` that changed, the tree's root moved, or a file with a second
//! hard link (a change made through the other name reaches no watched folder; from then on
//! this tree is always looked at in full).

use std::collections::{BTreeSet, HashMap};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::{LazyLock, Mutex, PoisonError};

use git2::Repository;

use crate::engine::store::git::{self, GitError};

/// Per work tree: its watcher, or None once it has to be looked at in full.
static TRACKERS: LazyLock<Mutex<HashMap<PathBuf, Option<Tracker>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// Every path of the work tree at `root` (canonical) that differs from git now, sorted; None
/// when `root` is not a git work tree. Uses the repository [`git::with_repo`] keeps open.
pub fn dirty_now(root: &Path) -> Option<Result<Vec<String>, GitError>> {
    let mut all = TRACKERS.lock().unwrap_or_else(PoisonError::into_inner);
    // A finished run's work tree is gone: its watcher (an inotify descriptor) goes too.
    all.retain(|k, _| k.exists());
    git::with_repo(root, |repo| look(&mut all, root, repo))
}

/// Write the index clk kept in memory for the work tree at `root` (see
/// [`git::deferred`]) before a command or git reads it. The watcher is told the file's new
/// stamp: what it says is what the kept index said, so nothing needs a fresh look.
pub fn flush_index(root: &Path) -> Result<(), GitError> {
    let mut all = TRACKERS.lock().unwrap_or_else(PoisonError::into_inner);
    let before = git::with_repo(root, index_stamp).flatten();
    if git::deferred::flush(root)? {
        if let Some(Some(t)) = all.get_mut(root) {
            if t.index == before {
                t.index = git::with_repo(root, index_stamp).flatten();
            }
        }
    }
    Ok(())
}

fn look(
    all: &mut HashMap<PathBuf, Option<Tracker>>,
    root: &Path,
    repo: &Repository,
) -> Result<Vec<String>, GitError> {
    match all.get_mut(root) {
        Some(None) => return git::dirty_paths(repo),
        Some(Some(t)) => match t.refresh(repo) {
            Ok(()) => return Ok(t.dirty.iter().cloned().collect()),
            Err(Fallback::Rescan) => {}
            Err(Fallback::Never) => {
                all.insert(root.to_path_buf(), None);
                return git::dirty_paths(repo);
            }
        },
        None => {}
    }
    match Tracker::start(root, repo) {
        Ok(t) => {
            let out = t.dirty.iter().cloned().collect();
            all.insert(root.to_path_buf(), Some(t));
            Ok(out)
        }
        Err(_) => {
            all.insert(root.to_path_buf(), None);
            git::dirty_paths(repo)
        }
    }
}

/// Why the watcher's answer cannot be used.
enum Fallback {
    /// Start over with a full status and new watches.
    Rescan,
    /// Look at this tree in full from now on.
    Never,
}

struct Tracker {
    root: PathBuf,
    fd: OwnedFd,
    /// Watch descriptor → the folder it watches, relative (`""` for the root).
    dirs: HashMap<i32, String>,
    dirty: BTreeSet<String>,
    /// The commit HEAD pointed at and the index file, at the last look.
    head: Option<git2::Oid>,
    index: Option<(i128, u64, u64)>,
    /// When the full look was taken (tests tell a rescan by it).
    #[cfg_attr(not(test), allow(dead_code))]
    started: std::time::Instant,
}

fn head_oid(repo: &Repository) -> Option<git2::Oid> {
    repo.head().ok()?.target()
}

/// When, how long and which inode the index file is: git replaces it whole on every write.
fn index_stamp(repo: &Repository) -> Option<(i128, u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(repo.path().join("index")).ok()?;
    Some((
        m.mtime() as i128 * 1_000_000_000 + m.mtime_nsec() as i128,
        m.len(),
        m.ino(),
    ))
}

const MASK: u32 = libc::IN_CREATE
    | libc::IN_DELETE
    | libc::IN_MODIFY
    | libc::IN_ATTRIB
    | libc::IN_CLOSE_WRITE
    | libc::IN_MOVED_FROM
    | libc::IN_MOVED_TO
    | libc::IN_DELETE_SELF
    | libc::IN_MOVE_SELF
    | libc::IN_ONLYDIR
    | libc::IN_DONT_FOLLOW;

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

impl Tracker {
    fn start(root: &Path, repo: &Repository) -> Result<Tracker, Fallback> {
        // SAFETY: inotify_init1 takes flags only; a non-negative result is a new descriptor
        // that nothing else owns.
        let fd = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        if fd < 0 {
            return Err(Fallback::Never);
        }
        // SAFETY: see above; OwnedFd closes it once.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let mut t = Tracker {
            root: root.to_path_buf(),
            fd,
            dirs: HashMap::new(),
            dirty: BTreeSet::new(),
            head: None,
            index: None,
            started: std::time::Instant::now(),
        };
        // Watches first, then the status: a change in between is queued and looked at again.
        let mut files = Vec::new();
        t.watch_tree("", repo, &mut files)?;
        t.dirty = git::dirty_paths(repo)
            .map_err(|_| Fallback::Never)?
            .into_iter()
            .collect();
        // After the status, which may have written the index back.
        t.head = head_oid(repo);
        t.index = index_stamp(repo);
        Ok(t)
    }

    /// Watch folder `rel` and every folder below it that git does not ignore; `files` gets
    /// the files found on the way.
    fn watch_tree(
        &mut self,
        rel: &str,
        repo: &Repository,
        files: &mut Vec<String>,
    ) -> Result<(), Fallback> {
        let mut stack = vec![rel.to_string()];
        while let Some(dir) = stack.pop() {
            let abs = self.root.join(&dir);
            let Ok(c) = std::ffi::CString::new(abs.as_os_str().as_encoded_bytes()) else {
                return Err(Fallback::Never);
            };
            // SAFETY: a valid descriptor and a NUL-terminated path.
            let wd = unsafe { libc::inotify_add_watch(self.fd.as_raw_fd(), c.as_ptr(), MASK) };
            if wd < 0 {
                // Gone already (its removal is an event too) or out of watches.
                if std::io::Error::last_os_error().raw_os_error() == Some(libc::ENOENT) {
                    continue;
                }
                return Err(Fallback::Never);
            }
            self.dirs.insert(wd, dir.clone());
            let Ok(rd) = std::fs::read_dir(&abs) else {
                continue;
            };
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                let child = join(&dir, &name);
                match e.file_type() {
                    Ok(ft) if ft.is_dir() => {
                        if name == ".git"
                            || repo
                                .status_should_ignore(Path::new(&child))
                                .unwrap_or(false)
                        {
                            continue;
                        }
                        stack.push(child);
                    }
                    _ => files.push(child),
                }
            }
        }
        Ok(())
    }

    /// Bring `dirty` up to date with what the kernel reported since the last look.
    fn refresh(&mut self, repo: &Repository) -> Result<(), Fallback> {
        let mut candidates = BTreeSet::new();
        // git's own changes touch no watched folder. A new commit (clk's batch, an undo, a
        // merge) can change what is dirty only where HEAD moved and where it was dirty; the
        // index changing alone (someone's `git add`, `git rm --cached`) is not followed.
        let (head, index) = (head_oid(repo), index_stamp(repo));
        if head != self.head || index != self.index {
            let (Some(old), Some(new)) = (self.head, head) else {
                return Err(Fallback::Rescan);
            };
            if old == new {
                return Err(Fallback::Rescan);
            }
            candidates.extend(self.dirty.iter().cloned());
            candidates.extend(moved_between(repo, old, new).ok_or(Fallback::Rescan)?);
            self.head = head;
            self.index = index;
        }
        let mut new_dirs = Vec::new();
        let mut gone_dirs = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            // SAFETY: reading into a buffer we own, of the length given.
            let n = unsafe {
                libc::read(
                    self.fd.as_raw_fd(),
                    buf.as_mut_ptr().cast::<libc::c_void>(),
                    buf.len(),
                )
            };
            if n < 0 {
                let e = std::io::Error::last_os_error();
                if e.kind() == std::io::ErrorKind::WouldBlock {
                    break;
                }
                if e.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(Fallback::Rescan);
            }
            if n == 0 {
                break;
            }
            let mut at = 0usize;
            let head = std::mem::size_of::<libc::inotify_event>();
            while at + head <= n as usize {
                // SAFETY: the kernel wrote whole events; read_unaligned copes with alignment.
                let ev: libc::inotify_event =
                    unsafe { std::ptr::read_unaligned(buf[at..].as_ptr().cast()) };
                let name_bytes = &buf[at + head..(at + head + ev.len as usize).min(n as usize)];
                let name = String::from_utf8_lossy(name_bytes)
                    .trim_end_matches('\0')
                    .to_string();
                at += head + ev.len as usize;
                if ev.mask & libc::IN_Q_OVERFLOW != 0 {
                    return Err(Fallback::Rescan);
                }
                if ev.mask & libc::IN_IGNORED != 0 {
                    self.dirs.remove(&ev.wd);
                    continue;
                }
                let Some(dir) = self.dirs.get(&ev.wd).cloned() else {
                    continue;
                };
                if ev.mask & (libc::IN_DELETE_SELF | libc::IN_MOVE_SELF) != 0 {
                    if dir.is_empty() {
                        return Err(Fallback::Rescan);
                    }
                    continue;
                }
                if name.is_empty() {
                    continue;
                }
                let path = join(&dir, &name);
                if name == ".gitignore" {
                    return Err(Fallback::Rescan);
                }
                if ev.mask & libc::IN_ISDIR != 0 {
                    if name == ".git" {
                        continue;
                    }
                    if ev.mask & (libc::IN_CREATE | libc::IN_MOVED_TO) != 0 {
                        new_dirs.push(path.clone());
                    }
                    if ev.mask & (libc::IN_DELETE | libc::IN_MOVED_FROM) != 0 {
                        gone_dirs.push(path);
                    }
                    continue;
                }
                candidates.insert(path);
            }
        }
        for dir in gone_dirs {
            let prefix = format!("{dir}/");
            candidates.extend(
                self.dirty
                    .iter()
                    .filter(|p| p.starts_with(&prefix))
                    .cloned(),
            );
            if let Ok(index) = repo.index() {
                for e in index.iter() {
                    let p = String::from_utf8_lossy(&e.path).into_owned();
                    if p.starts_with(&prefix) {
                        candidates.insert(p);
                    }
                }
            }
            // Its watches (and those below it) would now name the wrong place.
            let stale: Vec<i32> = self
                .dirs
                .iter()
                .filter(|(_, d)| **d == dir || d.starts_with(&prefix))
                .map(|(wd, _)| *wd)
                .collect();
            for wd in stale {
                // SAFETY: a descriptor we own and a watch it holds (or held).
                unsafe { libc::inotify_rm_watch(self.fd.as_raw_fd(), wd) };
                self.dirs.remove(&wd);
            }
        }
        for dir in new_dirs {
            if repo.status_should_ignore(Path::new(&dir)).unwrap_or(false) {
                continue;
            }
            let mut files = Vec::new();
            self.watch_tree(&dir, repo, &mut files)?;
            candidates.extend(files);
        }
        if candidates.is_empty() {
            return Ok(());
        }
        // A second name for a file lets changes arrive where no watch sees them.
        for p in &candidates {
            if let Ok(m) = std::fs::symlink_metadata(self.root.join(p)) {
                use std::os::unix::fs::MetadataExt;
                if m.is_file() && m.nlink() > 1 {
                    return Err(Fallback::Never);
                }
            }
        }
        let list: Vec<String> = candidates.into_iter().collect();
        let now = git::dirty_in(repo, &list, false).map_err(|_| Fallback::Rescan)?;
        for p in list {
            if now.contains(&p) {
                self.dirty.insert(p);
            } else {
                self.dirty.remove(&p);
            }
        }
        Ok(())
    }
}

/// The files that differ between two commits.
fn moved_between(repo: &Repository, old: git2::Oid, new: git2::Oid) -> Option<Vec<String>> {
    let a = repo.find_commit(old).ok()?.tree().ok()?;
    let b = repo.find_commit(new).ok()?.tree().ok()?;
    let diff = repo.diff_tree_to_tree(Some(&a), Some(&b), None).ok()?;
    let mut out = Vec::new();
    for d in diff.deltas() {
        for f in [d.old_file(), d.new_file()] {
            if let Some(p) = f.path().and_then(|p| p.to_str()) {
                out.push(p.to_string());
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests;
