//! A server's `Retry-After` on 429/503 sets the wait before the next attempt, through the
//! real `clk ask` against the mock server; a huge value is capped by the provider's timeout.

use crate::support;

use std::path::Path;
use std::time::Duration;

use assert_cmd::Command;
use support::mock_server::{MockServer, Reply, Script};

const REPLY: &str = "Adding the greeter.\n\
ACTION: write\nPATH: greeter.py\nCONTENT:\ndef hello():\n    return \"hello\"\nEND_ACTION\n\
CONFIDENCE: 0.8\nPROGRESS: yes\n";

fn clk(dir: &Path) -> Command {
    let mut c = support::clk();
    c.current_dir(dir).env("CLK_NO_TUI", "1");
    c
}

/// The pause between the first and second model call when the first answers `code` with
/// `Retry-After: retry_after`, on a provider whose time limit is `timeout_s`.
fn gap(code: u16, retry_after: &str, timeout_s: u64) -> Duration {
    let d = tempfile::tempdir().unwrap();
    clk(d.path()).arg("init").assert().success();
    clk(d.path())
        .args(["configure", "--set", "provider_retry.backoff_ms=10"])
        .assert()
        .success();
    let mock = MockServer::start(Script::new(vec![
        Reply::status_retry_after(code, r#"{"error":"slow down"}"#, retry_after),
        Reply::text(REPLY),
    ]));
    clk(d.path())
        .env("CLK_PROVIDER", "ollama")
        .env("CLK_OLLAMA_ENDPOINT", mock.url())
        .env("CLK_OLLAMA_MODEL", "test-model")
        .env("CLK_OLLAMA_TIMEOUT_S", timeout_s.to_string())
        .args(["ask", "engineer", "add a greeter"])
        .assert()
        .success();
    let calls = mock.model_requests();
    assert_eq!(calls.len(), 2);
    calls[1].at.duration_since(calls[0].at)
}

#[test]
fn the_wait_between_attempts_follows_retry_after() {
    let g = gap(429, "2", 30);
    assert!(
        g >= Duration::from_millis(1900) && g < Duration::from_millis(2900),
        "{g:?}"
    );
    let g = gap(503, "1", 30);
    assert!(
        g >= Duration::from_millis(900) && g < Duration::from_millis(1900),
        "{g:?}"
    );
}

#[test]
fn a_huge_retry_after_is_capped_by_the_provider_timeout() {
    let g = gap(429, "86400", 2);
    assert!(
        g >= Duration::from_millis(1900) && g < Duration::from_millis(3500),
        "{g:?}"
    );
}

#[test]
fn a_retry_after_date_is_waited_for() {
    // Ten minutes from now, so the project's set-up time does not matter: the wait is the
    // provider's 2 s limit, where clk's own backoff would have been 10 ms.
    let at = chrono::Utc::now() + chrono::Duration::seconds(600);
    let g = gap(503, &at.format("%a, %d %b %Y %H:%M:%S GMT").to_string(), 2);
    assert!(
        g >= Duration::from_millis(1900) && g < Duration::from_millis(3500),
        "{g:?}"
    );
}
