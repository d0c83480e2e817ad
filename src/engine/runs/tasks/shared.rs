//! Workers on many machines: each works in its own clone of the shared git remote (`origin`).
//! A task's branch is pushed after every turn, so a worker that takes over a task whose lease
//! ran out goes on from its last pushed turn; the merge queue (one worker at a time, under the
//! store's lock) brings the clone's branch up to the remote's, merges, and pushes it. A push
//! the remote refuses is kept in the store and made again each round (`repair_main`).
//! Every push is held when the secret scan finds a key in the commits it would send.

use std::path::Path;

use super::proof::git_in;
use crate::engine::store::git::scan::check_before_push;

/// The shared remote every worker clones from and pushes to.
pub const REMOTE: &str = "origin";

/// The branch checked out in the clone (`main`).
fn current_branch(root: &Path) -> Result<String, String> {
    let name = git_in(root, &["symbolic-ref", "--short", "HEAD"])?;
    Ok(name.trim().to_string())
}

/// Push the task's branch (from its worktree) so another worker can go on from it.
pub fn push_branch(worktree: &Path, branch: &str) -> Result<(), String> {
    check_before_push(worktree, None)?;
    let spec = format!("+{branch}:refs/heads/{branch}");
    git_in(worktree, &["push", "--quiet", REMOTE, &spec])
        .map(|_| ())
        .map_err(|e| format!("could not push {branch} to {REMOTE}: {e}"))
}

/// A task taken over from another worker: its worktree goes to the branch's last pushed turn.
/// False when the remote has no such branch (no turn was pushed yet).
pub fn resume_branch(worktree: &Path, branch: &str) -> Result<bool, String> {
    let spec = format!("refs/heads/{branch}");
    let remote = git_in(worktree, &["ls-remote", REMOTE, &spec])?;
    if remote.trim().is_empty() {
        return Ok(false);
    }
    git_in(worktree, &["fetch", "--quiet", REMOTE, &spec])?;
    git_in(worktree, &["reset", "--quiet", "--hard", "FETCH_HEAD"])?;
    Ok(true)
}

/// Bring the clone's branch to the remote's (a fast-forward: nobody commits in a worker's
/// clone but its merges, which are pushed at once).
pub fn sync_main(root: &Path) -> Result<(), String> {
    let branch = current_branch(root)?;
    git_in(root, &["fetch", "--quiet", REMOTE])?;
    let upstream = format!("{REMOTE}/{branch}");
    git_in(root, &["merge", "--quiet", "--ff-only", &upstream])
        .map(|_| ())
        .map_err(|e| format!("{branch} here and on {REMOTE} went apart: {e}"))
}

/// Push the clone's branch, with the merge just made, to the remote; then drop the task's
/// branch there.
pub fn push_main(root: &Path, task_branch: &str) -> Result<(), String> {
    let branch = current_branch(root)?;
    check_before_push(root, None)?;
    git_in(root, &["push", "--quiet", REMOTE, &branch])
        .map_err(|e| format!("could not push {branch} to {REMOTE}: {e}"))?;
    let gone = format!(":refs/heads/{task_branch}");
    let _ = git_in(root, &["push", "--quiet", REMOTE, &gone]);
    Ok(())
}

/// The commit the clone's branch is at.
pub fn head(root: &Path) -> Result<String, String> {
    Ok(git_in(root, &["rev-parse", "HEAD"])?.trim().to_string())
}

/// Whether this clone holds commit `sha` (a merge made here).
pub fn has_commit(root: &Path, sha: &str) -> bool {
    git_in(root, &["cat-file", "-e", &format!("{sha}^{{commit}}")]).is_ok()
}

/// Whether the remote's branch (as last fetched) contains commit `sha`.
pub fn on_remote(root: &Path, sha: &str) -> Result<bool, String> {
    let branch = current_branch(root)?;
    let upstream = format!("{REMOTE}/{branch}");
    Ok(git_in(root, &["merge-base", "--is-ancestor", sha, &upstream]).is_ok())
}

/// Push merges the remote refused before: the remote's branch is merged in first (another
/// worker may have pushed meanwhile), then the clone's branch is pushed. A conflict between
/// the two is left to a person, the clone as it was.
pub fn repair_main(root: &Path) -> Result<(), String> {
    let branch = merge_upstream(root)?;
    check_before_push(root, None)?;
    git_in(root, &["push", "--quiet", REMOTE, &branch])
        .map_err(|e| format!("could not push {branch} to {REMOTE}: {e}"))?;
    git_in(root, &["fetch", "--quiet", REMOTE]).map(|_| ())
}

/// Merge the remote's branch into the clone's (fetched first), and give the branch's name. A
/// conflict between the two is left to a person, the clone as it was.
fn merge_upstream(root: &Path) -> Result<String, String> {
    let branch = current_branch(root)?;
    git_in(root, &["fetch", "--quiet", REMOTE])?;
    let upstream = format!("{REMOTE}/{branch}");
    if let Err(e) = git_in(root, &["merge", "--quiet", "--no-edit", &upstream]) {
        let _ = git_in(root, &["merge", "--abort"]);
        return Err(format!(
            "{branch} here and on {REMOTE} changed the same lines ({e}); merge {upstream} \
             into {branch} in {} by hand and push",
            root.display()
        ));
    }
    Ok(branch)
}

/// Make `dir` a clone of `url`, or bring an existing clone up to date. The folder must be new
/// or empty for a clone.
pub fn clone_or_fetch(url: &str, dir: &Path) -> Result<(), String> {
    if dir.join(".git").exists() {
        // A merge the remote refused before this worker stopped is still here, and the remote
        // may have moved on since: both are kept, and the work loop pushes the result.
        return sync_main(dir).or_else(|_| merge_upstream(dir).map(|_| ()));
    }
    let empty = std::fs::read_dir(dir).map_or(true, |mut d| d.next().is_none());
    if !empty {
        return Err(format!(
            "{} is not empty and not a clone; run `clk work --repo` in a new folder",
            dir.display()
        ));
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("could not make {}: {e}", dir.display()))?;
    git_in(dir, &["clone", "--quiet", url, "."])
        .map(|_| ())
        .map_err(|e| format!("could not clone {url}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn git(dir: &Path, args: &[&str]) -> String {
        git_in(dir, args).unwrap_or_else(|e| panic!("git {args:?}: {e}"))
    }

    /// A clone of a fresh shared remote, on `main` with one pushed commit.
    fn clone() -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
        let top = tempfile::tempdir().unwrap();
        let bare = top.path().join("shared.git");
        let dir = top.path().join("clone");
        git(
            top.path(),
            &["init", "-q", "--bare", "-b", "main", "shared.git"],
        );
        git(
            top.path(),
            &["clone", "-q", bare.to_str().unwrap(), "clone"],
        );
        std::fs::write(dir.join("app.py"), "print(1)\n").unwrap();
        git(&dir, &["checkout", "-q", "-b", "main"]);
        git(&dir, &["add", "app.py"]);
        git(&dir, &["commit", "-qm", "one"]);
        git(&dir, &["push", "-q", "-u", REMOTE, "main"]);
        (top, bare, dir)
    }

    #[test]
    fn a_turn_or_a_merge_adding_a_key_is_not_pushed_to_the_shared_remote() {
        let (_top, bare, dir) = clone();
        // A clean task branch goes up.
        git(&dir, &["checkout", "-q", "-b", "clk/task-1"]);
        std::fs::write(dir.join("app.py"), "print(2)\n").unwrap();
        git(&dir, &["commit", "-qam", "two"]);
        push_branch(&dir, "clk/task-1").unwrap();
        assert!(!git(&bare, &["branch", "--list", "clk/task-1"]).is_empty());

        // A turn that adds a key is held, with where it is; the remote keeps the last turn.
        let key = "sk-proj-Zq8WcB1x2y3z4A5B6C7D8E9F0g";
        std::fs::write(dir.join("cfg.py"), format!("KEY = \"{key}\"\n")).unwrap();
        git(&dir, &["add", "cfg.py"]);
        git(&dir, &["commit", "-qm", "three"]);
        let before = git(&bare, &["rev-parse", "clk/task-1"]);
        let err = push_branch(&dir, "clk/task-1").unwrap_err();
        assert!(
            err.contains("push held") && err.contains("cfg.py:1"),
            "{err}"
        );
        assert!(!err.contains(key), "{err}");
        assert_eq!(git(&bare, &["rev-parse", "clk/task-1"]), before);

        // The same commits merged into main are not pushed either.
        git(&dir, &["checkout", "-q", "main"]);
        git(&dir, &["merge", "-q", "--ff-only", "clk/task-1"]);
        let main_before = git(&bare, &["rev-parse", "main"]);
        let err = push_main(&dir, "clk/task-1").unwrap_err();
        assert!(err.contains("push held"), "{err}");
        assert_eq!(git(&bare, &["rev-parse", "main"]), main_before);
    }

    #[test]
    fn a_clone_holding_an_unpushed_merge_starts_again_after_the_remote_moved_on() {
        let (top, bare, dir) = clone();
        // A merge here that the remote never took.
        std::fs::write(dir.join("mine.txt"), "mine\n").unwrap();
        git(&dir, &["add", "mine.txt"]);
        git(&dir, &["commit", "-qm", "merged here, not pushed"]);
        // Another worker pushed meanwhile.
        let other = top.path().join("other");
        git(
            top.path(),
            &["clone", "-q", bare.to_str().unwrap(), "other"],
        );
        std::fs::write(other.join("theirs.txt"), "theirs\n").unwrap();
        git(&other, &["add", "theirs.txt"]);
        git(&other, &["commit", "-qm", "theirs"]);
        git(&other, &["push", "-q", REMOTE, "main"]);
        assert!(sync_main(&dir).is_err(), "not a fast-forward");
        clone_or_fetch(bare.to_str().unwrap(), &dir).unwrap();
        assert!(dir.join("mine.txt").exists() && dir.join("theirs.txt").exists());
        // What is left to push is the local merge on top of the remote's work.
        let ahead = git(&dir, &["rev-list", "--count", "origin/main..main"]);
        assert!(ahead.trim().parse::<u32>().unwrap() >= 1, "{ahead}");
        assert_eq!(
            git(&dir, &["rev-list", "--count", "main..origin/main"]).trim(),
            "0"
        );
    }
}
