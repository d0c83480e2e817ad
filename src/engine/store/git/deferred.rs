//! The index of a run's work tree, kept in memory between the run's commits.
//!
//! Nobody but clk reads a run's work tree's index while the run goes on, and writing it means
//! rewriting and checksumming the whole file (megabytes in a large project) on every commit.
//! So a commit made through a repository [`super::with_repo`] keeps open, in a run's work
//! tree, updates the index in memory only. It is written once where it must be true on disk:
//! [`flush`] (before a command runs, before the run's merge, when the tree goes idle) and
//! [`flush_all`]. A marker file in the work tree's git folder says the file on disk may lag
//! HEAD; a run resumed after a crash first puts the index back to HEAD's tree ([`repair`]).
//! The user's own repository is never deferred: its index is written at once.

use std::cell::Cell;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{LazyLock, Mutex, PoisonError};

use git2::Repository;

use super::{GitError, OPEN};

/// In the work tree's git folder while its index file may lag HEAD.
const MARK: &str = "clk-index-unsaved";

/// Git folders of kept repositories whose in-memory index is ahead of the file.
static UNSAVED: LazyLock<Mutex<HashSet<PathBuf>>> = LazyLock::new(Default::default);

thread_local! {
    /// Set while [`super::with_repo`] runs its closure: the repository stays open afterwards.
    static KEPT: Cell<bool> = const { Cell::new(false) };
}

/// Run `f` with the repository marked as kept open.
pub(super) fn kept<T>(f: impl FnOnce() -> T) -> T {
    let was = KEPT.with(|k| k.replace(true));
    let out = f();
    KEPT.with(|k| k.set(was));
    out
}

/// Whether a commit in `repo` may leave its index unwritten: a run's work tree, opened
/// through [`super::with_repo`]. Before the commit moves HEAD, the marker is written, so a
/// crash at any later point is repaired on resume.
pub(super) fn defer(repo: &Repository) -> Result<bool, GitError> {
    if !KEPT.with(Cell::get) || !is_run_tree(repo) {
        return Ok(false);
    }
    let mut unsaved = UNSAVED.lock().unwrap_or_else(PoisonError::into_inner);
    if !unsaved.contains(repo.path()) {
        let mark = repo.path().join(MARK);
        std::fs::write(&mark, b"").map_err(|e| GitError(format!("{}: {e}", mark.display())))?;
        unsaved.insert(repo.path().to_path_buf());
    }
    Ok(true)
}

fn is_run_tree(repo: &Repository) -> bool {
    repo.is_worktree()
        && repo
            .workdir()
            .is_some_and(|w| w.starts_with(super::worktree::worktrees_dir(repo)))
}

/// Write the kept index of `repo` if it is ahead of the file. Returns whether it wrote.
fn write_if_unsaved(repo: &Repository) -> Result<bool, GitError> {
    let mut unsaved = UNSAVED.lock().unwrap_or_else(PoisonError::into_inner);
    if !unsaved.contains(repo.path()) {
        return Ok(false);
    }
    repo.index()?.write()?;
    let _ = std::fs::remove_file(repo.path().join(MARK));
    unsaved.remove(repo.path());
    Ok(true)
}

/// Write the index of the work tree at `root` if clk kept it in memory ahead of the file:
/// before anything else (a command, git, a fresh [`super::open`]) reads it. Returns whether
/// it wrote.
pub fn flush(root: &Path) -> Result<bool, GitError> {
    let all = OPEN.lock().unwrap_or_else(PoisonError::into_inner);
    let repo = all
        .get(root)
        .or_else(|| all.get(&root.canonicalize().ok()?));
    match repo {
        Some(repo) => write_if_unsaved(repo),
        None => Ok(false),
    }
}

/// Hand the work tree at `root` over to another writer (the git program rebasing it): write
/// its kept index if it is ahead, and stop keeping the repository open, so the next
/// [`super::with_repo`] reads what the other writer left instead of an index from before.
pub fn release(root: &Path) -> Result<(), GitError> {
    let mut all = OPEN.lock().unwrap_or_else(PoisonError::into_inner);
    let key = if all.contains_key(root) {
        root.to_path_buf()
    } else {
        match root.canonicalize() {
            Ok(c) if all.contains_key(&c) => c,
            _ => return Ok(()),
        }
    };
    if let Some(repo) = all.remove(&key) {
        write_if_unsaved(&repo)?;
    }
    Ok(())
}

/// Write every kept index that is ahead of its file (at exit).
pub fn flush_all() -> Result<(), GitError> {
    let all = OPEN.lock().unwrap_or_else(PoisonError::into_inner);
    for repo in all.values() {
        write_if_unsaved(repo)?;
    }
    Ok(())
}

/// Put the index of the run's work tree at `path` back to HEAD's tree when a run that was
/// stopped (killed, crashed) left it lagging; the files in the work tree are not touched,
/// and entries that did not change keep their file times. Returns whether it repaired.
pub fn repair(path: &Path) -> Result<bool, GitError> {
    let repo = Repository::open(path)?;
    let mark = repo.path().join(MARK);
    if !mark.exists() {
        return Ok(false);
    }
    let tree = repo.head()?.peel_to_tree()?;
    let mut index = repo.index()?;
    index.read_tree(&tree)?;
    index.write()?;
    let _ = std::fs::remove_file(&mark);
    Ok(true)
}
