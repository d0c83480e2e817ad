//! The added cost of the sandbox per command: spawning and waiting for `true` bare, then under
//! each backend (building the command, spawning, waiting and the guard's finish all counted).
//! Goal: under 15 ms added per command. A backend this machine lacks is left out.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed step is a failed test

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use clk::engine::act::sandbox::{self, Backend, Containment, SandboxPolicy};
use criterion::{Criterion, criterion_group, criterion_main};

fn worktree(dir: &Path) {
    std::fs::create_dir_all(dir.join(".clk")).unwrap();
    std::fs::write(dir.join(".git"), "gitdir: ../main/.git/worktrees/wt\n").unwrap();
    std::fs::write(dir.join(".clk/config"), "caps: 5\n").unwrap();
}

fn one(backend: Backend, dir: &Path, policy: &SandboxPolicy) {
    let mut sb = sandbox::command(backend, "true", &[], dir, policy).unwrap();
    let status = sb
        .command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    sb.guard.finish().unwrap();
}

fn benches(c: &mut Criterion) {
    let top = tempfile::tempdir().unwrap();
    let dir = top.path().join("wt");
    worktree(&dir);
    let policy = SandboxPolicy::for_worktree(&dir);
    let mut group = c.benchmark_group("sandbox_spawn_true");
    group
        .sample_size(30)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_millis(500));
    group.bench_function("bare", |b| {
        b.iter(|| {
            let status = Command::new("true")
                .current_dir(&dir)
                .env_clear()
                .envs(&policy.env)
                .stdin(Stdio::null())
                .status()
                .unwrap();
            assert!(status.success());
        })
    });
    group.bench_function("off", |b| b.iter(|| one(Backend::Off, &dir, &policy)));
    if Backend::Bubblewrap.check().is_ok() {
        group.bench_function("bubblewrap", |b| {
            b.iter(|| one(Backend::Bubblewrap, &dir, &policy))
        });
    }
    if Backend::Landlock.check().is_ok() {
        group.bench_function("landlock", |b| {
            b.iter(|| one(Backend::Landlock, &dir, &policy))
        });
        let mut subreaper = policy.clone();
        subreaper.containment = Containment::Subreaper;
        group.bench_function("landlock_subreaper", |b| {
            b.iter(|| one(Backend::Landlock, &dir, &subreaper))
        });
    }
    group.finish();
}

criterion_group!(sandbox_benches, benches);
criterion_main!(sandbox_benches);
