//! Bringing a run's branch into the user's branch: fast-forward when the user's HEAD is an
//! ancestor, else a merge commit; never over the user's uncommitted work.
//!
//! Only the files the merge changes are written in the user's working tree (and index); every
//! other file, dirty or not, is left alone. When one of those files holds uncommitted work of
//! the user's, or the two sides conflict, nothing is written and the outcome says why. The
//! branch ref moves with a reflog message starting with [`REFLOG_PREFIX`], which is how `/undo`
//! recognises a merge to take back as a whole.

use git2::{BranchType, Delta, Oid, Repository, Signature};

use super::{GitError, dirty_among, restore_paths};

/// Start of the reflog message of every merge clk makes.
pub const REFLOG_PREFIX: &str = "clk merge ";

/// Author name of clk's merge commits.
pub const MERGE_AUTHOR: &str = "clk-merge";

/// What came of merging a run branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MergeOutcome {
    /// The user's branch already has every commit of the run.
    UpToDate,
    /// The user's branch was moved forward to the run's tip.
    FastForward { sha: String, files: Vec<String> },
    /// A merge commit joins the two.
    Commit { sha: String, files: Vec<String> },
    /// Files the merge would change hold uncommitted work of the user's.
    Dirty { files: Vec<String> },
    /// Both sides changed these files differently.
    Conflict { files: Vec<String> },
}

impl MergeOutcome {
    /// True when the run's work is now on the user's branch.
    pub fn merged(&self) -> bool {
        matches!(
            self,
            MergeOutcome::UpToDate | MergeOutcome::FastForward { .. } | MergeOutcome::Commit { .. }
        )
    }
}

fn changed_paths(
    repo: &Repository,
    old: &git2::Tree<'_>,
    new: &git2::Tree<'_>,
) -> Result<Vec<String>, GitError> {
    let diff = repo.diff_tree_to_tree(Some(old), Some(new), None)?;
    let mut out: Vec<String> = Vec::new();
    for d in diff.deltas() {
        let files = match d.status() {
            Delta::Renamed | Delta::Copied => vec![d.old_file(), d.new_file()],
            _ => vec![d.new_file()],
        };
        for f in files {
            if let Some(p) = f.path().and_then(|p| p.to_str()) {
                if !out.iter().any(|o| o == p) {
                    out.push(p.to_string());
                }
            }
        }
    }
    Ok(out)
}

/// Whether the working copy of `rel` is exactly what `tree` holds (absent when `tree` lacks it).
fn already(repo: &Repository, tree: &git2::Tree<'_>, rel: &str) -> bool {
    let Some(abs) = repo.workdir().map(|w| w.join(rel)) else {
        return false;
    };
    let meta = std::fs::symlink_metadata(&abs).ok();
    match tree.get_path(std::path::Path::new(rel)) {
        Ok(e) if e.filemode() == 0o100644 || e.filemode() == 0o100755 => {
            meta.is_some_and(|m| m.is_file())
                && repo.find_blob(e.id()).is_ok_and(|b| {
                    std::fs::read(&abs).is_ok_and(|now| now.as_slice() == b.content())
                })
        }
        Ok(_) => false,
        Err(_) => meta.is_none(),
    }
}

/// Merge local branch `branch` into the user's HEAD. With `dry`, only say what would happen
/// (a `FastForward`/`Commit` then carries an empty sha).
pub fn merge_branch(repo: &Repository, branch: &str, dry: bool) -> Result<MergeOutcome, GitError> {
    let theirs = repo
        .find_branch(branch, BranchType::Local)
        .map_err(|_| GitError(format!("there is no branch {branch}")))?
        .get()
        .peel_to_commit()?;
    let head = repo.head()?;
    let ours = head.peel_to_commit()?;
    if ours.id() == theirs.id() || repo.graph_descendant_of(ours.id(), theirs.id())? {
        return Ok(MergeOutcome::UpToDate);
    }
    let ff = repo.graph_descendant_of(theirs.id(), ours.id())?;
    let new_tree = if ff {
        theirs.tree()?
    } else {
        let index = repo.merge_commits(&ours, &theirs, None)?;
        if index.has_conflicts() {
            let mut files = Vec::new();
            for c in index.conflicts()?.flatten() {
                for e in [c.our, c.their, c.ancestor].into_iter().flatten() {
                    let p = String::from_utf8_lossy(&e.path).into_owned();
                    if !files.contains(&p) {
                        files.push(p);
                    }
                }
            }
            return Ok(MergeOutcome::Conflict { files });
        }
        let mut index = index;
        repo.find_tree(index.write_tree_to(repo)?)?
    };
    let files = changed_paths(repo, &ours.tree()?, &new_tree)?;
    // A file that already holds what the merge brings is nobody's lost work: clk's own files
    // (the idea, the roster) are written in the user's folder and committed on the run's branch.
    let dirty: Vec<String> = dirty_among(repo, &files)
        .into_iter()
        .filter(|f| !already(repo, &new_tree, f))
        .collect();
    if !dirty.is_empty() {
        return Ok(MergeOutcome::Dirty { files: dirty });
    }
    if dry {
        let sha = String::new();
        return Ok(if ff {
            MergeOutcome::FastForward { sha, files }
        } else {
            MergeOutcome::Commit { sha, files }
        });
    }
    let new_oid: Oid = if ff {
        theirs.id()
    } else {
        let committer = repo
            .signature()
            .or_else(|_| Signature::now("clk", "clk@local.invalid"))?;
        let author = Signature::now(
            &format!("{MERGE_AUTHOR} (clk)"),
            &format!("clk+{MERGE_AUTHOR}@local.invalid"),
        )?;
        let message =
            format!("Merge {branch}\n\nThe work of clk run {branch}.\n\nGenerated by clk\n");
        repo.commit(
            None,
            &author,
            &committer,
            &message,
            &new_tree,
            &[&ours, &theirs],
        )?
    };
    let how = if ff { "fast-forward" } else { "merge commit" };
    let log = format!("{REFLOG_PREFIX}{branch}: {how}");
    // The ref moves first: from here the merge is done, and the files below only catch the
    // working tree up with it.
    match head.name() {
        Ok(name) if head.is_branch() => {
            repo.reference(name, new_oid, true, &log)?;
        }
        _ => repo.set_head_detached(new_oid)?,
    }
    restore_paths(repo, None, &files)?;
    let sha = new_oid.to_string();
    Ok(if ff {
        MergeOutcome::FastForward { sha, files }
    } else {
        MergeOutcome::Commit { sha, files }
    })
}
