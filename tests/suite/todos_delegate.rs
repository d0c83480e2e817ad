//! TODOS lists and DELEGATE blocks through the real binary against the mock model server:
//! a required todo item holds the done gate until its owner marks it done, and a delegation
//! chain runs until its depth limit, billed to the agent that started it.

use crate::support;

use std::fs;
use std::path::Path;

use support::mock_project::{activity as events, clk_on as clk, prompts};
use support::mock_server::{MockServer, Reply, Script};

fn prompt_of(mock: &MockServer, call: usize) -> String {
    prompts(mock).swap_remove(call)
}

/// A fresh project with workflow `name` written from `yaml`.
fn project(top: &Path, mock: &MockServer, name: &str, yaml: &str) -> std::path::PathBuf {
    let dir = top.join("proj");
    fs::create_dir(&dir).unwrap();
    clk(&dir, mock).arg("init").assert().success();
    fs::write(dir.join(format!(".clk/config/workflows/{name}.yaml")), yaml).unwrap();
    dir
}

const BUILD_REVIEW: &str = r#"name: w
stages:
  - id: build
    agent: engineer
    objective: Build the app.
  - id: supervise
    agent: chief
    depends_on: [build]
    phase: review
    commit: false
    objective: "SUPERVISE: finish or name the next slice."
"#;

fn build(version: u32, tests_box: &str) -> String {
    format!(
        "Building.\nACTION: write\nPATH: app.py\nCONTENT:\nprint({version})\nEND_ACTION\n\
         TODOS:\n- [x] entry point\n- [{tests_box}] [required] tests for empty input\n\
         - [ ] nicer help text\nEND_TODOS\nPROGRESS: yes\n"
    )
}

const DONE: &str = "Everything holds.\nACTION: done\nREASON: the app is built\nEND_ACTION\n";

#[test]
fn a_required_todo_holds_done_until_it_is_marked_done() {
    let top = tempfile::tempdir().unwrap();
    let mock = MockServer::start(Script::new(vec![
        Reply::text(&build(1, " ")),
        Reply::text(DONE),
        Reply::text(&build(2, "x")),
        Reply::text(DONE),
    ]));
    let dir = project(top.path(), &mock, "w", BUILD_REVIEW);
    clk(&dir, &mock)
        .args(["run", "--workflow", "w", "--max-cycles", "3"])
        .env("CLK_DONE_GATE_REQUIRE_TESTS_GREEN", "false")
        .env("CLK_DONE_GATE_REQUIRE_RALPH_PASS", "false")
        .env("CLK_DONE_GATE_REQUIRE_QA_PASS", "false")
        .assert()
        .success();
    assert_eq!(mock.model_calls(), 4);

    let ev = events(&dir);
    let gates: Vec<&serde_json::Value> = ev.iter().filter(|e| e["event"] == "done_gate").collect();
    assert_eq!(gates.len(), 2, "{gates:?}");
    assert_eq!(gates[0]["granted"], false);
    let unmet = gates[0]["unmet"].to_string();
    assert!(
        unmet.contains("1 required todo item(s) open (engineer: tests for empty input)"),
        "{unmet}"
    );
    assert_eq!(gates[1]["granted"], true);
    // The chief's second review was told why its first done was refused.
    assert!(prompt_of(&mock, 3).contains("[open_todos]"));

    let lists: Vec<&serde_json::Value> = ev
        .iter()
        .filter(|e| e["event"] == "todos_updated")
        .collect();
    assert_eq!(lists.len(), 2);
    assert_eq!(lists[0]["agent"], "engineer");
    assert_eq!(lists[0]["items"][1]["required"], true);
    assert_eq!(lists[0]["items"][1]["state"], "todo");
    assert_eq!(lists[1]["items"][1]["state"], "done");

    let stored: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(dir.join(".clk/state/todos.json")).unwrap())
            .unwrap();
    assert_eq!(stored["engineer"].as_array().unwrap().len(), 3);
    clk(&dir, &mock)
        .arg("status")
        .assert()
        .success()
        .stdout(predicates::str::contains("Todos     engineer: 2/3 done\n"));
    assert!(
        fs::read_to_string(dir.join(".clk/state/done_granted.md"))
            .unwrap()
            .contains("- required todos: none open")
    );
}

const ONE_STAGE: &str = r#"name: d
stages:
  - id: build
    agent: engineer
    objective: Build the app.
"#;

fn delegate(to: &str, task: &str) -> String {
    format!("DELEGATE: {to}\nCONTEXT: app.py exists\nTASK:\n{task}\nEND_DELEGATE\nPROGRESS: yes\n")
}

#[test]
fn a_delegation_chain_stops_at_its_depth_limit_and_bills_the_first_agent() {
    let top = tempfile::tempdir().unwrap();
    let engineer = format!(
        "ACTION: write\nPATH: app.py\nCONTENT:\nprint(1)\nEND_ACTION\n{}",
        delegate("qa", "Write tests for app.py.")
    );
    let qa = format!(
        "ACTION: write\nPATH: test_app.py\nCONTENT:\ndef test_ok():\n    assert True\nEND_ACTION\n{}",
        delegate("ralph", "Tidy the tests.")
    );
    let ralph = delegate("critic", "Review the tidy-up.");
    let mock = MockServer::start(Script::new(vec![
        Reply::text_usage(&engineer, 100, 10),
        Reply::text_usage(&qa, 200, 20),
        Reply::text_usage(&ralph, 300, 30),
    ]));
    let dir = project(top.path(), &mock, "d", ONE_STAGE);
    // One cycle without a done: the run ends at its cycle cap, whatever its exit code.
    clk(&dir, &mock)
        .args(["run", "--workflow", "d", "--max-cycles", "1"])
        .output()
        .unwrap();
    // engineer, qa (delegated), ralph (delegated by qa); ralph's own delegation is refused.
    assert_eq!(mock.model_calls(), 3);
    let qa_prompt = prompt_of(&mock, 1);
    assert!(qa_prompt.contains("DELEGATED by engineer: Write tests for app.py."));
    assert!(qa_prompt.contains("Context: app.py exists"));
    assert!(prompt_of(&mock, 2).contains("DELEGATED by qa: Tidy the tests."));

    let ev = events(&dir);
    let del: Vec<&serde_json::Value> = ev.iter().filter(|e| e["event"] == "delegated").collect();
    let seen: Vec<(String, String, u64, bool)> = del
        .iter()
        .map(|e| {
            (
                e["by"].as_str().unwrap().to_string(),
                e["to"].as_str().unwrap().to_string(),
                e["depth"].as_u64().unwrap(),
                e["dispatched"].as_bool().unwrap(),
            )
        })
        .collect();
    // Innermost first: each event is emitted when its delegation has ended.
    assert_eq!(
        seen,
        vec![
            ("ralph".into(), "critic".into(), 3, false),
            ("qa".into(), "ralph".into(), 2, true),
            ("engineer".into(), "qa".into(), 1, true),
        ]
    );
    assert!(del[0]["note"].as_str().unwrap().contains("already 2 deep"));
    assert_eq!(del[1]["ok"], true);
    assert_eq!(del[2]["ok"], true);
    // The delegate's work is committed under its own name.
    assert!(dir.join("test_app.py").is_file());
    // All three calls count against the engineer's spend.
    let usage: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(dir.join(".clk/state/usage.json")).unwrap())
            .unwrap();
    assert_eq!(usage["agents"]["engineer"]["dispatches"], 3);
    assert_eq!(usage["agents"]["engineer"]["input_tokens"], 600);
    assert!(usage["agents"].get("qa").is_none(), "{usage}");
}

#[test]
fn only_three_delegations_of_one_reply_are_carried_out() {
    let top = tempfile::tempdir().unwrap();
    let many = [
        delegate("qa", "one"),
        delegate("ralph", "two"),
        delegate("qa", "three"),
        delegate("chief", "four"),
    ]
    .concat();
    let mock = MockServer::start(Script::new(vec![
        Reply::text(&many),
        Reply::text("Tested.\nPROGRESS: no\n"),
        Reply::text("Tidied.\nPROGRESS: no\n"),
        Reply::text("Tested again.\nPROGRESS: no\n"),
    ]));
    let dir = project(top.path(), &mock, "d", ONE_STAGE);
    clk(&dir, &mock)
        .args(["run", "--workflow", "d", "--max-cycles", "1"])
        .output()
        .unwrap();
    assert_eq!(mock.model_calls(), 4);
    let del: Vec<(String, bool)> = events(&dir)
        .iter()
        .filter(|e| e["event"] == "delegated")
        .map(|e| {
            (
                e["to"].as_str().unwrap().to_string(),
                e["dispatched"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        del,
        vec![
            ("qa".into(), true),
            ("ralph".into(), true),
            ("qa".into(), true),
            ("chief".into(), false),
        ]
    );
}
