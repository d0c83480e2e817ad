//! Missions through the real binary against the mock model server: a charter sent back once,
//! a plan of two gated phases, a failed gate sending its phase back, and `--resume` after the
//! process was killed with SIGKILL in the middle of a phase.

use crate::support;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use predicates::prelude::*;
use serde_json::Value;
use support::mock_project::{clk_on as clk, clk_process_on, prompts};
use support::mock_server::{MockServer, Reply, Script};

/// A one-stage workflow whose engineer sees the mission's posts.
const WORKFLOW: &str = r#"name: m
stages:
  - id: work
    agent: engineer
    objective: Work on the current mission phase.
    inputs: [type:plan, type:review]
"#;

fn project(top: &Path, mock: &MockServer) -> PathBuf {
    let dir = top.join("proj");
    fs::create_dir(&dir).unwrap();
    clk(&dir, mock).arg("init").assert().success();
    fs::write(dir.join(".clk/config/workflows/m.yaml"), WORKFLOW).unwrap();
    dir
}

fn prompt_of(mock: &MockServer, call: usize) -> String {
    prompts(mock).swap_remove(call)
}

fn state(dir: &Path) -> Value {
    serde_json::from_str(&fs::read_to_string(dir.join(".clk/mission/state.json")).unwrap()).unwrap()
}

const CHARTER: &str = "PROPOSE_CHARTER\nMISSION: two files\nSCOPE: a.txt; b.txt\n\
    SUCCESS: both files exist\nEND_CHARTER\n";

fn write(path: &str) -> String {
    format!("ACTION: write\nPATH: {path}\nCONTENT:\nhello\nEND_ACTION\nPROGRESS: yes\n")
}

#[test]
fn two_phases_a_charter_sent_back_and_a_failed_gate_sent_back() {
    let top = tempfile::tempdir().unwrap();
    let plan = "PROPOSE_PLAN\nPHASE: core | The core\nWORKFLOW: m\nGOAL: write a.txt\n\
        FILE: a.txt\nPHASE: docs | Docs\nWORKFLOW: m\nGOAL: write b.txt\nGATE: test -f b.txt\n\
        END_PLAN\n";
    let mock = MockServer::start(Script::new(vec![
        Reply::text("PROPOSE_CHARTER\nMISSION: two files\nEND_CHARTER\n"),
        Reply::text(CHARTER),
        Reply::text(plan),
        Reply::text(&write("wrong.txt")),
        Reply::text(&write("a.txt")),
        Reply::text("The plan holds.\nKEEP_PLAN\n"),
        Reply::text(&write("b.txt")),
    ]));
    let dir = project(top.path(), &mock);
    clk(&dir, &mock)
        .args(["mission", "Deliver a.txt, then b.txt"])
        .assert()
        .success()
        .stdout(predicate::str::contains("gate failed"))
        .stdout(predicate::str::contains(
            "mission done: 2/2 phase(s) passed",
        ));
    assert_eq!(mock.model_calls(), 7);
    // The bad charter went back once with what was wrong.
    let second = prompt_of(&mock, 1);
    assert!(second.contains("MISSION CHARTER, second try"), "{second}");
    assert!(second.contains("SCOPE is missing or empty"));
    assert!(second.contains("SUCCESS is missing or empty"));
    // The phase's goal reached the engineer; after the failed gate, so did what failed.
    assert!(prompt_of(&mock, 3).contains("Mission phase 1/2: core (The core), attempt 1 of 3"));
    let retry = prompt_of(&mock, 4);
    assert!(retry.contains("attempt 2 of 3"), "{retry}");
    assert!(retry.contains("missing file(s): a.txt"), "{retry}");
    assert!(prompt_of(&mock, 5).contains("MISSION REPLAN: phases passed: core"));

    let st = state(&dir);
    assert_eq!(st["status"], "done");
    assert_eq!(st["charter"]["success"][0], "both files exist");
    let core = &st["phases"][0];
    assert_eq!(
        (core["id"].as_str(), core["attempt"].as_u64()),
        (Some("core"), Some(2))
    );
    let history: Vec<bool> = core["gate_history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["passed"].as_bool().unwrap())
        .collect();
    assert_eq!(history, [false, true]);
    assert_eq!(st["phases"][1]["status"], "passed");
    assert!(dir.join("a.txt").is_file() && dir.join("b.txt").is_file());
    let plan_md = fs::read_to_string(dir.join(".clk/mission/plan.md")).unwrap();
    assert!(plan_md.contains("[x] core"), "{plan_md}");
    assert!(plan_md.contains("- attempt 1: gate failed: missing file(s): a.txt"));

    clk(&dir, &mock)
        .args(["mission", "status"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "mission done: 2/2 phase(s) passed",
        ))
        .stdout(predicate::str::contains("1. core (m) passed, attempt 2/3"));
    let out = clk(&dir, &mock)
        .args(["mission", "status", "--json"])
        .output()
        .unwrap();
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["phases"][1]["id"], "docs");
}

#[test]
fn a_gate_that_keeps_failing_stalls_the_mission() {
    let top = tempfile::tempdir().unwrap();
    let plan = "PROPOSE_PLAN\nPHASE: core\nWORKFLOW: m\nGOAL: write a.txt\nFILE: a.txt\nEND_PLAN\n";
    let mock = MockServer::start(Script::new(vec![
        Reply::text(CHARTER),
        Reply::text(plan),
        Reply::text(&write("x1.txt")),
        Reply::text(&write("x2.txt")),
        Reply::text(&write("x3.txt")),
    ]));
    let dir = project(top.path(), &mock);
    clk(&dir, &mock)
        .args(["mission", "Deliver a.txt"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "phase core failed its gate 3 time(s): missing file(s): a.txt",
        ));
    assert_eq!(mock.model_calls(), 5);
    assert_eq!(state(&dir)["status"], "stalled");
    // A stalled mission is over: nothing to resume, and a new one may start.
    clk(&dir, &mock)
        .args(["mission", "--resume"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("nothing to resume"));
}

#[test]
fn resume_after_kill_9_mid_phase_reruns_that_attempt() {
    let top = tempfile::tempdir().unwrap();
    let plan = "PROPOSE_PLAN\nPHASE: core\nWORKFLOW: m\nGOAL: write a.txt\nFILE: a.txt\nEND_PLAN\n";
    let mock = MockServer::start(Script::new(vec![
        Reply::text(CHARTER),
        Reply::text(plan),
        // Still answering when the process is killed.
        Reply::delay(60_000, Reply::text(&write("late.txt"))),
        Reply::text(&write("a.txt")),
    ]));
    let dir = project(top.path(), &mock);

    let mut cmd = clk_process_on(&dir, &mock);
    cmd.args(["mission", "Deliver a.txt"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut child = cmd.spawn().unwrap();
    let start = Instant::now();
    while mock.model_calls() < 3 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the phase never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();

    let st = state(&dir);
    assert_eq!(st["status"], "running");
    assert_eq!(st["phases"][0]["status"], "running");
    assert_eq!(st["phases"][0]["attempt"], 1);
    clk(&dir, &mock)
        .args(["mission", "status"])
        .assert()
        .success()
        .stdout(predicate::str::contains("phase core attempt 1/3"));
    // Starting another mission over it is refused; --resume carries on.
    clk(&dir, &mock)
        .args(["mission", "something else"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("clk mission --resume"));
    clk(&dir, &mock)
        .args(["mission", "--resume"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "mission done: 1/1 phase(s) passed",
        ));
    // Charter and plan were not asked for again: one more call, the phase's.
    assert_eq!(mock.model_calls(), 4);
    assert!(prompt_of(&mock, 3).contains("attempt 1 of 3"));
    let st = state(&dir);
    assert_eq!(st["phases"][0]["attempt"], 1);
    assert_eq!(st["phases"][0]["gate_history"].as_array().unwrap().len(), 1);
    assert!(dir.join("a.txt").is_file());
    assert!(!dir.join("late.txt").exists());
}
