//! A run's own git worktree: branch `clk/<run-id>` from the user's HEAD, checked out at
//! `<git-dir>/clk/worktrees/<run-id>`.
//!
//! The worktree sits inside the repository's `.git` folder, so it is outside the user's working
//! tree: no scan of the tree, no `git status` and no editor sees it. Agents write, run commands
//! and commit there; the user's tree, index and branches change only when clk merges the
//! branch (`merge.rs`).
//!
//! Checking out a big project costs most of a run's overhead, so a finished run's worktree is
//! kept idle in `<git-dir>/clk/pool/` (at most [`POOL_SIZE`], HEAD detached, nothing but
//! tracked files left) and the next run moves it back and resets it to its own branch: git
//! then writes only the files that differ. An idle worktree holds no run's work: a run that
//! did not finish keeps its own worktree under `worktrees/` for resume, never the pool's.

use std::path::{Path, PathBuf};

use git2::{BranchType, Repository, StatusOptions, WorktreeAddOptions, WorktreePruneOptions};

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
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    let reused = match take_idle(repo, &path) {
        Some(wt) => match reset_to(&wt, &head, &branch) {
            Ok(()) => true,
            // A worktree that cannot be reset is not worth keeping.
            Err(_) => {
                drop(wt);
                discard_tree(repo, &path)?;
                false
            }
        },
        None => false,
    };
    if !reused {
        let mut opts = WorktreeAddOptions::new();
        opts.reference(Some(b.get()));
        repo.worktree(&admin_name(run_id), &path, Some(&opts))?;
    }
    Ok(RunTree {
        run_id: run_id.to_string(),
        branch,
        path,
        base: head.id().to_string(),
    })
}

/// Check out the existing branch `clk/<run_id>` in a new worktree, when its old one is gone:
/// its commits are the run's finished work. `None` when there is no such branch. The base
/// given is the branch's tip; a caller that kept the run's own base uses that.
pub fn reattach(repo: &Repository, run_id: &str) -> Result<Option<RunTree>, GitError> {
    let branch = format!("{BRANCH_PREFIX}{run_id}");
    let Ok(b) = repo.find_branch(&branch, BranchType::Local) else {
        return Ok(None);
    };
    let tip = b.get().peel_to_commit()?.id().to_string();
    let path = worktrees_dir(repo).join(run_id);
    discard_tree(repo, &path)?;
    prune_stale(repo);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    let mut opts = WorktreeAddOptions::new();
    opts.reference(Some(b.get()));
    repo.worktree(&admin_name(run_id), &path, Some(&opts))?;
    Ok(Some(RunTree {
        run_id: run_id.to_string(),
        branch,
        path,
        base: tip,
    }))
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
    discard_tree(repo, &path)?;
    prune_stale(repo);
    if !keep_branch {
        if let Ok(mut b) = repo.find_branch(&format!("{BRANCH_PREFIX}{run_id}"), BranchType::Local)
        {
            b.delete()?;
        }
    }
    Ok(())
}

/// End of a run whose work is committed on its branch: its worktree goes to the pool (HEAD
/// detached, every untracked and ignored file removed) when the pool has room, else it is
/// removed. The branch goes too unless `keep_branch`.
pub fn release(repo: &Repository, run_id: &str, keep_branch: bool) -> Result<(), GitError> {
    let path = worktrees_dir(repo).join(run_id);
    let parked = path.exists() && idle(repo).len() < POOL_SIZE && park(repo, &path).is_ok();
    if !parked {
        return remove(repo, run_id, keep_branch);
    }
    if !keep_branch {
        if let Ok(mut b) = repo.find_branch(&format!("{BRANCH_PREFIX}{run_id}"), BranchType::Local)
        {
            b.delete()?;
        }
    }
    Ok(())
}

/// Files in the worktree of `run_id` that hold work not on its branch: tracked files that
/// differ from its HEAD and untracked files git does not ignore (a folder counts once). Empty
/// when it has none, or when there is no such worktree.
pub fn uncommitted(repo: &Repository, run_id: &str) -> Result<Vec<String>, GitError> {
    let Ok(wt) = Repository::open(worktrees_dir(repo).join(run_id)) else {
        return Ok(Vec::new());
    };
    let mut opts = StatusOptions::new();
    opts.include_untracked(true)
        .include_ignored(false)
        .recurse_untracked_dirs(false)
        .exclude_submodules(true);
    let mut out = Vec::new();
    for s in wt.statuses(Some(&mut opts))?.iter() {
        if let Ok(p) = s.path() {
            out.push(p.to_string());
        }
    }
    Ok(out)
}

/// The task ids (`task-<id>` run ids) this repository holds a worktree or a local branch
/// for, each once, smallest first. Reads one folder and the branch names, nothing else.
pub fn task_ids(repo: &Repository) -> Vec<i64> {
    fn id_of(name: &str) -> Option<i64> {
        name.strip_prefix("task-")?.parse().ok()
    }
    let mut out: Vec<i64> = std::fs::read_dir(worktrees_dir(repo))
        .map(|d| {
            d.flatten()
                .filter_map(|e| id_of(&e.file_name().to_string_lossy()))
                .collect()
        })
        .unwrap_or_default();
    if let Ok(mut refs) = repo.references_glob(&format!("refs/heads/{BRANCH_PREFIX}task-*")) {
        for name in refs.names().flatten() {
            let short = name.trim_start_matches("refs/heads/");
            if let Some(id) = short.strip_prefix(BRANCH_PREFIX).and_then(id_of) {
                out.push(id);
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Remove every idle worktree (`clk merge --discard`, `clk doctor --fix`). Returns how many.
pub fn prune_pool(repo: &Repository) -> Result<usize, GitError> {
    let all = idle(repo);
    for p in &all {
        discard_tree(repo, p)?;
    }
    Ok(all.len())
}

/// Most idle worktrees kept for later runs.
pub const POOL_SIZE: usize = 2;

/// The folder under the git dir that holds idle worktrees.
pub fn pool_dir(repo: &Repository) -> PathBuf {
    repo.commondir().join("clk").join("pool")
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> GitError + '_ {
    move |e| GitError(format!("{}: {e}", path.display()))
}

/// The idle worktrees, oldest name first.
pub fn idle(repo: &Repository) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(pool_dir(repo))
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// Untracked and ignored entries of `wt` (a folder counts once), and whether any tracked
/// file differs from HEAD.
fn leftovers_in(wt: &Repository) -> Result<(Vec<String>, bool), GitError> {
    let mut opts = StatusOptions::new();
    opts.include_untracked(true)
        .include_ignored(true)
        .recurse_untracked_dirs(false)
        .recurse_ignored_dirs(false)
        .exclude_submodules(true)
        // Keeps the index's file times current, so the next look compares times, not
        // contents, of every file.
        .update_index(true);
    let mut extra = Vec::new();
    let mut changed = false;
    for s in wt.statuses(Some(&mut opts))?.iter() {
        let st = s.status();
        if st.is_wt_new() || st.is_ignored() {
            if let Ok(p) = s.path() {
                extra.push(p.to_string());
            }
        } else {
            changed = true;
        }
    }
    Ok((extra, changed))
}

/// Move `from` to `to` and tell git where its worktree now is.
fn move_tree(from: &Path, to: &Path) -> Result<Repository, GitError> {
    std::fs::rename(from, to).map_err(io(from))?;
    let wt = Repository::open(to)?;
    let pointer = to.join(".git");
    std::fs::write(wt.path().join("gitdir"), format!("{}\n", pointer.display()))
        .map_err(io(wt.path()))?;
    Ok(Repository::open(to)?)
}

/// Detach HEAD, drop untracked and ignored files, and move the worktree into the pool. A
/// worktree with uncommitted changes to tracked files is never parked.
fn park(repo: &Repository, path: &Path) -> Result<(), GitError> {
    let wt = Repository::open(path)?;
    let (extra, changed) = leftovers_in(&wt)?;
    if changed {
        return Err(GitError("the worktree has uncommitted changes".into()));
    }
    if let Some(oid) = wt.head().ok().and_then(|h| h.target()) {
        wt.set_head_detached(oid)?;
    }
    for rel in extra {
        let abs = path.join(rel.trim_end_matches('/'));
        let meta = std::fs::symlink_metadata(&abs).map_err(io(&abs))?;
        if meta.is_dir() {
            std::fs::remove_dir_all(&abs).map_err(io(&abs))?;
        } else {
            std::fs::remove_file(&abs).map_err(io(&abs))?;
        }
    }
    let pool = pool_dir(repo);
    std::fs::create_dir_all(&pool).map_err(io(&pool))?;
    let name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    move_tree(path, &pool.join(name))?;
    Ok(())
}

/// An idle worktree moved to `path`, verified clean; None when the pool has none. One that
/// is not clean (it should never be) is removed rather than reused.
fn take_idle(repo: &Repository, path: &Path) -> Option<Repository> {
    for slot in idle(repo) {
        let clean = Repository::open(&slot)
            .ok()
            .and_then(|wt| leftovers_in(&wt).ok())
            .is_some_and(|(extra, changed)| extra.is_empty() && !changed);
        if clean {
            if let Ok(wt) = move_tree(&slot, path) {
                return Some(wt);
            }
            let _ = discard_tree(repo, path);
        }
        let _ = discard_tree(repo, &slot);
    }
    None
}

/// Check `commit` out in the idle worktree `wt` on `branch`: only the files that differ
/// between its HEAD and `commit` are written (and their index entries), nothing else is read.
fn reset_to(wt: &Repository, commit: &git2::Commit<'_>, branch: &str) -> Result<(), GitError> {
    let old = wt.head()?.peel_to_tree()?;
    let diff = wt.diff_tree_to_tree(Some(&old), Some(&commit.tree()?), None)?;
    let mut paths: Vec<String> = Vec::new();
    for d in diff.deltas() {
        for f in [d.old_file(), d.new_file()] {
            if let Some(p) = f.path().and_then(|p| p.to_str()) {
                if !paths.iter().any(|o| o == p) {
                    paths.push(p.to_string());
                }
            }
        }
    }
    super::restore_paths(wt, Some(&commit.id().to_string()), &paths)?;
    wt.set_head(&format!("refs/heads/{branch}"))?;
    Ok(())
}

/// Remove a worktree's folder and git's record of it.
fn discard_tree(repo: &Repository, path: &Path) -> Result<(), GitError> {
    let admin = Repository::open(path).ok().and_then(|wt| {
        wt.path()
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
    });
    if path.exists() {
        std::fs::remove_dir_all(path).map_err(io(path))?;
    }
    if let Some(wt) = admin.and_then(|a| repo.find_worktree(&a).ok()) {
        prune(&wt)?;
    }
    Ok(())
}

/// Forget clk's worktrees whose folder is gone. By name a worktree may be found under
/// another run (pooled worktrees keep their first name), so only invalid ones go.
fn prune_stale(repo: &Repository) {
    let Ok(names) = repo.worktrees() else { return };
    for i in 0..names.len() {
        let Some(name) = names
            .get(i)
            .ok()
            .flatten()
            .filter(|n| n.starts_with("clk-"))
        else {
            continue;
        };
        if let Ok(wt) = repo.find_worktree(name) {
            if wt.validate().is_err() {
                let _ = wt.prune(None);
            }
        }
    }
}

fn prune(wt: &git2::Worktree) -> Result<(), GitError> {
    let mut opts = WorktreePruneOptions::new();
    opts.valid(true).working_tree(true).locked(true);
    wt.prune(Some(&mut opts))?;
    Ok(())
}

/// Commit clk's own files (the idea, the roster, prompts, workflows: `paths`, relative), which
/// live in the user's folder `root`, where the run works (`work`). During a run they are
/// copied into its worktree and committed on its branch, so the user's branch moves only by
/// the run's merge and the first run of a project ends in a fast-forward. Outside a run
/// (`work` is `root`) they are committed on the user's branch.
pub fn commit_own_files(
    root: &Path,
    work: &Path,
    author: &str,
    paths: &[String],
    message: &str,
) -> Result<Option<super::CommitInfo>, GitError> {
    let Some(repo) = super::open(work) else {
        return Ok(None);
    };
    if work != root {
        for rel in paths {
            let (from, to) = (root.join(rel), work.join(rel));
            if from.is_file() {
                if let Some(parent) = to.parent() {
                    std::fs::create_dir_all(parent).map_err(io(parent))?;
                }
                std::fs::copy(&from, &to).map_err(io(&from))?;
            } else if to.is_file() {
                std::fs::remove_file(&to).map_err(io(&to))?;
            }
        }
    }
    super::commit_paths(&repo, author, paths, message)
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
