//! The task store's cost per turn: what a worker writes to `.clk/state/clk.db` around one
//! dispatch (the turn with its usage, a timeline line, the heartbeat) and reads back (the
//! task). Goal: under 1 ms per turn on a store with a few hundred tasks.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed step is a failed test

use clk::engine::ground::task::TaskState;
use clk::engine::store::tasks::{Move, NewTask, SqliteStore, TaskStore, TurnRecord, now};
use criterion::{Criterion, criterion_group, criterion_main};

fn store(dir: &std::path::Path) -> (SqliteStore, i64) {
    let s = SqliteStore::open(&dir.join("clk.db")).unwrap();
    let mut last = 0;
    for i in 0..300 {
        let t = s
            .add(&NewTask {
                prompt: format!("task {i}"),
                flow: "duo".into(),
                agent: "engineer".into(),
                autonomy: "balanced".into(),
                requested_by: "bench".into(),
            })
            .unwrap();
        last = t.id;
    }
    let m = Move {
        id: last,
        from: &[TaskState::Queued],
        to: TaskState::Running,
        reason: "",
    };
    assert!(s.move_state(&m, std::process::id()).unwrap());
    (s, last)
}

fn per_turn(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let (s, id) = store(dir.path());
    let mut n = 0u32;
    c.bench_function("task store: one turn (record, log, heartbeat, read)", |b| {
        b.iter(|| {
            n += 1;
            s.record_turn(
                id,
                &TurnRecord {
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
                },
            )
            .unwrap();
            s.log(id, "turn", "implementer turn done").unwrap();
            s.heartbeat(std::process::id()).unwrap();
            s.get(id).unwrap().unwrap()
        })
    });
}

criterion_group!(benches, per_turn);
criterion_main!(benches);
