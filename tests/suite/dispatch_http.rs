//! `clk ask` end to end against the mock model server, over the Ollama and OpenAI-compatible
//! protocols: the trace line reaches the model, streamed lines become events, usage comes from
//! the protocol, retryable failures are retried with events, and hard failures end cleanly.

use crate::support;

use std::fs;
use std::path::Path;
use std::process::Command as StdCommand;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use predicates::prelude::*;
use support::mock_server::{MockServer, Reply, Script, closed_url};

const REPLY: &str = "Adding the greeter.\n\
ACTION: write\nPATH: greeter.py\nCONTENT:\ndef hello():\n    return \"hello\"\nEND_ACTION\n\
CONFIDENCE: 0.8\nPROGRESS: yes\n";

fn project() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    clk(d.path()).arg("init").assert().success();
    clk(d.path())
        .args(["configure", "--set", "provider_retry.backoff_ms=50"])
        .assert()
        .success();
    d
}

fn clk(dir: &Path) -> Command {
    let mut c = support::clk();
    c.current_dir(dir).env("CLK_NO_TUI", "1");
    c
}

fn ollama(dir: &Path, url: &str) -> Command {
    let mut c = clk(dir);
    c.env("CLK_PROVIDER", "ollama")
        .env("CLK_OLLAMA_ENDPOINT", url)
        .env("CLK_OLLAMA_MODEL", "test-model");
    c
}

fn activity(dir: &Path) -> Vec<serde_json::Value> {
    fs::read_to_string(dir.join(".clk/logs/activity.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn ollama_dispatch_writes_commits_and_records_real_usage() {
    let d = project();
    let mock = MockServer::start(Script::new(vec![Reply::chunked(REPLY, 5, Some((321, 45)))]));
    ollama(d.path(), &mock.url())
        .args(["ask", "engineer", "add a greeter"])
        .assert()
        .success()
        .stdout(predicate::str::contains("engineer │ ACTION: write"))
        .stdout(predicate::str::contains("engineer: 321 tokens in, 45 out"));

    let reqs = mock.model_requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].path, "/api/chat");
    let body = reqs[0].json.as_ref().unwrap();
    assert_eq!(body["model"], "test-model");
    let prompt = body["messages"][0]["content"].as_str().unwrap();
    assert!(
        prompt.starts_with("[clk] agent=engineer stage=none run="),
        "{prompt:.80}"
    );

    assert_eq!(
        fs::read_to_string(d.path().join("greeter.py")).unwrap(),
        "def hello():\n    return \"hello\"\n"
    );
    let log = StdCommand::new("git")
        .args(["log", "-1", "--format=%s%n%b"])
        .current_dir(d.path())
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&log.stdout);
    assert!(
        log.starts_with("[engineer] update greeter.py\nTask: add a greeter"),
        "{log}"
    );
    assert!(log.contains("Tokens: total=366 in=321 out=45\n"), "{log}");

    let events = activity(d.path());
    let usage = events
        .iter()
        .find(|e| e["event"] == "usage_recorded")
        .unwrap();
    assert_eq!(usage["usage"]["input_tokens"], 321);
    assert_eq!(usage["usage"]["estimated"], false);
    let lines: Vec<&str> = events
        .iter()
        .filter(|e| e["event"] == "agent_output")
        .map(|e| e["line"].as_str().unwrap())
        .collect();
    assert_eq!(lines.join("\n"), REPLY.trim_end());
    let memory = fs::read_to_string(d.path().join(".clk/state/agent_memory.jsonl")).unwrap();
    let rec: serde_json::Value = serde_json::from_str(memory.lines().next().unwrap()).unwrap();
    assert_eq!(rec["usage"]["output_tokens"], 45);
    assert_eq!(rec["provider"], "ollama");
}

#[test]
fn openai_compatible_dispatch_uses_the_key_and_usage() {
    let d = project();
    let mock = MockServer::start(
        Script::new(vec![Reply::text_usage(REPLY, 100, 20)]).api_key("sk-local-test-key-1234"),
    );
    clk(d.path())
        .env("CLK_PROVIDER", "openwebui")
        .env("CLK_OPENWEBUI_ENDPOINT", format!("{}/v1", mock.url()))
        .env("CLK_OPENWEBUI_MODEL", "m1")
        .env("CLK_OPENWEBUI_API_KEY", "sk-local-test-key-1234")
        .args(["ask", "engineer", "add a greeter"])
        .assert()
        .success();
    assert!(d.path().join("greeter.py").is_file());
    let reqs = mock.model_requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].path, "/v1/chat/completions");
    let usage = activity(d.path())
        .into_iter()
        .find(|e| e["event"] == "usage_recorded")
        .unwrap();
    assert_eq!(usage["usage"]["input_tokens"], 100);
    assert_eq!(usage["usage"]["output_tokens"], 20);
    let all = fs::read_to_string(d.path().join(".clk/logs/activity.jsonl")).unwrap();
    assert!(!all.contains("sk-local-test-key-1234"));
}

#[test]
fn rate_limits_are_retried_with_events() {
    let d = project();
    let mock = MockServer::start(Script::new(vec![
        Reply::status(429, "slow down"),
        Reply::status(503, "busy"),
        Reply::text_usage(REPLY, 10, 10),
    ]));
    ollama(d.path(), &mock.url())
        .args(["ask", "engineer", "add a greeter"])
        .assert()
        .success()
        .stdout(predicate::str::contains("attempt 1/4 failed"))
        .stdout(predicate::str::contains("attempt 2/4 failed"));
    assert_eq!(mock.model_calls(), 3);
    let retries = activity(d.path())
        .into_iter()
        .filter(|e| e["event"] == "provider_retry")
        .count();
    assert_eq!(retries, 2);
}

#[test]
fn auth_failure_is_not_retried_and_fails_cleanly() {
    let d = project();
    let mock = MockServer::start(Script::new(vec![Reply::status(401, "bad key")]));
    ollama(d.path(), &mock.url())
        .args(["ask", "engineer", "x"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("engineer: failed"));
    assert_eq!(mock.model_calls(), 1);
    let fin = activity(d.path())
        .into_iter()
        .find(|e| e["event"] == "dispatch_finished")
        .unwrap();
    assert_eq!(fin["error_kind"], "auth");
}

#[test]
fn endpoint_down_ends_quickly_with_a_clear_reason() {
    let d = project();
    let started = Instant::now();
    ollama(d.path(), &closed_url())
        .args(["ask", "engineer", "x"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("connection refused"));
    // Three retries at 50 ms doubling: well under a few seconds, never minutes.
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn a_hanging_model_is_cut_off_by_the_timeout() {
    let d = project();
    clk(d.path())
        .args([
            "configure",
            "--set",
            "provider_timeout_s=1",
            "--set",
            "provider_retry.max_retries=0",
        ])
        .assert()
        .success();
    let mock = MockServer::start(Script::new(vec![Reply::Stall]));
    let started = Instant::now();
    ollama(d.path(), &mock.url())
        .args(["ask", "engineer", "x"])
        .assert()
        .code(1);
    assert!(started.elapsed() < Duration::from_secs(6));
    let fin = activity(d.path())
        .into_iter()
        .find(|e| e["event"] == "dispatch_finished")
        .unwrap();
    assert_eq!(fin["error_kind"], "timeout");
}
