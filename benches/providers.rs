//! `clk providers` wall time, the whole process as a user runs it, with every kind of endpoint
//! that never answers: a blackhole (SYNs dropped), a server that accepts and stays silent, a
//! closed port, and the default Ollama endpoint pointed at the blackhole. Goal: under 1 s.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed step is a failed test

#[path = "../tests/support/blackhole.rs"]
mod blackhole;

use std::process::Command;
use std::time::Duration;

use blackhole::{Blackhole, Silent};
use criterion::{Criterion, criterion_group, criterion_main};

fn providers_with_dead_endpoints(c: &mut Criterion) {
    let exe = env!("CARGO_BIN_EXE_clk");
    let dir = tempfile::tempdir().unwrap();
    let st = Command::new(exe)
        .arg("init")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(st.status.success());
    let hole = Blackhole::start();
    let silent = Silent::start();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let providers = serde_json::json!({"providers": {
        "hole": {"type": "ollama", "endpoint": hole.url(), "model": "m"},
        "hole2": {"type": "openwebui", "endpoint": hole.url(), "model": "m"},
        "silent": {"type": "openwebui", "endpoint": format!("{}/v1", silent.url()), "model": "m"},
        "silent2": {"type": "ollama", "endpoint": silent.url(), "model": "m"},
        "closed": {"type": "ollama", "endpoint": format!("http://127.0.0.1:{closed}"), "model": "m"},
    }});
    std::fs::write(
        dir.path().join(".clk/config/providers.json"),
        serde_json::to_string_pretty(&providers).unwrap(),
    )
    .unwrap();
    let mut group = c.benchmark_group("providers");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(12));
    group.bench_function("clk providers, 6 dead endpoints (cold process)", |b| {
        b.iter(|| {
            let out = Command::new(exe)
                .arg("providers")
                .env("CLK_OLLAMA_ENDPOINT", hole.url())
                .current_dir(dir.path())
                .output()
                .unwrap();
            assert!(out.status.success());
        })
    });
    group.finish();
}

criterion_group!(benches, providers_with_dead_endpoints);
criterion_main!(benches);
