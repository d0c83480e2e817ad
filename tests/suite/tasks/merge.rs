//! How finished tasks reach the user's branch: rebased and proved in a clean checkout (a red
//! check or a conflict goes back to the implementer), merged or held for approval by autonomy,
//! never through `clk merge`.

use std::fs;
use std::path::Path;

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

fn write_shared(content: &str) -> Reply {
    Reply::text(&format!(
        "ACTION: write\nPATH: shared.txt\nCONTENT:\n{content}\nEND_ACTION\n"
    ))
}

/// A project with `shared.txt` ("base") committed on the user's branch.
fn shared_project(mock: &MockServer) -> (tempfile::TempDir, std::path::PathBuf) {
    let (t, dir) = project(mock);
    fs::write(dir.join("shared.txt"), "base\n").unwrap();
    git(&dir, &["add", "shared.txt"]);
    git(&dir, &["commit", "-qm", "user: shared"]);
    (t, dir)
}

#[test]
fn two_tasks_changing_the_same_line_the_second_resolves_its_rebase_conflict_in_place() {
    let mock = MockServer::start(Script::new(vec![
        write_shared("from one task"),
        Reply::delay(500, write_shared("from the other task")),
        // The task whose rebase conflicts resolves it in a third call.
        write_shared("from both tasks"),
    ]));
    let (_t, dir) = shared_project(&mock);
    ok(
        &dir,
        &["configure", "--set", "tasks.checks=test -s shared.txt"],
    );
    git(&dir, &["commit", "-qam", "user: checks"]);
    // No file named in the prompts, so both run at once and change the same line.
    ok(
        &dir,
        &["task", "add", "say where you come from", "--flow", "solo"],
    );
    ok(&dir, &["task", "add", "say it too", "--flow", "solo"]);
    let out = ok(&dir, &["work", "--workers", "2", "--until-idle"]);
    assert!(out.contains("2 merged"), "{out}");
    assert_eq!(
        fs::read_to_string(dir.join("shared.txt")).unwrap(),
        "from both tasks\n"
    );
    let prompts: Vec<String> = mock
        .model_requests()
        .iter()
        .map(|r| r.json.as_ref().unwrap()["messages"].to_string())
        .collect();
    assert_eq!(prompts.len(), 3);
    // The resolver was shown the conflicted file and both sides of its hunk.
    let p = &prompts[2];
    assert!(
        p.contains("the rebase stopped on a conflict in shared.txt"),
        "{p}"
    );
    assert!(
        p.contains("| <<<<<<< ") && p.contains("| from one task"),
        "{p}"
    );
    assert!(p.contains("| from the other task"), "{p}");
    let (a, b) = (timeline(&dir, 1), timeline(&dir, 2));
    let second = if a.contains("resolver turn") { a } else { b };
    for want in [
        "sent back: rebasing onto your branch (",
        "conflicted in shared.txt; the rebase waits in its worktree",
        "resolve  turn 2: resolved the conflict in shared.txt",
        "proof    rebased; ",
        "→ merged",
    ] {
        assert!(second.contains(want), "{want:?} not in:\n{second}");
    }
    // Proved again after the resolution, never restarted.
    let resolved = second.find("resolved the conflict").unwrap();
    assert!(
        second[resolved..].contains("proof    rebased; PASS 1 check: test -s shared.txt"),
        "{second}"
    );
    assert!(
        git(&dir, &["for-each-ref", "refs/clk/conflicted/"])
            .trim()
            .is_empty()
    );
    assert_eq!(git(&dir, &["log", "--merges", "--oneline"]).trim(), "");
}

#[test]
fn a_conflict_left_unresolved_falls_back_to_starting_again_on_the_current_code() {
    let marked = "<<<<<<< HEAD\nthe user's version\n=======\ntask v1\n>>>>>>> task";
    let mock = MockServer::start(Script::new(vec![
        Reply::delay(1500, write_shared("task v1")),
        // Two resolving turns that leave the markers in.
        write_shared(marked),
        write_shared(marked),
        // Started again from the user's code.
        write_shared("task v2"),
    ]));
    let (_t, dir) = shared_project(&mock);
    ok(
        &dir,
        &["task", "add", "rewrite the shared file", "--flow", "solo"],
    );
    let mut child = worker_at_call(&dir, &mock, &["work", "--until-idle"], 1);
    // While the agent works, the user changes the same file on their branch.
    fs::write(dir.join("shared.txt"), "the user's version\n").unwrap();
    git(&dir, &["commit", "-qam", "user: my change"]);
    assert!(child.wait().unwrap().success());
    let tl = timeline(&dir, 1);
    for want in [
        "resolve  turn 2: conflict markers left in shared.txt",
        "resolve  turn 3: conflict markers left in shared.txt",
        "the rebase conflict was not resolved after 2 turn(s), so the task starts again from \
         your current code",
    ] {
        assert!(tl.contains(want), "{want:?} not in:\n{tl}");
    }
    assert_eq!(task(&dir, 1)["state"], "merged", "{tl}");
    assert_eq!(task(&dir, 1)["turns"], 4);
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
    assert!(prompts[2].contains("Your last turn left conflict markers in shared.txt"));
    assert!(prompts[3].contains("sent back before it could merge: the rebase conflict was not"));
    assert!(git(&dir, &["for-each-ref", "refs/clk/conflicted/"]).contains("clk/task-1"));
}

/// A bare repository under `top`, added to the project at `dir` as its `origin`.
fn bare_origin(top: &Path, dir: &Path) -> std::path::PathBuf {
    let remote = top.join("remote.git");
    git(top, &["init", "-q", "--bare", remote.to_str().unwrap()]);
    git(dir, &["remote", "add", "origin", remote.to_str().unwrap()]);
    remote
}

#[test]
fn aggressive_pushes_the_merged_branch_to_its_remote() {
    let mock = MockServer::start(Script::new(vec![writes("pushed.txt", 10)]));
    let (top, dir) = project(&mock);
    let remote = bare_origin(top.path(), &dir);
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

/// `clk work --until-idle` with `GITHUB_TOKEN` set.
fn work_with_token(dir: &Path, token: &str) -> String {
    let out = clk()
        .current_dir(dir)
        .env("CLK_NO_TUI", "1")
        .env("GITHUB_TOKEN", token)
        .args(["work", "--until-idle"])
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    text
}

#[test]
fn pull_requests_after_a_merge_and_instead_of_one_reach_the_api_with_the_token() {
    let token = "ghp_test0123456789abcdefghijklmnopqrstu";
    let gh = crate::support::mock_github::MockGithub::start();
    let mock = MockServer::start(Script::new(vec![writes("first.txt", 10)]));
    let (top, dir) = project(&mock);
    let remote = bare_origin(top.path(), &dir);
    let pr = |mode: &str| {
        set_tasks_config(
            &dir,
            serde_json::json!({"pull_requests": mode, "github_api": gh.url(),
                               "github_repo": "acme/widgets"}),
        );
        git(
            &dir,
            &["commit", "-qam", &format!("user: pull requests {mode}")],
        );
    };
    // Without a token nothing is pushed or asked.
    pr("after_merge");
    let branch = git(&dir, &["rev-parse", "--abbrev-ref", "HEAD"]);
    let branch = branch.trim();
    ok(&dir, &["task", "add", "write first.txt", "--flow", "solo"]);
    work_with_token(&dir, "");
    assert_eq!(task(&dir, 1)["state"], "merged");
    assert!(gh.requests().is_empty());

    // after_merge: merged here, its branch pushed, a pull request opened.
    mock.push(writes("again.txt", 10));
    ok(&dir, &["task", "add", "write again.txt", "--flow", "solo"]);
    work_with_token(&dir, token);
    assert_eq!(task(&dir, 2)["state"], "merged");
    let reqs = gh.requests();
    assert_eq!(reqs.len(), 1, "{reqs:?}");
    let r = &reqs[0];
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("POST", "/repos/acme/widgets/pulls")
    );
    assert_eq!(r.headers["authorization"], format!("Bearer {token}"));
    assert_eq!(r.json["title"], "clk task 2: write again.txt");
    assert_eq!(r.json["head"], "clk/task-2");
    assert_eq!(r.json["base"], branch);
    let url = format!("{}/acme/widgets/pull/1", gh.url());
    assert!(timeline(&dir, 2).contains(&format!("opened {url}")));
    let pushed = git(&remote, &["rev-parse", "clk/task-2"]);
    assert_eq!(
        pushed,
        git(&dir, &["rev-parse", "HEAD"]),
        "the branch is on the remote"
    );

    // instead: not merged here; it waits with the pull request's URL.
    pr("instead");
    let before = git(&dir, &["rev-parse", "HEAD"]);
    mock.push(writes("second.txt", 10));
    ok(&dir, &["task", "add", "write second.txt", "--flow", "solo"]);
    work_with_token(&dir, token);
    let t = task(&dir, 3);
    let url = format!("{}/acme/widgets/pull/2", gh.url());
    assert_eq!(t["state"], "approval", "{t}");
    assert!(t["reason"].as_str().unwrap().contains(&url), "{t}");
    assert_eq!(
        git(&dir, &["rev-parse", "HEAD"]),
        before,
        "nothing merged here"
    );
    assert!(!dir.join("second.txt").exists());
    assert_eq!(gh.requests()[1].json["head"], "clk/task-3");
    git(&remote, &["rev-parse", "clk/task-3"]);

    // The token is in no state file or log.
    for f in walk(&dir.join(".clk")) {
        let bytes = fs::read(&f).unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(token), "the token is in {}", f.display());
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
