//! Whole cycles through the real binary against the mock model server (Ollama protocol), with
//! scripted replies: casting, a custom workflow run to a granted done, a refused workflow
//! proposal, a blocking question routed to a peer, and bad input.

use crate::support;

use std::fs;
use std::path::Path;
use std::process::Command as StdCommand;

use assert_cmd::Command;
use predicates::prelude::*;
use support::mock_server::{MockServer, Reply, Script};

fn clk(dir: &Path, mock: &MockServer) -> Command {
    let mut c = support::clk();
    c.current_dir(dir)
        .env("CLK_NO_TUI", "1")
        .env("CLK_PROVIDER", "ollama")
        .env("CLK_OLLAMA_ENDPOINT", mock.url())
        .env("CLK_OLLAMA_MODEL", "test-model");
    c
}

fn git_log(dir: &Path) -> Vec<String> {
    let out = StdCommand::new("git")
        .args(["log", "--format=%an|%s"])
        .current_dir(dir)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

fn events(dir: &Path) -> Vec<serde_json::Value> {
    fs::read_to_string(dir.join(".clk/logs/activity.jsonl"))
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn prompt_of(mock: &MockServer, call: usize) -> String {
    let reqs = mock.model_requests();
    reqs[call].json.as_ref().unwrap()["messages"][0]["content"]
        .as_str()
        .unwrap()
        .to_string()
}

const CASTING: &str = r#"Roster: add a data steward.
PROPOSE_ROLE: data_steward
ROLE: owns the data model and migrations
PROMPT:
You are the data steward. You own SCHEMA.md and every migration. $objective
END_ROLE
PROPOSE_ROLE: coder
ROLE: writes code
PROMPT:
You write code.
END_ROLE
PROPOSE_WORKFLOW: engineering
DESCRIPTION: build, refine, test, review
YAML:
stages:
  - id: build
    agent: engineer
    objective: Build the app.
  - id: refine
    agent: ralph
    depends_on: [build]
    objective: One improvement.
  - id: check
    agent: qa
    depends_on: [refine]
    objective: Test it.
  - id: supervise
    agent: chief
    depends_on: [check]
    phase: review
    commit: false
    objective: "SUPERVISE: finish or name the next slice."
END_WORKFLOW
PROGRESS: yes
"#;

const BUILD: &str = "ACTION: write\nPATH: app.py\nCONTENT:\nprint('journal')\nEND_ACTION\n\
ACTION: write\nPATH: ../outside.py\nCONTENT:\nx = 1\nEND_ACTION\n\
POST: implementation\nPRODUCES: implementation\nBODY:\napp.py prints journal\nEND_POST\nPROGRESS: yes\n";

const RALPH: &str = "Add a docstring.\nACTION: edit\nPATH: app.py\nOLD:\nprint('journal')\nNEW:\n\
\"\"\"Journal app.\"\"\"\nprint('journal')\nEND_ACTION\nPROGRESS: yes\n";

const QA: &str =
    "POST: qa\nPRODUCES: qa_verdict\nBODY:\nPASS: app.py runs and prints journal\nEND_POST\n";

const SUPERVISE: &str =
    "All criteria hold.\nACTION: done\nREASON: the app runs and qa passed\nEND_ACTION\n";

#[test]
fn cast_then_run_to_a_granted_done() {
    let top = tempfile::tempdir().unwrap();
    let dir = top.path().join("proj");
    fs::create_dir(&dir).unwrap();
    let mock = MockServer::start(Script::new(vec![
        Reply::text_usage(CASTING, 100, 50),
        Reply::text_usage(BUILD, 100, 50),
        Reply::text_usage(RALPH, 100, 50),
        Reply::text_usage(QA, 100, 50),
        Reply::text_usage(SUPERVISE, 100, 50),
    ]));
    clk(&dir, &mock).arg("init").assert().success();
    clk(&dir, &mock)
        .args(["idea", "A journaling app"])
        .assert()
        .success()
        .stdout(predicate::str::contains("chief cast role data_steward"))
        .stdout(predicate::str::contains("proposed role coder: refused"))
        .stdout(predicate::str::contains("chief wrote workflow engineering"));
    assert!(prompt_of(&mock, 0).contains("CASTING: pick the team"));

    let agents: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(dir.join(".clk/config/agents.json")).unwrap())
            .unwrap();
    assert_eq!(agents["agents"]["data_steward"]["dynamic"], true);
    assert!(agents["agents"].get("coder").is_none());
    assert!(dir.join(".clk/prompts/data_steward.md").is_file());
    let log = fs::read_to_string(dir.join(".clk/state/casting.log")).unwrap();
    assert!(
        log.contains("role_rejected") && log.contains("coder"),
        "{log}"
    );
    let wf = fs::read_to_string(dir.join(".clk/config/workflows/engineering.yaml")).unwrap();
    assert!(
        wf.contains("id: refine") && wf.starts_with("name: engineering"),
        "{wf}"
    );
    assert!(
        git_log(&dir)[0]
            .starts_with("chief (clk)|[chief] casting: roles data_steward; workflow engineering")
    );

    clk(&dir, &mock)
        .args(["run", "--max-cycles", "2"])
        .assert()
        .success()
        .stdout(predicate::str::contains("refused write ../outside.py"))
        .stdout(predicate::str::contains("done gate: granted"))
        .stdout(predicate::str::contains(
            "engineering run done after 1 cycle(s)",
        ));
    assert_eq!(mock.model_calls(), 5);
    assert!(!top.path().join("outside.py").exists());
    assert_eq!(
        fs::read_to_string(dir.join("app.py")).unwrap(),
        "\"\"\"Journal app.\"\"\"\nprint('journal')\n"
    );
    let log = git_log(&dir);
    assert!(
        log.iter()
            .any(|l| l == "engineer (clk)|[engineer] update app.py"),
        "{log:?}"
    );
    assert!(
        log.iter().any(|l| l == "ralph (clk)|[ralph] update app.py"),
        "{log:?}"
    );
    assert!(dir.join(".clk/state/done_granted.md").is_file());
    let ev = events(&dir);
    let fin = ev.iter().find(|e| e["event"] == "run_finished").unwrap();
    assert_eq!(fin["outcome"], "done");
    assert!(
        ev.iter()
            .any(|e| e["event"] == "post_added" && e["post_type"] == "qa")
    );
    let decisions = fs::read_to_string(dir.join(".clk/state/decisions.md")).unwrap();
    assert!(
        decisions.contains("chief: role data_steward (added)"),
        "{decisions}"
    );
    assert!(
        decisions.contains("chief: refused role coder"),
        "{decisions}"
    );
    assert!(decisions.contains("done gate: granted"), "{decisions}");
    let progress = fs::read_to_string(dir.join(".clk/state/progress.md")).unwrap();
    assert!(progress.contains("engineering cycle 1: build ok, refine ok, check ok, supervise ok"));
}

#[test]
fn a_malformed_workflow_proposal_leaves_the_old_one_and_the_chief_is_told() {
    let top = tempfile::tempdir().unwrap();
    let dir = top.path().join("proj");
    fs::create_dir(&dir).unwrap();
    let bad = r#"PROPOSE_WORKFLOW: engineering
YAML:
stages:
  - id: a
    agent: engineer
    objective: x
    depends_on: [b]
  - id: b
    agent: qa
    objective: y
    depends_on: [a]
END_WORKFLOW
"#;
    let mock = MockServer::start(Script::new(vec![Reply::text(bad)]));
    clk(&dir, &mock).arg("init").assert().success();
    let before = fs::read_to_string(dir.join(".clk/config/workflows/engineering.yaml")).unwrap();
    clk(&dir, &mock)
        .args(["idea", "A journaling app"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "proposed workflow engineering: refused",
        ));
    assert_eq!(
        fs::read_to_string(dir.join(".clk/config/workflows/engineering.yaml")).unwrap(),
        before
    );
    // The refusal reaches the chief's next prompt.
    clk(&dir, &mock)
        .args(["cast", "--dry-run"])
        .assert()
        .success();
    let run = fs::read_dir(dir.join(".clk/runs"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .max()
        .unwrap();
    let prompt = fs::read_to_string(run.join("prompt.txt")).unwrap();
    assert!(
        prompt.contains("workflow `engineering` rejected"),
        "{prompt}"
    );
    assert!(prompt.contains("dependency cycle"), "{prompt}");
}

#[test]
fn a_blocking_question_is_answered_by_the_peer() {
    let top = tempfile::tempdir().unwrap();
    let dir = top.path().join("proj");
    fs::create_dir(&dir).unwrap();
    let ask = "POST: question\nTO: qa\nURGENCY: blocking\nBODY:\nWhich test runner should I use?\nEND_POST\n";
    let answer = "POST: answer\nTO: engineer\nBODY:\nUse pytest.\nEND_POST\n";
    let mock = MockServer::start(Script::new(vec![Reply::text(ask), Reply::text(answer)]));
    clk(&dir, &mock).arg("init").assert().success();
    clk(&dir, &mock)
        .args(["ask", "engineer", "set up tests"])
        .assert()
        .success();
    assert_eq!(mock.model_calls(), 2);
    let qa_prompt = prompt_of(&mock, 1);
    assert!(qa_prompt.starts_with("[clk] agent=qa"), "{qa_prompt:.60}");
    assert!(qa_prompt.contains("ANSWER a blocking question from engineer: Which test runner"));
    let posts: Vec<String> = fs::read_dir(dir.join(".clk/blackboard"))
        .unwrap()
        .flatten()
        .map(|e| fs::read_to_string(e.path()).unwrap())
        .collect();
    assert!(
        posts
            .iter()
            .any(|p| p.contains("Use pytest.") && p.contains("\"author\": \"qa\""))
    );
}

#[test]
fn unknown_workflow_and_missing_idea_are_bad_input() {
    let top = tempfile::tempdir().unwrap();
    let dir = top.path().join("proj");
    fs::create_dir(&dir).unwrap();
    let mock = MockServer::start(Script::new(vec![]));
    clk(&dir, &mock).arg("init").assert().success();
    clk(&dir, &mock)
        .args(["run", "--workflow", "nope"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "workflow \"nope\" does not exist; available:",
        ))
        .stderr(predicate::str::contains("engineering"));
    clk(&dir, &mock)
        .arg("cast")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no idea recorded yet"));
    assert_eq!(mock.model_calls(), 0);
}

const VALIDATED: &str = r#"name: engineering
stages:
  - id: build
    agent: engineer
    objective: Build the app.
    validation: test -f app.py
"#;

#[test]
fn a_failing_validation_is_undone_and_the_users_own_file_survives() {
    let top = tempfile::tempdir().unwrap();
    let dir = top.path().join("proj");
    fs::create_dir(&dir).unwrap();
    let wrong = "ACTION: write\nPATH: wrong.py\nCONTENT:\nx = 1\nEND_ACTION\nPROGRESS: yes\n";
    let mock = MockServer::start(Script::new(vec![
        Reply::text(wrong),
        Reply::text("Nothing to fix from here.\nPROGRESS: no\n"),
    ]));
    clk(&dir, &mock).arg("init").assert().success();
    fs::write(
        dir.join(".clk/config/workflows/engineering.yaml"),
        VALIDATED,
    )
    .unwrap();
    fs::write(dir.join("draft.md"), "my uncommitted notes\n").unwrap();
    let before = git_log(&dir).len();
    clk(&dir, &mock)
        .args(["run", "--max-cycles", "1"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "validation `test -f app.py` failed",
        ))
        .stdout(predicate::str::contains(
            "undid engineer's changes to 1 file(s)",
        ));
    assert!(!dir.join("wrong.py").exists());
    assert_eq!(
        fs::read_to_string(dir.join("draft.md")).unwrap(),
        "my uncommitted notes\n"
    );
    assert_eq!(
        git_log(&dir).len(),
        before,
        "a failed stage must not commit"
    );
    let ev = events(&dir);
    assert!(ev.iter().any(|e| e["event"] == "changes_undone"));
    let fin = ev.iter().find(|e| e["event"] == "run_finished").unwrap();
    assert_eq!(fin["outcome"], "cycle_cap");
    assert_eq!(
        mock.model_calls(),
        1,
        "a stage with no dependents needs no recovery"
    );
}

#[test]
fn a_ralph_loop_that_never_improves_escalates_reframes_and_stops_on_plateau() {
    use support::mock_server::Fallback;
    let top = tempfile::tempdir().unwrap();
    let dir = top.path().join("proj");
    fs::create_dir(&dir).unwrap();
    // Every agent says the same thing and changes nothing.
    let idle = "Tighten the README wording.\nPROGRESS: no\n";
    let mock =
        MockServer::start(Script::new(vec![Reply::text(idle)]).fallback(Fallback::RepeatLast));
    clk(&dir, &mock).arg("init").assert().success();
    // The ladder alone (the consensus and critic that careful iterations bring are counted in
    // tests/suite/robustness.rs); the env overrides reach the config.
    clk(&dir, &mock)
        .env("CLK_ROBUSTNESS_AUTO_CONSENSUS", "off")
        .env("CLK_ROBUSTNESS_AUTO_REFINE", "off")
        .args(["loop", "--max-iterations", "10"])
        .assert()
        .success()
        .stdout(predicate::str::contains("stopped: plateau"));
    // Five iterations of ralph, engineer and qa, plus one chief reframe.
    let agents: Vec<String> = mock
        .model_requests()
        .iter()
        .map(|r| {
            let p = r.json.as_ref().unwrap()["messages"][0]["content"]
                .as_str()
                .unwrap()
                .to_string();
            p.split_whitespace().nth(1).unwrap_or_default().to_string()
        })
        .collect();
    let count = |a: &str| {
        agents
            .iter()
            .filter(|x| x.as_str() == format!("agent={a}"))
            .count()
    };
    assert_eq!(
        (
            count("ralph"),
            count("engineer"),
            count("qa"),
            count("chief")
        ),
        (5, 5, 5, 1),
        "{agents:?}"
    );
    let chief = (0..agents.len())
        .find(|i| agents[*i] == "agent=chief")
        .map(|i| prompt_of(&mock, i))
        .unwrap();
    assert!(
        chief.contains("RECOVERY: the Ralph loop has plateaued"),
        "{chief:.300}"
    );
    let experiments = fs::read_to_string(dir.join(".clk/state/experiments.jsonl")).unwrap();
    assert_eq!(experiments.lines().count(), 5);
    assert!(
        experiments
            .lines()
            .all(|l| l.contains("\"improved\":false"))
    );
}

#[test]
fn the_chief_can_retire_a_role_it_cast_but_not_a_baseline_one() {
    let top = tempfile::tempdir().unwrap();
    let dir = top.path().join("proj");
    fs::create_dir(&dir).unwrap();
    let reply = "PROPOSE_ROLE: data_steward\nROLE: remove\nEND_ROLE\n\
                 PROPOSE_ROLE: qa\nROLE: remove\nEND_ROLE\n";
    let mock = MockServer::start(Script::new(vec![Reply::text(reply)]));
    clk(&dir, &mock).arg("init").assert().success();
    clk(&dir, &mock)
        .args([
            "roles",
            "add",
            "data_steward",
            "owns the schema and migrations",
        ])
        .assert()
        .success();
    clk(&dir, &mock)
        .args(["ask", "chief", "CASTING: review the team"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "chief cast role data_steward (removed)",
        ))
        .stdout(predicate::str::contains("proposed role qa: refused"));
    let agents = fs::read_to_string(dir.join(".clk/config/agents.json")).unwrap();
    assert!(
        !agents.contains("data_steward") && agents.contains("\"qa\""),
        "{agents}"
    );
    assert!(git_log(&dir)[0].contains("[chief] casting: roles data_steward"));
}
