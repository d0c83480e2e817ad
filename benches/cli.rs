//! Harness overhead of one agent-CLI dispatch, measured against a trivial fake CLI (a script
//! that prints a recorded Claude Code stream-json reply), so the CLI's own time is near zero:
//! - `fake_claude/direct`: the script run by std::process with its output read, the floor;
//! - `fake_claude/clk`: the same script through clk's claude provider (process group, env,
//!   live line streaming, JSON folding, usage);
//! - `parse/*`: folding a recorded reply, per CLI, with no process at all.
//!
//! Overhead per dispatch = clk − direct. Goal: under 5 ms.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed step is a failed test

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use clk::engine::agents::providers::cli::{Cli, CliProvider};
use clk::engine::agents::providers::{OutputSink, Provider, Request};
use clk::engine::ground::config::ProviderSettings;
use criterion::{Criterion, criterion_group, criterion_main};
use tokio_util::sync::CancellationToken;

const CLAUDE_OK: &str = include_str!("../tests/fixtures/cli/claude-ok.jsonl");

fn fake(dir: &Path) -> std::path::PathBuf {
    let fixture = dir.join("reply.jsonl");
    std::fs::write(&fixture, CLAUDE_OK).unwrap();
    let p = dir.join("claude");
    std::fs::write(&p, format!("#!/bin/sh\nexec cat {}\n", fixture.display())).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

fn bench_dispatch(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let program = fake(dir.path());
    let settings = ProviderSettings {
        kind: "claude".into(),
        command: Some(program.display().to_string()),
        ..Default::default()
    };
    let provider = CliProvider::new("claude", Cli::Claude, &settings);
    let req = Request {
        agent: "engineer".into(),
        stage: None,
        run_id: "r1".into(),
        objective: "x".into(),
        prompt: format!("[clk] agent=engineer\n{}", "Do the thing.\n".repeat(200)),
        workdir: dir.path().to_path_buf(),
        timeout: Duration::from_secs(30),
        idle_timeout: None,
        cancel: CancellationToken::new(),
        sandbox: clk::engine::agents::providers::Isolation::None,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let sink = OutputSink::new(|_, l| {
        std::hint::black_box(l);
    });
    let mut g = c.benchmark_group("fake_claude");
    g.sample_size(60);
    g.bench_function("direct", |b| {
        b.iter(|| {
            let out = std::process::Command::new(&program)
                .arg(&req.prompt)
                .stdin(std::process::Stdio::null())
                .current_dir(dir.path())
                .output()
                .unwrap();
            assert!(out.stdout.len() > 100);
        })
    });
    g.bench_function("clk", |b| {
        b.iter(|| {
            let r = rt.block_on(provider.dispatch(&req, &sink)).unwrap();
            assert_eq!(r.usage.output_tokens, 7);
        })
    });
    g.finish();
}

fn bench_parse(c: &mut Criterion) {
    let mut g = c.benchmark_group("parse");
    for (kind, text) in [
        ("claude", CLAUDE_OK),
        (
            "codex",
            include_str!("../tests/fixtures/cli/codex-ok.jsonl"),
        ),
        (
            "gemini",
            include_str!("../tests/fixtures/cli/gemini-ok.jsonl"),
        ),
        ("pi", include_str!("../tests/fixtures/cli/pi-ok.jsonl")),
    ] {
        let cli = Cli::from_kind(kind).unwrap();
        g.bench_function(kind, |b| {
            b.iter(|| {
                let mut p = clk::engine::agents::providers::cli::parser(cli);
                let mut shown = 0usize;
                for line in text.lines() {
                    p.feed(line, &mut |_, _| shown += 1);
                }
                let r = p.finish(Some(0), "").unwrap();
                std::hint::black_box((r, shown));
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench_dispatch, bench_parse);
criterion_main!(benches);
