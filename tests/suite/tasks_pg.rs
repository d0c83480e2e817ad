//! The task queue on PostgreSQL through the real binary, each test with a database of its
//! own (`support::pg`) and the mock model server: `clk task` reads the same against either
//! store; three workers, each in its own clone of one bare repository, share ten tasks with
//! none run twice and all merged and pushed; a worker killed mid-task loses its lease and
//! another finishes the task from its last pushed turn; racing workers never pass a daily
//! budget; a database from a newer clk is refused; `clk workers` lists them.

use std::path::{Path, PathBuf};
use std::process::{Child, Command as Std, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::tasks::{ok, project, writes};
use super::worktree::git;
use crate::support::mock_server::{MockServer, Reply, Script};
use crate::support::{clk, pg};

pub(crate) fn run(dir: &Path, url: &str, args: &[&str]) -> (bool, String) {
    let out = clk()
        .current_dir(dir)
        .env("CLK_NO_TUI", "1")
        .env("CLK_STORE_URL", url)
        .env("CLK_STORE_LEASE_S", "3")
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

pub(crate) fn pg_ok(dir: &Path, url: &str, args: &[&str]) -> String {
    let (good, text) = run(dir, url, args);
    assert!(good, "clk {args:?} failed:\n{text}");
    text
}

pub(crate) fn list(dir: &Path, url: &str) -> Vec<Value> {
    let text = pg_ok(dir, url, &["--json", "task", "list"]);
    serde_json::from_str::<Value>(text.trim())
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

/// The project pushed to a new bare repository, which stands for the shared remote.
pub(crate) fn bare_from(dir: &Path) -> PathBuf {
    let bare = dir.parent().unwrap().join("shared.git");
    let out = Std::new("git")
        .args(["clone", "-q", "--bare"])
        .arg(dir)
        .arg(&bare)
        .output()
        .unwrap();
    assert!(out.status.success());
    bare
}

/// `clk work --store URL --repo BARE` started in a new folder `name` beside the project.
pub(crate) fn worker(top: &Path, url: &str, bare: &Path, name: &str, extra: &[&str]) -> Child {
    let dir = top.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    Std::new(env!("CARGO_BIN_EXE_clk"))
        .current_dir(top)
        .env("CLK_STORE_LEASE_S", "3")
        .env("CLK_PROVIDER_RETRY_MAX_RETRIES", "0")
        .env("CLK_NO_TUI", "1")
        .args([
            "-C",
            dir.to_str().unwrap(),
            "work",
            "--store",
            url,
            "--repo",
        ])
        .arg(bare)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

pub(crate) fn finish(c: Child) -> String {
    let out = c.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "worker failed:\n{text}");
    text
}

pub(crate) fn wait_for(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < Duration::from_secs(secs), "{what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Commit `change` to the project's settings and share the project in a bare repository.
pub(crate) fn settle(dir: &Path, change: impl FnOnce(&mut Value)) -> PathBuf {
    let cfg = dir.join(".clk/config/clk.config.json");
    let mut c: Value = serde_json::from_str(&std::fs::read_to_string(&cfg).unwrap()).unwrap();
    change(&mut c);
    std::fs::write(&cfg, serde_json::to_string_pretty(&c).unwrap()).unwrap();
    git(dir, &["commit", "-qam", "user: settings for the test"]);
    bare_from(dir)
}

/// Commit `change` to the project's settings, share it in a bare repository, queue `tasks`
/// tasks, and run three `--until-idle` workers (two tasks at once each) to their end.
fn share_and_work(
    top: &Path,
    dir: &Path,
    url: &str,
    change: impl FnOnce(&mut Value),
    tasks: usize,
) -> Vec<String> {
    let bare = settle(dir, change);
    for i in 1..=tasks {
        pg_ok(dir, url, &["task", "add", &format!("task {i}")]);
    }
    let ws: Vec<Child> = ["w1", "w2", "w3"]
        .iter()
        .map(|n| worker(top, url, &bare, n, &["--workers", "2", "--until-idle"]))
        .collect();
    ws.into_iter().map(finish).collect()
}

#[test]
fn task_commands_read_the_same_from_either_store() {
    let Some(url) = pg::database() else { return };
    let mock = MockServer::start(Script::new(vec![]));
    let (_t, dir) = project(&mock);
    for args in [
        &["task", "add", "greet the user"][..],
        &["task", "add", "write docs/usage.md"],
        &["task", "pause", "2"],
    ] {
        ok(&dir, args);
        let mut with = vec!["task", "--store", url.as_str()];
        with.extend_from_slice(&args[1..]);
        ok(&dir, &with);
    }
    let here = ok(&dir, &["task", "list"]);
    let there = ok(&dir, &["task", "list", "--store", &url]);
    assert_eq!(here, there, "the same lines from SQLite and PostgreSQL");
    let here: Value = serde_json::from_str(ok(&dir, &["--json", "task", "list"]).trim()).unwrap();
    let there = list(&dir, &url);
    assert_eq!(there.len(), 2);
    for (a, b) in here.as_array().unwrap().iter().zip(&there) {
        let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        assert_eq!(keys(a), keys(b), "the same fields");
        for k in ["id", "prompt", "state", "reason", "turns", "lease_pid"] {
            assert_eq!(a[k], b[k], "{k}");
        }
    }
    let tl = pg_ok(&dir, &url, &["task", "timeline", "2"]);
    assert!(tl.contains("queued → paused"), "{tl}");
    // A URL that is not PostgreSQL's is refused in one line.
    let (good, text) = run(&dir, "mysql://x@y/z", &["task", "list"]);
    assert!(!good);
    assert_eq!(text.trim().lines().count(), 1, "{text}");
    assert!(text.contains("store.url takes a postgres:// URL"), "{text}");
}

#[test]
fn a_database_from_a_newer_clk_is_refused() {
    let Some(url) = pg::database() else { return };
    let mock = MockServer::start(Script::new(vec![]));
    let (_t, dir) = project(&mock);
    pg_ok(&dir, &url, &["task", "list"]);
    let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    c.batch_execute("INSERT INTO schema_version (version, applied_at) VALUES (99, 'later')")
        .unwrap();
    let (good, text) = run(&dir, &url, &["work", "--until-idle"]);
    assert!(!good, "{text}");
    assert_eq!(text.trim().lines().count(), 1, "one line: {text}");
    assert!(
        text.contains("schema version 99, newer than this clk knows"),
        "{text}"
    );
    assert_eq!(mock.model_calls(), 0);
}

#[test]
fn the_password_in_a_store_url_is_never_shown() {
    let mock = MockServer::start(Script::new(vec![]));
    let (_t, dir) = project(&mock);
    // Nothing listens on port 9: the error names the store without its password.
    let (good, text) = run(
        &dir,
        "postgres://clk:hunter2secret@127.0.0.1:9/clk",
        &["task", "list"],
    );
    assert!(!good);
    assert!(!text.contains("hunter2secret"), "{text}");
    assert!(
        text.contains("postgres://clk:***@127.0.0.1:9/clk"),
        "{text}"
    );
}

#[test]
fn three_workers_share_ten_tasks_and_none_runs_twice() {
    let Some(url) = pg::database() else { return };
    let replies = (1..=10)
        .map(|i| writes(&format!("f{i}.txt"), 300))
        .collect();
    let mock = MockServer::start(Script::new(replies));
    let (top, dir) = project(&mock);
    let bare = bare_from(&dir);
    for i in 1..=10 {
        pg_ok(&dir, &url, &["task", "add", &format!("task number {i}")]);
    }
    let top = top.path();
    let ws: Vec<Child> = ["w1", "w2", "w3"]
        .iter()
        .map(|n| worker(top, &url, &bare, n, &["--workers", "2", "--until-idle"]))
        .collect();
    // `clk workers` lists them while they run.
    wait_for("three workers in clk workers", 60, || {
        let out = pg_ok(&dir, &url, &["workers"]);
        out.lines().filter(|l| l.contains(":")).count() >= 3
    });
    let outs: Vec<String> = ws.into_iter().map(finish).collect();
    let all = list(&dir, &url);
    assert_eq!(all.len(), 10);
    for t in &all {
        assert_eq!(t["state"], "merged", "{t}\n{outs:?}");
        assert_eq!(t["turns"], 1, "run once: {t}");
    }
    assert_eq!(mock.model_calls(), 10, "one model call per task");
    // More than one worker took tasks.
    let merged: Vec<u32> = outs
        .iter()
        .map(|o| {
            o.split("tasks: ")
                .nth(1)
                .and_then(|r| r.split(' ').next())
                .and_then(|n| n.parse().ok())
                .unwrap_or(0)
        })
        .collect();
    assert_eq!(merged.iter().sum::<u32>(), 10, "{outs:?}");
    assert!(merged.iter().filter(|n| **n > 0).count() >= 2, "{merged:?}");
    // Every file is on the shared repository's main; no task branch is left there.
    let files = git(&bare, &["ls-tree", "--name-only", "HEAD"]);
    for i in 1..=10 {
        assert!(files.contains(&format!("f{i}.txt")), "{files}");
    }
    assert_eq!(git(&bare, &["branch", "--list", "clk/*"]).trim(), "");
    // Each ended cleanly: no worker is left in the list.
    assert!(pg_ok(&dir, &url, &["workers"]).contains("No workers"));
}

#[test]
fn a_killed_worker_loses_its_lease_and_another_finishes_the_task() {
    let Some(url) = pg::database() else { return };
    // The first turn fails (it is kept and its branch pushed), the second stalls and its
    // worker is killed there, the third, on another worker, finishes.
    let mock = MockServer::start(Script::new(vec![
        Reply::status(500, r#"{"error":"busy"}"#),
        Reply::Stall,
        writes("done.txt", 10),
    ]));
    let (top, dir) = project(&mock);
    let bare = bare_from(&dir);
    pg_ok(&dir, &url, &["task", "add", "write done.txt"]);
    let top = top.path();
    let mut first = worker(top, &url, &bare, "w1", &[]);
    wait_for("the first worker's second call", 60, || {
        mock.model_calls() > 1
    });
    let t = &list(&dir, &url)[0];
    assert_eq!(t["state"], "running");
    assert_eq!(t["lease_pid"], first.id());
    assert_eq!(t["turns"], 1);
    // Its first turn was pushed to the shared repository.
    assert!(
        !git(&bare, &["branch", "--list", "clk/task-1"])
            .trim()
            .is_empty()
    );
    first.kill().unwrap(); // SIGKILL: no goodbye, the lease just stops being renewed
    first.wait().unwrap();
    let out = finish(worker(top, &url, &bare, "w2", &["--until-idle"]));
    assert!(out.contains("1 merged"), "{out}");
    let tl = pg_ok(&dir, &url, &["task", "timeline", "1"]);
    assert!(
        tl.contains(&format!(":{} stopped renewing its lease", first.id())),
        "{tl}"
    );
    assert!(
        tl.contains("continues from its last pushed turn (1 turn(s))"),
        "{tl}"
    );
    // The killed turn was never kept: turn 1 from the first worker, turn 2 from the second.
    assert_eq!(list(&dir, &url)[0]["turns"], 2, "went on from turn 1");
    assert_eq!(mock.model_calls(), 3);
    assert_eq!(list(&dir, &url)[0]["state"], "merged");
    assert!(git(&bare, &["ls-tree", "--name-only", "HEAD"]).contains("done.txt"));
}

#[test]
fn racing_workers_never_pass_the_daily_turn_budget() {
    let Some(url) = pg::database() else { return };
    // Every call fails (no ACTION), so every task wants turn after turn until the budget stops
    // it: three workers race for the last turns.
    let mock = MockServer::start(Script::new(vec![]).fallback(
        crate::support::mock_server::Fallback::Reply(Reply::delay(
            50,
            Reply::status(500, r#"{"error":"busy"}"#),
        )),
    ));
    let (top, dir) = project(&mock);
    let budget = |c: &mut Value| {
        c["budget"]["daily"] = serde_json::json!({"turns": 7});
        c["tasks"]["max_turns"] = 50.into();
    };
    share_and_work(top.path(), &dir, &url, budget, 6);
    let all = list(&dir, &url);
    let turns: u64 = all.iter().map(|t| t["turns"].as_u64().unwrap()).sum();
    assert_eq!(turns, 7, "exactly the budget, never more: {all:?}");
    assert!(mock.model_calls() <= 7, "{}", mock.model_calls());
    assert!(
        all.iter().any(|t| t["reason"]
            .as_str()
            .unwrap()
            .contains("budget.daily.turns = 7")),
        "{all:?}"
    );
}

/// `clk serve` attached to the store streams the timeline lines other machines write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_on_the_same_store_streams_other_machines_task_lines() {
    let Some(url) = pg::database() else { return };
    let (top, dir) = super::serve::new_project();
    let cfg = top.path().join("config");
    let s = super::serve::start_with(&dir, &cfg, &[], &[("CLK_STORE_URL", url.as_str())]);
    let mut sse = super::serve::Sse::connect(&s, None).await;
    // Another machine: a project elsewhere, the same store.
    let mock = MockServer::start(Script::new(vec![]));
    let (_t, other) = project(&mock);
    tokio::task::spawn_blocking(move || {
        ok(&other, &["task", "--store", &url, "add", "made far away"]);
    })
    .await
    .unwrap();
    let seen = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some((_, e)) = sse.next().await {
            let text = e.to_string();
            if text.contains("task 1 (added") && text.contains("queued by") {
                return text;
            }
        }
        String::new()
    })
    .await
    .unwrap();
    assert!(seen.contains("queued by"), "{seen}");
}

/// The store is called from async code on both kinds of tokio runtime without blocking one
/// inside the other (the client runs on its own threads).
#[test]
fn the_store_works_from_inside_a_tokio_runtime() {
    let Some(url) = pg::database() else { return };
    for multi in [false, true] {
        let rt = if multi {
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
        } else {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
        }
        .unwrap();
        let url = url.clone();
        rt.block_on(async move {
            let s = clk::engine::store::tasks::PgStore::open(&url, 5).unwrap();
            use clk::engine::store::tasks::{NewTask, TaskStore};
            let t = s
                .add(&NewTask {
                    prompt: "inside".into(),
                    ..NewTask::default()
                })
                .unwrap();
            assert_eq!(s.get(t.id).unwrap().unwrap().prompt, "inside");
            tokio::task::yield_now().await;
            drop(s); // closing the connection must not block the runtime either
        });
    }
}

/// `store.account_limit = 1`: three workers never run two tasks on the one account at once.
#[test]
fn the_account_limit_holds_over_every_worker() {
    let Some(url) = pg::database() else { return };
    let replies = (1..=3).map(|i| writes(&format!("a{i}.txt"), 400)).collect();
    let mock = MockServer::start(Script::new(replies));
    let (top, dir) = project(&mock);
    let one = |c: &mut Value| c["store"] = serde_json::json!({"account_limit": 1});
    share_and_work(top.path(), &dir, &url, one, 3);
    let mut spans: Vec<(String, String)> = list(&dir, &url)
        .iter()
        .map(|t| {
            assert_eq!(t["state"], "merged", "{t}");
            let at = |k: &str| t[k].as_str().unwrap().to_string();
            (at("started_at"), at("finished_at"))
        })
        .collect();
    spans.sort();
    for pair in spans.windows(2) {
        assert!(pair[1].0 >= pair[0].1, "two ran at once: {spans:?}");
    }
}

/// On SQLite, `clk workers` lists this machine's `clk work` with its task and account.
#[test]
fn clk_workers_lists_the_local_worker_on_sqlite() {
    let mock = MockServer::start(Script::new(vec![Reply::Stall]));
    let (_t, dir) = project(&mock);
    assert!(ok(&dir, &["workers"]).contains("No workers; `clk work` starts one."));
    ok(&dir, &["task", "add", "wait forever"]);
    let mut child = Std::new(env!("CARGO_BIN_EXE_clk"))
        .current_dir(&dir)
        .args(["--no-tui", "work"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let me = format!(":{} ", child.id());
    let mut out = String::new();
    wait_for("the worker in clk workers with its task", 60, || {
        out = ok(&dir, &["workers"]);
        out.lines().any(|l| l.contains(&me) && l.contains(" 1 "))
    });
    child.kill().unwrap();
    child.wait().unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("WORKER"), "{out}");
    assert!(
        lines[1].contains("s ago") && lines[1].ends_with("ollama"),
        "{out}"
    );
    let json = ok(&dir, &["--json", "workers"]);
    let rows: Value = serde_json::from_str(json.trim()).unwrap();
    assert_eq!(rows[0]["pid"], child.id(), "{json}");
}

/// The dashboard's Tasks view reads the store the project's settings name, so a task another
/// machine added to the shared database shows, with its timeline.
#[test]
fn the_dashboard_reads_tasks_from_the_shared_store() {
    let Some(url) = pg::database() else { return };
    let mock = MockServer::start(Script::new(vec![]));
    let (_t, dir) = project(&mock);
    pg_ok(&dir, &url, &["task", "add", "from another machine"]);
    let ws = clk::engine::store::workspace::Workspace::new(dir.canonicalize().unwrap());
    // This project's own SQLite store has no tasks.
    assert!(clk::engine::session::tasks::board(&ws).unwrap().is_empty());
    ok(&dir, &["configure", "--set", &format!("store.url={url}")]);
    let rows = clk::engine::session::tasks::board(&ws).unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].title, "from another machine");
    let d = clk::engine::session::tasks::detail(&ws, rows[0].id).unwrap();
    assert!(!d.timeline.is_empty(), "{d:?}");
}

/// A worker's round reads only the tasks that can still change: not merged ones, and not
/// cancelled ones whose worktree is gone (one that still has a worktree is cleaned up first).
/// The same from SQLite and from PostgreSQL, and the same as the trait's own filter.
#[test]
fn open_tasks_leave_out_finished_ones_in_either_store() {
    use clk::engine::ground::task::TaskState;
    use clk::engine::store::tasks::{Move, NewTask, PgStore, SqliteStore, TaskStore, is_open};
    let dir = tempfile::tempdir().unwrap();
    let mut stores: Vec<Box<dyn TaskStore>> = vec![Box::new(
        SqliteStore::open(&dir.path().join("clk.db")).unwrap(),
    )];
    if let Some(url) = pg::database() {
        stores.push(Box::new(PgStore::open(&url, 60).unwrap()));
    }
    for s in &stores {
        let new = |p: &str| NewTask {
            prompt: p.into(),
            flow: "solo".into(),
            agent: "engineer".into(),
            autonomy: "aggressive".into(),
            requested_by: "test".into(),
        };
        let ids: Vec<i64> = ["merged", "cancelled", "cancelled, worktree left", "queued"]
            .iter()
            .map(|p| s.add(&new(p)).unwrap().id)
            .collect();
        let to = |id: i64, from: &[TaskState], to: TaskState| {
            let m = Move {
                id,
                from,
                to,
                reason: "",
            };
            assert!(s.move_state(&m, 7).unwrap());
        };
        to(ids[0], &[TaskState::Queued], TaskState::Running);
        to(ids[0], &[TaskState::Running], TaskState::Merged);
        to(ids[1], &[TaskState::Queued], TaskState::Cancelled);
        s.set_worktree(ids[2], "clk/task-3", "/tmp/wt-3", "abc")
            .unwrap();
        to(ids[2], &[TaskState::Queued], TaskState::Cancelled);
        let open: Vec<i64> = s.list_open().unwrap().iter().map(|t| t.id).collect();
        assert_eq!(open, vec![ids[2], ids[3]]);
        let all = s.list().unwrap();
        let filtered: Vec<i64> = all.iter().filter(|t| is_open(t)).map(|t| t.id).collect();
        assert_eq!(open, filtered);
    }
}
