//! A run's own git worktree: branch `clk/<run-id>` from the user's HEAD, checked out at
//! `<git-dir>/clk/worktrees/<run-id>`.
//!
//! The worktree sits inside the repository's `.git` folder, so it is outside the user's working
//! tree: no scan of the tree, no `git status` and no editor sees it. Agents write, run commands
//! and commit there; the user's tree, index and branches change only when clk merges the
//! branch (`merge.rs`).

use std::path::{Path, PathBuf};

use git2::{BranchType, Repository, WorktreeAddOptions, WorktreePruneOptions};

use super::GitError;

/// Prefix of every run branch.
pub const BRANCH_PREFIX: &str = "clk/";

/// One run's worktree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunTree {
    pub run_id: String,
    /// `clk/<run-id>`
    pub branch: String,
    /// Where its files are checked out.
    pub path: PathBuf,
    /// The user's HEAD it was made from.
    pub base: String,
}

/// The folder under the git dir that holds every run's worktree.
pub fn worktrees_dir(repo: &Repository) -> PathBuf {
    repo.commondir().join("clk").join("worktrees")
}

/// git's own name for the worktree (its admin folder under `.git/worktrees/`).
fn admin_name(run_id: &str) -> String {
    format!("clk-{run_id}")
}

/// Create branch `clk/<run_id>` at the user's HEAD and check it out in a new worktree.
/// Fails when HEAD has no commit yet (clk's setup commit makes one).
pub fn create(repo: &Repository, run_id: &str) -> Result<RunTree, GitError> {
    let head = repo.head().and_then(|h| h.peel_to_commit()).map_err(|e| {
        GitError(format!(
            "the project has no commit to branch from: {}",
            e.message()
        ))
    })?;
    let branch = format!("{BRANCH_PREFIX}{run_id}");
    let b = repo.branch(&branch, &head, false)?;
    let path = worktrees_dir(repo).join(run_id);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| GitError(format!("{}: {e}", parent.display())))?;
    }
    let mut opts = WorktreeAddOptions::new();
    opts.reference(Some(b.get()));
    repo.worktree(&admin_name(run_id), &path, Some(&opts))?;
    Ok(RunTree {
        run_id: run_id.to_string(),
        branch,
        path,
        base: head.id().to_string(),
    })
}

/// Open the worktree of `run_id` again (to resume it).
pub fn open(repo: &Repository, run_id: &str) -> Option<RunTree> {
    let path = worktrees_dir(repo).join(run_id);
    let wt = Repository::open(&path).ok()?;
    let base = wt.head().ok()?.target()?.to_string();
    Some(RunTree {
        run_id: run_id.to_string(),
        branch: format!("{BRANCH_PREFIX}{run_id}"),
        path,
        base,
    })
}

/// Remove the worktree's files and git's record of it; the branch too unless `keep_branch`
/// (a branch waiting for `clk merge` keeps its commits).
pub fn remove(repo: &Repository, run_id: &str, keep_branch: bool) -> Result<(), GitError> {
    let path = worktrees_dir(repo).join(run_id);
    if path.exists() {
        std::fs::remove_dir_all(&path).map_err(|e| GitError(format!("{}: {e}", path.display())))?;
    }
    if let Ok(wt) = repo.find_worktree(&admin_name(run_id)) {
        let mut opts = WorktreePruneOptions::new();
        opts.valid(true).working_tree(true).locked(true);
        wt.prune(Some(&mut opts))?;
    }
    if !keep_branch {
        if let Ok(mut b) = repo.find_branch(&format!("{BRANCH_PREFIX}{run_id}"), BranchType::Local)
        {
            b.delete()?;
        }
    }
    Ok(())
}

/// Whether `path` lies inside some run's worktree.
pub fn is_run_tree(repo: &Repository, path: &Path) -> bool {
    path.starts_with(worktrees_dir(repo))
}

/// Run branches (`clk/...`) with commits the user's HEAD does not have yet.
pub fn waiting_branches(repo: &Repository) -> Result<Vec<String>, GitError> {
    let head = repo.head().ok().and_then(|h| h.target());
    let mut out = Vec::new();
    for b in repo.branches(Some(BranchType::Local))? {
        let (b, _) = b?;
        let Some(name) = b.name()?.map(str::to_string) else {
            continue;
        };
        if !name.starts_with(BRANCH_PREFIX) {
            continue;
        }
        let Some(tip) = b.get().target() else {
            continue;
        };
        let merged = match head {
            Some(h) => h == tip || repo.graph_descendant_of(h, tip)?,
            None => false,
        };
        if !merged {
            out.push(name);
        }
    }
    out.sort();
    Ok(out)
}
