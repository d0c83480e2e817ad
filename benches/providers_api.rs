//! API-key provider benchmarks (figures go in the issue notes):
//! - one dispatch of a ~100 KB reply streamed in 8-character deltas (about 12,500 SSE events,
//!   written in 16 KiB pieces) from the mock model server on 127.0.0.1, per protocol: the cost
//!   of clk's SSE decoding, line splitting and usage reading on top of the socket;
//! - `clk providers` as a whole process with the api-mode providers keyed (one-second goal).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed step is a failed test

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::Duration;

use clk::engine::agents::providers::anthropic::AnthropicProvider;
use clk::engine::agents::providers::gemini::GeminiProvider;
use clk::engine::agents::providers::responses::ResponsesProvider;
use clk::engine::agents::providers::{OutputSink, Provider, Request};
use clk::engine::ground::config::ProviderSettings;
use criterion::{Criterion, criterion_group, criterion_main};
use support::mock_server::{Fallback, MockServer, Reply, Script};
use tokio_util::sync::CancellationToken;

fn big_reply() -> String {
    (0..2_000)
        .map(|i| format!("line {i:04}: the quick brown fox jumps over it\n"))
        .collect()
}

fn request() -> Request {
    Request {
        agent: "engineer".into(),
        stage: None,
        objective: "bench".into(),
        run_id: "r1".into(),
        prompt: "[clk] agent=engineer stage=none run=r1\nWrite it.".into(),
        workdir: std::env::temp_dir(),
        timeout: Duration::from_secs(60),
        idle_timeout: None,
        cancel: CancellationToken::new(),
        sandbox: clk::engine::agents::providers::Isolation::None,
    }
}

fn providers(url: &str) -> Vec<(&'static str, Box<dyn Provider>)> {
    let s = ProviderSettings {
        endpoint: Some(url.into()),
        model: Some("bench-model".into()),
        ..Default::default()
    };
    let env = |k: &str| {
        k.ends_with("_API_KEY")
            .then(|| "bench-key-123456".to_string())
    };
    vec![
        (
            "anthropic",
            Box::new(AnthropicProvider::with_env("claude", &s, &env).unwrap()),
        ),
        (
            "responses",
            Box::new(ResponsesProvider::with_env("codex", &s, &env).unwrap()),
        ),
        (
            "gemini",
            Box::new(GeminiProvider::with_env("gemini", &s, &env).unwrap()),
        ),
    ]
}

fn bench(c: &mut Criterion) {
    let text = big_reply();
    let mock = MockServer::start(Script::new(vec![]).fallback(Fallback::Reply(Reply::chunked(
        &text,
        8,
        Some((10, 20)),
    ))));
    // One thread: on a loaded machine, cross-thread wake-ups would dominate the figure.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let req = request();
    let mut g = c.benchmark_group("api_dispatch_100kb");
    g.sample_size(10).measurement_time(Duration::from_secs(8));
    for (name, p) in providers(&mock.url()) {
        g.bench_function(name, |b| {
            b.iter(|| {
                let reply = rt
                    .block_on(p.dispatch(&req, &OutputSink::discard()))
                    .unwrap();
                assert_eq!(reply.text.len(), text.len());
            })
        });
    }
    // Baseline: the same Anthropic stream read as raw bytes, no decoding at all.
    let client = clk::engine::agents::providers::http::client(Duration::from_secs(5)).unwrap();
    let url = format!("{}/v1/messages", mock.url());
    let body = serde_json::json!({"model": "bench-model", "stream": true, "messages": []});
    g.bench_function("raw_bytes_baseline", |b| {
        b.iter(|| {
            let n = rt.block_on(async {
                let r = client.post(&url).json(&body).send().await.unwrap();
                r.bytes().await.unwrap().len()
            });
            assert!(n > text.len());
        })
    });
    g.finish();
}

/// `clk providers` as a user runs it, with claude, codex and gemini in api mode and keys set
/// (each check one TCP connect to the mock), pi in api mode (a config error) and the rest at
/// their defaults. Goal: well under the one second the command promises.
fn providers_command(c: &mut Criterion) {
    let mock = MockServer::start(Script::new(vec![]));
    let dir = tempfile::tempdir().unwrap();
    let exe = env!("CARGO_BIN_EXE_clk");
    let init = std::process::Command::new(exe)
        .arg("init")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(init.status.success());
    let mut g = c.benchmark_group("clk_providers");
    g.sample_size(10);
    g.bench_function("api_mode_with_keys", |b| {
        b.iter(|| {
            let out = std::process::Command::new(exe)
                .arg("providers")
                .current_dir(dir.path())
                .env("CLK_NO_TUI", "1")
                .env("ANTHROPIC_API_KEY", "bench-key-123456")
                .env("OPENAI_API_KEY", "bench-key-123456")
                .env("GEMINI_API_KEY", "bench-key-123456")
                .env("ANTHROPIC_BASE_URL", mock.url())
                .env("OPENAI_BASE_URL", format!("{}/v1", mock.url()))
                .env("GOOGLE_GEMINI_BASE_URL", mock.url())
                .env("CLK_CLAUDE_MODE", "api")
                .env("CLK_CODEX_MODE", "api")
                .env("CLK_GEMINI_MODE", "api")
                .env("CLK_PI_MODE", "api")
                .output()
                .unwrap();
            assert!(out.status.success());
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(v["available"]["claude"], true, "{v}");
        })
    });
    g.finish();
}

criterion_group!(benches, bench, providers_command);
criterion_main!(benches);
