//! Cost and budget end to end against the mock model server: a price set in providers.json
//! makes mock usage cost real money, the cost lands in events, run records, the persisted
//! totals and `clk status`, and a spending cap stops a headless run before the next model call
//! with a clear reason and exit code 3.

use crate::support;

use std::fs;
use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;
use support::mock_server::{Fallback, MockServer, Reply, Script};

const REPLY: &str = "Adding the greeter so the check has something to find.\n\
ACTION: write\nPATH: greeter.py\nCONTENT:\ndef hello():\n    return \"hello\"\nEND_ACTION\n\
CONFIDENCE: 0.8\nPROGRESS: yes\n";

fn clk(dir: &Path) -> Command {
    let mut c = support::clk();
    c.current_dir(dir).env("CLK_NO_TUI", "1");
    c
}

/// A project whose ollama provider points at `url` and costs $1 per million tokens each way:
/// a mock reply of 1,000 input and 1,000 output tokens costs $0.002.
fn priced_project(url: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    clk(d.path()).arg("init").assert().success();
    clk(d.path())
        .args([
            "configure",
            "--set",
            "default_provider=ollama",
            "--set",
            &format!("providers.ollama.endpoint={url}"),
            "--set",
            "providers.ollama.model=test-model",
            "--set",
            "providers.ollama.price.input_per_mtok=1",
            "--set",
            "providers.ollama.price.output_per_mtok=1",
            "--set",
            "provider_retry.backoff_ms=50",
        ])
        .assert()
        .success();
    d
}

fn activity(dir: &Path) -> Vec<Value> {
    fs::read_to_string(dir.join(".clk/logs/activity.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn status_json(dir: &Path) -> Value {
    let out = clk(dir)
        .args(["status", "--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    serde_json::from_slice(&out).unwrap()
}

#[test]
fn a_priced_dispatch_records_its_cost_everywhere() {
    let mock = MockServer::start(Script::new(vec![Reply::text_usage(REPLY, 1_000, 1_000)]));
    let d = priced_project(&mock.url());
    clk(d.path())
        .args(["ask", "engineer", "add a greeter"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "engineer: 1000 tokens in, 1000 out, $0.002",
        ));
    let usage = activity(d.path())
        .into_iter()
        .find(|e| e["event"] == "usage_recorded")
        .unwrap();
    assert_eq!(usage["cost_micros"], 2_000);
    assert_eq!(usage["cost_basis"], "configured");
    let memory = fs::read_to_string(d.path().join(".clk/state/agent_memory.jsonl")).unwrap();
    let rec: Value = serde_json::from_str(memory.lines().next().unwrap()).unwrap();
    assert_eq!(rec["cost_micros"], 2_000);
    assert_eq!(rec["cost_basis"], "configured");

    // The totals survive the process: a new one reads them back.
    let s = status_json(d.path());
    assert_eq!(s["usage"]["total"]["cost_micros"], 2_000);
    assert_eq!(s["usage"]["providers"]["ollama"]["cost"], "$0.002");
    assert_eq!(s["usage"]["agents"]["engineer"]["output_tokens"], 1_000);
    assert_eq!(s["budget"]["enabled"], false);
    clk(d.path())
        .arg("status")
        .assert()
        .success()
        .stdout(predicate::str::contains("cost $0.002"))
        .stdout(predicate::str::contains(" by provider\n  ollama"))
        .stdout(predicate::str::contains(" by agent\n  engineer"));
}

#[test]
fn a_session_cap_stops_a_headless_loop_before_the_next_model_call() {
    // Every call answers the same priced reply: $0.002 a call.
    let mock = MockServer::start(
        Script::new(vec![Reply::text_usage(REPLY, 1_000, 1_000)]).fallback(Fallback::RepeatLast),
    );
    let d = priced_project(&mock.url());
    // $0.003: the first call leaves $0.001, the second takes spend to $0.004, past the cap.
    clk(d.path())
        .args(["configure", "--set", "budget.session_usd_cap=0.003"])
        .assert()
        .success();
    clk(d.path())
        .args(["loop", "--max-iterations", "5"])
        .assert()
        .code(3)
        .stdout(predicate::str::contains("budget: ralph took spend to $0.002").not())
        .stdout(predicate::str::contains(
            "budget: engineer took spend to $0.004 of the $0.003 cap (budget.session_usd_cap)",
        ))
        .stderr(predicate::str::contains(
            "clk: stopped by the budget: session spend $0.004 reached the $0.003 cap \
             (budget.session_usd_cap); raise it with `clk configure --set \
             budget.session_usd_cap=USD` or start a new session with `clk budget --reset`",
        ));
    // ralph and the engineer were called; qa, next in line, was not.
    assert_eq!(mock.model_calls(), 2);
    let events = activity(d.path());
    let names: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    let reached = names.iter().position(|n| *n == "budget_reached").unwrap();
    let stopped = names.iter().position(|n| *n == "budget_stopped").unwrap();
    assert!(reached < stopped);
    let stop = &events[stopped];
    assert_eq!(stop["agent"], "qa");
    assert_eq!(stop["spent_micros"], 4_000);
    assert_eq!(stop["cap_micros"], 3_000);
    // No dispatch started after the stop.
    assert!(!names[stopped..].contains(&"dispatch_started"));

    let s = status_json(d.path());
    assert_eq!(s["usage"]["total"]["cost_micros"], 4_000);
    assert_eq!(s["budget"]["caps"][0]["reached"], true);

    // Still over the cap: a new command stops before calling the model at all.
    clk(d.path())
        .args(["ask", "engineer", "one more"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("stopped by the budget"));
    assert_eq!(mock.model_calls(), 2);

    // A new session starts from zero and the old one is filed.
    clk(d.path())
        .args(["budget", "--reset"])
        .assert()
        .success()
        .stdout(predicate::str::contains("(2 dispatches, $0.004)"));
    clk(d.path())
        .args(["ask", "engineer", "one more"])
        .assert()
        .success();
    assert_eq!(mock.model_calls(), 3);
    let history = fs::read_to_string(d.path().join(".clk/state/usage-history.jsonl")).unwrap();
    assert_eq!(history.lines().count(), 1);
}

#[test]
fn an_agent_cap_stops_only_that_agent_and_env_sets_it() {
    let mock = MockServer::start(
        Script::new(vec![Reply::text_usage(REPLY, 1_000, 1_000)]).fallback(Fallback::RepeatLast),
    );
    let d = priced_project(&mock.url());
    let ask = |agent: &str| {
        let mut c = clk(d.path());
        c.env("CLK_BUDGET_AGENT_USD_CAPS", "engineer=0.002")
            .args(["ask", agent, "add a greeter"]);
        c
    };
    ask("engineer").assert().success();
    ask("qa").assert().success();
    ask("engineer")
        .assert()
        .code(3)
        .stderr(predicate::str::contains(
            "engineer's spend $0.002 reached the $0.002 cap (budget.agent_usd_caps.engineer)",
        ));
    assert_eq!(mock.model_calls(), 2);
    clk(d.path())
        .env("CLK_BUDGET_AGENT_USD_CAPS", "engineer=0.002")
        .arg("budget")
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "budget.agent_usd_caps.engineer     $0.002 of $0.002  (reached",
        ));
}

#[test]
fn an_openai_compatible_server_is_free_unless_it_serves_a_model_the_table_knows() {
    let mock = MockServer::start(
        Script::new(vec![Reply::text_usage(REPLY, 10_000, 10_000)]).fallback(Fallback::RepeatLast),
    );
    let d = tempfile::tempdir().unwrap();
    clk(d.path()).arg("init").assert().success();
    for model in ["local-llama", "openai/gpt-4o-mini"] {
        clk(d.path())
            .env("CLK_PROVIDER", "openwebui")
            .env("CLK_OPENWEBUI_ENDPOINT", format!("{}/v1", mock.url()))
            .env("CLK_OPENWEBUI_MODEL", model)
            .args(["ask", "engineer", "add a greeter"])
            .assert()
            .success();
    }
    let costs: Vec<(Value, Value)> = activity(d.path())
        .into_iter()
        .filter(|e| e["event"] == "usage_recorded")
        .map(|e| (e["cost_basis"].clone(), e["cost_micros"].clone()))
        .collect();
    // gpt-4o-mini: 10,000 in at $0.15/M + 10,000 out at $0.60/M = $0.0075.
    assert_eq!(
        costs,
        vec![
            (Value::from("free"), Value::from(0)),
            (Value::from("table"), Value::from(7_500))
        ]
    );
}
