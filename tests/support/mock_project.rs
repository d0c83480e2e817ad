//! A project whose agents are answered by the mock model server (Ollama protocol), for the
//! robustness tests: build it, run a workflow pass, and read back what the mock saw and what
//! the engine reported.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clk::engine::ground::config::Env;
use clk::engine::runs::stages::runner::{PassOptions, PassReport, run_pass};
use clk::engine::store::bus::Bus;
use clk::engine::store::live::Live;
use clk::engine::store::workflow::{Workflow, load};
use clk::engine::store::workspace::{Project, Workspace, read_jsonl};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::mock_server::MockServer;

/// Every robustness knob that spends extra calls, off (the cheapest setting).
pub const KNOBS_OFF: [(&str, &str); 5] = [
    ("CLK_ROBUSTNESS_AUTO_CONSENSUS", "off"),
    ("CLK_ROBUSTNESS_AUTO_REFINE", "off"),
    ("CLK_ROBUSTNESS_MAX_QUALITY_RETRIES", "0"),
    ("CLK_ROBUSTNESS_PLATEAU_ACTION", "off"),
    ("CLK_RECOVERY_DISPATCH_ON_UNMET_OUTPUTS", "false"),
];

/// A fresh folder `p` inside a temp dir (the guard removes it).
pub fn new_dir() -> (tempfile::TempDir, PathBuf) {
    let top = tempfile::tempdir().unwrap();
    let dir = top.path().join("p");
    std::fs::create_dir(&dir).unwrap();
    (top, dir)
}

/// Init a project in `dir`, with `env` as the only `CLK_*` overrides, served by `mock`.
pub fn project(dir: &Path, mock: &MockServer, env: &[(&str, &str)]) -> Project {
    clk::engine::store::init::init(dir, Some("demo")).unwrap();
    let mut p = Workspace::new(dir.canonicalize().unwrap())
        .load(&Env::fixed(env.iter().copied()))
        .unwrap();
    p.providers.active = "ollama".into();
    let o = p.providers.providers.get_mut("ollama").unwrap();
    o.endpoint = Some(mock.url());
    o.model = Some("test-model".into());
    p
}

/// Parse `yaml` against the project's roster.
pub fn workflow(p: &Project, yaml: &str) -> Workflow {
    let roster = clk::engine::store::roster::roster_names(&p.ws, &p.agents);
    load("test.yaml", yaml, &roster).unwrap()
}

/// One pass of `wf`, events logged to the project's activity log.
pub async fn pass(p: &Project, wf: &Workflow) -> PassReport {
    let bus = Bus::new(Some(p.ws.activity_log()));
    run_pass(
        &mut Live::new(p.clone()),
        &bus,
        wf,
        &PassOptions::default(),
        &CancellationToken::new(),
    )
    .await
    .unwrap()
}

/// The prompt of every model call, in arrival order.
pub fn prompts(mock: &MockServer) -> Vec<String> {
    mock.model_requests()
        .iter()
        .map(|r| {
            r.json.as_ref().unwrap()["messages"][0]["content"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

/// `agent=` of a prompt's trace line.
pub fn agent_of(prompt: &str) -> String {
    prompt
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .find_map(|w| w.strip_prefix("agent="))
        .unwrap_or_default()
        .to_string()
}

/// Model calls per agent.
pub fn calls_by_agent(mock: &MockServer) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for p in prompts(mock) {
        *m.entry(agent_of(&p)).or_default() += 1;
    }
    m
}

pub fn events(p: &Project) -> Vec<Value> {
    read_jsonl(&p.ws.activity_log())
}

/// The events named `name`.
pub fn named(p: &Project, name: &str) -> Vec<Value> {
    events(p)
        .into_iter()
        .filter(|e| e["event"] == name)
        .collect()
}

/// Every run's meta.json, in run order.
pub fn run_metas(p: &Project) -> Vec<Value> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(p.ws.runs_dir())
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    dirs.sort();
    dirs.iter()
        .filter_map(|d| std::fs::read_to_string(d.join("meta.json")).ok())
        .filter_map(|t| serde_json::from_str(&t).ok())
        .collect()
}

/// The real binary in `dir`, headless, with every agent answered by `mock` and the robustness
/// knobs that spend extra calls off ([`KNOBS_OFF`]), so a test can count calls exactly.
pub fn clk_on(dir: &Path, mock: &MockServer) -> assert_cmd::Command {
    assert_cmd::Command::from_std(clk_process_on(dir, mock))
}

/// [`clk_on`] as a plain process, for a test that spawns the binary and kills it.
pub fn clk_process_on(dir: &Path, mock: &MockServer) -> std::process::Command {
    let mut c = super::clk_process();
    c.current_dir(dir)
        .env("CLK_NO_TUI", "1")
        .env("CLK_PROVIDER", "ollama")
        .env("CLK_OLLAMA_ENDPOINT", mock.url())
        .env("CLK_OLLAMA_MODEL", "test-model")
        .envs(KNOBS_OFF);
    c
}

/// Every event in the project's activity log, in order.
pub fn activity(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join(".clk/logs/activity.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}
