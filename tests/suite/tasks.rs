//! The task queue through the real binary: `clk task ...` answers and refuses in one line;
//! `clk work` runs queued tasks against the mock model server, two at once, each in its own
//! worktree, holding one whose files overlap a running task's; `safe` waits for `task approve`;
//! the user's uncommitted file blocks a merge with what to do; a `clk work` killed with
//! SIGKILL mid-task leaves the task to the next worker, which continues it from its worktree.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command as Std, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::clk;
use crate::support::mock_server::{MockServer, Reply, Script};

/// The handoff of an implementer whose checklist is done.
fn handoff(summary: &str, file: &str) -> String {
    format!(
        "HANDOFF: {{\"summary\": \"{summary}\", \"changed_files\": [\"{file}\"], \"checklist\": \
         [{{\"item\": \"write {file}\", \"status\": \"done\"}}], \"open_questions\": [], \
         \"next_action\": \"review\"}}\n"
    )
}

/// An implementer's reply that writes `file` (with a done handoff) after `ms` of model time.
fn writes(file: &str, ms: u64) -> Reply {
    Reply::delay(
        ms,
        Reply::text(&format!(
            "Done.\nACTION: write\nPATH: {file}\nCONTENT:\nmade by a task\nEND_ACTION\nPROGRESS: \
             yes\n{}",
            handoff("wrote it", file)
        )),
    )
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Std::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=user", "-c", "user.email=user@example.com"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A project whose models are the mock's, its config committed so the user's tree is clean.
fn project(mock: &MockServer) -> (tempfile::TempDir, PathBuf) {
    let top = tempfile::tempdir().unwrap();
    let dir = top.path().join("proj");
    fs::create_dir(&dir).unwrap();
    clk().current_dir(&dir).arg("init").assert().success();
    let dir = dir.canonicalize().unwrap();
    let path = dir.join(".clk/config/providers.json");
    let mut doc: Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    doc["active"] = "ollama".into();
    doc["providers"]["ollama"]["endpoint"] = mock.url().into();
    doc["providers"]["ollama"]["model"] = "test-model".into();
    fs::write(&path, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    git(&dir, &["add", "-A"]);
    git(&dir, &["commit", "-qm", "user: config"]);
    (top, dir)
}

/// Set clk.config.json's `tasks` block (its maps and lists are not `configure --set` keys).
fn set_tasks_config(dir: &Path, tasks: Value) {
    let cfg = dir.join(".clk/config/clk.config.json");
    let mut c: Value = serde_json::from_str(&fs::read_to_string(&cfg).unwrap()).unwrap();
    c["tasks"] = tasks;
    fs::write(&cfg, serde_json::to_string_pretty(&c).unwrap()).unwrap();
}

fn run(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = clk()
        .current_dir(dir)
        .env("CLK_NO_TUI", "1")
        .args(args)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let (good, text) = run(dir, args);
    assert!(good, "clk {args:?} failed:\n{text}");
    text
}

fn tasks(dir: &Path) -> Vec<Value> {
    let text = ok(dir, &["--json", "task", "list"]);
    serde_json::from_str::<Value>(text.trim())
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

fn task(dir: &Path, id: i64) -> Value {
    tasks(dir).into_iter().find(|t| t["id"] == id).unwrap()
}

/// `clk <args>` started in the background, once it has called the model.
fn worker_waiting_on_the_model(
    dir: &Path,
    mock: &MockServer,
    args: &[&str],
) -> std::process::Child {
    let child = Std::new(env!("CARGO_BIN_EXE_clk"))
        .current_dir(dir)
        .arg("--no-tui")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while mock.model_calls() == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the worker never called the model"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

fn timeline(dir: &Path, id: i64) -> String {
    ok(dir, &["task", "timeline", &id.to_string()])
}

#[test]
fn task_commands_answer_and_refuse_in_one_line() {
    let mock = MockServer::start(Script::new(vec![]));
    let (_t, dir) = project(&mock);
    let out = ok(
        &dir,
        &[
            "task",
            "add",
            "add",
            "a",
            "health",
            "endpoint",
            "to",
            "src/server.rs",
        ],
    );
    assert!(
        out.contains("task 1 queued (engineer, duo, autonomy balanced)"),
        "{out}"
    );
    ok(
        &dir,
        &[
            "task",
            "add",
            "write the README",
            "--autonomy",
            "safe",
            "--agent",
            "ollama",
        ],
    );
    let all = tasks(&dir);
    assert_eq!(all.len(), 2);
    assert_eq!(all[0]["state"], "queued");
    assert_eq!(
        all[0]["predicted_files"],
        serde_json::json!(["src/server.rs"])
    );
    assert_eq!(all[1]["agent"], "ollama");
    assert_eq!(all[1]["autonomy"], "safe");
    assert!(ok(&dir, &["task", "show", "2"]).contains("write the README"));
    assert!(timeline(&dir, 1).contains("queued by cli"));
    assert!(ok(&dir, &["task", "list"]).contains("health endpoint"));

    let refused = |args: &[&str], want: &str| {
        let (good, text) = run(&dir, args);
        assert!(!good, "clk {args:?} should fail:\n{text}");
        assert!(text.contains(want), "clk {args:?}: {text}");
        assert_eq!(text.trim().lines().count(), 1, "one line: {text}");
    };
    refused(
        &["task", "show", "9"],
        "there is no task 9; `clk task list` shows them",
    );
    refused(
        &["task", "approve", "1"],
        "task 1 is queued: cannot approve it",
    );
    refused(&["task", "resume", "1"], "cannot resume it");
    refused(
        &["task", "add", "x", "--autonomy", "wild"],
        "not one of safe, balanced, aggressive",
    );
    refused(
        &["task", "add", "x", "--agent", "nobody"],
        "no agent or provider called \"nobody\"",
    );
    refused(
        &["task", "add", "x", "--flow", "dance"],
        "no flow called \"dance\"",
    );

    assert!(ok(&dir, &["task", "pause", "1"]).contains("task 1 is paused now"));
    assert!(ok(&dir, &["task", "resume", "1", "go", "on"]).contains("task 1 is queued now"));
    assert!(timeline(&dir, 1).contains("paused → queued: resumed by the user: go on"));
    ok(&dir, &["task", "cancel", "2"]);
    refused(
        &["task", "cancel", "2"],
        "task 2 is cancelled: cannot cancel it",
    );
    assert!(dir.join(".clk/state/clk.db").is_file());
    assert_eq!(mock.model_calls(), 0, "no command here calls a model");
}

#[test]
fn two_workers_run_two_at_once_and_hold_the_overlapping_task() {
    let mock = MockServer::start(Script::new(vec![
        writes("one.txt", 1500),
        writes("two.txt", 1500),
        writes("three.txt", 1500),
    ]));
    let (_t, dir) = project(&mock);
    ok(&dir, &["task", "add", "change src/app.rs to greet"]);
    ok(&dir, &["task", "add", "also touch src/app.rs for logging"]);
    ok(&dir, &["task", "add", "write docs/usage.md"]);
    let out = ok(&dir, &["work", "--workers", "2", "--until-idle"]);
    assert!(
        out.contains("tasks: 3 merged, 0 wait for approval, 0 failed"),
        "{out}"
    );
    let (t1, t2, t3) = (task(&dir, 1), task(&dir, 2), task(&dir, 3));
    for t in [&t1, &t2, &t3] {
        assert_eq!(t["state"], "merged", "{t}");
        assert_eq!(t["turns"], 1, "{t}");
        assert_eq!(t["branch"], format!("clk/task-{}", t["id"]));
    }
    // 2 shares src/app.rs with 1: held until 1 was done, while 3 ran beside 1.
    assert!(
        timeline(&dir, 2).contains("queued → held: waits for task 1, which changes src/app.rs too"),
        "{}",
        timeline(&dir, 2)
    );
    let at = |t: &Value, k: &str| t[k].as_str().unwrap().to_string();
    assert!(
        at(&t3, "started_at") < at(&t1, "finished_at"),
        "3 ran beside 1"
    );
    assert!(
        at(&t2, "started_at") >= at(&t1, "finished_at"),
        "2 waited for 1"
    );
    // Each task's file is on the user's branch; no task branch or worktree is left.
    for f in ["one.txt", "two.txt", "three.txt"] {
        assert!(dir.join(f).is_file(), "{f} merged");
    }
    assert_eq!(git(&dir, &["branch", "--list", "clk/*"]).trim(), "");
    assert_eq!(git(&dir, &["status", "--porcelain"]).trim(), "");
}

#[test]
fn safe_waits_for_approval_and_a_dirty_file_blocks_the_merge() {
    let mock = MockServer::start(Script::new(vec![writes("notes.txt", 10)]));
    let (_t, dir) = project(&mock);
    fs::write(dir.join("notes.txt"), "the user's own notes\n").unwrap();
    git(&dir, &["add", "notes.txt"]);
    git(&dir, &["commit", "-qm", "user: notes"]);
    ok(
        &dir,
        &["task", "add", "rewrite notes.txt", "--autonomy", "safe"],
    );
    let out = ok(&dir, &["work", "--until-idle"]);
    assert!(out.contains("0 merged, 1 wait for approval"), "{out}");
    let t = task(&dir, 1);
    assert_eq!(t["state"], "approval");
    assert!(
        t["reason"]
            .as_str()
            .unwrap()
            .contains("`clk task approve 1` merges it")
    );
    assert_eq!(
        fs::read_to_string(dir.join("notes.txt")).unwrap(),
        "the user's own notes\n"
    );

    // The user edits the same file without committing: the approved merge waits, untouched.
    fs::write(dir.join("notes.txt"), "my uncommitted edit\n").unwrap();
    ok(&dir, &["task", "approve", "1", "ship", "it"]);
    ok(&dir, &["work", "--until-idle"]);
    let t = task(&dir, 1);
    assert_eq!(t["state"], "approval", "{t}");
    assert!(
        t["reason"]
            .as_str()
            .unwrap()
            .contains("your uncommitted changes to notes.txt are in the way"),
        "{t}"
    );
    assert_eq!(
        fs::read_to_string(dir.join("notes.txt")).unwrap(),
        "my uncommitted edit\n"
    );

    git(&dir, &["checkout", "--", "notes.txt"]);
    ok(&dir, &["task", "approve", "1"]);
    ok(&dir, &["work", "--until-idle"]);
    assert_eq!(task(&dir, 1)["state"], "merged");
    assert_eq!(
        fs::read_to_string(dir.join("notes.txt")).unwrap(),
        "made by a task\n"
    );
    assert_eq!(
        mock.model_calls(),
        1,
        "approving merges; it does not run the task again"
    );
}

#[test]
fn a_killed_worker_leaves_its_task_to_the_next_one() {
    // The first call never answers: the worker is killed while it waits.
    let mock = MockServer::start(Script::new(vec![Reply::Stall, writes("done.txt", 10)]));
    let (_t, dir) = project(&mock);
    ok(&dir, &["task", "add", "write done.txt"]);
    let mut child = worker_waiting_on_the_model(&dir, &mock, &["work"]);
    let t = task(&dir, 1);
    assert_eq!(t["state"], "running");
    assert_eq!(t["lease_pid"], child.id());
    let worktree = t["worktree"].as_str().unwrap().to_string();
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert_eq!(task(&dir, 1)["state"], "running", "nobody has noticed yet");

    let out = ok(&dir, &["work", "--until-idle"]);
    assert!(out.contains("1 merged"), "{out}");
    let tl = timeline(&dir, 1);
    assert!(
        tl.contains(&format!(
            "running → queued: its worker (PID {}) died",
            t["lease_pid"]
        )),
        "{tl}"
    );
    assert!(
        tl.contains(&format!("clk/task-1 at {worktree}")),
        "same worktree: {tl}"
    );
    assert_eq!(
        fs::read_to_string(dir.join("done.txt")).unwrap(),
        "made by a task\n"
    );
    assert_eq!(task(&dir, 1)["state"], "merged");
}

#[test]
fn pausing_a_running_task_stops_its_agent_and_resume_continues_it() {
    let mock = MockServer::start(Script::new(vec![Reply::Stall, writes("later.txt", 10)]));
    let (_t, dir) = project(&mock);
    ok(&dir, &["task", "add", "write later.txt"]);
    let mut child = worker_waiting_on_the_model(&dir, &mock, &["work", "--until-idle"]);
    assert!(ok(&dir, &["task", "pause", "1"]).contains("its worker stops it within a few seconds"));
    // With its only task paused, the worker has nothing left and ends by itself.
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the worker did not stop the task"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(task(&dir, 1)["state"], "paused");
    ok(&dir, &["task", "resume", "1"]);
    ok(&dir, &["work", "--until-idle"]);
    assert_eq!(task(&dir, 1)["state"], "merged");
    assert!(dir.join("later.txt").is_file());
}

#[test]
fn duo_repairs_a_broken_handoff_and_revises_once_for_the_other_reviewer() {
    let verdict = |v: &str| Reply::text(&format!("Read the diff.\nVERDICT: {v}\n"));
    let mock = MockServer::start(Script::new(vec![
        // Turn 1: the implementer writes the file but its handoff is not JSON.
        Reply::text("ACTION: write\nPATH: api.txt\nCONTENT:\nv1\nEND_ACTION\nHANDOFF: all done!\n"),
        // Turn 2: told why, it hands off properly.
        Reply::text(&handoff("wrote api.txt", "api.txt")),
        // Turn 3: the reviewer (another provider) asks for one change.
        verdict(r#"{"verdict": "revise", "reasons": ["no docs"], "requests": ["add API.md"]}"#),
        // Turn 4: the implementer makes it.
        Reply::text(&format!(
            "ACTION: write\nPATH: API.md\nCONTENT:\ndocs\nEND_ACTION\n{}",
            handoff("added API.md", "API.md")
        )),
        // Turn 5: approved.
        verdict(r#"{"verdict": "approve", "reasons": ["tested and documented"]}"#),
    ]));
    let (_t, dir) = project(&mock);
    // A second provider on the same mock, paired as the reviewer of the first.
    let path = dir.join(".clk/config/providers.json");
    let mut doc: Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    doc["providers"]["reviewer"] = doc["providers"]["ollama"].clone();
    fs::write(&path, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    set_tasks_config(
        &dir,
        serde_json::json!({"review_pairs": {"ollama": "reviewer"}}),
    );
    git(&dir, &["add", "-A"]);
    git(&dir, &["commit", "-qm", "user: reviewer"]);

    ok(&dir, &["task", "add", "write api.txt"]);
    let out = ok(&dir, &["work", "--until-idle"]);
    assert!(out.contains("1 merged"), "{out}");
    let tl = timeline(&dir, 1);
    for want in [
        "turn 1: handoff rejected: HANDOFF: is not followed by a JSON object",
        "turn 2: wrote api.txt (1/1 item(s) done)",
        "reviewer turn 3 (reviewer)",
        "review 1 by reviewer: revise — add API.md",
        "turn 4: added API.md (1/1 item(s) done)",
        "review 2 by reviewer: approve — tested and documented",
    ] {
        assert!(tl.contains(want), "{want:?} not in:\n{tl}");
    }
    assert_eq!(task(&dir, 1)["turns"], 5);
    assert_eq!(fs::read_to_string(dir.join("API.md")).unwrap(), "docs\n");
    // The prompts: the broken handoff's reason went back, the reviewer saw the diff, and the
    // reviewer's requests went back to the implementer.
    let prompts: Vec<String> = mock
        .model_requests()
        .iter()
        .map(|r| r.json.as_ref().unwrap()["messages"].to_string())
        .collect();
    assert!(prompts[1].contains("handoff was rejected: HANDOFF: is not followed by a JSON object"));
    assert!(prompts[2].contains("+v1"), "the reviewer sees the diff");
    assert!(prompts[3].contains("An independent reviewer asks for these changes: add API.md"));
}

#[test]
fn duo_without_a_paired_provider_says_it_runs_single_agent() {
    let mock = MockServer::start(Script::new(vec![writes("solo.txt", 10)]));
    let (_t, dir) = project(&mock);
    ok(&dir, &["task", "add", "write solo.txt"]);
    let out = ok(&dir, &["work", "--until-idle"]);
    assert!(
        out.contains("single-agent mode: no reviewer provider is paired with ollama"),
        "{out}"
    );
    assert!(timeline(&dir, 1).contains("single-agent mode"));
    assert_eq!(task(&dir, 1)["state"], "merged");
    assert_eq!(mock.model_calls(), 1);
}

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
fn a_daily_budget_makes_tasks_wait_and_a_raised_one_lets_them_go_on() {
    let mock = MockServer::start(Script::new(vec![
        writes("a.txt", 10),
        writes("b.txt", 10),
        Reply::text("ACTION: write\nPATH: c.txt\nCONTENT:\nc\nEND_ACTION\nHANDOFF: soon\n"),
        Reply::text(&handoff("wrote c.txt", "c.txt")),
    ]));
    let (_t, dir) = project(&mock);
    ok(&dir, &["configure", "--set", "budget.daily.tasks=1"]);
    ok(&dir, &["task", "add", "write a.txt"]);
    ok(&dir, &["task", "add", "write b.txt"]);
    let out = ok(&dir, &["work", "--workers", "1", "--until-idle"]);
    assert!(out.contains("1 merged"), "{out}");
    let t2 = task(&dir, 2);
    assert_eq!(t2["state"], "held");
    assert!(
        t2["reason"].as_str().unwrap().starts_with(
            "waits for the daily budget: 1 of budget.daily.tasks = 1 tasks started today"
        ),
        "{t2}"
    );
    let b = ok(&dir, &["budget"]);
    assert!(
        b.contains("budget.daily.tasks") && b.contains("1 of 1"),
        "{b}"
    );

    // Raised: task 2 runs. Then a turn limit stops task 3 between its turns, worktree kept.
    ok(
        &dir,
        &[
            "configure",
            "--set",
            "budget.daily.tasks=5",
            "--set",
            "budget.daily.turns=3",
        ],
    );
    ok(&dir, &["task", "add", "write c.txt"]);
    let out = ok(&dir, &["work", "--workers", "1", "--until-idle"]);
    assert!(out.contains("1 merged"), "{out}");
    assert_eq!(task(&dir, 2)["state"], "merged", "{}", timeline(&dir, 2));
    let t3 = task(&dir, 3);
    assert_eq!(
        (t3["state"].as_str(), t3["turns"].as_i64()),
        (Some("held"), Some(1)),
        "{t3}"
    );
    assert!(
        t3["reason"]
            .as_str()
            .unwrap()
            .contains("budget.daily.turns = 3"),
        "{t3}"
    );
    assert!(Path::new(t3["worktree"].as_str().unwrap()).is_dir());

    ok(&dir, &["configure", "--set", "budget.daily.turns=10"]);
    ok(&dir, &["work", "--workers", "1", "--until-idle"]);
    let t3 = task(&dir, 3);
    assert_eq!(
        (t3["state"].as_str(), t3["turns"].as_i64()),
        (Some("merged"), Some(2)),
        "{t3}"
    );
    assert!(dir.join("c.txt").is_file());
    assert!(ok(&dir, &["budget"]).contains("4 of 10"), "turns today");
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
fn context_rules_reach_every_task_prompt_until_removed() {
    let mock = MockServer::start(Script::new(vec![writes("x.txt", 10), writes("y.txt", 10)]));
    let (_t, dir) = project(&mock);
    assert!(ok(&dir, &["context", "add", "indent", "with", "tabs"]).contains("rule 1 added"));
    ok(&dir, &["context", "add", "never touch infra/"]);
    let listed = ok(&dir, &["context", "list"]);
    assert!(listed.contains("1  indent with tabs") && listed.contains("2  never touch infra/"));
    ok(&dir, &["task", "add", "write x.txt"]);
    ok(&dir, &["work", "--until-idle"]);
    ok(&dir, &["context", "remove", "1"]);
    let (good, text) = run(&dir, &["context", "remove", "1"]);
    assert!(!good && text.contains("there is no rule 1"), "{text}");
    ok(&dir, &["task", "add", "write y.txt"]);
    ok(&dir, &["work", "--until-idle"]);
    let prompts: Vec<String> = mock
        .model_requests()
        .iter()
        .map(|r| r.json.as_ref().unwrap()["messages"].to_string())
        .collect();
    assert!(prompts[0].contains(
        "Rules for every agent in this workspace:\\n- indent with tabs\\n- never touch infra/"
    ));
    assert!(
        !prompts[1].contains("indent with tabs") && prompts[1].contains("- never touch infra/")
    );
}

#[test]
fn templates_save_list_and_queue_tasks() {
    let mock = MockServer::start(Script::new(vec![]));
    let (_t, dir) = project(&mock);
    let out = ok(
        &dir,
        &[
            "template",
            "save",
            "docs",
            "update",
            "README.md",
            "--autonomy",
            "safe",
            "--flow",
            "solo",
        ],
    );
    assert!(out.contains("template docs saved"), "{out}");
    assert!(ok(&dir, &["template", "list"]).contains("docs                 update README.md"));
    assert!(
        ok(&dir, &["template", "run", "docs"])
            .contains("task 1 queued (engineer, solo, autonomy safe)")
    );
    ok(
        &dir,
        &[
            "task",
            "add",
            "--template",
            "docs",
            "mention",
            "the",
            "flag",
            "--autonomy",
            "balanced",
        ],
    );
    let all = tasks(&dir);
    assert_eq!(all[0]["prompt"], "update README.md");
    assert_eq!(all[1]["prompt"], "update README.md\n\nmention the flag");
    assert_eq!(
        (all[1]["autonomy"].as_str(), all[1]["flow"].as_str()),
        (Some("balanced"), Some("solo"))
    );
    assert_eq!(all[1]["predicted_files"], serde_json::json!(["README.md"]));
    let (good, text) = run(&dir, &["template", "run", "nope"]);
    assert!(
        !good && text.contains("there is no template \"nope\""),
        "{text}"
    );
    let (good, text) = run(&dir, &["template", "save", "x", "y", "--flow", "dance"]);
    assert!(!good && text.contains("no flow called \"dance\""), "{text}");
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
