//! Claims on the PostgreSQL task store: 50 simulated workers, each with its own connection,
//! read the queue as `clk work` does, claim the first queued task they can (`SELECT … FOR
//! UPDATE SKIP LOCKED` with a lease and the start counted in the daily budget), moving on past
//! one another worker won, and complete it, against a throwaway cluster
//! (`CLK_TEST_PG_URL`, else one started here). Prints claim latency p50/p99 and claims per
//! second. `CLK_PG_BENCH_TASKS` tasks (default 1000), `CLK_PG_BENCH_WORKERS` (default 50).
//!
//! Then wake latency: a real idle `clk work` attached to the store, and the time from each of
//! `CLK_PG_BENCH_WAKES` (default 20) `task add`s to its claim, read from the two timeline
//! lines' timestamps. `CLK_BENCH_BIN` runs another clk binary there (an older build, to
//! compare); `CLK_PG_BENCH_TASKS=0` skips the claims.
//!
//! `cargo bench --bench task_pg`. Under `cargo test` it does nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed step is a failed test
#![allow(dead_code)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use clk::engine::ground::task::TaskState;
use clk::engine::store::tasks::{Move, NewTask, PgStore, TaskStore};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let tasks = env("CLK_PG_BENCH_TASKS", 1000);
    let workers = env("CLK_PG_BENCH_WORKERS", 50);
    let url = support::pg::database().expect("PostgreSQL is needed for this bench");
    if tasks > 0 {
        claims(&url, tasks, workers);
    }
    let wakes = env("CLK_PG_BENCH_WAKES", 20);
    if wakes > 0 {
        let url = support::pg::database().expect("a second database");
        wake(&url, wakes);
    }
    support::pg::stop();
}

fn bench_task(prompt: String) -> NewTask {
    NewTask {
        prompt,
        flow: "solo".into(),
        agent: "engineer".into(),
        autonomy: "aggressive".into(),
        requested_by: "bench".into(),
    }
}

fn ms(at: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(at)
        .unwrap()
        .timestamp_millis()
}

fn git(dir: &Path, args: &[&str]) {
    let ok = Command::new("git")
        .current_dir(dir)
        .envs([("GIT_AUTHOR_NAME", "b"), ("GIT_AUTHOR_EMAIL", "b@b")])
        .envs([("GIT_COMMITTER_NAME", "b"), ("GIT_COMMITTER_EMAIL", "b@b")])
        .args(args)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(ok.success(), "git {args:?}");
}

/// Time from `task add` to the claim by an idle `clk work`.
fn wake(url: &str, n: usize) {
    let bin = std::env::var("CLK_BENCH_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_clk").into());
    let top = tempfile::tempdir().unwrap();
    let dir = &top.path().join("p");
    std::fs::create_dir(dir).unwrap();
    let clk = |args: &[&str]| {
        let mut c = Command::new(&bin);
        for name in support::clk_env_vars() {
            c.env_remove(name);
        }
        c.current_dir(dir)
            .env("CLK_NO_TUI", "1")
            .env("CLK_PROVIDER_RETRY_MAX_RETRIES", "0")
            .env("XDG_CONFIG_HOME", top.path().join("xdg"))
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c
    };
    assert!(clk(&["init"]).status().unwrap().success());
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-qm", "init", "--allow-empty"]);
    let store = PgStore::open(url, 60).unwrap();
    let mut worker = clk(&["work", "--store", url, "--workers", "64"])
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    let mut lat = Vec::new();
    for i in 0..n {
        let t = store.add(&bench_task(format!("wake {i}"))).unwrap();
        let start = Instant::now();
        let claimed = loop {
            let tl = store.timeline(t.id).unwrap();
            let added = tl.iter().find(|e| e.kind == "added").map(|e| ms(&e.at));
            let run = tl.iter().find(|e| e.text.starts_with("queued → running"));
            if let (Some(a), Some(r)) = (added, run) {
                break ms(&r.at) - a;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "task {} never claimed",
                t.id
            );
            std::thread::sleep(Duration::from_millis(5));
        };
        lat.push(Duration::from_millis(u64::try_from(claimed).unwrap_or(0)));
        // Adds land at any moment of the worker's cycle.
        std::thread::sleep(Duration::from_millis(200 + (i as u64 * 137) % 400));
    }
    let _ = worker.kill();
    let _ = worker.wait();
    lat.sort();
    println!(
        "task_pg wake: {n} adds to an idle clk work ({bin}): add to claim p50 {} ms, p90 {} ms, \
         max {} ms",
        pct(&lat, 0.5).as_millis(),
        pct(&lat, 0.9).as_millis(),
        lat[lat.len() - 1].as_millis()
    );
}

/// `workers` threads claim and complete `tasks` tasks.
fn claims(url: &str, tasks: usize, workers: usize) {
    let url = url.to_string();
    let seed = PgStore::open(&url, 60).unwrap();
    for i in 0..tasks {
        seed.add(&bench_task(format!("task {i}"))).unwrap();
    }
    let start = Instant::now();
    let handles: Vec<_> = (0..workers)
        .map(|w| {
            let url = url.clone();
            std::thread::spawn(move || {
                let s = PgStore::open(&url, 60).unwrap();
                let mut lat = Vec::new();
                loop {
                    // Like a worker: read the queue, then claim the first queued task it can,
                    // moving on past a task another worker won. Each worker starts a little
                    // further on, as workers that read the queue at different moments do.
                    let queued: Vec<i64> = s
                        .list_open()
                        .unwrap()
                        .iter()
                        .filter(|t| t.state == TaskState::Queued)
                        .map(|t| t.id)
                        .collect();
                    if queued.is_empty() {
                        break;
                    }
                    let skip = (w % 8).min(queued.len() - 1);
                    let t0 = Instant::now();
                    let got = queued[skip..]
                        .iter()
                        .chain(&queued[..skip])
                        .copied()
                        .find(|&id| {
                            let m = Move {
                                id,
                                from: &[TaskState::Queued],
                                to: TaskState::Running,
                                reason: "",
                            };
                            s.claim(&m, w as u32 + 1, "bench-account", 0, Some(0))
                                .unwrap()
                        });
                    let Some(id) = got else { continue };
                    lat.push(t0.elapsed());
                    let done = Move {
                        id,
                        from: &[TaskState::Running],
                        to: TaskState::Merged,
                        reason: "bench",
                    };
                    assert!(s.move_state(&done, w as u32 + 1).unwrap());
                }
                lat
            })
        })
        .collect();
    let mut all: Vec<Duration> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    let wall = start.elapsed();
    all.sort();
    let merged = seed
        .list()
        .unwrap()
        .iter()
        .filter(|t| t.state == TaskState::Merged)
        .count();
    assert_eq!(merged, tasks, "every task claimed and completed once");
    assert_eq!(all.len(), tasks, "no task claimed twice");
    println!(
        "task_pg: {workers} workers, {tasks} tasks: claim p50 {:.2} ms, p99 {:.2} ms; \
         {:.0} claims+completions per second ({:.2} s)",
        pct(&all, 0.5).as_secs_f64() * 1000.0,
        pct(&all, 0.99).as_secs_f64() * 1000.0,
        tasks as f64 / wall.as_secs_f64(),
        wall.as_secs_f64()
    );
}
