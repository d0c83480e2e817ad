//! Whether a few named files hold work of the user's, told from the index, HEAD's tree and
//! each file's metadata: a handful of lookups per file, where a status pass walks every entry
//! of the index (about a millisecond per pass at 50,000 files). A file this cannot be sure
//! about is left to the status pass.
//!
//! A file is sure to be clean when its index entry matches HEAD's and its size, times, inode
//! and mode match the entry, and the entry was recorded before the index file was last
//! written (git's rule against a change made within the same clock tick as the entry; an
//! entry not older than that has its content hashed instead). Anything else that is not
//! plainly new, missing or changed (a symlink, a conflict, a submodule, content that differs
//! and may only look so through a filter) is "not sure".

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use git2::{Index, IndexEntry, ObjectType, Oid, Repository, Tree};

/// What the quick look needs once per call: the index, HEAD's tree, and when the index file
/// was last written.
pub(super) struct Look<'r> {
    repo: &'r Repository,
    index: Index,
    head: Option<Tree<'r>>,
    stamp: Option<i128>,
}

/// Regular file modes in an index entry.
const FILE: u32 = 0o100_644;
const EXEC: u32 = 0o100_755;

fn ns(secs: i64, nanos: i64) -> i128 {
    i128::from(secs) * 1_000_000_000 + i128::from(nanos)
}

impl<'r> Look<'r> {
    /// None when the repository is in a state the quick look leaves to a status pass (a
    /// conflict in the index, no index, a HEAD that does not lead to a tree).
    pub(super) fn new(repo: &'r Repository) -> Option<Look<'r>> {
        let mut index = repo.index().ok()?;
        // As a status pass does: the index as on disk when another program changed it there.
        index.read(false).ok()?;
        if index.has_conflicts() {
            return None;
        }
        let head = match repo.head() {
            Ok(h) => Some(h.peel_to_tree().ok()?),
            Err(e) if e.code() == git2::ErrorCode::UnbornBranch => None,
            Err(_) => return None,
        };
        let stamp = index
            .path()
            .and_then(|p| std::fs::metadata(p).ok())
            .map(|m| ns(m.mtime(), m.mtime_nsec()));
        Some(Look {
            repo,
            index,
            head,
            stamp,
        })
    }

    /// Whether `path` (relative, `/`-separated) holds work of the user's: Some(true) or
    /// Some(false) when sure, None when only a status pass can tell. With `ignored`, an
    /// ignored file that is present counts as the user's.
    pub(super) fn dirty(&self, path: &str, ignored: bool) -> Option<bool> {
        let rel = Path::new(path);
        let workdir = self.repo.workdir()?;
        let meta = match std::fs::symlink_metadata(workdir.join(rel)) {
            Ok(m) => Some(m),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(_) => return None,
        };
        let entry = self.index.get_path(rel, 0);
        let in_head = match &self.head {
            Some(t) => match t.get_path(rel) {
                Ok(e) => Some(e.id()),
                Err(e) if e.code() == git2::ErrorCode::NotFound => None,
                Err(_) => return None,
            },
            None => None,
        };
        let Some(meta) = meta else {
            // Gone from the folder: the user's deletion when git knew it, nobody's otherwise.
            return Some(entry.is_some() || in_head.is_some());
        };
        if !meta.is_file() {
            return None;
        }
        let Some(entry) = entry else {
            // Present and not in the index: untracked, or ignored.
            if !ignored && self.repo.is_path_ignored(rel).ok()? {
                return Some(false);
            }
            return Some(true);
        };
        if entry.mode != FILE && entry.mode != EXEC {
            return None;
        }
        if in_head != Some(entry.id) {
            // Staged, or added to the index, since HEAD.
            return Some(true);
        }
        let exec = meta.permissions().mode() & 0o111 != 0;
        if exec != (entry.mode == EXEC) {
            return None;
        }
        if self.matches(&entry, &meta) {
            return Some(false);
        }
        // The metadata moved or cannot be trusted: the content decides when it hashes the
        // same; a different hash may be a filter's doing, which the status pass knows.
        let hashed = Oid::hash_file(ObjectType::Blob, workdir.join(rel)).ok()?;
        (hashed == entry.id).then_some(false)
    }

    /// The file's metadata is the entry's, and the entry is older than the index file.
    fn matches(&self, e: &IndexEntry, m: &std::fs::Metadata) -> bool {
        let mtime = ns(
            i64::from(e.mtime.seconds()),
            i64::from(e.mtime.nanoseconds()),
        );
        let ctime = ns(
            i64::from(e.ctime.seconds()),
            i64::from(e.ctime.nanoseconds()),
        );
        let settled = self.stamp.is_some_and(|s| mtime < s);
        settled
            && u64::from(e.file_size) == m.len() & 0xffff_ffff
            && mtime == ns(m.mtime(), m.mtime_nsec())
            && ctime == ns(m.ctime(), m.ctime_nsec())
            && u64::from(e.ino) == m.ino() & 0xffff_ffff
    }
}
