//! The task store's cost per turn: what a worker writes to `.clk/state/clk.db` after one
//! dispatch (the turn with its usage, its timeline line and today's counters, in one
//! transaction) and reads back (the task with its turn count and cost), on a store of 300
//! tasks with turns spread over them as a real queue has. Goal: under 1 ms per turn. The
//! worker's heartbeat (once per tick, not per turn) is measured beside it.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed step is a failed test

use clk::engine::ground::task::TaskState;
use clk::engine::store::tasks::{Move, NewTask, SqliteStore, TaskStore, TurnRecord, now};
use criterion::{Criterion, criterion_group, criterion_main};

const TASKS: i64 = 300;

fn store(dir: &std::path::Path) -> SqliteStore {
    let s = SqliteStore::open(&dir.join("clk.db")).unwrap();
    for i in 0..TASKS {
        let t = s
            .add(&NewTask {
                prompt: format!("task {i}"),
                flow: "duo".into(),
                agent: "engineer".into(),
                autonomy: "balanced".into(),
                requested_by: "bench".into(),
            })
            .unwrap();
        let m = Move {
            id: t.id,
            from: &[TaskState::Queued],
            to: TaskState::Running,
            reason: "",
        };
        assert!(s.move_state(&m, std::process::id()).unwrap());
    }
    s
}

fn turn(n: u32) -> TurnRecord {
    TurnRecord {
        n,
        role: "implementer".into(),
        agent: "engineer".into(),
        provider: "ollama".into(),
        dispatch_id: format!("d{n}"),
        ok: true,
        input_tokens: 1200,
        output_tokens: 300,
        cost_micros: 1500,
        summary: "wrote src/app.rs".into(),
        at: now(),
    }
}

fn per_turn(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    let mut n = 0u32;
    c.bench_function("task store: one turn (record it, read the task)", |b| {
        b.iter(|| {
            n += 1;
            let id = i64::from(n) % TASKS + 1;
            s.record_turn(id, &turn(n)).unwrap();
            s.get(id).unwrap().unwrap()
        })
    });
    c.bench_function("task store: heartbeat of 300 running tasks", |b| {
        b.iter(|| s.heartbeat(std::process::id()).unwrap())
    });
}

criterion_group!(benches, per_turn);
criterion_main!(benches);
