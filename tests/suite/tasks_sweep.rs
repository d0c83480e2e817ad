//! Task worktrees that no task needs are removed, through the real binary and real git: a
//! cancelled task's worktree and branch go at once, one with uncommitted changes is kept and
//! said; a merged task's leftover worktree goes at the next start while the user's own
//! worktrees and branches stay; on PostgreSQL, the first worker of a task another worker took over (its lease ran
//! out) or merged removes its own worktree and branch once it runs again.

use std::path::{Path, PathBuf};
use std::process::Child;

use super::tasks::{ok, project, writes};
use super::tasks_pg::{finish, list, pg_ok, settle, wait_for, worker};
use super::worktree::git;
use crate::support::mock_server::{MockServer, Reply, Script};
use crate::support::pg;

/// Where task 1's worktree is in the clone at `dir`.
fn tree(dir: &Path) -> PathBuf {
    dir.join(".git/clk/worktrees/task-1")
}

/// Whether the clone at `dir` has task 1's local branch.
fn branch(dir: &Path) -> bool {
    !git(dir, &["branch", "--list", "clk/task-1"])
        .trim()
        .is_empty()
}

/// A `safe` task worked to its approval in the project's own worktree (SQLite).
fn waiting_for_approval(mock: &MockServer) -> (tempfile::TempDir, PathBuf) {
    let (top, dir) = project(mock);
    ok(&dir, &["task", "add", "--autonomy", "safe", "write a.txt"]);
    let out = ok(&dir, &["work", "--until-idle"]);
    assert!(out.contains("1 wait for approval"), "{out}");
    assert!(tree(&dir).is_dir() && branch(&dir));
    (top, dir)
}

#[test]
fn a_cancelled_tasks_worktree_and_branch_go_at_once() {
    let mock = MockServer::start(Script::new(vec![writes("a.txt", 0)]));
    let (_top, dir) = waiting_for_approval(&mock);
    let out = ok(&dir, &["task", "cancel", "1"]);
    assert!(
        out.contains("its worktree and branch clk/task-1 are removed"),
        "{out}"
    );
    assert!(!tree(&dir).exists(), "worktree left behind");
    assert!(!branch(&dir), "branch left behind");
    let tl = ok(&dir, &["task", "timeline", "1"]);
    assert!(tl.contains("removed its worktree and branch"), "{tl}");
    // Nothing is left for the next worker to do or say.
    let out = ok(&dir, &["work", "--until-idle"]);
    assert!(!out.contains("worktree"), "{out}");
}

#[test]
fn a_worktree_with_uncommitted_changes_is_kept_and_said_once() {
    let mock = MockServer::start(Script::new(vec![writes("a.txt", 0)]));
    let (_top, dir) = waiting_for_approval(&mock);
    std::fs::write(tree(&dir).join("notes.txt"), "mine, not committed\n").unwrap();
    let out = ok(&dir, &["task", "cancel", "1"]);
    assert!(out.contains("is kept although it was cancelled"), "{out}");
    assert!(out.contains("uncommitted changes to notes.txt"), "{out}");
    assert!(
        tree(&dir).join("notes.txt").is_file(),
        "the user's file went"
    );
    // The worker keeps it too, and says so once.
    let out = ok(&dir, &["work", "--until-idle"]);
    assert_eq!(out.matches("is kept although").count(), 1, "{out}");
    assert!(tree(&dir).join("notes.txt").is_file());
    // Once the work is out of the way, the next worker removes it.
    std::fs::remove_file(tree(&dir).join("notes.txt")).unwrap();
    let out = ok(&dir, &["work", "--until-idle"]);
    assert!(
        out.contains("task 1: removed its worktree and branch here: it was cancelled"),
        "{out}"
    );
    assert!(!tree(&dir).exists() && !branch(&dir), "{out}");
}

#[test]
fn a_merged_tasks_leftover_worktree_goes_and_the_users_own_stay() {
    let mock = MockServer::start(Script::new(vec![writes("a.txt", 0)]));
    let (_top, dir) = project(&mock);
    ok(&dir, &["task", "add", "write a.txt"]);
    let out = ok(&dir, &["work", "--until-idle"]);
    assert!(out.contains("1 merged"), "{out}");
    assert!(!tree(&dir).exists());
    // What a worker killed between the merge and its cleanup leaves, beside the user's own
    // worktree and branches (one under clk's prefix that is no task's).
    let add = |branch: &str, at: &Path| {
        git(
            &dir,
            &["worktree", "add", "-q", "-b", branch, at.to_str().unwrap()],
        );
    };
    add("clk/task-1", &tree(&dir));
    let mine = dir.parent().unwrap().join("mine");
    add("feature", &mine);
    git(&dir, &["branch", "clk/task-notes"]);
    let out = ok(&dir, &["work", "--until-idle"]);
    assert!(
        out.contains("task 1: removed its worktree and branch here: it is merged"),
        "{out}"
    );
    assert!(!tree(&dir).exists() && !branch(&dir), "{out}");
    assert!(
        mine.join("a.txt").is_file(),
        "the user's worktree was touched"
    );
    let branches = git(&dir, &["branch", "--list"]);
    assert!(
        branches.contains("feature") && branches.contains("clk/task-notes"),
        "{branches}"
    );
    assert!(git(&dir, &["worktree", "list"]).contains("/mine "));
}

/// Kill `c` with SIGKILL and reap it: its lease just stops being renewed.
fn kill(mut c: Child) {
    c.kill().unwrap();
    c.wait().unwrap();
}

/// A shared project with one task, whose worker in clone `w1` is in its first model call
/// (the mock's first reply stalls): (top folder, project, bare remote, that worker).
fn stalled_on_w1(url: &str, mock: &MockServer) -> (tempfile::TempDir, PathBuf, PathBuf, Child) {
    let (top, dir) = project(mock);
    let bare = settle(&dir, |_| {});
    pg_ok(&dir, url, &["task", "add", "write done.txt"]);
    let first = worker(top.path(), url, &bare, "w1", &[]);
    wait_for("the first worker's call", 60, || mock.model_calls() >= 1);
    let w1 = top.path().join("w1");
    assert!(tree(&w1).is_dir() && branch(&w1));
    (top, dir, bare, first)
}

#[test]
fn a_task_taken_over_after_its_lease_ran_out_leaves_no_worktree_on_its_first_worker() {
    let Some(url) = pg::database() else { return };
    // The first worker's call stalls and it dies there; the second takes the task over when
    // the lease runs out, and its call stalls too: the task runs elsewhere now.
    let mock = MockServer::start(Script::new(vec![Reply::Stall, Reply::Stall]));
    let (top, dir, bare, first) = stalled_on_w1(&url, &mock);
    let top = top.path();
    let w1 = top.join("w1");
    kill(first);
    let second = worker(top, &url, &bare, "w2", &[]);
    wait_for("the second worker's call", 60, || mock.model_calls() >= 2);
    let t = list(&dir, &url).remove(0);
    assert_eq!(t["state"], "running", "{t}");
    assert!(t["worktree"].as_str().unwrap().contains("/w2/"), "{t}");
    // The first worker runs again: the task is the second's now.
    let again = worker(top, &url, &bare, "w1", &[]);
    wait_for("the first worker's stale worktree removed", 30, || {
        !tree(&w1).exists() && !branch(&w1)
    });
    kill(again);
    kill(second);
    assert!(
        tree(&top.join("w2")).is_dir(),
        "the running task's worktree was touched"
    );
    let tl = pg_ok(&dir, &url, &["task", "timeline", "1"]);
    assert!(
        tl.contains("removed its worktree and branch here: another worker has it now"),
        "{tl}"
    );
    assert_eq!(mock.model_calls(), 2, "the first worker ran the task again");
}

/// A shared project whose one `safe` task the worker in clone `w1` worked to its approval,
/// the mock writing `approved.txt`: (top folder, project, bare remote).
pub(crate) fn approval_on_w1(
    url: &str,
    mock: &MockServer,
) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let (top, dir) = project(mock);
    let bare = settle(&dir, |_| {});
    pg_ok(
        &dir,
        url,
        &["task", "add", "--autonomy", "safe", "write approved.txt"],
    );
    let out = finish(worker(top.path(), url, &bare, "w1", &["--until-idle"]));
    assert!(out.contains("1 wait for approval"), "{out}");
    (top, dir, bare)
}

#[test]
fn a_task_merged_by_another_worker_leaves_no_worktree_on_the_first() {
    let Some(url) = pg::database() else { return };
    let mock = MockServer::start(Script::new(vec![writes("approved.txt", 10)]));
    let (top, dir, bare) = approval_on_w1(&url, &mock);
    let top = top.path();
    let w1 = top.join("w1");
    assert!(tree(&w1).is_dir() && branch(&w1));
    pg_ok(&dir, &url, &["task", "approve", "1"]);
    // Another worker merges it from the shared remote, the first being away meanwhile.
    let out = finish(worker(top, &url, &bare, "w2", &["--until-idle"]));
    assert!(out.contains("1 merged"), "{out}");
    assert!(
        tree(&w1).is_dir(),
        "the first worker's worktree is there until it runs"
    );
    let out = finish(worker(top, &url, &bare, "w1", &["--until-idle"]));
    assert!(
        out.contains("task 1: removed its worktree and branch here: it is merged"),
        "{out}"
    );
    assert!(!tree(&w1).exists() && !branch(&w1), "{out}");
    assert_eq!(list(&dir, &url)[0]["state"], "merged");
}

#[test]
fn a_paused_worker_whose_task_was_merged_elsewhere_removes_its_worktree_when_it_goes_on() {
    let Some(url) = pg::database() else { return };
    // The first worker's call stalls and the worker is stopped (SIGSTOP) there; the second
    // takes the task over when the lease runs out, and finishes and merges it.
    let mock = MockServer::start(Script::new(vec![Reply::Stall, writes("done.txt", 10)]));
    let (top, dir, bare, first) = stalled_on_w1(&url, &mock);
    let top = top.path();
    let w1 = top.join("w1");
    let pid = first.id().to_string();
    let signal = |s: &str| {
        let st = std::process::Command::new("kill")
            .args([s, &pid])
            .status()
            .unwrap();
        assert!(st.success());
    };
    signal("-STOP");
    let out = finish(worker(top, &url, &bare, "w2", &["--until-idle"]));
    assert!(out.contains("1 merged"), "{out}");
    assert!(tree(&w1).is_dir());
    signal("-CONT");
    wait_for("the first worker's worktree removed", 30, || {
        !tree(&w1).exists() && !branch(&w1)
    });
    kill(first);
    let t = list(&dir, &url).remove(0);
    assert_eq!(
        t["state"], "merged",
        "the first worker took the task back: {t}"
    );
    assert_eq!(mock.model_calls(), 2);
}
