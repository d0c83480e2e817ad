//! The flat cost per dispatch (issue 13), one table of medians, each measured in a run's own
//! work tree (where every run's agents work and commit) and in place (the user's own tree,
//! where only a project without git or `auto_commit` works):
//! - clk's own time for one committing dispatch through the OpenAI-compatible provider
//!   against the mock model server (the bare HTTP round trip to the mock is measured apart
//!   and taken off), in an empty project, at 10,000 and 50,000 committed files, and with
//!   1,000 blackboard posts and 1,000 run records;
//! - an `ACTION: run` of `true` at 50,000 files (change detection around the command; no OS
//!   sandbox, whose start-up belongs to the sandbox), and with 1,000 blackboard posts (the
//!   guard of clk's posts around the command);
//! - a batch commit of 5 files at 50,000 files, in the user's repository (its index written
//!   at once) and in a run's work tree (its index kept in memory until it must be on disk);
//! - `clk status` and `clk idea` as cold processes.
//!
//! Every figure is given twice: wall time, and CPU time (user + system, from `getrusage`) in
//! brackets. On a shared or virtual host the wall time moves with what else runs; the CPU time
//! is what clk itself spent and holds still from run to run.
//!
//! `cargo bench --bench flat` (`CLK_FLAT_RUNS` sets the samples per row, default 15;
//! `CLK_FLAT_EXE` times another clk binary for the cold rows). Under `cargo test` it does
//! nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed step is a failed test

// The test helpers' own unit tests are compiled here too and use things only tests need.
#[allow(unused_imports)]
#[path = "../tests/support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use clk::engine::act::actions::{GateContext, apply};
use clk::engine::agents::dispatch::{DispatchRequest, dispatch};
use clk::engine::ground::protocol::parse;
use clk::engine::store::bus::Bus;
use clk::engine::store::git;
use clk::engine::store::workspace::Project;
use support::mock_server::{MockServer, Reply, Script};
use tokio_util::sync::CancellationToken;

/// What one measured step cost: wall time and CPU time.
#[derive(Clone, Copy, Default)]
struct Cost {
    wall: Duration,
    cpu: Duration,
}

impl Cost {
    fn minus(self, o: Cost) -> Cost {
        Cost {
            wall: self.wall.saturating_sub(o.wall),
            cpu: self.cpu.saturating_sub(o.cpu),
        }
    }
}

/// CPU time (user + system) so far of this process (`RUSAGE_SELF`, every thread, the mock
/// server's too) or of its waited-for children (`RUSAGE_CHILDREN`).
fn cpu(who: libc::c_int) -> Duration {
    // SAFETY: getrusage only writes the struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a valid, writable rusage.
    unsafe { libc::getrusage(who, &mut u) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(u.ru_utime) + tv(u.ru_stime)
}

/// Measures one step of this process, or of the children it waits for.
struct Meter {
    who: libc::c_int,
    wall: Instant,
    cpu: Duration,
}

impl Meter {
    fn start() -> Meter {
        Meter::of(libc::RUSAGE_SELF)
    }

    fn children() -> Meter {
        Meter::of(libc::RUSAGE_CHILDREN)
    }

    fn of(who: libc::c_int) -> Meter {
        Meter {
            who,
            wall: Instant::now(),
            cpu: cpu(who),
        }
    }

    fn stop(&self) -> Cost {
        Cost {
            wall: self.wall.elapsed(),
            cpu: cpu(self.who).saturating_sub(self.cpu),
        }
    }
}

/// The median wall time and the median CPU time.
fn median(v: Vec<Cost>) -> Cost {
    let mid = |mut d: Vec<Duration>| {
        d.sort();
        d[d.len() / 2]
    };
    Cost {
        wall: mid(v.iter().map(|c| c.wall).collect()),
        cpu: mid(v.iter().map(|c| c.cpu).collect()),
    }
}

fn ms(c: Cost) -> String {
    format!(
        "{:.2} ({:.2}) ms",
        c.wall.as_secs_f64() * 1000.0,
        c.cpu.as_secs_f64() * 1000.0
    )
}

fn git_cli(root: &Path, args: &[&str]) {
    let st = Command::new("git")
        .args(["-c", "user.name=b", "-c", "user.email=b@b"])
        .args(args)
        .current_dir(root)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(st.success(), "git {args:?}");
}

/// A git repository at `root` with `files` committed files, 100 to a folder.
fn repo_with(root: &Path, files: usize) {
    for i in 0..files {
        let dir = root.join(format!("src/m{:04}", i / 100));
        if i % 100 == 0 {
            std::fs::create_dir_all(&dir).unwrap();
        }
        std::fs::write(
            dir.join(format!("f{:03}.txt", i % 100)),
            format!("file {i}\n"),
        )
        .unwrap();
    }
    git_cli(root, &["init", "-q", "-b", "main"]);
    if files > 0 {
        git_cli(root, &["add", "-A"]);
        git_cli(root, &["commit", "-qm", "base"]);
    }
}

/// A clk project over a repository of `files` files, served by `mock`'s OpenAI-compatible
/// endpoint.
fn project_with(root: &Path, files: usize, mock: &MockServer) -> Project {
    repo_with(root, files);
    clk::engine::store::init::init(root, Some("demo")).unwrap();
    let ws = clk::engine::store::workspace::Workspace::new(root.canonicalize().unwrap());
    let mut p = ws.load(&clk::engine::ground::config::Env::none()).unwrap();
    p.providers.active = "openwebui".into();
    let o = p.providers.providers.get_mut("openwebui").unwrap();
    o.endpoint = Some(format!("{}/v1", mock.url()));
    o.model = Some("m1".into());
    p
}

/// 1,000 posts and 1,000 run records, as a long-lived project has.
fn add_history(p: &Project) {
    use clk::engine::store::blackboard::{Origin, add};
    for i in 0..1000 {
        let block = parse(&format!(
            "POST: note\nTITLE: finding {i}\nBODY:\nSomething found in round {i}, with a few \
             words of detail so the record has a realistic size.\nEND_POST\n"
        ))
        .posts
        .remove(0);
        let origin = Origin {
            author: "engineer",
            ..Default::default()
        };
        add(&p.ws, &origin, &block).unwrap();
    }
    for i in 0..1000 {
        let (id, dir) = p.ws.reserve_run("engineer").unwrap();
        let meta = clk::engine::store::records::RunMeta {
            agent: "engineer".into(),
            run_id: id,
            stage: Some("build".into()),
            objective: format!("objective {i}"),
            provider: "openwebui".into(),
            model: "m1".into(),
            ok: true,
            error: None,
            dry_run: false,
            started_at: "2026-01-01T00:00:00Z".into(),
            finished_at: "2026-01-01T00:00:01Z".into(),
            elapsed_ms: 1000,
            usage: Default::default(),
            cost_micros: 0,
            cost_basis: Default::default(),
            files_written: vec![format!("notes/n{i}.txt")],
            text_preview: "did a thing".into(),
            applied: true,
        };
        clk::engine::store::records::write_meta(&p.ws, &dir, &meta).unwrap();
    }
}

/// Median wall time of one committing dispatch (each writes a new file), after a warm-up.
fn dispatch_time(
    rt: &tokio::runtime::Runtime,
    p: &Project,
    mock: &MockServer,
    runs: usize,
) -> Cost {
    let bus = Bus::new(Some(p.ws.activity_log()));
    let mut times = Vec::new();
    static ROUND: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    for n in 0..=runs {
        let i = ROUND.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        mock.push(Reply::text_usage(
            &format!(
                "Noting.\nACTION: write\nPATH: notes/r{i}.txt\nCONTENT:\nround {i}\nEND_ACTION\n"
            ),
            10,
            5,
        ));
        let req = DispatchRequest {
            agent: "engineer".into(),
            objective: format!("write note {i}"),
            ..Default::default()
        };
        let t = Meter::start();
        let out = rt
            .block_on(dispatch(p, &bus, &req, &CancellationToken::new()))
            .unwrap();
        let took = t.stop();
        assert!(out.ok && out.commit.is_some(), "{:?}", out.error);
        if n > 0 {
            times.push(took);
        }
    }
    median(times)
}

/// Median of a bare chat request to the mock: the part of a dispatch that is not clk.
fn mock_round_trip(rt: &tokio::runtime::Runtime, mock: &MockServer, runs: usize) -> Cost {
    clk::engine::agents::providers::http::ensure_tls();
    let client = reqwest::Client::new();
    let url = format!("{}/v1/chat/completions", mock.url());
    let mut times = Vec::new();
    for i in 0..=runs {
        mock.push(Reply::text_usage(
            "Noting.\nACTION: write\nPATH: a\nCONTENT:\nx\nEND_ACTION\n",
            10,
            5,
        ));
        let t = Meter::start();
        rt.block_on(async {
            let r = client
                .post(&url)
                .json(&serde_json::json!({"model": "m1", "stream": true,
                    "messages": [{"role": "user", "content": "x"}]}))
                .send()
                .await
                .unwrap();
            r.bytes().await.unwrap();
        });
        if i > 0 {
            times.push(t.stop());
        }
    }
    median(times)
}

fn gate(root: &Path) -> GateContext {
    support::gate::bench_gate(root)
}

/// (`ACTION: run` of `true`, commit of 5 files) at `root`, medians.
fn run_and_commit(rt: &tokio::runtime::Runtime, root: &Path, runs: usize) -> (Cost, Cost) {
    let repo = git::open(root).unwrap();
    git::ensure_identity(&repo).unwrap();
    let ctx = gate(root);
    let bus = Bus::new(None);
    let run = parse("ACTION: run\nCMD: true\nEND_ACTION\n");
    let (mut run_t, mut commit_t) = (Vec::new(), Vec::new());
    for i in 0..=runs {
        let t = Meter::start();
        let out = rt.block_on(apply(&ctx, &bus, &run.actions, &CancellationToken::new()));
        let took = t.stop();
        assert!(out.refused.is_empty(), "{:?}", out.refused);
        let paths: Vec<String> = (0..5)
            .map(|k| format!("src/m{:04}/new{k}.txt", k * 7))
            .collect();
        for p in &paths {
            std::fs::write(root.join(p), format!("round {i}\n")).unwrap();
        }
        let t2 = Meter::start();
        // Through the repository clk keeps open, as a dispatch commits (where it exists).
        let info = commit(root, &repo, &paths);
        let took2 = t2.stop();
        assert!(info.is_some());
        if i > 0 {
            run_t.push(took);
            commit_t.push(took2);
        }
    }
    (median(run_t), median(commit_t))
}

/// Commit `paths` the way a dispatch does: through the repository clk keeps open.
fn commit(root: &Path, _repo: &git2::Repository, paths: &[String]) -> Option<git::CommitInfo> {
    git::with_repo(root, |r| {
        git::commit_paths(r, "engineer", paths, "[engineer] bench")
    })
    .unwrap()
    .unwrap()
}

/// Median of an `ACTION: run` of `true` at `root` (with its guard of clk's posts).
fn run_time(rt: &tokio::runtime::Runtime, root: &Path, runs: usize) -> Cost {
    let ctx = gate(root);
    let bus = Bus::new(None);
    let run = parse("ACTION: run\nCMD: true\nEND_ACTION\n");
    let mut times = Vec::new();
    for i in 0..=runs {
        let t = Meter::start();
        let out = rt.block_on(apply(&ctx, &bus, &run.actions, &CancellationToken::new()));
        let took = t.stop();
        assert!(out.refused.is_empty(), "{:?}", out.refused);
        if i > 0 {
            times.push(took);
        }
    }
    median(times)
}

/// A batch commit of 5 files in a run's work tree made from the repository at `root`, where
/// the index stays in memory between the run's commits; median.
fn run_tree_commit(root: &Path, runs: usize) -> Cost {
    let repo = git::open(root).unwrap();
    let tree = git::worktree::create(&repo, "bench")
        .unwrap()
        .path
        .canonicalize()
        .unwrap();
    let mut times = Vec::new();
    for i in 0..=runs {
        let paths: Vec<String> = (0..5)
            .map(|k| format!("src/m{:04}/run{k}.txt", k * 7))
            .collect();
        for p in &paths {
            std::fs::write(tree.join(p), format!("round {i}\n")).unwrap();
        }
        let t = Meter::start();
        assert!(commit(&tree, &repo, &paths).is_some());
        if i > 0 {
            times.push(t.stop());
        }
    }
    git::deferred::flush(&tree).unwrap();
    median(times)
}

fn cold(exe: &Path, dir: &Path, args: &[&str], runs: usize) -> Cost {
    let mut times = Vec::new();
    for i in 0..=runs {
        let t = Meter::children();
        let out = Command::new(exe)
            .args(args)
            .current_dir(dir)
            .env_remove("CLK_PROVIDER")
            .env("CLK_NO_TUI", "1")
            .output()
            .unwrap();
        let took = t.stop();
        assert!(out.status.success(), "{args:?}: {out:?}");
        if i > 0 {
            times.push(took);
        }
    }
    median(times)
}

/// Let the disk finish writing what the set-up (or an earlier run's big trees) left behind, so
/// a row times clk rather than the kernel's write-back.
fn settle() {
    let _ = Command::new("sync").status();
    std::thread::sleep(Duration::from_millis(500));
}

/// The same project seen from a run's own work tree, as `isolate` sets one up: `.clk/` stays in
/// the user's folder, files and commits happen in the work tree.
fn in_run_tree(p: &Project, name: &str) -> Project {
    let repo = git::open(&p.ws.root).unwrap();
    let tree = git::worktree::create(&repo, name).unwrap().path;
    let mut in_run = p.clone();
    in_run.ws = p.ws.with_work(tree.canonicalize().unwrap());
    in_run
}

/// One row: the measure in a run's work tree (where runs work) and in place (the user's own
/// tree, where only projects without git or `auto_commit` work), with the growth over `base`.
fn row(label: &str, run: Cost, place: Cost, base: Option<(Cost, Cost)>) {
    let grow = |d: Cost, b: Cost| format!("+{}", ms(d.minus(b)));
    let (g1, g2) = match base {
        Some((b1, b2)) => (grow(run, b1), grow(place, b2)),
        None => (String::new(), String::new()),
    };
    println!(
        "{label:<46} {:>20} {g1:<20} {:>20} {g2}",
        ms(run),
        ms(place)
    );
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let runs: usize = std::env::var("CLK_FLAT_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(15);
    let exe = std::env::var_os("CLK_FLAT_EXE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_clk")));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mock = MockServer::start(Script::new(vec![]));
    let trip = mock_round_trip(&rt, &mock, runs);
    println!(
        "mock round trip (taken off the dispatch rows): {}",
        ms(trip)
    );
    println!(
        "{:<46} {:>20} {:<20} {:>20}",
        "median, wall (CPU)", "in a run's work tree", "", "in place"
    );
    let own = |d: Cost| d.minus(trip);
    let mut base = (Cost::default(), Cost::default());
    for files in [0usize, 10_000, 50_000] {
        let top = tempfile::tempdir().unwrap();
        let p = project_with(top.path(), files, &mock);
        let in_run = in_run_tree(&p, "bench-dispatch");
        settle();
        let d = (
            own(dispatch_time(&rt, &in_run, &mock, runs)),
            own(dispatch_time(&rt, &p, &mock, runs)),
        );
        if files == 0 {
            base = d;
            row("clk's own time per dispatch, empty project", d.0, d.1, None);
            add_history(&p);
            let h = (
                own(dispatch_time(&rt, &in_run, &mock, runs)),
                own(dispatch_time(&rt, &p, &mock, runs)),
            );
            row(
                "the same with 1,000 posts and 1,000 runs",
                h.0,
                h.1,
                Some(base),
            );
            // A long-lived project's posts are older than the guard's two-second window for
            // files that may change within one clock tick.
            std::thread::sleep(Duration::from_millis(2500));
            row(
                "ACTION: run of true with 1,000 posts",
                run_time(&rt, &in_run.ws.work, runs),
                run_time(&rt, &p.ws.root, runs),
                None,
            );
        } else {
            row(
                &format!("the same at {files} committed files"),
                d.0,
                d.1,
                Some(base),
            );
        }
        if files == 50_000 {
            let (run, commit) = run_and_commit(&rt, &p.ws.root, runs);
            row(
                "ACTION: run of true at 50,000 files",
                run_time(&rt, &in_run.ws.work, runs),
                run,
                None,
            );
            row(
                "batch commit of 5 files at 50,000 files",
                run_tree_commit(&p.ws.root, runs),
                commit,
                None,
            );
        }
    }
    settle();
    let top = tempfile::tempdir().unwrap();
    let st = Command::new(&exe)
        .arg("init")
        .current_dir(top.path())
        .output()
        .unwrap();
    assert!(st.status.success());
    println!(
        "{:<46} {:>20}",
        "clk status, cold",
        ms(cold(&exe, top.path(), &["status"], runs))
    );
    println!(
        "{:<46} {:>20}",
        "clk idea, cold",
        ms(cold(
            &exe,
            top.path(),
            &["idea", "--no-cast", "A tiny note app"],
            runs
        ))
    );
}
