//! The shared queue's moving parts on PostgreSQL: an idle worker is woken by the store's
//! NOTIFY when another process adds a task (not by its own lines); a merge the shared remote
//! refused is kept in the store and pushed again; a long merge does not let the leases of the
//! tasks still running lapse.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use clk::engine::store::tasks::{NewTask, PgStore, TaskStore};

use super::tasks::{project, writes};
use super::tasks_pg::{finish, list, pg_ok, settle, wait_for, worker};
use super::worktree::git;
use crate::support::mock_server::{MockServer, Script};
use crate::support::pg;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_added_elsewhere_wakes_the_store_at_once() {
    let Some(url) = pg::database() else { return };
    let mock = MockServer::start(Script::new(vec![]));
    let (_top, dir) = project(&mock);
    let (store, wake) = {
        let url = url.clone();
        tokio::task::spawn_blocking(move || {
            let s = PgStore::open(&url, 5).unwrap();
            let w = s.wake().expect("PostgreSQL wakes");
            (s, w)
        })
        .await
        .unwrap()
    };
    // Its own lines do not wake it: it knows what it did.
    let store = tokio::task::spawn_blocking(move || {
        store
            .add(&NewTask {
                prompt: "mine".into(),
                ..NewTask::default()
            })
            .unwrap();
        store
    })
    .await
    .unwrap();
    let quiet = tokio::time::timeout(Duration::from_millis(700), wake.notified()).await;
    assert!(quiet.is_err(), "woken by its own line");
    // Another process's `task add` does.
    let adder = tokio::task::spawn_blocking(move || pg_ok(&dir, &url, &["task", "add", "theirs"]));
    tokio::time::timeout(Duration::from_secs(20), wake.notified())
        .await
        .expect("woken by the other process's task add");
    adder.await.unwrap();
    tokio::task::spawn_blocking(move || drop(store))
        .await
        .unwrap();
}

/// The shared remote refuses every push (a pre-receive hook) while a task merges: the task
/// says its merge is not pushed, and the worker pushes it once the remote takes pushes again.
#[test]
fn a_refused_push_after_a_merge_is_kept_and_made_again() {
    let Some(url) = pg::database() else { return };
    let mock = MockServer::start(Script::new(vec![writes("pushed.txt", 10)]));
    let (top, dir) = project(&mock);
    let bare = settle(&dir, |_| {});
    let hook = bare.join("hooks/pre-receive");
    std::fs::write(
        &hook,
        "#!/bin/sh\necho 'pushes are closed today' >&2\nexit 1\n",
    )
    .unwrap();
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    pg_ok(&dir, &url, &["task", "add", "write pushed.txt"]);
    let mut w = worker(top.path(), &url, &bare, "w1", &[]);
    let task = || list(&dir, &url).remove(0);
    wait_for("the merge whose push was refused", 60, || {
        !task()["unpushed"].as_str().unwrap_or_default().is_empty()
    });
    let t = task();
    assert_eq!(t["state"], "merged", "{t}");
    let why = t["reason"].as_str().unwrap();
    assert!(why.contains("not on the shared remote yet"), "{why}");
    assert!(why.contains("pushes it again each round"), "{why}");
    assert!(!why.contains('\n'), "one line: {why}");
    let shown = pg_ok(&dir, &url, &["task", "show", "1"]);
    assert!(shown.contains("not on the shared remote yet"), "{shown}");
    let listed = pg_ok(&dir, &url, &["task", "list"]);
    assert!(listed.contains("not on the shared remote yet"), "{listed}");
    assert!(!git(&bare, &["ls-tree", "--name-only", "HEAD"]).contains("pushed.txt"));
    // The remote takes pushes again: the next rounds push the merge.
    std::fs::remove_file(&hook).unwrap();
    wait_for("the merge pushed again", 60, || {
        task()["unpushed"].as_str().unwrap_or_default().is_empty()
    });
    w.kill().unwrap();
    w.wait().unwrap();
    assert!(git(&bare, &["ls-tree", "--name-only", "HEAD"]).contains("pushed.txt"));
    let t = task();
    let why = t["reason"].as_str().unwrap();
    assert!(why.ends_with("; pushed to the shared remote"), "{why}");
    assert!(why.starts_with("merged as "), "{why}");
    let tl = pg_ok(&dir, &url, &["task", "timeline", "1"]);
    assert!(tl.contains("not on the shared remote yet"), "{tl}");
    assert!(tl.contains("pushed to the shared remote"), "{tl}");
}

/// A task that waits for approval in one clone is approved, and a worker in another clone
/// (the first machine gone) merges it from its branch on the shared remote.
#[test]
fn a_task_approved_here_is_merged_by_a_worker_on_another_machine() {
    let Some(url) = pg::database() else { return };
    let mock = MockServer::start(Script::new(vec![writes("approved.txt", 10)]));
    let (top, dir, bare) = super::tasks_sweep::approval_on_w1(&url, &mock);
    let top = top.path();
    let t = list(&dir, &url).remove(0);
    assert_eq!(t["state"], "approval", "{t}");
    assert!(t["worktree"].as_str().unwrap().contains("/w1/"), "{t}");
    // The first machine is gone, worktree and all.
    std::fs::remove_dir_all(top.join("w1")).unwrap();
    pg_ok(&dir, &url, &["task", "approve", "1"]);
    let out = finish(worker(top, &url, &bare, "w2", &["--until-idle"]));
    assert!(out.contains("1 merged"), "{out}");
    let t = list(&dir, &url).remove(0);
    assert_eq!(t["state"], "merged", "{t}");
    assert!(t["worktree"].as_str().unwrap().contains("/w2/"), "{t}");
    assert_eq!(
        mock.model_calls(),
        1,
        "merged as it was approved, no new turn"
    );
    let tl = pg_ok(&dir, &url, &["task", "timeline", "1"]);
    assert!(
        tl.contains("approved elsewhere; merged from clk/task-1 fetched here"),
        "{tl}"
    );
    assert!(git(&bare, &["ls-tree", "--name-only", "HEAD"]).contains("approved.txt"));
    assert_eq!(git(&bare, &["branch", "--list", "clk/*"]).trim(), "");
}

/// One task finishes at once and its merge runs a check that outlasts the 3 s lease, while the
/// other task's model call is still going. The worker keeps that task's lease alive all along,
/// so a second worker never takes it over and runs it again.
#[test]
fn a_long_merge_keeps_the_other_tasks_lease() {
    let Some(url) = pg::database() else { return };
    let mock = MockServer::start(Script::new(vec![
        writes("quick.txt", 0),
        writes("slow.txt", 9000),
    ]));
    let (top, dir) = project(&mock);
    let bare = settle(&dir, |c| {
        c["tasks"]["checks"] = serde_json::json!(["sleep 7"]);
    });
    let top = top.path();
    pg_ok(&dir, &url, &["task", "add", "the first task"]);
    pg_ok(&dir, &url, &["task", "add", "the second task"]);
    let first = worker(top, &url, &bare, "w1", &["--workers", "2", "--until-idle"]);
    wait_for("both tasks' model calls", 60, || mock.model_calls() >= 2);
    // The quick task is merging now (its check sleeps); the slow one is still in its call.
    let second = worker(top, &url, &bare, "w2", &["--until-idle"]);
    let outs = [finish(first), finish(second)];
    assert_eq!(mock.model_calls(), 2, "a task ran twice: {outs:?}");
    for t in list(&dir, &url) {
        assert_eq!(t["state"], "merged", "{t}\n{outs:?}");
        assert_eq!(t["turns"], 1, "{t}");
        let tl = pg_ok(&dir, &url, &["task", "timeline", &t["id"].to_string()]);
        assert!(!tl.contains("stopped renewing its lease"), "{tl}");
    }
}
