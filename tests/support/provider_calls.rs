//! One call to a provider as the provider tests make it: the text and prompt they send, a
//! request, and the lines the sink saw with the result.

#![allow(dead_code)] // benches include the support folder and use only part of it

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clk::engine::agents::providers::{OutputSink, Provider, ProviderError, Reply, Request};
use clk::engine::ground::events::Stream;
use tokio_util::sync::CancellationToken;

/// A reply text with what breaks naive readers: multi-byte characters, a blank line,
/// indentation and no final newline.
pub const TEXT: &str =
    "first line\nsecond: ünïcödé ✓ 日本語\n\n  indented fourth\nno newline at end";
pub const PROMPT: &str = "[clk] agent=engineer stage=build run=r1\nWrite the thing.";

/// The lines the sink must see for [`TEXT`].
pub fn expected_lines() -> Vec<String> {
    TEXT.split('\n').map(str::to_string).collect()
}

pub fn request(timeout_ms: u64) -> Request {
    Request {
        agent: "engineer".into(),
        stage: Some("build".into()),
        objective: "build".into(),
        run_id: "r1".into(),
        prompt: PROMPT.into(),
        workdir: std::env::temp_dir(),
        timeout: Duration::from_millis(timeout_ms),
        idle_timeout: None,
        cancel: CancellationToken::new(),
        sandbox: clk::engine::agents::providers::Isolation::None,
    }
}

/// Dispatch once; the lines the sink saw come back with the result, each with its arrival.
pub async fn run_timed(
    p: &dyn Provider,
    req: &Request,
) -> (Result<Reply, ProviderError>, Vec<(String, Instant)>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    let sink = OutputSink::new(move |stream, line| {
        assert_eq!(stream, Stream::Model);
        s2.lock().unwrap().push((line.to_string(), Instant::now()));
    });
    let out = p.dispatch(req, &sink).await;
    let lines = seen.lock().unwrap().clone();
    (out, lines)
}

/// Dispatch once; the lines the sink saw come back with the result.
pub async fn run_req(
    p: &dyn Provider,
    req: &Request,
) -> (Result<Reply, ProviderError>, Vec<String>) {
    let (out, lines) = run_timed(p, req).await;
    (out, lines.into_iter().map(|(l, _)| l).collect())
}
