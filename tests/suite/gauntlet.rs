//! The gauntlet against the mock model server, through the real binary: a stage that
//! converges after one revision, one that hits its preset's cap and is repaired once after the
//! final check, one stopped by the session's dispatch budget, and a failed critique that keeps
//! the worker's result; `/gauntlet` through the engine. Every run counts the mock's calls
//! exactly.

use std::fs;
use std::path::Path;

use assert_cmd::Command;
use clk::engine::Engine;
use clk::engine::ground::events::{Command as EngineCommand, Event};
use clk::engine::ground::slash::{Slash, parse};
use clk::engine::store::bus::Bus;
use clk::engine::store::workspace::{read_json, write_json};
use serde_json::Value;

use super::engine_commands::{report, submit};
use crate::support;
use support::mock_project::{KNOBS_OFF, agent_of, clk_on, new_dir, project, prompts};
use support::mock_server::{MockServer, Reply, Script};

const BUILD: &str = r#"
name: g
stages:
  - id: build
    agent: engineer
    objective: Write app.txt with the greeting.
"#;

const TWO_BUILDS: &str = r#"
name: g
stages:
  - id: build
    agent: engineer
    objective: Write app.txt with the greeting.
  - id: docs
    agent: engineer
    depends_on: [build]
    objective: Write docs.txt.
"#;

/// A worker reply that writes `path` and states its own answer key.
fn work(path: &str, text: &str) -> String {
    format!(
        "Wrote {path}.\nACTION: write\nPATH: {path}\nCONTENT:\n{text}\nEND_ACTION\n\
         ANSWER_KEY:\n- k1: {path} holds the greeting\nEND_ANSWER_KEY\nCONFIDENCE: 0.9\n"
    )
}

/// A reply that writes `path` with no answer key.
fn plain(path: &str, text: &str) -> String {
    format!(
        "Wrote {path}.\nACTION: write\nPATH: {path}\nCONTENT:\n{text}\nEND_ACTION\nCONFIDENCE: 0.9\n"
    )
}

const REVISE: &str = "app.txt greets nobody.\nVERDICT: revise\nSCORE: 0.3\nMATERIAL_DEFECTS: 1\n";
const ACCEPT: &str = "Nothing material left.\nVERDICT: accept\nSCORE: 0.95\nMATERIAL_DEFECTS: 0\n";

fn clk(dir: &Path, mock: &MockServer, env: &[(&str, &str)]) -> Command {
    let mut c = clk_on(dir, mock);
    c.envs(KNOBS_OFF.iter().copied())
        .env("CLK_GAUNTLET_ENABLED", "true")
        .envs(env.iter().copied());
    c
}

/// `clk init`, the workflow, then `clk run --workflow g` for one cycle; returns the events
/// and what the run printed.
fn run(dir: &Path, mock: &MockServer, yaml: &str, env: &[(&str, &str)]) -> (Vec<Value>, String) {
    run_with(dir, mock, yaml, env, &[])
}

/// As [`run`], with `flags` before the subcommand (`--json`).
fn run_with(
    dir: &Path,
    mock: &MockServer,
    yaml: &str,
    env: &[(&str, &str)],
    flags: &[&str],
) -> (Vec<Value>, String) {
    clk(dir, mock, env).arg("init").assert().success();
    fs::write(dir.join(".clk/config/workflows/g.yaml"), yaml).unwrap();
    // One cycle does not meet the done gate, so the exit code says "not done": not tested.
    let out = clk(dir, mock, env)
        .args(flags)
        .args(["run", "--workflow", "g", "--max-cycles", "1"])
        .output()
        .unwrap();
    let events = fs::read_to_string(dir.join(".clk/logs/activity.jsonl"))
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    (events, String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The gauntlet's steps as `step round ok`.
fn steps(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["event"] == "gauntlet")
        .map(|e| format!("{} {} {}", e["step"].as_str().unwrap(), e["round"], e["ok"]))
        .collect()
}

fn agents(mock: &MockServer) -> Vec<String> {
    prompts(mock).iter().map(|p| agent_of(p)).collect()
}

#[test]
fn a_gauntlet_converges_after_one_revision_and_retires_the_critic_loop() {
    let (_top, dir) = new_dir();
    let mock = MockServer::start(Script::new(vec![
        Reply::text(&work("app.txt", "hello")),
        Reply::text(REVISE),
        Reply::text(&plain("app.txt", "hello, world")),
        Reply::text(ACCEPT),
        Reply::text("PASS k1\nVERDICT: accept\nSCORE: 1\nMATERIAL_DEFECTS: 0\n"),
    ]));
    // The critic loop would review every stage; the gauntlet covering it turns that off.
    let (events, printed) = run(&dir, &mock, BUILD, &[("CLK_ROBUSTNESS_AUTO_REFINE", "all")]);
    // The headless log says each step in words.
    for line in [
        "gauntlet build critique 1/3: revise, 1 material defect(s), score 0.30",
        "gauntlet build revision 1/3: 1 file(s) changed",
        "gauntlet build verify: accept, 0 material defect(s), score 1.00",
    ] {
        assert!(printed.contains(line), "{line} not in:\n{printed}");
    }
    assert_eq!(
        agents(&mock),
        ["engineer", "critic", "engineer", "critic", "critic"]
    );
    assert_eq!(
        steps(&events),
        [
            "key 0 true",
            "critique 1 false",
            "revision 1 true",
            "critique 2 true",
            "verify 0 true",
            "finished 0 true"
        ]
    );
    assert!(!events.iter().any(|e| e["event"] == "refine_round"));
    let all = prompts(&mock);
    // The worker is told how to state its key; the critic sees the task without that note.
    assert!(
        all[0].contains("GAUNTLET: critic will attack your result"),
        "{}",
        all[0]
    );
    assert!(
        !all[1].contains("GAUNTLET: critic will attack"),
        "{}",
        all[1]
    );
    assert!(
        all[1].contains("- k1: app.txt holds the greeting"),
        "{}",
        all[1]
    );
    assert!(all[2].contains("app.txt greets nobody."), "{}", all[2]);
    assert_eq!(
        fs::read_to_string(dir.join("app.txt")).unwrap(),
        "hello, world\n"
    );
}

#[test]
fn a_gauntlet_that_hits_its_cap_is_verified_and_repaired_once() {
    let (_top, dir) = new_dir();
    let mock = MockServer::start(Script::new(vec![
        Reply::text(&plain("app.txt", "hello")),
        Reply::text("ANSWER_KEY:\n- k1: app.txt says hello, world\nEND_ANSWER_KEY\n"),
        Reply::text(REVISE),
        Reply::text(&plain("app.txt", "hello world")),
        Reply::text("FAIL k1: no comma\nVERDICT: revise\nSCORE: 0.5\nMATERIAL_DEFECTS: 1\n"),
        Reply::text(&plain("app.txt", "hello, world")),
    ]));
    // A declared output: its contract is the worker's, never the critic's.
    let yaml = format!("{BUILD}    outputs: [greeting]\n");
    let (events, _) = run(&dir, &mock, &yaml, &[("CLK_GAUNTLET_PRESET", "quick")]);
    // Quick is one round: the key, one critique and its revision, the check and one repair.
    assert_eq!(
        agents(&mock),
        [
            "engineer", "critic", "critic", "engineer", "critic", "engineer"
        ]
    );
    assert_eq!(
        steps(&events),
        [
            "key 0 true",
            "critique 1 false",
            "revision 1 true",
            "verify 0 false",
            "repair 0 true",
            "finished 0 true"
        ]
    );
    let all = prompts(&mock);
    assert!(
        all[2].contains("- k1: app.txt says hello, world"),
        "{}",
        all[2]
    );
    assert!(all[5].contains("FAIL k1: no comma"), "{}", all[5]);
    let contract = "REQUIRED OUTPUT CONTRACT";
    assert!(all[0].contains(contract), "{}", all[0]);
    for critic in [1, 2, 4] {
        assert!(!all[critic].contains(contract), "{}", all[critic]);
    }
    assert_eq!(
        fs::read_to_string(dir.join("app.txt")).unwrap(),
        "hello, world\n"
    );
}

#[test]
fn the_session_budget_stops_the_gauntlet_and_is_reported_once() {
    let (_top, dir) = new_dir();
    let mock = MockServer::start(Script::new(vec![
        Reply::text(&work("app.txt", "hello")),
        Reply::text(REVISE),
        Reply::text(&plain("app.txt", "hello, world")),
        Reply::text(&work("docs.txt", "docs")),
    ]));
    let (events, _) = run(&dir, &mock, TWO_BUILDS, &[("CLK_GAUNTLET_BUDGET", "2")]);
    // Two gauntlet dispatches (critique, revision); the check finds the budget spent, and the
    // second stage runs without the gauntlet.
    assert_eq!(
        agents(&mock),
        ["engineer", "critic", "engineer", "engineer"]
    );
    assert_eq!(
        steps(&events),
        [
            "key 0 true",
            "critique 1 false",
            "revision 1 true",
            "budget 0 false",
            "kept 0 false"
        ]
    );
    assert_eq!(
        fs::read_to_string(dir.join("app.txt")).unwrap(),
        "hello, world\n"
    );
    assert_eq!(fs::read_to_string(dir.join("docs.txt")).unwrap(), "docs\n");
}

#[test]
fn a_failed_critique_keeps_the_workers_result() {
    let (_top, dir) = new_dir();
    let mock = MockServer::start(Script::new(vec![
        Reply::text(&work("app.txt", "hello")),
        Reply::status(500, "critic down"),
    ]));
    let (events, printed) = run_with(
        &dir,
        &mock,
        BUILD,
        &[
            ("CLK_PROVIDER_RETRY_MAX_RETRIES", "0"),
            ("CLK_PROVIDER_RETRY_STAGE_MAX_RETRIES", "0"),
        ],
        &["--json"],
    );
    assert_eq!(agents(&mock), ["engineer", "critic"]);
    assert_eq!(
        steps(&events),
        ["key 0 true", "critique 1 false", "kept 0 false"]
    );
    // `--json` prints the same events as the log.
    let printed: Vec<Value> = printed
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert_eq!(steps(&printed), steps(&events));
    let finished = events
        .iter()
        .find(|e| e["event"] == "stage_finished" && e["stage"] == "build")
        .unwrap();
    assert_eq!(finished["ok"], true, "{finished}");
    assert_eq!(fs::read_to_string(dir.join("app.txt")).unwrap(), "hello\n");
}

#[test]
fn a_stage_with_its_own_refine_block_keeps_its_critic_loop_under_the_gauntlet() {
    let (_top, dir) = new_dir();
    let yaml = format!("{BUILD}    refine:\n      max_rounds: 1\n");
    let mock = MockServer::start(Script::new(vec![
        Reply::text(&work("app.txt", "hello")),
        Reply::text(ACCEPT),
        Reply::text(ACCEPT),
        Reply::text("PASS k1\nVERDICT: accept\nMATERIAL_DEFECTS: 0\n"),
    ]));
    let (events, _) = run(
        &dir,
        &mock,
        &yaml,
        &[
            ("CLK_ROBUSTNESS_AUTO_REFINE", "careful_only"),
            ("CLK_GAUNTLET_PRESET", "quick"),
        ],
    );
    assert_eq!(agents(&mock), ["engineer", "critic", "critic", "critic"]);
    let refine: Vec<&Value> = events
        .iter()
        .filter(|e| e["event"] == "refine_round")
        .collect();
    assert_eq!(refine.len(), 1);
    assert_eq!(
        steps(&events),
        [
            "key 0 true",
            "critique 1 true",
            "verify 0 true",
            "finished 0 true"
        ]
    );
}

#[test]
fn gauntlet_settings_are_set_with_configure_and_bad_words_are_refused() {
    let (_top, dir) = new_dir();
    let run = |args: &[&str], env: &[(&str, &str)]| {
        support::clk()
            .args(args)
            .current_dir(&dir)
            .envs(env.iter().copied())
            .output()
            .unwrap()
    };
    assert!(run(&["init"], &[]).status.success());
    for set in [
        "gauntlet.enabled=true",
        "gauntlet.preset=rigorous",
        "gauntlet.scope=all",
        "gauntlet.budget=40",
    ] {
        let out = run(&["configure", "--set", set], &[]);
        assert!(out.status.success(), "{set}: {out:?}");
    }
    let saved: Value =
        serde_json::from_str(&fs::read_to_string(dir.join(".clk/config/clk.config.json")).unwrap())
            .unwrap();
    assert_eq!(saved["gauntlet"]["enabled"], true);
    assert_eq!(saved["gauntlet"]["preset"], "rigorous");
    assert_eq!(saved["gauntlet"]["scope"], "all");
    assert_eq!(saved["gauntlet"]["budget"], 40);
    let bad = run(&["configure", "--set", "gauntlet.preset=max"], &[]);
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("gauntlet.preset is \"max\"; use one of: quick, standard, rigorous"),
        "{err}"
    );
    let bad = run(&["status"], &[("CLK_GAUNTLET_SCOPE", "some")]);
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("gauntlet.scope is \"some\"; use one of: careful_only, producing, all"),
        "{err}"
    );
}

#[test]
fn a_failed_revision_keeps_the_result_before_it() {
    let (_top, dir) = new_dir();
    let mock = MockServer::start(Script::new(vec![
        Reply::text(&work("app.txt", "hello")),
        Reply::text(REVISE),
        Reply::status(500, "worker down"),
    ]));
    let env = [
        ("CLK_PROVIDER_RETRY_MAX_RETRIES", "0"),
        ("CLK_PROVIDER_RETRY_STAGE_MAX_RETRIES", "0"),
    ];
    let (events, _) = run(&dir, &mock, BUILD, &env);
    assert_eq!(agents(&mock), ["engineer", "critic", "engineer"]);
    assert_eq!(
        steps(&events),
        [
            "key 0 true",
            "critique 1 false",
            "revision 1 false",
            "kept 0 false"
        ]
    );
    assert_eq!(fs::read_to_string(dir.join("app.txt")).unwrap(), "hello\n");
}

/// The engine on a project with workflow `g` (BUILD), its agents answered by `mock`.
fn engine(
    dir: &Path,
    mock: &MockServer,
) -> (clk::engine::EngineHandle, tokio::task::JoinHandle<()>) {
    let p = project(dir, mock, &KNOBS_OFF);
    fs::write(p.ws.workflows_dir().join("g.yaml"), BUILD).unwrap();
    // The engine reads the provider settings from disk for each command.
    let mut v = read_json(&p.ws.providers_file()).unwrap().unwrap();
    v["active"] = "ollama".into();
    v["providers"]["ollama"]["endpoint"] = mock.url().into();
    v["providers"]["ollama"]["model"] = "test-model".into();
    write_json(&p.ws.providers_file(), &v).unwrap();
    Engine::spawn(p, Bus::new(None))
}

#[tokio::test]
async fn stop_during_a_critique_ends_the_gauntlet_with_the_result_kept() {
    let (_top, dir) = new_dir();
    let mock = MockServer::start(Script::new(vec![
        Reply::text(&work("app.txt", "hello")),
        Reply::delay(800, Reply::text(REVISE)),
    ]));
    let (engine, _join) = engine(&dir, &mock);
    let mut rx = engine.subscribe();
    let (_, ok, _) = submit(&engine, &mut rx, slash("/gauntlet on")).await;
    assert!(ok);
    let id = engine
        .submit(EngineCommand::Run {
            workflow: "g".into(),
            max_cycles: Some(1),
            dry_run: false,
        })
        .unwrap();
    let mut seen = Vec::new();
    loop {
        let ev = tokio::time::timeout(std::time::Duration::from_secs(60), rx.recv())
            .await
            .unwrap()
            .unwrap();
        if matches!(&ev, Event::DispatchStarted { agent, .. } if agent == "critic") {
            engine.submit(EngineCommand::Stop).unwrap();
        }
        if matches!(&ev, Event::TaskFinished { task_id, .. } if *task_id == id) {
            break;
        }
        seen.push(ev);
    }
    // The critique in flight finished; no revision and no check followed it.
    assert_eq!(mock.model_calls(), 2);
    let steps: Vec<(String, String)> = seen
        .iter()
        .filter_map(|e| match e {
            Event::Gauntlet { step, message, .. } => Some((step.clone(), message.clone())),
            _ => None,
        })
        .collect();
    let names: Vec<&str> = steps.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(names, ["key", "critique", "kept"], "{steps:?}");
    assert!(steps[2].1.starts_with("stopped;"), "{steps:?}");
}

fn slash(text: &str) -> EngineCommand {
    match parse(text).unwrap() {
        Slash::Engine(c) => c,
        other => panic!("{text}: {other:?}"),
    }
}

#[tokio::test]
async fn gauntlet_slash_commands_switch_it_for_the_session_and_status_counts_dispatches() {
    let (_top, dir) = new_dir();
    let mock = MockServer::start(Script::new(vec![
        Reply::text(&work("app.txt", "hello")),
        Reply::text(ACCEPT),
        Reply::text("PASS k1\nVERDICT: accept\nMATERIAL_DEFECTS: 0\n"),
    ]));
    let (engine, _join) = engine(&dir, &mock);
    let mut rx = engine.subscribe();
    let (events, ok, _) = submit(&engine, &mut rx, slash("/gauntlet status")).await;
    assert!(ok);
    assert_eq!(
        report(&events, "gauntlet"),
        [
            "gauntlet: off (from the settings) · preset standard (3 round(s)) · scope producing \
             · critic critic",
            "dispatches this session: 0 of 500",
            "this session: /gauntlet on|off|quick|standard|rigorous; keep it: clk configure \
             --set gauntlet.enabled=true",
        ]
    );
    let (_, ok, summary) = submit(&engine, &mut rx, slash("/gauntlet rigorous")).await;
    assert!(ok);
    assert_eq!(
        summary,
        "gauntlet on for this session, preset rigorous (5 round(s)); it covers the next stage"
    );
    let run = EngineCommand::Run {
        workflow: "g".into(),
        max_cycles: Some(1),
        dry_run: false,
    };
    let (events, _, summary) = submit(&engine, &mut rx, run).await;
    let gauntlet: Vec<&Event> = events
        .iter()
        .filter(|e| matches!(e, Event::Gauntlet { .. }))
        .collect();
    assert_eq!(gauntlet.len(), 4, "{summary}: {gauntlet:?}");
    assert_eq!(mock.model_calls(), 3);
    let (events, _, _) = submit(&engine, &mut rx, slash("/gauntlet")).await;
    let lines = report(&events, "gauntlet");
    assert!(lines[0].starts_with("gauntlet: on (set for this session) · preset rigorous"));
    assert_eq!(lines[1], "dispatches this session: 2 of 500");
    let (_, _, summary) = submit(&engine, &mut rx, slash("/gauntlet off")).await;
    assert_eq!(summary, "gauntlet off for this session");
}

#[test]
fn the_dashboard_switches_the_gauntlet_and_shows_its_status() {
    use super::tui_tmux::{Tmux, launch, need_tmux, project};
    need_tmux!();
    let dir = project();
    let t = Tmux::start("gauntlet");
    launch(&t, dir.path(), "");
    t.wait_for("type your idea", 20);
    t.line("/gauntlet status");
    t.wait_for("gauntlet: off (from the settings)", 20);
    t.line("/gauntlet quick");
    t.wait_for("gauntlet on for this session, preset quick", 20);
    t.line("/gauntlet");
    t.wait_for("gauntlet: on (set for this session) · preset quick", 20);
    t.line("/gauntlet max");
    t.wait_for("usage: /gauntlet on|off|quick|standard|rigorous|status", 20);
    t.line("/quit");
    t.wait_prompt(10);
}
