//! Git through git2: the project repository, per-batch commits, and dirty-file checks.
//!
//! An agent's commit contains exactly the paths the gate changed for it, built on HEAD's tree
//! in a private index. The user's staged and unstaged changes to other files are neither
//! committed under the agent's name nor touched; afterwards the real index is updated for the
//! agent's paths only, so `git status` stays truthful.

pub mod deferred;
pub mod merge;
mod quick;
pub mod scan;
pub mod show;
pub mod worktree;

use std::path::{Path, PathBuf};

use git2::{
    ErrorCode, IndexEntry, IndexTime, Oid, Repository, RepositoryInitOptions, Signature,
    StatusOptions,
};

/// A git failure, said for a person.
#[derive(Debug, thiserror::Error)]
#[error("git: {0}")]
pub struct GitError(pub String);

impl From<git2::Error> for GitError {
    fn from(e: git2::Error) -> Self {
        GitError(e.message().to_string())
    }
}

/// Open the repository at `root`, creating it on branch `main` when there is none.
/// Returns the repository and whether it was created.
pub fn open_or_init(root: &Path) -> Result<(Repository, bool), GitError> {
    match Repository::open(root) {
        Ok(r) => Ok((r, false)),
        Err(e) if e.code() == ErrorCode::NotFound => {
            let mut opts = RepositoryInitOptions::new();
            opts.initial_head("main");
            let repo = Repository::init_opts(root, &opts)?;
            Ok((repo, true))
        }
        Err(e) => Err(e.into()),
    }
}

/// Open the repository whose work tree is exactly `root`; None when `root` is not one. An
/// index clk keeps in memory for `root` ([`deferred`]) is written first, so this one reads it
/// whole. Not to be called inside [`with_repo`].
pub fn open(root: &Path) -> Option<Repository> {
    let _ = deferred::flush(root);
    open_here(root)
}

fn open_here(root: &Path) -> Option<Repository> {
    let repo = Repository::open(root).ok()?;
    let wd = repo.workdir()?.canonicalize().ok()?;
    (wd == root.canonicalize().ok()?).then_some(repo)
}

/// Repositories kept open by work tree, so the index (megabytes in a large project, read and
/// checksummed whole by libgit2) is loaded once per process rather than on every look. libgit2
/// re-reads it by itself when the file on disk changes.
pub(super) static OPEN: std::sync::LazyLock<
    std::sync::Mutex<std::collections::HashMap<PathBuf, Repository>>,
> = std::sync::LazyLock::new(Default::default);

/// Run `f` on the repository whose work tree is exactly `root` ([`open`]), kept open for the
/// process; None when `root` is not one. Calls for one process are one at a time, so `f` must
/// be short and must not call `with_repo` or [`open`] itself. In a run's work tree its
/// commits leave the index in memory ([`deferred`]).
pub fn with_repo<T>(root: &Path, f: impl FnOnce(&Repository) -> T) -> Option<T> {
    let mut all = OPEN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    // A work tree that is gone (a finished run's) is not kept.
    all.retain(|k, _| k.exists());
    let key = root.to_path_buf();
    if !all.contains_key(&key) {
        all.insert(key.clone(), open_here(root)?);
    }
    all.get(&key).map(|r| deferred::kept(|| f(r)))
}

/// Make sure commits have an identity: set a local one only when none is configured anywhere.
pub fn ensure_identity(repo: &Repository) -> Result<(), GitError> {
    if repo.signature().is_ok() {
        return Ok(());
    }
    let mut cfg = repo.config()?;
    cfg.set_str("user.name", "clk")?;
    cfg.set_str("user.email", "clk@local.invalid")?;
    Ok(())
}

/// What one agent batch committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitInfo {
    pub sha: String,
    pub subject: String,
}

/// Paths (relative, `/`-separated) that hold work of the user's: changed from HEAD or the
/// index, untracked, or ignored but present (a `.env`, local settings). Only `paths` are
/// looked at, in one status pass that visits only their folders; a path that does not exist
/// yet is nobody's work.
pub fn dirty_among(repo: &Repository, paths: &[String]) -> Vec<String> {
    let found = dirty_in(repo, paths, true).unwrap_or_default();
    paths
        .iter()
        .filter(|p| found.contains(*p))
        .cloned()
        .collect()
}

/// Which of `paths` (files, relative) differ from HEAD or the index or are untracked, and
/// with `ignored` also ignored files that are present. Most files are told by a look at
/// their index entry and metadata (`quick.rs`); the rest by one status pass over just them.
pub fn dirty_in(
    repo: &Repository,
    paths: &[String],
    ignored: bool,
) -> Result<std::collections::HashSet<String>, GitError> {
    let mut found = std::collections::HashSet::new();
    let mut unsure: Vec<String> = Vec::new();
    match quick::Look::new(repo) {
        Some(look) => {
            for p in paths {
                match look.dirty(p, ignored) {
                    Some(true) => {
                        found.insert(p.clone());
                    }
                    Some(false) => {}
                    None => unsure.push(p.clone()),
                }
            }
        }
        None => unsure = paths.to_vec(),
    }
    found.extend(status_of(repo, &unsure, ignored)?);
    Ok(found)
}

/// [`dirty_in`] by a status pass alone: it visits only the folders of `paths`, but walks
/// every entry of the index.
pub fn status_of(
    repo: &Repository,
    paths: &[String],
    ignored: bool,
) -> Result<std::collections::HashSet<String>, GitError> {
    if paths.is_empty() {
        return Ok(Default::default());
    }
    let mut opts = StatusOptions::new();
    // What `git_status_file` asks for, for many files at once.
    opts.include_untracked(true)
        .recurse_untracked_dirs(true)
        .include_ignored(ignored)
        .recurse_ignored_dirs(ignored)
        .disable_pathspec_match(true);
    for p in paths {
        opts.pathspec(p.as_str());
    }
    let statuses = repo.statuses(Some(&mut opts))?;
    Ok(statuses
        .iter()
        .filter(|s| !s.status().is_empty())
        .filter_map(|s| s.path().ok().map(str::to_string))
        .collect())
}

/// Every changed, untracked or staged path in the work tree (ignored files left out). The
/// index's refreshed file times are written back, so the next look does not hash again.
pub fn dirty_paths(repo: &Repository) -> Result<Vec<String>, GitError> {
    let mut opts = StatusOptions::new();
    opts.include_untracked(true)
        .recurse_untracked_dirs(true)
        .include_ignored(false)
        .update_index(true);
    // Writing the index back fails while another git holds its lock; then only look.
    let statuses = match repo.statuses(Some(&mut opts)) {
        Ok(s) => s,
        Err(_) => repo.statuses(Some(opts.update_index(false)))?,
    };
    Ok(statuses
        .iter()
        .filter_map(|s| s.path().ok().map(str::to_string))
        .collect())
}

/// Commit exactly `paths` (files written or deleted in the work tree) on top of HEAD.
///
/// Only the folders on the way to `paths` are rewritten (git's tree-update builder), and only
/// their entries in the real index, so the cost follows the batch, not the repository.
/// Paths that git ignores are left out. Returns None when nothing differs from HEAD.
pub fn commit_paths(
    repo: &Repository,
    author_name: &str,
    paths: &[String],
    message: &str,
) -> Result<Option<CommitInfo>, GitError> {
    let workdir = repo
        .workdir()
        .ok_or_else(|| GitError("the repository has no work tree".into()))?
        .to_path_buf();
    let head_commit = match repo.head() {
        Ok(h) => Some(h.peel_to_commit()?),
        Err(e) if e.code() == ErrorCode::UnbornBranch || e.code() == ErrorCode::NotFound => None,
        Err(e) => return Err(e.into()),
    };
    let base_tree = match &head_commit {
        Some(c) => c.tree()?,
        None => repo.find_tree(repo.treebuilder(None)?.write()?)?,
    };
    let mut update = git2::build::TreeUpdateBuilder::new();
    let mut real = repo.index()?;
    let mut touched = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for rel in paths {
        if !seen.insert(rel.as_str()) {
            continue;
        }
        let rel_path = Path::new(rel);
        if repo.status_should_ignore(rel_path).unwrap_or(false) {
            continue;
        }
        let abs = workdir.join(rel_path);
        match std::fs::symlink_metadata(&abs) {
            Ok(m) if m.is_file() => {
                let oid = repo.blob_path(&abs)?;
                let entry = index_entry(rel, oid, &m);
                let mode = if entry.mode == 0o100755 {
                    git2::FileMode::BlobExecutable
                } else {
                    git2::FileMode::Blob
                };
                update.upsert(rel.as_str(), oid, mode);
                real.add(&entry)?;
            }
            Ok(_) => continue,
            Err(_) => {
                // Removing what the tree lacks is an error in libgit2; it is simply no change.
                if base_tree.get_path(rel_path).is_ok() {
                    update.remove(rel.as_str());
                }
                let _ = real.remove_path(rel_path);
            }
        }
        touched.push(rel.clone());
    }
    let tree_id = update.create_updated(repo, &base_tree)?;
    if let Some(c) = &head_commit {
        if c.tree_id() == tree_id {
            return Ok(None);
        }
    } else if touched.is_empty() {
        return Ok(None);
    }
    let tree = repo.find_tree(tree_id)?;
    let committer = repo
        .signature()
        .or_else(|_| Signature::now("clk", "clk@local.invalid"))?;
    let author = Signature::now(
        &format!("{author_name} (clk)"),
        &format!(
            "clk+{}@local.invalid",
            crate::engine::store::workspace::slug(author_name, 40)
        ),
    )?;
    let parents: Vec<&git2::Commit<'_>> = head_commit.iter().collect();
    // In a run's work tree the index stays in memory until it must be on disk.
    let defer = deferred::defer(repo)?;
    let oid = repo.commit(Some("HEAD"), &author, &committer, message, &tree, &parents)?;
    if !defer {
        real.write()?;
    }
    Ok(Some(CommitInfo {
        sha: oid.to_string(),
        subject: message.lines().next().unwrap_or_default().to_string(),
    }))
}

fn index_entry(rel: &str, id: Oid, meta: &std::fs::Metadata) -> IndexEntry {
    use std::os::unix::fs::MetadataExt;
    let mode = if meta.mode() & 0o111 != 0 {
        0o100755
    } else {
        0o100644
    };
    IndexEntry {
        ctime: IndexTime::new(meta.ctime() as i32, meta.ctime_nsec() as u32),
        mtime: IndexTime::new(meta.mtime() as i32, meta.mtime_nsec() as u32),
        dev: meta.dev() as u32,
        ino: meta.ino() as u32,
        mode,
        uid: meta.uid(),
        gid: meta.gid(),
        file_size: meta.len() as u32,
        id,
        flags: (rel.len().min(0xfff)) as u16,
        flags_extended: 0,
        path: rel.as_bytes().to_vec(),
    }
}

/// Put `paths` back as they are in commit `rev` (HEAD when None): content and mode restored,
/// files that `rev` lacks deleted, index entries reset to match. Paths not named are not
/// touched, so the user's other changes survive. Returns the paths that changed.
pub fn restore_paths(
    repo: &Repository,
    rev: Option<&str>,
    paths: &[String],
) -> Result<Vec<String>, GitError> {
    let workdir = repo
        .workdir()
        .ok_or_else(|| GitError("the repository has no work tree".into()))?
        .to_path_buf();
    let tree = match rev {
        Some(r) => Some(repo.revparse_single(r)?.peel_to_commit()?.tree()?),
        None => match repo.head() {
            Ok(h) => Some(h.peel_to_commit()?.tree()?),
            Err(e) if e.code() == ErrorCode::UnbornBranch || e.code() == ErrorCode::NotFound => {
                None
            }
            Err(e) => return Err(e.into()),
        },
    };
    let mut index = repo.index()?;
    let mut changed = Vec::new();
    for rel in paths {
        let abs = workdir.join(rel);
        let entry = tree.as_ref().and_then(|t| t.get_path(Path::new(rel)).ok());
        match entry {
            Some(e) if e.kind() == Some(git2::ObjectType::Blob) => {
                let blob = repo.find_blob(e.id())?;
                let io = |err: std::io::Error| GitError(format!("{rel}: {err}"));
                let current = std::fs::symlink_metadata(&abs).ok();
                let is_link_now = current.as_ref().is_some_and(|m| m.file_type().is_symlink());
                if let Some(parent) = abs.parent() {
                    std::fs::create_dir_all(parent).map_err(io)?;
                }
                if e.filemode() == 0o120000 {
                    // A symlink in the commit: recreate the link itself, never write through it.
                    let target = String::from_utf8_lossy(blob.content()).into_owned();
                    let same = is_link_now
                        && std::fs::read_link(&abs).is_ok_and(|t| t.as_os_str() == target.as_str());
                    if !same {
                        if current.is_some() {
                            std::fs::remove_file(&abs).map_err(io)?;
                        }
                        std::os::unix::fs::symlink(&target, &abs).map_err(io)?;
                        changed.push(rel.clone());
                    }
                } else {
                    // Replace a symlink standing where a file belongs instead of following it.
                    if is_link_now {
                        std::fs::remove_file(&abs).map_err(io)?;
                    }
                    let now = std::fs::read(&abs).ok();
                    if is_link_now || now.as_deref() != Some(blob.content()) {
                        std::fs::write(&abs, blob.content()).map_err(io)?;
                        changed.push(rel.clone());
                    }
                    use std::os::unix::fs::PermissionsExt;
                    let mode = if e.filemode() == 0o100755 {
                        0o755
                    } else {
                        0o644
                    };
                    let _ = std::fs::set_permissions(&abs, std::fs::Permissions::from_mode(mode));
                }
                let meta = std::fs::symlink_metadata(&abs).map_err(io)?;
                let mut entry = index_entry(rel, e.id(), &meta);
                entry.mode = e.filemode() as u32;
                index.add(&entry)?;
            }
            Some(_) => {}
            None => {
                let meta = std::fs::symlink_metadata(&abs).ok();
                if meta.is_some_and(|m| m.is_file() || m.file_type().is_symlink()) {
                    std::fs::remove_file(&abs).map_err(|err| GitError(format!("{rel}: {err}")))?;
                    changed.push(rel.clone());
                }
                let _ = index.remove_path(Path::new(rel));
            }
        }
    }
    index.write()?;
    Ok(changed)
}

/// Files touched by the commits after `since` up to HEAD (first-parent), oldest first.
pub fn paths_changed_since(repo: &Repository, since: &str) -> Result<Vec<String>, GitError> {
    let old = repo.revparse_single(since)?.peel_to_commit()?.tree()?;
    let new = repo.head()?.peel_to_commit()?.tree()?;
    let diff = repo.diff_tree_to_tree(Some(&old), Some(&new), None)?;
    let mut out = Vec::new();
    for d in diff.deltas() {
        for f in [d.old_file(), d.new_file()] {
            if let Some(p) = f.path().and_then(|p| p.to_str()) {
                if !out.iter().any(|o| o == p) {
                    out.push(p.to_string());
                }
            }
        }
    }
    Ok(out)
}

/// Short sha and subject of HEAD, or None for an empty repository.
pub fn head_summary(repo: &Repository) -> Option<(String, String)> {
    let c = repo.head().ok()?.peel_to_commit().ok()?;
    let sha = c.id().to_string();
    Some((
        sha[..sha.len().min(8)].to_string(),
        c.summary().ok().flatten().unwrap_or_default().to_string(),
    ))
}

/// The current branch name, if HEAD points at one.
pub fn branch(repo: &Repository) -> Option<String> {
    repo.head().ok()?.shorthand().ok().map(str::to_string)
}

/// Commits on HEAD not yet on the remote, for the dashboard's `↑N`. None when the repository
/// has no remote (nothing to push to). Counted against the branch's upstream when it has one,
/// otherwise against every remote-tracking branch (all of HEAD when nothing was pushed yet).
pub fn unpushed_count(repo: &Repository) -> Option<u64> {
    if repo.remotes().ok()?.is_empty() {
        return None;
    }
    let head = repo.head().ok()?;
    let local = head.target()?;
    if head.is_branch() {
        let branch = git2::Branch::wrap(head);
        if let Some(up) = branch.upstream().ok().and_then(|u| u.get().target()) {
            return repo
                .graph_ahead_behind(local, up)
                .ok()
                .map(|(ahead, _)| ahead as u64);
        }
    }
    let mut walk = repo.revwalk().ok()?;
    walk.push(local).ok()?;
    for r in repo.references_glob("refs/remotes/*").ok()?.flatten() {
        if let Some(oid) = r.target() {
            // A remote ref unrelated to HEAD's history cannot be hidden; skip it.
            let _ = walk.hide(oid);
        }
    }
    Some(walk.flatten().count() as u64)
}

#[cfg(test)]
mod tests;
