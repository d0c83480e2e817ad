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
//! Every project is set up once; then several rounds each take every row in turn, and a row
//! shows the median of its rounds' medians with the lowest and highest round beside it. A goal
//! is judged on that median (growth rows on the median of each round's growth over the empty
//! project's row of the same round). CPU time (user + system, from `getrusage`) and page faults
//! sit beside the wall time, and the cold rows count one run's system calls (strace, when
//! installed): on a shared host the wall time moves with what else runs, those counts do not.
//!
//! `cargo bench --bench flat` (`CLK_FLAT_RUNS` sets the samples per round, default 11;
//! `CLK_FLAT_ROUNDS` the rounds, default 5; `CLK_FLAT_EXE` times another clk binary for the
//! cold rows; `CLK_FLAT_PROFILE=N` runs only N dispatches in a run's work tree, for a profiler,
//! over `CLK_FLAT_PROFILE_FILES` committed files, default 0).
//! Under `cargo test` it does nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed step is a failed test

// The test helpers' own unit tests are compiled here too and use things only tests need.
#[allow(unused_imports)]
#[path = "../tests/support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use clk::engine::act::actions::{GateContext, apply};
use clk::engine::agents::dispatch::{DispatchRequest, dispatch};
use clk::engine::ground::protocol::parse;
use clk::engine::store::bus::Bus;
use clk::engine::store::git;
use clk::engine::store::workspace::Project;
use support::mock_server::{MockServer, Reply, Script};
use tokio_util::sync::CancellationToken;

#[path = "flat/measure.rs"]
mod measure;
#[path = "flat/table.rs"]
mod table;
use measure::{Cost, Meter, median};
use table::{Goal, Row, print_table};

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
    median(&times)
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
    median(&times)
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
    (median(&run_t), median(&commit_t))
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
    median(&times)
}

/// A batch commit of 5 files in a run's work tree `tree` made from the repository at `root`,
/// where the index stays in memory between the run's commits; median.
fn run_tree_commit(root: &Path, tree: &Path, runs: usize) -> Cost {
    let repo = git::open(root).unwrap();
    let mut times = Vec::new();
    for i in 0..=runs {
        let paths: Vec<String> = (0..5)
            .map(|k| format!("src/m{:04}/run{k}.txt", k * 7))
            .collect();
        for p in &paths {
            std::fs::write(tree.join(p), format!("round {i}\n")).unwrap();
        }
        let t = Meter::start();
        assert!(commit(tree, &repo, &paths).is_some());
        if i > 0 {
            times.push(t.stop());
        }
    }
    git::deferred::flush(tree).unwrap();
    median(&times)
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
    median(&times)
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

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let env_num = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    // The user's own settings and project registry stay out of the figures: every clk this
    // bench starts, and the dispatches it runs here, see empty user folders of their own.
    let user_home = tempfile::tempdir().unwrap();
    // SAFETY: set before any thread starts; nothing reads the environment concurrently.
    unsafe {
        std::env::set_var("XDG_CONFIG_HOME", user_home.path().join("config"));
        std::env::set_var("XDG_DATA_HOME", user_home.path().join("data"));
    }
    let runs = env_num("CLK_FLAT_RUNS", 11);
    let rounds = env_num("CLK_FLAT_ROUNDS", 5).max(1);
    let exe = std::env::var_os("CLK_FLAT_EXE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_clk")));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mock = MockServer::start(Script::new(vec![]));
    let started = std::time::Instant::now();
    if let Some(warning) = measure::filesystem_warning(&std::env::temp_dir()) {
        println!("{warning}");
    }
    println!("{}", measure::new_file_line(&std::env::temp_dir()));
    if let Some(n) = std::env::var("CLK_FLAT_PROFILE")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        // Only the empty project's dispatch in a run's work tree, `n` times: a steady load
        // for a profiler (`perf record`, `valgrind --tool=callgrind`) to look at.
        let files = env_num("CLK_FLAT_PROFILE_FILES", 0);
        let dir = tempfile::tempdir().unwrap();
        let p = in_run_tree(&project_with(dir.path(), files, &mock), "bench-profile");
        let trip = mock_round_trip(&rt, &mock, 11);
        let own = dispatch_time(&rt, &p, &mock, n).minus(trip);
        println!(
            "own time per dispatch, {files} files, {n} samples: wall {:?}, CPU {:?}",
            own.wall, own.cpu
        );
        return;
    }

    // Every project is set up once; the rounds then take turns over all rows, so a burst of
    // load on the host lands on one round of every row rather than on all rounds of one.
    let dirs: Vec<tempfile::TempDir> = (0..5).map(|_| tempfile::tempdir().unwrap()).collect();
    let empty = project_with(dirs[0].path(), 0, &mock);
    let history = project_with(dirs[1].path(), 0, &mock);
    add_history(&history);
    let ten = project_with(dirs[2].path(), 10_000, &mock);
    let fifty = project_with(dirs[3].path(), 50_000, &mock);
    let trees: Vec<Project> = [&empty, &history, &ten, &fifty]
        .iter()
        .map(|p| in_run_tree(p, "bench-dispatch"))
        .collect();
    let commit_tree = git::worktree::create(&git::open(&fifty.ws.root).unwrap(), "bench")
        .unwrap()
        .path
        .canonicalize()
        .unwrap();
    let cold_dir = dirs[4].path();
    let st = Command::new(&exe)
        .arg("init")
        .current_dir(cold_dir)
        .output()
        .unwrap();
    assert!(st.status.success());
    // A long-lived project's posts are older than the guard's two-second window for files that
    // may change within one clock tick.
    std::thread::sleep(Duration::from_millis(2000));
    settle();
    println!("set up in {:.0?}", started.elapsed());

    let mut rows = vec![
        Row::new("clk's own time per dispatch, empty project", Goal::At(3.0)),
        Row::new(
            "the same with 1,000 posts and 1,000 runs",
            Goal::Growth(0, 1.0),
        ),
        Row::new("the same at 10000 committed files", Goal::Growth(0, 2.0)),
        Row::new("the same at 50000 committed files", Goal::Growth(0, 5.0)),
        Row::new("ACTION: run of true with 1,000 posts", Goal::None),
        Row::new("ACTION: run of true at 50,000 files", Goal::At(20.0)),
        Row::new("batch commit of 5 files at 50,000 files", Goal::At(10.0)),
        Row::new("clk status, cold", Goal::At(3.0)),
        Row::new("clk idea, cold", Goal::At(6.0)),
        Row::new("mock round trip (taken off the dispatch rows)", Goal::None),
    ];
    let idea = ["idea", "--no-cast", "A tiny note app"];
    rows[7].syscalls = measure::syscalls(&exe, cold_dir, &["status"]);
    rows[8].syscalls = measure::syscalls(&exe, cold_dir, &idea);
    for _ in 0..rounds {
        let trip = mock_round_trip(&rt, &mock, runs);
        rows[9].run.push(trip);
        let own = |p: &Project| dispatch_time(&rt, p, &mock, runs).minus(trip);
        for (i, p) in [&empty, &history, &ten, &fifty].into_iter().enumerate() {
            rows[i].run.push(own(&trees[i]));
            rows[i].place.push(own(p));
        }
        rows[4].run.push(run_time(&rt, &trees[1].ws.work, runs));
        rows[4].place.push(run_time(&rt, &history.ws.root, runs));
        let (run, commit) = run_and_commit(&rt, &fifty.ws.root, runs);
        rows[5].run.push(run_time(&rt, &trees[3].ws.work, runs));
        rows[5].place.push(run);
        rows[6]
            .run
            .push(run_tree_commit(&fifty.ws.root, &commit_tree, runs));
        rows[6].place.push(commit);
        rows[7].run.push(cold(&exe, cold_dir, &["status"], runs));
        rows[8].run.push(cold(&exe, cold_dir, &idea, runs));
    }
    println!(
        "{rounds} rounds of {runs} samples each, in {:.0?} all told; at the end {}",
        started.elapsed(),
        measure::new_file_line(&std::env::temp_dir())
    );
    print_table(&rows);
}
