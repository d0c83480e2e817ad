//! Contract tests: clk's claude, codex, gemini and pi providers running the REAL programs
//! against the mock model server. Each must turn the mock's scripted reply into the reply
//! text, the usage numbers the mock sent, and live lines; and each failure (endpoint down,
//! key refused, rate limited, a model that never answers) must end as a classified error
//! within the configured time.
//!
//! See tests/support/clis.rs for where the programs come from and when these tests skip.

use crate::support;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clk::engine::agents::providers::cli::{Cli, CliProvider};
use clk::engine::agents::providers::{
    ErrorKind, OutputSink, Provider, ProviderError, Reply, Request,
};
use clk::engine::ground::events::Stream;
use support::clis::{bin_dir, home_dir, settings};
use support::mock_server::{MockServer, Reply as MockReply, Script, closed_url};
use tokio_util::sync::CancellationToken;

const KEY: &str = "sk-test-contract-5f2a9c";
const ANSWER: &str = "Hello from the mock: ünïcödé ✓\nSecond line.";
const CLIS: [&str; 4] = ["claude", "codex", "gemini", "pi"];

struct Run {
    result: Result<Reply, ProviderError>,
    lines: Vec<(Stream, String)>,
    pids: Vec<u32>,
    elapsed: Duration,
}

fn dispatch(kind: &str, bin: &Path, url: &str, timeout: Duration) -> Run {
    dispatch_prompt(
        kind,
        bin,
        url,
        timeout,
        "[clk] agent=engineer stage=none run=r1\nSay hello.",
    )
}

fn dispatch_prompt(kind: &str, bin: &Path, url: &str, timeout: Duration, prompt: &str) -> Run {
    let home = home_dir();
    let work = tempfile::tempdir().unwrap();
    let s = settings(kind, bin, url, KEY, home.path());
    let p = CliProvider::new(kind, Cli::from_kind(kind).unwrap(), &s);
    let req = Request {
        agent: "engineer".into(),
        stage: None,
        run_id: "r1".into(),
        objective: "say hello".into(),
        prompt: prompt.into(),
        workdir: work.path().to_path_buf(),
        timeout,
        idle_timeout: None,
        cancel: CancellationToken::new(),
        // The sandbox every dispatch gets: the CLI must work inside it.
        sandbox: clk::engine::act::confine::for_commands(
            &clk::engine::ground::config::SandboxConfig::default(),
            work.path(),
        ),
    };
    let lines = Arc::new(Mutex::new(Vec::new()));
    let pids = Arc::new(Mutex::new(Vec::new()));
    let (l2, p2) = (lines.clone(), pids.clone());
    let sink = OutputSink::new(move |s, l| l2.lock().unwrap().push((s, l.to_string())))
        .on_process_start(move |pid, _| p2.lock().unwrap().push(pid));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let t = Instant::now();
    let result = rt.block_on(p.dispatch(&req, &sink));
    let elapsed = t.elapsed();
    let lines = lines.lock().unwrap().clone();
    let pids = pids.lock().unwrap().clone();
    Run {
        result,
        lines,
        pids,
        elapsed,
    }
}

fn replies_and_reports_usage(kind: &str) {
    let Some(bin) = bin_dir() else { return };
    let mock = MockServer::start(
        Script::new(vec![MockReply::chunked(ANSWER, 5, Some((42, 17)))])
            .api_key(KEY)
            .models(&["gpt-mock", "gemini-mock", "claude-mock-1", "test-model"]),
    );
    let run = dispatch(kind, &bin, &mock.url(), Duration::from_secs(60));
    let shown: Vec<&str> = run.lines.iter().map(|(_, l)| l.as_str()).collect();
    let reply = run
        .result
        .unwrap_or_else(|e| panic!("{kind}: {e:?}\nlines: {shown:#?}"));
    assert_eq!(reply.text, ANSWER, "{kind}");
    assert_eq!(reply.usage.input_tokens, 42, "{kind}: {:?}", reply.usage);
    assert_eq!(reply.usage.output_tokens, 17, "{kind}: {:?}", reply.usage);
    assert!(!reply.usage.estimated, "{kind}");
    assert_eq!(reply.usage.source, format!("{kind}-json"));
    for want in ["Hello from the mock: ünïcödé ✓", "Second line."] {
        let times = run
            .lines
            .iter()
            .filter(|(s, l)| *s == Stream::Model && l == want)
            .count();
        assert_eq!(
            times, 1,
            "{kind}: {want:?} was not streamed once as model text: {shown:#?}"
        );
    }
    assert_eq!(run.pids.len(), 1, "{kind}: one process started");
    let calls = mock.model_requests();
    assert!(!calls.is_empty(), "{kind} made no model call");
    let body = calls.last().unwrap().body.clone();
    assert!(
        body.contains("Say hello."),
        "{kind}: prompt not sent: {body:.300}"
    );
}

#[test]
fn claude_replies_and_reports_usage() {
    replies_and_reports_usage("claude");
}

#[test]
fn codex_replies_and_reports_usage() {
    replies_and_reports_usage("codex");
}

#[test]
fn gemini_replies_and_reports_usage() {
    replies_and_reports_usage("gemini");
}

#[test]
fn pi_replies_and_reports_usage() {
    replies_and_reports_usage("pi");
}

#[test]
fn a_prompt_too_long_for_an_argument_goes_by_stdin() {
    let Some(bin) = bin_dir() else { return };
    // Over Linux's 128 KiB limit for one argument.
    let prompt = format!(
        "[clk] agent=engineer stage=none run=r1\n{}\nEND-OF-PROMPT-MARKER",
        "Background line for the agent to read.\n".repeat(4000)
    );
    assert!(prompt.len() > 131_072);
    let handles: Vec<_> =
        CLIS.iter()
            .map(|kind| {
                let (bin, prompt) = (bin.clone(), prompt.clone());
                std::thread::spawn(move || {
                    let mock = MockServer::start(
                        Script::new(vec![MockReply::chunked(ANSWER, 50, Some((42, 17)))])
                            .models(&["gpt-mock", "gemini-mock", "claude-mock-1", "test-model"]),
                    );
                    let run =
                        dispatch_prompt(kind, &bin, &mock.url(), Duration::from_secs(90), &prompt);
                    (kind, run, mock.model_requests())
                })
            })
            .collect();
    for h in handles {
        let (kind, run, calls) = h.join().unwrap();
        let reply = run.result.unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert_eq!(reply.text, ANSWER, "{kind}");
        let body = &calls.last().expect("a model call").body;
        assert!(body.contains("END-OF-PROMPT-MARKER"), "{kind}: prompt cut");
        assert!(
            body.matches("Background line for the agent to read.")
                .count()
                >= 4000,
            "{kind}: prompt incomplete"
        );
    }
}

/// Every CLI against one failure: the error kind each must report, within `limit`.
fn fails_cleanly(
    what: &str,
    script: Option<Script>,
    timeout: Duration,
    limit: Duration,
    want: ErrorKind,
) {
    let Some(bin) = bin_dir() else { return };
    let handles: Vec<_> = CLIS
        .iter()
        .map(|kind| {
            let (bin, script) = (bin.clone(), script.clone());
            std::thread::spawn(move || {
                let mock = script.map(MockServer::start);
                let url = mock.as_ref().map_or_else(closed_url, |m| m.url());
                let run = dispatch(kind, &bin, &url, timeout);
                (kind, run)
            })
        })
        .collect();
    for h in handles {
        let (kind, run) = h.join().unwrap();
        let e = match run.result {
            Ok(r) => panic!("{what}: {kind} answered {:?}", r.text),
            Err(e) => e,
        };
        assert_eq!(e.kind, want, "{what}: {kind}: {e}");
        assert!(e.message.starts_with(kind), "{what}: {e}");
        assert!(
            run.elapsed < limit,
            "{what}: {kind} took {:?} (limit {limit:?})",
            run.elapsed
        );
        assert!(
            !e.message.contains(KEY),
            "{what}: {kind} leaked the key: {e}"
        );
    }
}

#[test]
fn an_endpoint_that_is_down_fails_fast_and_retryable() {
    fails_cleanly(
        "endpoint down",
        None,
        Duration::from_secs(60),
        Duration::from_secs(25),
        ErrorKind::Retryable,
    );
}

#[test]
fn a_refused_key_is_an_auth_error() {
    let script = Script::new(vec![MockReply::text("never sent")])
        .api_key("sk-a-different-key")
        .models(&["gpt-mock", "gemini-mock", "claude-mock-1", "test-model"]);
    fails_cleanly(
        "401",
        Some(script),
        Duration::from_secs(60),
        Duration::from_secs(25),
        ErrorKind::Auth,
    );
}

#[test]
fn rate_limits_are_retryable() {
    let script = Script::new(vec![MockReply::status(
        429,
        r#"{"error":{"message":"rate limited","type":"rate_limit_error"}}"#,
    )])
    .fallback(support::mock_server::Fallback::RepeatLast);
    fails_cleanly(
        "429",
        Some(script),
        Duration::from_secs(60),
        Duration::from_secs(25),
        ErrorKind::Retryable,
    );
}

#[test]
fn a_model_that_never_answers_is_killed_at_the_timeout() {
    let script = Script::new(vec![MockReply::Stall])
        .fallback(support::mock_server::Fallback::Reply(MockReply::Stall));
    fails_cleanly(
        "hang",
        Some(script),
        Duration::from_secs(8),
        Duration::from_secs(10),
        ErrorKind::Timeout,
    );
}

/// Not a test: refreshes tests/fixtures/cli/ from the real programs. Run with
/// `cargo test --test all record_fixtures -- --ignored`, then trim by hand.
#[test]
#[ignore = "a tool, not a test: refreshes the recorded CLI fixtures"]
fn record_fixtures() {
    let Some(bin) = bin_dir() else { return };
    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-fixtures");
    std::fs::create_dir_all(&out_dir).unwrap();
    let ok = || {
        Some(
            Script::new(vec![MockReply::chunked(
                "Hello from the mock.\nSecond line.",
                5,
                Some((12, 7)),
            )])
            .models(&["gpt-mock", "gemini-mock", "claude-mock-1", "test-model"]),
        )
    };
    let refused = || Some(Script::new(vec![]).api_key("sk-other"));
    let only = std::env::var("CLK_RECORD_ONLY").unwrap_or_default();
    for kind in CLIS.into_iter().filter(|k| only.is_empty() || only == *k) {
        for (case, script) in [("ok", ok()), ("401", refused()), ("down", None)] {
            let mock = script.map(MockServer::start);
            let url = mock.as_ref().map_or_else(closed_url, |m| m.url());
            let home = home_dir();
            let s = settings(kind, &bin, &url, KEY, home.path());
            std::fs::create_dir_all(home.path().join(".codex")).unwrap();
            let p = CliProvider::new(kind, Cli::from_kind(kind).unwrap(), &s);
            let inv = p.invocation(
                "Say hello.",
                clk::engine::agents::providers::cli::PromptVia::Arg,
            );
            let out = std::process::Command::new(s.command.as_deref().unwrap())
                .args(&inv.args)
                .envs(&inv.env)
                .current_dir(home.path())
                .stdin(std::process::Stdio::null())
                .output()
                .unwrap();
            let path = out_dir.join(format!("{kind}-{case}.jsonl"));
            std::fs::write(&path, &out.stdout).unwrap();
            std::fs::write(path.with_extension("err"), &out.stderr).unwrap();
            eprintln!("{kind}-{case}: exit {:?}", out.status.code());
        }
    }
}
