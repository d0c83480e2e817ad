//! Consensus wall time: 6 samples, at most 4 in flight, each mock call taking 500 ms. Goal:
//! within 10% of two rounds of the delay (1.0 s), i.e. the samples really run in parallel and
//! the cap really holds. Only the fan-out and the chief's merge are timed (and, separately,
//! the samples alone); setting up the project and the mock server is not.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed step is a failed test

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use clk::engine::agents::dispatch::DispatchRequest;
use clk::engine::agents::robust::Care;
use clk::engine::agents::robust::consensus::{Fanned, FanoutPlan, run};
use clk::engine::store::bus::Bus;
use criterion::{Criterion, criterion_group, criterion_main};
use support::mock_project::{named, new_dir, project};
use support::mock_server::{MockServer, Reply, Script};
use tokio_util::sync::CancellationToken;

const DELAY_MS: u64 = 500;
const SAMPLES: u32 = 6;

/// One fan-out against a fresh project and mock: (wall time of the fan-out and the merge,
/// time until the last sample came back as the engine reported it).
fn one_fanout(rt: &tokio::runtime::Runtime) -> (Duration, Duration) {
    let (_top, dir) = new_dir();
    let mut replies: Vec<Reply> = (0..SAMPLES)
        .map(|_| Reply::delay(DELAY_MS, Reply::text("SQLite.\nCONFIDENCE: 0.8\n")))
        .collect();
    replies.push(Reply::text(
        "Merged: all six samples chose SQLite, one file and no server.\n",
    ));
    let mock = MockServer::start(Script::new(replies));
    let env = [
        ("CLK_CONSENSUS_MAX_SAMPLES", "6"),
        ("CLK_CONSENSUS_MAX_PARALLEL", "4"),
    ];
    let p = project(&dir, &mock, &env);
    let bus = Bus::new(Some(p.ws.activity_log()));
    let req = DispatchRequest {
        agent: "architect".into(),
        objective: "Choose the storage engine.".into(),
        stage: Some("design".into()),
        ..Default::default()
    };
    let plan = FanoutPlan::auto("architect", &req.objective, "careful", SAMPLES);
    let care = Care::default();
    let cancel = CancellationToken::new();
    let started = Instant::now();
    let out = rt
        .block_on(run(&p, &bus, &plan, &req, &care, &cancel))
        .unwrap();
    let wall = started.elapsed();
    assert!(matches!(out, Fanned::Merged(ref o) if o.ok));
    assert_eq!(mock.model_calls(), SAMPLES as usize + 1);
    let samples_ms = named(&p, "consensus_sample_finished")
        .iter()
        .filter_map(|e| e["elapsed_ms"].as_u64())
        .max()
        .unwrap_or_default();
    (wall, Duration::from_millis(samples_ms))
}

fn consensus_wall_time(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    c.bench_function("consensus_6_samples_4_parallel_500ms", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| one_fanout(&rt).0).sum())
    });
    // The samples alone, without the chief's merge (one more dispatch with no delay).
    c.bench_function("consensus_6_samples_4_parallel_500ms_samples_only", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| one_fanout(&rt).1).sum())
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).measurement_time(Duration::from_secs(15));
    targets = consensus_wall_time
}
criterion_main!(benches);
