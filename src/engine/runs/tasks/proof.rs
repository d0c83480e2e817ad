//! The proof a finished task gives before it merges: its branch rebased onto the user's
//! current branch, then the project's checks run in a clean checkout of that result (not the
//! task's worktree, where stray files could make a check pass). A conflict is left in the
//! worktree for the implementer to resolve (`resolve.rs`); a red check is evidence it gets
//! back.

use std::path::Path;
use std::process::Command;

use tokio_util::sync::CancellationToken;

use super::run::run_id;
use crate::engine::runs::evaluate;
use crate::engine::store::git;
use crate::engine::store::tasks::Task;
use crate::engine::store::workspace::Project;

/// What the proof came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proof {
    /// Rebased and green: what ran, and the change against the user's branch (files, lines).
    Ready {
        checks: String,
        files: Vec<String>,
        lines: usize,
    },
    /// Rebasing conflicted: the rebase waits in the task's worktree, and the implementer gets
    /// a turn to resolve it with this evidence.
    Conflict(String),
    /// Rebased, but a check failed in the clean checkout: back to the implementer with this
    /// evidence.
    Red(String),
    /// It cannot be proved at all (no worktree, git failing): the line says why.
    Broken(String),
}

pub(super) fn git_in(dir: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=clk", "-c", "user.email=clk@local.invalid"])
        .args(args)
        .output()
        .map_err(|e| format!("could not run git: {e}"))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        Ok(text)
    } else {
        Err(text
            .trim()
            .lines()
            .last()
            .unwrap_or("git failed")
            .to_string())
    }
}

/// Rebase the task's branch (in its worktree) onto `onto`. On a conflict the rebase is left
/// stopped in the worktree for the implementer to resolve (`resolve.rs`), and `Err` is the
/// evidence; `Err(Proof::Broken)` says why git failed otherwise.
fn rebase(worktree: &Path, onto: &str) -> Result<(), Proof> {
    // git rewrites the worktree's index and files: clk's kept copy must be on disk first and
    // read again afterwards.
    if let Err(e) = git::deferred::release(worktree) {
        return Err(Proof::Broken(format!(
            "could not save the task's index: {e}"
        )));
    }
    if git_in(worktree, &["rebase", "--quiet", onto]).is_ok() {
        return Ok(());
    }
    let files = conflicted(worktree);
    let short: String = onto.chars().take(8).collect();
    if files.is_empty() {
        let _ = git_in(worktree, &["rebase", "--abort"]);
        return Err(Proof::Broken(format!("could not rebase onto {short}")));
    }
    Err(Proof::Conflict(format!(
        "rebasing onto your branch ({short}) conflicted in {}; the rebase waits in its worktree \
         for the implementer to resolve",
        files.join(", ")
    )))
}

/// The files a stopped rebase left conflicted in `worktree`.
pub(super) fn conflicted(worktree: &Path) -> Vec<String> {
    git_in(worktree, &["diff", "--name-only", "--diff-filter=U"])
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

/// Give up a stopped rebase: the branch starts again from `onto`, so the implementer redoes
/// the task on the current code; its old commits stay reachable under
/// `refs/clk/conflicted/<branch>`, which is returned.
pub(super) fn restart(worktree: &Path, branch: &str, onto: &str) -> Result<String, String> {
    let _ = git::deferred::release(worktree);
    let _ = git_in(worktree, &["rebase", "--abort"]);
    let keep = format!("refs/clk/conflicted/{branch}");
    git_in(worktree, &["update-ref", &keep, "HEAD"])
        .and_then(|_| git_in(worktree, &["reset", "--hard", "--quiet", onto]))?;
    Ok(keep)
}

/// The files and changed lines between `head` and `branch`'s tip.
fn size(
    repo: &git2::Repository,
    head: git2::Oid,
    branch: &str,
) -> Result<(Vec<String>, usize), git2::Error> {
    let old = repo.find_commit(head)?.tree()?;
    let new = repo
        .find_branch(branch, git2::BranchType::Local)?
        .get()
        .peel_to_tree()?;
    let diff = repo.diff_tree_to_tree(Some(&old), Some(&new), None)?;
    let files = super::run::diff_paths(&diff);
    let stats = diff.stats()?;
    Ok((files, stats.insertions() + stats.deletions()))
}

/// Rebase `t`'s branch onto the user's HEAD and run the checks in a clean checkout of it.
pub async fn prove(project: &Project, t: &Task, cancel: &CancellationToken) -> Proof {
    let root = &project.ws.root;
    let Some(repo) = git::open(root) else {
        return Proof::Broken("the project is no git repository".into());
    };
    let Some(head) = repo.head().ok().and_then(|h| h.target()) else {
        return Proof::Broken("your branch has no commit".into());
    };
    let worktree = Path::new(&t.worktree);
    if !worktree.is_dir() {
        return Proof::Broken(format!(
            "its worktree {} is gone; `clk task resume {}` works it again",
            t.worktree, t.id
        ));
    }
    // Already on top of the user's branch: nothing to rebase.
    let tip = repo
        .find_branch(&t.branch, git2::BranchType::Local)
        .ok()
        .and_then(|b| b.get().target());
    let on_top =
        tip.is_some_and(|tip| tip == head || repo.graph_descendant_of(tip, head).unwrap_or(false));
    if !on_top {
        if let Err(p) = rebase(worktree, &head.to_string()) {
            return p;
        }
    }
    let checks = project.config.tasks.checks.clone();
    // No check to run (none set, none the project's shape calls for): no checkout to make.
    if evaluate::derive_checks(worktree, &checks).0.is_empty() {
        let (files, lines) = size(&repo, head, &t.branch).unwrap_or_default();
        return Proof::Ready {
            checks: "no checks found".into(),
            files,
            lines,
        };
    }
    let clean = repo
        .commondir()
        .join("clk")
        .join("proof")
        .join(run_id(t.id));
    let clean_s = clean.display().to_string();
    if clean.exists() {
        let _ = git_in(root, &["worktree", "remove", "--force", &clean_s]);
        let _ = std::fs::remove_dir_all(&clean);
    }
    if let Err(e) = git_in(
        root,
        &[
            "worktree", "add", "--detach", "--quiet", &clean_s, &t.branch,
        ],
    ) {
        return Proof::Broken(format!("could not check out a clean copy: {e}"));
    }
    let mut p = project.clone();
    p.ws = project.ws.with_work(clean.clone());
    let eval = evaluate::evaluate(&p, &checks, cancel).await;
    let _ = git_in(root, &["worktree", "remove", "--force", &clean_s]);
    if eval.ok {
        let (files, lines) = size(&repo, head, &t.branch).unwrap_or_default();
        Proof::Ready {
            checks: eval.summary,
            files,
            lines,
        }
    } else {
        let tail = eval
            .ran
            .iter()
            .find(|r| !r.passed())
            .map(|r| r.output_tail.clone())
            .unwrap_or_default();
        let tail: String = tail
            .chars()
            .rev()
            .take(1500)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        Proof::Red(format!(
            "the checks failed in a clean checkout of the rebased branch: {}\n{tail}",
            eval.summary
        ))
    }
}
