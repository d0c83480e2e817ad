//! Outputs recovery: a stage that left out a declared output is asked once more; when that
//! fails too, the chief supplies it. Exact mock call counts.

use super::{agents, clk, named, project, prompts};
use crate::support::mock_server::{MockServer, Reply, Script};

const WORKFLOW: &str = r#"
name: demo
stages:
  - id: build
    agent: engineer
    objective: Write app.txt and describe the design.
    outputs: [design]
"#;

const NO_POST: &str = "Wrote it.\nACTION: write\nPATH: app.txt\nCONTENT:\nhello\nEND_ACTION\n\
PROGRESS: yes\n";
const STILL_NO_POST: &str = "The app is written.\nPROGRESS: no\n";
const DESIGN: &str = "POST: design\nPRODUCES: design\nBODY:\napp.txt holds the greeting.\n\
END_POST\nPROGRESS: yes\n";

fn stage_finished(dir: &std::path::Path) -> serde_json::Value {
    let all = named(dir, "stage_finished");
    let mine: Vec<_> = all.into_iter().filter(|e| e["stage"] == "build").collect();
    assert_eq!(mine.len(), 1, "{mine:?}");
    mine[0].clone()
}

/// Run the demo workflow once, the mock answering with `replies` in turn.
fn run(replies: &[&str]) -> (tempfile::TempDir, std::path::PathBuf, MockServer) {
    let mock = MockServer::start(Script::new(
        replies.iter().map(|r| Reply::text(r)).collect(),
    ));
    let (top, dir) = project(&mock, WORKFLOW);
    clk(&dir, &mock)
        .args(["run", "--workflow", "demo"])
        .output()
        .unwrap();
    (top, dir, mock)
}

#[test]
fn a_stage_missing_an_output_supplies_it_when_asked_once_more() {
    let (_top, dir, mock) = run(&[NO_POST, DESIGN]);
    assert_eq!(agents(&mock), ["engineer", "engineer"]);
    let second = &prompts(&mock)[1];
    assert!(second.contains("OUTPUTS RECOVERY"), "{second:.400}");
    assert!(
        second.contains("did not declare these outputs: design"),
        "{second:.600}"
    );
    let done = stage_finished(&dir);
    assert_eq!(done["ok"], true, "{done}");
    assert!(done["reason"].is_null(), "{done}");
}

#[test]
fn a_stage_that_still_misses_its_output_escalates_to_the_chief() {
    let (_top, dir, mock) = run(&[NO_POST, STILL_NO_POST, DESIGN]);
    assert_eq!(agents(&mock), ["engineer", "engineer", "chief"]);
    let third = &prompts(&mock)[2];
    assert!(
        third.contains("engineer was asked twice and still did not declare these outputs: design"),
        "{third:.600}"
    );
    let done = stage_finished(&dir);
    assert!(done["reason"].is_null(), "{done}");
}

#[test]
fn an_output_nobody_supplies_is_reported_after_two_recoveries() {
    let (_top, dir, mock) = run(&[NO_POST, STILL_NO_POST, STILL_NO_POST]);
    assert_eq!(agents(&mock), ["engineer", "engineer", "chief"]);
    let done = stage_finished(&dir);
    assert_eq!(done["reason"], "declared outputs missing: design", "{done}");
}
