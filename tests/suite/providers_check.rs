//! `clk providers` with endpoints that never answer: every check runs at once under one hard
//! deadline, so the command reports them as not usable, with the reason, instead of waiting.
//! The speed itself is measured in `benches/providers.rs`; the bound here only catches a hang,
//! and the deadline itself is unit-tested with a check that never ends (src/cmd/providers.rs).

use crate::support;

use std::path::Path;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use support::blackhole::{Blackhole, Silent};
use support::mock_server::{MockServer, Script, closed_url};

fn clk(dir: &Path) -> Command {
    let mut c = support::clk();
    c.current_dir(dir).env("CLK_NO_TUI", "1");
    c
}

#[test]
fn a_probe_to_a_blackhole_confirms_it_hangs() {
    let hole = Blackhole::start();
    let t = Instant::now();
    let r = std::net::TcpStream::connect_timeout(&hole.addr(), Duration::from_millis(300));
    assert!(r.is_err(), "the blackhole accepted a connection");
    assert!(
        t.elapsed() >= Duration::from_millis(250),
        "it refused at once instead of hanging"
    );
}

#[test]
fn unreachable_endpoints_are_reported_without_waiting_for_them() {
    let d = tempfile::tempdir().unwrap();
    clk(d.path()).arg("init").assert().success();
    let hole = Blackhole::start();
    let silent = Silent::start();
    let live = MockServer::start(Script::new(vec![]).models(&["m1"]));
    let providers = serde_json::json!({"providers": {
        "hole": {"type": "ollama", "endpoint": hole.url(), "model": "llama3.1"},
        "silent": {"type": "openwebui", "endpoint": format!("{}/v1", silent.url()), "model": "m1"},
        "closed": {"type": "ollama", "endpoint": closed_url(), "model": "llama3.1"},
        "live": {"type": "openwebui", "endpoint": format!("{}/v1", live.url()), "model": "m1"},
        "paid": {"type": "openwebui", "endpoint": format!("{}/v1", live.url()), "model": "m1",
                 "price": {"input_per_mtok": 3, "output_per_mtok": 15}},
    }});
    std::fs::write(
        d.path().join(".clk/config/providers.json"),
        serde_json::to_string_pretty(&providers).unwrap(),
    )
    .unwrap();
    let started = Instant::now();
    // A longer deadline than the default 0.75 s, so a busy test machine cannot push the live
    // server's answer past it; the dead endpoints still fail on their own short limits.
    let out = clk(d.path())
        .env("CLK_OLLAMA_ENDPOINT", hole.url())
        .env("CLK_PROVIDERS_TIMEOUT_MS", "4000")
        .arg("providers")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let elapsed = started.elapsed();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let reason = |name: &str| v["providers"][name]["reason"].as_str().unwrap().to_string();
    for name in ["hole", "silent", "closed", "ollama"] {
        assert_eq!(v["available"][name], false, "{name}: {v}");
        assert!(!reason(name).is_empty(), "{name} has no reason");
    }
    assert!(reason("closed").contains("refused"), "{}", reason("closed"));
    assert!(
        reason("hole").contains("no answer within 250 ms"),
        "{}",
        reason("hole")
    );
    assert!(
        reason("silent").contains("gave no answer within"),
        "{}",
        reason("silent")
    );
    assert_eq!(v["available"]["live"], true, "{v}");
    assert_eq!(v["available"]["shell"], true);
    assert_eq!(v["providers"]["shell"]["price"]["basis"], "free");
    assert_eq!(v["providers"]["paid"]["price"]["basis"], "configured");
    assert_eq!(v["providers"]["paid"]["price"]["output_per_mtok"], 15.0);
    assert!(v["checked_ms"].is_u64(), "{v}");
    // A hang guard, not the speed goal (that is benches/providers.rs): endpoints that never
    // answer must not hold the command for long.
    assert!(elapsed < Duration::from_secs(8), "{elapsed:?}");
    clk(d.path())
        .env("CLK_PROVIDERS_TIMEOUT_MS", "soon")
        .arg("providers")
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "use milliseconds from 50 to 60000",
        ));
}

/// A server that answers but does not list the configured model (LiteLLM and Open WebUI route
/// names they do not list): `clk doctor` warns and names what it lists; nothing fails, and
/// `/doctor` in an engine says the same.
#[test]
fn doctor_warns_when_the_server_does_not_list_the_model_and_names_what_it_lists() {
    let d = tempfile::tempdir().unwrap();
    clk(d.path()).arg("init").assert().success();
    let mock = MockServer::start(Script::new(vec![]).models(&["a1", "b2", "c3", "d4", "e5", "f6"]));
    let providers = serde_json::json!({"active": "routed", "providers": {
        "routed": {"type": "openwebui", "endpoint": format!("{}/v1", mock.url()), "model": "mock"},
    }});
    std::fs::write(
        d.path().join(".clk/config/providers.json"),
        serde_json::to_string_pretty(&providers).unwrap(),
    )
    .unwrap();
    let out = clk(d.path()).arg("doctor").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let line = text
        .lines()
        .find(|l| l.contains("provider routed (active)"))
        .unwrap_or_else(|| panic!("no line for the provider:\n{text}"));
    assert!(line.trim_start().starts_with("warn"), "{line}");
    assert!(
        line.contains(
            "model mock is not in the server's list (it lists: a1, b2, c3, d4, e5, …); it may \
             still work"
        ),
        "{line}"
    );
    assert!(!text.contains("not served"), "{text}");
    assert!(
        !text.lines().any(|l| l.trim_start().starts_with("fail")),
        "{text}"
    );
    assert!(out.status.success(), "a warning is not a failure:\n{text}");
    assert_eq!(mock.model_calls(), 0, "the check calls no model");
}
