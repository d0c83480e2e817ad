//! Limits on what robustness spends, against the mock model server: a debate panel keeps to
//! `consensus.max_parallel` calls at once, and with every knob off a review stage that is not
//! the chief's costs no extra chief call.

use std::time::Duration;

use support::mock_project::*;
use support::mock_server::{MockServer, Reply, Script};

use crate::support;

const DEBATED: &str = r#"
name: demo
stages:
  - id: build
    agent: engineer
    objective: Write app.txt.
    refine: {mode: debate, max_rounds: 1, accept_threshold: 0.8}
"#;

/// Arrival times of the three lens reviews, each answered after 300 ms, relative to the first.
async fn lens_arrivals(max_parallel: u32) -> Vec<Duration> {
    let (_top, dir) = new_dir();
    let accept = "Nothing blocks a user.\nVERDICT: accept\nSCORE: 0.9\n";
    let mock = MockServer::start(Script::new(vec![
        Reply::text("Version 1.\nACTION: write\nPATH: app.txt\nCONTENT:\nv1\nEND_ACTION\n"),
        Reply::delay(300, Reply::text(accept)),
        Reply::delay(300, Reply::text(accept)),
        Reply::delay(300, Reply::text(accept)),
    ]));
    let mut p = project(&dir, &mock, &[]);
    p.config.consensus.max_parallel = max_parallel;
    pass(&p, &workflow(&p, DEBATED)).await;
    let calls = mock.model_requests();
    assert_eq!(calls.len(), 4);
    let first = calls[1].at;
    calls[1..]
        .iter()
        .map(|c| c.at.duration_since(first))
        .collect()
}

#[tokio::test]
async fn a_debate_panel_keeps_to_max_parallel() {
    // One at a time: each lens waits for the one before to answer.
    let one = lens_arrivals(1).await;
    assert!(
        one[1] >= Duration::from_millis(280) && one[2] >= Duration::from_millis(560),
        "{one:?}"
    );
    // Room for all three: they go out together.
    let all = lens_arrivals(3).await;
    assert!(all[2] < Duration::from_millis(250), "{all:?}");
}

const QA_REVIEW: &str = r#"
name: demo
stages:
  - id: review
    agent: qa
    phase: review
    commit: false
    objective: Review the plan.
  - id: build
    agent: engineer
    depends_on: [review]
    objective: Write app.txt.
"#;

#[tokio::test]
async fn with_every_knob_off_a_review_stage_not_run_by_the_chief_costs_no_chief_call() {
    let (_top, dir) = new_dir();
    let mock = MockServer::start(Script::new(vec![
        Reply::text("The plan holds.\nCONFIDENCE: 0.9\n"),
        Reply::text("ACTION: write\nPATH: app.txt\nCONTENT:\nx\nEND_ACTION\n"),
    ]));
    let p = project(&dir, &mock, &KNOBS_OFF);
    let report = pass(&p, &workflow(&p, QA_REVIEW)).await;
    assert_eq!(report.stages.len(), 2);
    let by_agent = calls_by_agent(&mock);
    assert_eq!(mock.model_calls(), 2, "{by_agent:?}");
    assert!(!by_agent.contains_key("chief"), "{by_agent:?}");
    assert!(dir.join("app.txt").exists());
}

#[tokio::test]
async fn with_the_knobs_on_the_chief_still_judges_that_review() {
    let (_top, dir) = new_dir();
    let mock = MockServer::start(Script::new(vec![
        Reply::text("The plan holds, with tests first.\nCONFIDENCE: 0.9\n"),
        Reply::text("On course.\nCHECKPOINT: continue\nCONFIDENCE: 0.9\n"),
        Reply::text("ACTION: write\nPATH: app.txt\nCONTENT:\nx\nEND_ACTION\nCONFIDENCE: 0.9\n"),
    ]));
    let p = project(&dir, &mock, &[("CLK_ROBUSTNESS_AUTO_REFINE", "off")]);
    pass(&p, &workflow(&p, QA_REVIEW)).await;
    assert_eq!(calls_by_agent(&mock).get("chief"), Some(&1));
    assert_eq!(named(&p, "checkpoint_verdict").len(), 1);
}
