//! Wall time of one real agent-CLI call against the mock model server: through clk's provider
//! versus the same program run by hand with the same arguments and environment. Goal: within
//! 5%. Runs alternate between the two so machine noise hits both alike; medians are printed.
//!
//! `cargo bench --bench cli_wall` (needs tests/install-clis.sh's programs; `CLK_WALL_RUNS`
//! sets the runs per side, default 7). Under `cargo test` it does nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed step is a failed test

// The test helpers' own unit tests are compiled here too and use things only tests need.
#[allow(unused_imports)]
#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use clk::engine::agents::providers::cli::{Cli, CliProvider, PromptVia};
use clk::engine::agents::providers::{OutputSink, Provider, Request};
use support::clis::{bin_dir, home_dir, settings};
use support::mock_server::{Fallback, MockServer, Reply, Script};
use tokio_util::sync::CancellationToken;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let Some(bin) = bin_dir() else { return };
    let runs: usize = std::env::var("CLK_WALL_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(7);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    println!("cli     runs  by-hand median  clk median  difference");
    for kind in ["claude", "codex", "gemini", "pi"] {
        let reply = Reply::chunked("Hello from the mock.\nSecond line.", 5, Some((12, 7)));
        let mock = MockServer::start(
            Script::new(vec![reply])
                .fallback(Fallback::RepeatLast)
                .models(&["gpt-mock", "gemini-mock", "claude-mock-1", "test-model"]),
        );
        let home = home_dir();
        for sub in [".claude", ".codex", ".gemini", ".pi/agent"] {
            std::fs::create_dir_all(home.path().join(sub)).unwrap();
        }
        let work = tempfile::tempdir().unwrap();
        let s = settings(kind, &bin, &mock.url(), "sk-bench", home.path());
        let provider = CliProvider::new(kind, Cli::from_kind(kind).unwrap(), &s);
        let prompt = "[clk] agent=engineer stage=none run=r1\nSay hello.";
        let inv = provider.invocation(prompt, PromptVia::Arg);
        let req = Request {
            agent: "engineer".into(),
            stage: None,
            run_id: "r1".into(),
            objective: "x".into(),
            prompt: prompt.into(),
            workdir: work.path().to_path_buf(),
            timeout: Duration::from_secs(120),
            idle_timeout: None,
            cancel: CancellationToken::new(),
            // The sandbox every dispatch gets: the CLI must work inside it.
            sandbox: clk::engine::act::confine::for_commands(
                &clk::engine::ground::config::SandboxConfig::default(),
                work.path(),
            ),
        };
        let sink = OutputSink::discard();
        // One warm-up each (disk cache, Node's compile cache).
        let (mut by_hand, mut via_clk) = (Vec::new(), Vec::new());
        let by_hand_once = || {
            let t = Instant::now();
            let out = std::process::Command::new(s.command.as_deref().unwrap())
                .args(&inv.args)
                .envs(&inv.env)
                .current_dir(work.path())
                .stdin(std::process::Stdio::null())
                .output()
                .unwrap();
            assert!(out.status.success(), "{kind} by hand: {out:?}");
            t.elapsed()
        };
        let via_clk_once = || {
            let t = Instant::now();
            let r = rt.block_on(provider.dispatch(&req, &sink));
            assert!(r.is_ok(), "{kind} via clk: {r:?}");
            t.elapsed()
        };
        // Run 0 warms both up; after that the order alternates.
        for i in 0..=runs {
            let (hand, ours) = if i % 2 == 0 {
                let h = by_hand_once();
                (h, via_clk_once())
            } else {
                let c = via_clk_once();
                (by_hand_once(), c)
            };
            if i > 0 {
                by_hand.push(hand);
                via_clk.push(ours);
            }
        }
        let (h, c) = (median(by_hand), median(via_clk));
        let diff = (c.as_secs_f64() - h.as_secs_f64()) / h.as_secs_f64() * 100.0;
        println!(
            "{kind:<7} {runs:>4}  {:>12.0} ms  {:>8.0} ms  {diff:>+8.1}%",
            h.as_secs_f64() * 1000.0,
            c.as_secs_f64() * 1000.0
        );
    }
}
