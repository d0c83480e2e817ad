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

mod checkpoints;
mod flow;
mod merge;
mod overlap;
mod recovery;
mod settings;

/// The handoff of an implementer whose checklist is done.
fn handoff(summary: &str, file: &str) -> String {
    format!(
        "HANDOFF: {{\"summary\": \"{summary}\", \"changed_files\": [\"{file}\"], \"checklist\": \
         [{{\"item\": \"write {file}\", \"status\": \"done\"}}], \"open_questions\": [], \
         \"next_action\": \"review\"}}\n"
    )
}

/// An implementer's reply that writes `file` (with a done handoff) after `ms` of model time.
pub(crate) fn writes(file: &str, ms: u64) -> Reply {
    Reply::delay(ms, Reply::text(&write_text(file)))
}

/// Like [`writes`], the reply reporting `tokens` input and `tokens` output tokens.
pub(crate) fn writes_paid(file: &str, ms: u64, tokens: u64) -> Reply {
    Reply::delay(ms, Reply::text_usage(&write_text(file), tokens, tokens))
}

fn write_text(file: &str) -> String {
    format!(
        "Done.\nACTION: write\nPATH: {file}\nCONTENT:\nmade by a task\nEND_ACTION\nPROGRESS: \
         yes\n{}",
        handoff("wrote it", file)
    )
}

use super::worktree::git;

/// A project whose models are the mock's, its config committed so the user's tree is clean.
pub(crate) fn project(mock: &MockServer) -> (tempfile::TempDir, PathBuf) {
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

/// Replace clk.config.json's whole `tasks` block.
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

pub(crate) fn ok(dir: &Path, args: &[&str]) -> String {
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

pub(crate) fn task(dir: &Path, id: i64) -> Value {
    tasks(dir).into_iter().find(|t| t["id"] == id).unwrap()
}

/// `clk <args>` started in the background, once the model has been called `calls` times.
pub(crate) fn worker_at_call(
    dir: &Path,
    mock: &MockServer,
    args: &[&str],
    calls: usize,
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
    while mock.model_calls() < calls {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the worker never made model call {calls}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

/// Every prompt the mock was sent, as JSON text.
pub(crate) fn prompts(mock: &MockServer) -> Vec<String> {
    mock.model_requests()
        .iter()
        .map(|r| r.json.as_ref().unwrap()["messages"].to_string())
        .collect()
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
    let mut child = worker_at_call(&dir, &mock, &["work"], 1);
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
    let mut child = worker_at_call(&dir, &mock, &["work", "--until-idle"], 1);
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

/// Milliseconds into the day of a store timestamp (`2026-12-07T09:18:12.779Z`).
fn ms_of_day(at: &str) -> i64 {
    let time = at.split('T').nth(1).unwrap().trim_end_matches('Z');
    let (hms, ms) = time.split_once('.').unwrap();
    let p: Vec<i64> = hms.split(':').map(|x| x.parse().unwrap()).collect();
    ((p[0] * 60 + p[1]) * 60 + p[2]) * 1000 + ms.parse::<i64>().unwrap()
}

#[test]
fn clk_work_runs_tasks_max_concurrent_at_once_without_workers() {
    let mock = MockServer::start(Script::new(vec![
        writes("a.txt", 1500),
        writes("b.txt", 1500),
        writes("c.txt", 1500),
        writes("d.txt", 1500),
    ]));
    let (_t, dir) = project(&mock);
    let gap = |one: i64, two: i64| {
        let at = |id: i64| ms_of_day(task(&dir, id)["started_at"].as_str().unwrap());
        (at(two) - at(one)).abs()
    };
    // The default, 2: two tasks that share no file start together.
    ok(&dir, &["task", "add", "write a.txt"]);
    ok(&dir, &["task", "add", "write b.txt"]);
    ok(&dir, &["work", "--until-idle"]);
    assert!(gap(1, 2) < 1000, "side by side: {} ms apart", gap(1, 2));
    // Set to 1: the second starts only after the first's 1.5 s turn.
    ok(&dir, &["configure", "--set", "tasks.max_concurrent=1"]);
    git(&dir, &["commit", "-qam", "user: one at a time"]);
    ok(&dir, &["task", "add", "write c.txt"]);
    ok(&dir, &["task", "add", "write d.txt"]);
    ok(&dir, &["work", "--until-idle"]);
    assert!(gap(3, 4) >= 1500, "one at a time: {} ms apart", gap(3, 4));
    for f in ["a.txt", "b.txt", "c.txt", "d.txt"] {
        assert!(dir.join(f).is_file(), "{f}");
    }
}
