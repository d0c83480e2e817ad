//! Engine benchmarks (figures go in the issue notes):
//! - applying 25 write actions and committing them in a repository of 10,000 files;
//! - `clk status` cold start (the whole process, as a user runs it).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed step is a failed test

#[path = "../tests/support/gate.rs"]
mod gate;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use clk::engine::act::actions::apply;
use clk::engine::ground::protocol::parse;
use clk::engine::store::bus::Bus;
use clk::engine::store::git;
use criterion::{Criterion, criterion_group, criterion_main};
use tokio_util::sync::CancellationToken;

fn big_repo(root: &Path) {
    for d in 0..100 {
        let dir = root.join(format!("src/m{d:03}"));
        std::fs::create_dir_all(&dir).unwrap();
        for f in 0..100 {
            std::fs::write(dir.join(format!("f{f:03}.txt")), format!("file {d} {f}\n")).unwrap();
        }
    }
    let st = Command::new("git")
        .args(["init", "-q", "-b", "main"])
        .current_dir(root)
        .status()
        .unwrap();
    assert!(st.success());
    let st = Command::new("git")
        .args(["-c", "user.name=b", "-c", "user.email=b@b", "add", "-A"])
        .current_dir(root)
        .status()
        .unwrap();
    assert!(st.success());
    let st = Command::new("git")
        .args([
            "-c",
            "user.name=b",
            "-c",
            "user.email=b@b",
            "commit",
            "-qm",
            "base",
        ])
        .current_dir(root)
        .status()
        .unwrap();
    assert!(st.success());
}

fn apply_and_commit(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    big_repo(&root);
    let repo = git::open(&root).unwrap();
    git::ensure_identity(&repo).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let bus = Bus::new(None);
    let ctx = gate::bench_gate(&root);
    let mut n = 0u64;
    c.bench_function("apply 25 writes + commit (10k-file repo)", |b| {
        b.iter(|| {
            n += 1;
            let text: String = (0..25)
                .map(|i| {
                    format!("ACTION: write\nPATH: src/new/f{i:02}.txt\nCONTENT:\nround {n} file {i}\nEND_ACTION\n")
                })
                .collect();
            let parsed = parse(&text);
            let out = rt.block_on(apply(&ctx, &bus, &parsed.actions, &CancellationToken::new()));
            let info = git::commit_paths(&repo, "engineer", &out.changed_paths(), "[engineer] bench")
                .unwrap();
            assert!(info.is_some());
        })
    });
}

fn status_cold_start(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let exe = env!("CARGO_BIN_EXE_clk");
    let st = Command::new(exe)
        .arg("init")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(st.status.success());
    c.bench_function("clk status (cold process)", |b| {
        b.iter(|| {
            let out = Command::new(exe)
                .arg("status")
                .current_dir(dir.path())
                .env_remove("CLK_PROVIDER")
                .output()
                .unwrap();
            assert!(out.status.success());
        })
    });
}

/// One pass of the bundled engineering workflow (engineer, ralph, qa, chief supervise) with
/// the in-process shell provider, which answers instantly: what is measured is clk itself.
fn engineering_cycle(c: &mut Criterion) {
    use clk::engine::runs::stages::runner::{PassOptions, run_pass};
    use clk::engine::store::roster::{current_agents, roster_names};
    use clk::engine::store::workflow::load_named;
    let dir = tempfile::tempdir().unwrap();
    clk::engine::store::init::init(dir.path(), None).unwrap();
    let ws = clk::engine::store::workspace::Workspace::new(dir.path().canonicalize().unwrap());
    let mut project = ws.load(&clk::engine::ground::config::Env::none()).unwrap();
    project.providers.active = "shell".into();
    let roster = roster_names(&ws, &current_agents(&project));
    let wf = load_named(&ws, "engineering", &roster).unwrap();
    let stages = wf.stages.len() as u32;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let bus = Bus::new(Some(ws.activity_log()));
    c.bench_function(
        &format!("engineering cycle, {stages} dispatches, instant provider"),
        |b| {
            b.iter(|| {
                let r = rt
                    .block_on(run_pass(
                        &mut clk::engine::store::live::Live::new(project.clone()),
                        &bus,
                        &wf,
                        &PassOptions::default(),
                        &CancellationToken::new(),
                    ))
                    .unwrap();
                assert_eq!(r.stages.len() as u32, stages);
            })
        },
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(Duration::from_secs(5));
    targets = apply_and_commit, status_cold_start, engineering_cycle
}
criterion_main!(benches);
