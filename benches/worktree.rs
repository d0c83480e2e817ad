//! The added cost of the worktree per run: branch and check out `clk/<run-id>`, commit one
//! file there, fast-forward the user's branch and write that file, then hand the worktree
//! back and delete the branch. At 0 and 10,000 tracked files; goal: under 300 ms per run at
//! 10,000 files. `pooled` is what a run does (the worktree is kept idle and reset for the
//! next run); `fresh` checks out a new worktree and removes it every time, as before the pool.
//!
//! `task_sweep`: what `clk work`'s sweep reads of git every 5 s in a clone of 10,000 files
//! holding 4 task worktrees and 50 task branches (`look`: their ids, one folder and the branch
//! names, never a tree), and the status of one task worktree it reads only for a task that
//! no longer needs it (`uncommitted`). Goal: `look` under 1 ms.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed step is a failed test

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use clk::engine::store::git::{self, merge, worktree};
use criterion::{Criterion, criterion_group, criterion_main};

fn repo_with(dir: &Path, files: usize) -> git2::Repository {
    let (repo, _) = git::open_or_init(dir).unwrap();
    git::ensure_identity(&repo).unwrap();
    let mut paths = vec!["README.md".to_string()];
    std::fs::write(dir.join("README.md"), "x\n").unwrap();
    for i in 0..files {
        let rel = format!("src/d{}/f{i}.txt", i % 100);
        std::fs::create_dir_all(dir.join(rel.rsplit_once('/').unwrap().0)).unwrap();
        std::fs::write(dir.join(&rel), format!("file {i}\n")).unwrap();
        paths.push(rel);
    }
    git::commit_paths(&repo, "user", &paths, "base").unwrap();
    repo
}

static RUN: AtomicU64 = AtomicU64::new(0);

fn one_run(repo: &git2::Repository, pooled: bool) {
    let id = format!("bench-{}", RUN.fetch_add(1, Ordering::Relaxed));
    let t = worktree::create(repo, &id).unwrap();
    let wt = git2::Repository::open(&t.path).unwrap();
    std::fs::write(t.path.join("app.py"), format!("print('{id}')\n")).unwrap();
    git::commit_paths(&wt, "engineer", &["app.py".into()], "[engineer] app").unwrap();
    let out = merge::merge_branch(repo, &t.branch, false).unwrap();
    assert!(out.merged(), "{out:?}");
    if pooled {
        worktree::release(repo, &id, false).unwrap();
    } else {
        worktree::remove(repo, &id, false).unwrap();
    }
}

fn benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("worktree_per_run");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(5))
        .warm_up_time(Duration::from_millis(500));
    for files in [0usize, 10_000] {
        let top = tempfile::tempdir().unwrap();
        let repo = repo_with(top.path(), files);
        group.bench_function(format!("fresh_{files}_files"), |b| {
            b.iter(|| one_run(&repo, false))
        });
        group.bench_function(format!("pooled_{files}_files"), |b| {
            b.iter(|| one_run(&repo, true))
        });
    }
    group.finish();
}

fn sweep(c: &mut Criterion) {
    let mut group = c.benchmark_group("task_sweep");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_millis(300));
    let top = tempfile::tempdir().unwrap();
    let repo = repo_with(top.path(), 10_000);
    for id in 1..=4 {
        worktree::create(&repo, &format!("task-{id}")).unwrap();
    }
    let head = repo.head().unwrap().peel_to_commit().unwrap();
    for id in 5..55 {
        repo.branch(&format!("clk/task-{id}"), &head, false)
            .unwrap();
    }
    assert_eq!(worktree::task_ids(&repo).len(), 54);
    group.bench_function("look_4_trees_50_branches", |b| {
        b.iter(|| worktree::task_ids(&repo))
    });
    group.bench_function("uncommitted_10000_files", |b| {
        b.iter(|| assert!(worktree::uncommitted(&repo, "task-1").unwrap().is_empty()))
    });
    group.finish();
}

criterion_group!(worktree_benches, benches, sweep);
criterion_main!(worktree_benches);
