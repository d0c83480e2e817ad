//! How finished tasks reach the user's branch: rebased and proved in a clean checkout (a red
//! check or a conflict goes back to the implementer), merged or held for approval by autonomy,
//! never through `clk merge`.

use std::fs;

use super::*;

#[test]
fn a_red_check_in_the_clean_checkout_sends_the_task_back_with_the_evidence() {
    let write = |content: &str| {
        Reply::text(&format!(
            "ACTION: write\nPATH: app.txt\nCONTENT:\n{content}\nEND_ACTION\n"
        ))
    };
    let mock = MockServer::start(Script::new(vec![write("bad"), write("good")]));
    let (_t, dir) = project(&mock);
    set_tasks_config(
        &dir,
        serde_json::json!({"checks": ["grep -q good app.txt"]}),
    );
    git(&dir, &["commit", "-qam", "user: checks"]);
    // The user's branch moves on while the task is queued: the proof rebases onto it.
    fs::write(dir.join("user.txt"), "mine\n").unwrap();
    git(&dir, &["add", "user.txt"]);
    ok(
        &dir,
        &["task", "add", "make app.txt good", "--flow", "solo"],
    );
    git(&dir, &["commit", "-qm", "user: later work"]);

    let out = ok(&dir, &["work", "--until-idle"]);
    assert!(out.contains("1 merged"), "{out}");
    let tl = timeline(&dir, 1);
    assert!(
        tl.contains("running → queued: sent back: the checks failed in a clean checkout of the rebased branch: FAIL `grep -q good app.txt`"),
        "{tl}"
    );
    assert!(tl.contains("proof    rebased; "), "{tl}");
    let prompts: Vec<String> = mock
        .model_requests()
        .iter()
        .map(|r| r.json.as_ref().unwrap()["messages"].to_string())
        .collect();
    assert!(prompts[1].contains("Your finished work was sent back before it could merge"));
    assert_eq!(task(&dir, 1)["turns"], 2);
    assert_eq!(fs::read_to_string(dir.join("app.txt")).unwrap(), "good\n");
    // Rebased, so the user's history stays a line: their commit, then the task's two.
    let log = git(&dir, &["log", "--format=%s", "-3"]);
    assert_eq!(log.lines().nth(2), Some("user: later work"), "{log}");
    assert_eq!(git(&dir, &["log", "--merges", "--oneline"]).trim(), "");
}

#[test]
fn balanced_asks_for_a_risky_change_and_aggressive_merges_it() {
    let mock = MockServer::start(Script::new(vec![
        writes(".github/workflows/ci.yml", 10),
        writes(".github/workflows/nightly.yml", 10),
        writes("notes.md", 10),
    ]));
    let (_t, dir) = project(&mock);
    ok(
        &dir,
        &["task", "add", "set up CI", "--autonomy", "balanced"],
    );
    ok(
        &dir,
        &[
            "task",
            "add",
            "add a nightly job",
            "--autonomy",
            "aggressive",
        ],
    );
    ok(
        &dir,
        &["task", "add", "take notes", "--autonomy", "balanced"],
    );
    let out = ok(&dir, &["work", "--workers", "1", "--until-idle"]);
    assert!(out.contains("2 merged, 1 wait for approval"), "{out}");
    let t = task(&dir, 1);
    assert_eq!(t["state"], "approval");
    assert!(
        t["reason"].as_str().unwrap().contains(
            "but autonomy is balanced and it changes .github/workflows/ci.yml (CI config)"
        ),
        "{t}"
    );
    assert!(!dir.join(".github/workflows/ci.yml").exists());
    assert_eq!(task(&dir, 2)["state"], "merged", "{}", timeline(&dir, 2));
    assert!(dir.join(".github/workflows/nightly.yml").is_file());
    assert_eq!(
        task(&dir, 3)["state"],
        "merged",
        "low-risk: merged by itself"
    );
}

#[test]
fn clk_merge_leaves_task_branches_alone_and_a_cancelled_task_is_cleaned_up() {
    let mock = MockServer::start(Script::new(vec![writes("wip.txt", 10)]));
    let (_t, dir) = project(&mock);
    ok(
        &dir,
        &["task", "add", "write wip.txt", "--autonomy", "safe"],
    );
    ok(&dir, &["work", "--until-idle"]);
    assert_eq!(task(&dir, 1)["state"], "approval");
    // Not approved: `clk merge` (for run branches) must not bring it over.
    ok(&dir, &["merge"]);
    assert!(!dir.join("wip.txt").exists());
    assert!(git(&dir, &["branch", "--list", "clk/task-1"]).contains("clk/task-1"));
    ok(&dir, &["task", "cancel", "1"]);
    ok(&dir, &["work", "--until-idle"]);
    assert_eq!(git(&dir, &["branch", "--list", "clk/*"]).trim(), "");
    assert_eq!(task(&dir, 1)["worktree"], "");
}

#[test]
fn a_rebase_conflict_sends_the_task_back_to_start_again_on_the_current_code() {
    let write = |content: &str| {
        Reply::text(&format!(
            "ACTION: write\nPATH: shared.txt\nCONTENT:\n{content}\nEND_ACTION\n"
        ))
    };
    let mock = MockServer::start(Script::new(vec![
        Reply::delay(1500, write("task v1")),
        write("task v2"),
    ]));
    let (_t, dir) = project(&mock);
    fs::write(dir.join("shared.txt"), "base\n").unwrap();
    git(&dir, &["add", "shared.txt"]);
    git(&dir, &["commit", "-qm", "user: shared"]);
    ok(
        &dir,
        &["task", "add", "rewrite shared.txt", "--flow", "solo"],
    );
    let mut child = worker_waiting_on_the_model(&dir, &mock, &["work", "--until-idle"]);
    // While the agent works, the user changes the same file on their branch.
    fs::write(dir.join("shared.txt"), "the user's version\n").unwrap();
    git(&dir, &["commit", "-qam", "user: my change"]);
    assert!(child.wait().unwrap().success());
    let tl = timeline(&dir, 1);
    assert!(
        tl.contains("conflicted in shared.txt, so the task starts again from your current code"),
        "{tl}"
    );
    assert_eq!(task(&dir, 1)["state"], "merged", "{tl}");
    assert_eq!(task(&dir, 1)["turns"], 2);
    assert_eq!(
        fs::read_to_string(dir.join("shared.txt")).unwrap(),
        "task v2\n"
    );
    let log = git(&dir, &["log", "--format=%s", "-2"]);
    assert_eq!(log.lines().nth(1), Some("user: my change"), "{log}");
    let prompts: Vec<String> = mock
        .model_requests()
        .iter()
        .map(|r| r.json.as_ref().unwrap()["messages"].to_string())
        .collect();
    assert!(prompts[1].contains("sent back before it could merge: rebasing onto your branch"));
    assert!(git(&dir, &["for-each-ref", "refs/clk/conflicted/"]).contains("clk/task-1"));
}

#[test]
fn aggressive_pushes_the_merged_branch_to_its_remote() {
    let mock = MockServer::start(Script::new(vec![writes("pushed.txt", 10)]));
    let (top, dir) = project(&mock);
    let remote = top.path().join("remote.git");
    git(
        top.path(),
        &["init", "-q", "--bare", remote.to_str().unwrap()],
    );
    git(&dir, &["remote", "add", "origin", remote.to_str().unwrap()]);
    git(&dir, &["push", "-q", "-u", "origin", "HEAD"]);
    ok(
        &dir,
        &[
            "task",
            "add",
            "write pushed.txt",
            "--autonomy",
            "aggressive",
        ],
    );
    ok(&dir, &["work", "--until-idle"]);
    assert_eq!(task(&dir, 1)["state"], "merged");
    assert!(timeline(&dir, 1).contains("pushed your branch to its remote"));
    let head = git(&dir, &["rev-parse", "HEAD"]);
    let branch = git(&dir, &["rev-parse", "--abbrev-ref", "HEAD"]);
    let theirs = git(&remote, &["rev-parse", branch.trim()]);
    assert_eq!(theirs, head, "the remote has the merged work");

    // safe: merged after approval, but never pushed.
    mock.push(writes("kept.txt", 10));
    ok(
        &dir,
        &["task", "add", "write kept.txt", "--autonomy", "safe"],
    );
    ok(&dir, &["work", "--until-idle"]);
    ok(&dir, &["task", "approve", "2"]);
    ok(&dir, &["work", "--until-idle"]);
    assert_eq!(task(&dir, 2)["state"], "merged");
    assert!(!timeline(&dir, 2).contains("pushed"));
    assert_eq!(git(&remote, &["rev-parse", branch.trim()]), head);
}
