//! `clk ask` end to end with claude, codex and gemini in api mode against the mock model
//! server: the vendor's own variables pick key and base URL, the ACTION block is applied and
//! committed, usage from the protocol is recorded, and the key appears in no file under .clk/,
//! no commit, and no output.

use crate::support;

use std::fs;
use std::path::Path;
use std::process::Command as StdCommand;

use assert_cmd::Command;
use predicates::prelude::*;
use support::mock_server::{MockServer, Reply, Script};

const REPLY: &str = "Adding the greeter.\n\
ACTION: write\nPATH: greeter.py\nCONTENT:\ndef hello():\n    return \"hello\"\nEND_ACTION\n\
CONFIDENCE: 0.8\nPROGRESS: yes\n";

fn clk(dir: &Path) -> Command {
    let mut c = support::clk();
    c.current_dir(dir).env("CLK_NO_TUI", "1");
    c
}

fn project() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    clk(d.path()).arg("init").assert().success();
    clk(d.path())
        .args(["configure", "--set", "provider_retry.backoff_ms=50"])
        .assert()
        .success();
    d
}

/// Every file under `dir`, as bytes, with its path.
fn files_under(dir: &Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(bytes) = fs::read(&p) {
                out.push((p, bytes));
            }
        }
    }
    out
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

struct Case {
    provider: &'static str,
    key_var: &'static str,
    base_var: &'static str,
    /// Appended to the mock's URL for the base variable.
    base_suffix: &'static str,
    extra_env: &'static [(&'static str, &'static str)],
    path: &'static str,
    source: &'static str,
}

const CASES: [Case; 4] = [
    Case {
        provider: "claude",
        key_var: "ANTHROPIC_API_KEY",
        base_var: "ANTHROPIC_BASE_URL",
        base_suffix: "",
        extra_env: &[],
        path: "/v1/messages",
        source: "anthropic-usage",
    },
    Case {
        provider: "codex",
        key_var: "OPENAI_API_KEY",
        base_var: "OPENAI_BASE_URL",
        base_suffix: "/v1",
        extra_env: &[],
        path: "/v1/responses",
        source: "openai-responses-usage",
    },
    Case {
        provider: "codex",
        key_var: "OPENAI_API_KEY",
        base_var: "OPENAI_BASE_URL",
        base_suffix: "/v1",
        extra_env: &[("CLK_CODEX_API_STYLE", "chat")],
        path: "/v1/chat/completions",
        source: "openai-usage",
    },
    Case {
        provider: "gemini",
        key_var: "GEMINI_API_KEY",
        base_var: "GOOGLE_GEMINI_BASE_URL",
        base_suffix: "",
        extra_env: &[("CLK_GEMINI_MODEL", "gemini-mock")],
        path: "/v1beta/models/gemini-mock:streamGenerateContent",
        source: "gemini-usage",
    },
];

#[test]
fn api_mode_dispatch_applies_actions_records_usage_and_keeps_the_key_secret() {
    for case in CASES {
        let ctx = format!("{} {:?}", case.provider, case.extra_env);
        let key = format!("fake-{}-key-e2e-7Qx", case.provider);
        let d = project();
        let mock = MockServer::start(Script::new(vec![Reply::chunked(REPLY, 5, Some((321, 45)))]));
        let mode_var = format!("CLK_{}_MODE", case.provider.to_uppercase());
        let mut cmd = clk(d.path());
        // The most verbose log, so a key slipping into any log line would be caught below.
        cmd.env("CLK_PROVIDER", case.provider)
            .env("CLK_LOG_LEVEL", "trace")
            .env(&mode_var, "api")
            .env(case.key_var, &key)
            .env(case.base_var, format!("{}{}", mock.url(), case.base_suffix));
        for (k, v) in case.extra_env {
            cmd.env(k, v);
        }
        let out = cmd
            .args(["ask", "engineer", "add a greeter"])
            .assert()
            .success()
            .stdout(predicate::str::contains("engineer │ ACTION: write"))
            .stdout(predicate::str::contains("engineer: 321 tokens in, 45 out"))
            .get_output()
            .clone();
        assert!(
            !contains(&out.stdout, &key) && !contains(&out.stderr, &key),
            "{ctx}"
        );

        let reqs = mock.model_requests();
        assert_eq!(reqs.len(), 1, "{ctx}");
        assert_eq!(reqs[0].path, case.path, "{ctx}");
        assert_eq!(
            fs::read_to_string(d.path().join("greeter.py")).unwrap(),
            "def hello():\n    return \"hello\"\n",
            "{ctx}"
        );
        let activity = fs::read_to_string(d.path().join(".clk/logs/activity.jsonl")).unwrap();
        let usage: serde_json::Value = activity
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .find(|e| e["event"] == "usage_recorded")
            .unwrap();
        assert_eq!(usage["usage"]["input_tokens"], 321, "{ctx}");
        assert_eq!(usage["usage"]["output_tokens"], 45, "{ctx}");
        assert_eq!(usage["usage"]["source"], case.source, "{ctx}");
        assert_eq!(usage["usage"]["estimated"], false, "{ctx}");

        let log = fs::read_to_string(d.path().join(".clk/logs/clk.log")).unwrap_or_default();
        assert!(log.contains("dispatch"), "{ctx}: the trace log was written");
        for (path, bytes) in files_under(&d.path().join(".clk")) {
            assert!(
                !contains(&bytes, &key),
                "{ctx}: the key is in {}",
                path.display()
            );
        }
        let log = StdCommand::new("git")
            .args(["log", "-p", "--all"])
            .current_dir(d.path())
            .output()
            .unwrap();
        assert!(log.status.success());
        assert!(
            contains(&log.stdout, "greeter.py"),
            "{ctx}: the write was committed"
        );
        assert!(
            !contains(&log.stdout, &key),
            "{ctx}: the key is in a commit"
        );
    }
}

#[test]
fn api_mode_without_a_key_fails_cleanly_and_says_what_to_set() {
    let d = project();
    let mock = MockServer::start(Script::new(vec![Reply::text(REPLY)]));
    clk(d.path())
        .env("CLK_PROVIDER", "claude")
        .env("CLK_CLAUDE_MODE", "api")
        .env("ANTHROPIC_BASE_URL", mock.url())
        .args(["ask", "engineer", "x"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("set ANTHROPIC_API_KEY"));
    assert!(mock.requests().is_empty());
}

#[test]
fn clk_providers_reports_api_mode_keys_quickly() {
    let d = project();
    let mock = MockServer::start(Script::new(vec![]));
    let started = std::time::Instant::now();
    let out = clk(d.path())
        .env("CLK_CLAUDE_MODE", "api")
        .env("ANTHROPIC_API_KEY", "fake-key-for-providers")
        .env("ANTHROPIC_BASE_URL", mock.url())
        .env("CLK_GEMINI_MODE", "api")
        .env("CLK_PI_MODE", "api")
        .arg("providers")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let p = &v["providers"];
    assert_eq!(p["claude"]["usable"], true, "{v}");
    assert_eq!(p["gemini"]["usable"], false);
    let reason = p["gemini"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("set GEMINI_API_KEY or GOOGLE_API_KEY"),
        "{reason}"
    );
    let reason = p["pi"]["reason"].as_str().unwrap();
    assert!(reason.contains("no api mode"), "{reason}");
    assert!(mock.requests().is_empty(), "check must not call the model");
    assert!(!contains(&out, "fake-key-for-providers"));
}
