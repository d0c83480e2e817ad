//! Checkpoints, plateau steering and stage retries against the mock model server: a REDIRECT
//! feeds the chief's direction to the next stage, an ABORT ends `clk run` as "aborted", a Ralph
//! loop that never improves escalates into consensus and critic review, reframes and stops,
//! and provider plus stage retries ride out an outage.

use crate::support;

use std::fs;
use std::path::Path;

use assert_cmd::Command;
use clk::engine::runs::loops::{LoopOptions, StopReason, run_ralph};
use clk::engine::store::bus::Bus;
use clk::engine::store::workflow::Outcome;
use support::mock_project::*;
use support::mock_server::{Fallback, MockServer, Reply, Script};
use tokio_util::sync::CancellationToken;

const REVIEW_THEN_BUILD: &str = r#"
name: steer
stages:
  - id: review
    agent: chief
    phase: review
    commit: false
    objective: Review the plan.
  - id: build
    agent: engineer
    depends_on: [review]
    objective: Build the next slice.
"#;

#[tokio::test]
async fn a_redirect_checkpoint_feeds_the_chiefs_direction_to_the_next_stage() {
    let (_top, dir) = new_dir();
    let mock = MockServer::start(Script::new(vec![
        Reply::text(
            "The web UI is premature.\nCHECKPOINT: redirect\n\
             Build a command-line tool first; no web server.\n\nCONFIDENCE: 0.8\n",
        ),
        Reply::text("Built the CLI.\nACTION: write\nPATH: cli.txt\nCONTENT:\ncli\nEND_ACTION\n"),
    ]));
    let p = project(&dir, &mock, &[]);
    let report = pass(&p, &workflow(&p, REVIEW_THEN_BUILD)).await;
    assert_eq!(mock.model_calls(), 2);
    let direction = "Build a command-line tool first; no web server.";
    assert_eq!(report.redirect.as_deref(), Some(direction));
    assert_eq!(report.aborted, None);
    let verdicts = named(&p, "checkpoint_verdict");
    assert_eq!(verdicts.len(), 1);
    assert_eq!(
        (
            verdicts[0]["stage"].as_str(),
            verdicts[0]["verdict"].as_str()
        ),
        (Some("review"), Some("redirect"))
    );
    assert_eq!(verdicts[0]["note"], direction);
    let all = prompts(&mock);
    assert!(
        all[0].contains("CHECKPOINT: redirect"),
        "the chief was not asked"
    );
    assert!(
        all[1].contains(&format!(
            "Direction from the chief's last checkpoint (follow it): {direction}"
        )),
        "{:.600}",
        all[1]
    );
    assert!(dir.join("cli.txt").exists());
}

fn clk(dir: &Path, mock: &MockServer) -> Command {
    clk_on(dir, mock)
}

#[test]
fn an_abort_checkpoint_ends_the_run_as_aborted_with_the_reason() {
    let (_top, dir) = new_dir();
    let mock = MockServer::start(Script::new(vec![Reply::text(
        "The idea cannot work as specified.\nCHECKPOINT: abort\n\
         The API it depends on was shut down; there is nothing to build against.\n",
    )]));
    clk(&dir, &mock).arg("init").assert().success();
    fs::write(
        dir.join(".clk/config/workflows/steer.yaml"),
        REVIEW_THEN_BUILD,
    )
    .unwrap();
    let out = clk(&dir, &mock)
        .args(["run", "--workflow", "steer", "--max-cycles", "3"])
        .assert()
        .failure();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(stdout.contains("aborted"), "{stdout}");
    // The build stage never ran, and no second cycle started.
    assert_eq!(mock.model_calls(), 1);
    let events: Vec<serde_json::Value> = fs::read_to_string(dir.join(".clk/logs/activity.jsonl"))
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let finished = events
        .iter()
        .find(|e| e["event"] == "run_finished")
        .unwrap();
    assert_eq!(finished["outcome"], "aborted");
    assert!(
        finished["reason"]
            .as_str()
            .unwrap()
            .contains("API it depends on was shut down")
    );
}

#[tokio::test]
async fn a_ralph_loop_that_plateaus_escalates_into_consensus_reframes_and_stops() {
    let (_top, dir) = new_dir();
    // Every agent answers the same and nothing ever passes the check.
    let idle = "Tighten the README wording a little more.\nPROGRESS: no\n";
    let mock =
        MockServer::start(Script::new(vec![Reply::text(idle)]).fallback(Fallback::RepeatLast));
    let env = [
        ("CLK_ROBUSTNESS_PLATEAU_WINDOW", "2"),
        ("CLK_CONSENSUS_MAX_SAMPLES", "2"),
        ("CLK_CONSENSUS_MAX_PARALLEL", "2"),
        ("CLK_ROBUSTNESS_REFINE_MAX_ROUNDS", "1"),
    ];
    let p = project(&dir, &mock, &env);
    let bus = Bus::new(Some(p.ws.activity_log()));
    let opts = LoopOptions {
        max_iterations: 10,
        dry_run: false,
        checks: vec!["test -f never.txt".into()],
    };
    let report = run_ralph(&p, &bus, &opts, &CancellationToken::new()).await;
    assert_eq!(report.stop_reason, StopReason::Plateau);
    // 1 and 2 plain; 2 is a plateau (escalate), 3 careful (reframe), 4 careful (stop).
    assert_eq!(report.iterations, 4);
    let steps: Vec<(u64, String)> = named(&p, "loop_steered")
        .iter()
        .map(|e| {
            (
                e["iteration"].as_u64().unwrap(),
                e["step"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            (2, "escalated".to_string()),
            (3, "reframed".into()),
            (4, "stopped".into())
        ]
    );
    // Plain iterations: ralph, engineer, qa once each. A careful iteration fans ralph, the
    // engineer and qa out into 2 samples merged by the chief, and the critic reviews ralph's
    // and the engineer's work once (no verdict: revise), each revising once.
    let by_agent = calls_by_agent(&mock);
    let careful = 2;
    assert_eq!(by_agent["ralph"], 2 + careful * (2 + 1));
    assert_eq!(by_agent["engineer"], 2 + careful * (2 + 1));
    assert_eq!(by_agent["qa"], 2 + careful * 2);
    assert_eq!(by_agent["critic"], careful * 2);
    // Three merges per careful iteration, and one reframe.
    assert_eq!(by_agent["chief"], careful * 3 + 1);
    assert_eq!(named(&p, "consensus_started").len(), careful * 3);
    assert_eq!(named(&p, "refine_round").len(), careful * 2);
    let reframe = prompts(&mock)
        .into_iter()
        .find(|p| p.contains("RECOVERY: the Ralph loop has plateaued"));
    assert!(reframe.is_some(), "the chief was not asked to reframe");
    let records = fs::read_to_string(p.ws.state_dir().join("experiments.jsonl")).unwrap();
    let careful_flags: Vec<bool> = records
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["careful"] == true)
        .collect();
    assert_eq!(careful_flags, [false, false, true, true]);
}

const ONE_STAGE: &str = r#"
name: demo
stages:
  - id: build
    agent: engineer
    objective: Write app.txt.
"#;

#[tokio::test]
async fn provider_and_stage_retries_ride_out_an_outage() {
    let (_top, dir) = new_dir();
    let ok = "Wrote it.\nACTION: write\nPATH: app.txt\nCONTENT:\nup\nEND_ACTION\n";
    let mock = MockServer::start(Script::new(vec![
        Reply::status(503, "overloaded"),
        Reply::status(503, "overloaded"),
        Reply::status(503, "overloaded"),
        Reply::text(ok),
    ]));
    let env = [
        ("CLK_PROVIDER_RETRY_MAX_RETRIES", "1"),
        ("CLK_PROVIDER_RETRY_BACKOFF_MS", "10"),
        ("CLK_PROVIDER_RETRY_STAGE_MAX_RETRIES", "1"),
        ("CLK_PROVIDER_RETRY_STAGE_BACKOFF_MS", "20"),
    ];
    let p = project(&dir, &mock, &env);
    let report = pass(&p, &workflow(&p, ONE_STAGE)).await;
    assert_eq!(report.stages[0].outcome, Outcome::Completed);
    // Call 1 fails, its provider retry fails; the stage retry's call fails, its retry works.
    assert_eq!(mock.model_calls(), 4);
    assert_eq!(named(&p, "provider_retry").len(), 2);
    let stage_retries = named(&p, "stage_retry");
    assert_eq!(stage_retries.len(), 1);
    assert_eq!(stage_retries[0]["max_retries"], 1);
    assert_eq!(fs::read_to_string(dir.join("app.txt")).unwrap(), "up\n");
}

#[tokio::test]
async fn stage_retries_are_bounded_and_skip_errors_that_retrying_cannot_fix() {
    let (_top, dir) = new_dir();
    let mock = MockServer::start(
        Script::new(vec![Reply::status(503, "down")]).fallback(Fallback::RepeatLast),
    );
    let env = [
        ("CLK_PROVIDER_RETRY_MAX_RETRIES", "0"),
        ("CLK_PROVIDER_RETRY_STAGE_MAX_RETRIES", "2"),
        ("CLK_PROVIDER_RETRY_STAGE_BACKOFF_MS", "10"),
    ];
    let p = project(&dir, &mock, &env);
    let report = pass(&p, &workflow(&p, ONE_STAGE)).await;
    assert!(matches!(report.stages[0].outcome, Outcome::Failed { .. }));
    assert_eq!(mock.model_calls(), 3, "one call and two stage retries");
    assert_eq!(named(&p, "stage_retry").len(), 2);

    let (_top2, dir2) = new_dir();
    let mock = MockServer::start(Script::new(vec![Reply::status(401, "bad key")]));
    let p = project(&dir2, &mock, &env);
    let report = pass(&p, &workflow(&p, ONE_STAGE)).await;
    assert!(matches!(report.stages[0].outcome, Outcome::Failed { .. }));
    assert_eq!(mock.model_calls(), 1, "a refused key is not retried");
    assert!(named(&p, "stage_retry").is_empty());
}

#[tokio::test]
async fn with_plateau_action_off_a_loop_runs_to_its_cap_without_steering() {
    let (_top, dir) = new_dir();
    let idle = "Tighten the README wording a little more.\nPROGRESS: no\n";
    let mock =
        MockServer::start(Script::new(vec![Reply::text(idle)]).fallback(Fallback::RepeatLast));
    let env = [
        ("CLK_ROBUSTNESS_PLATEAU_WINDOW", "2"),
        ("CLK_ROBUSTNESS_PLATEAU_ACTION", "off"),
    ];
    let p = project(&dir, &mock, &env);
    let bus = Bus::new(Some(p.ws.activity_log()));
    let opts = LoopOptions {
        max_iterations: 4,
        dry_run: false,
        checks: vec!["test -f never.txt".into()],
    };
    let report = run_ralph(&p, &bus, &opts, &CancellationToken::new()).await;
    assert_eq!(report.stop_reason, StopReason::MaxIterations);
    assert_eq!(report.iterations, 4);
    assert!(named(&p, "loop_steered").is_empty());
    // Never careful, so never fanned out or reviewed: ralph, engineer and qa once each.
    assert_eq!(mock.model_calls(), 12);
    assert_eq!(calls_by_agent(&mock).get("chief"), None);
}

const ROUNDS: &str = r#"
name: demo
stages:
  - id: build
    agent: engineer
    objective: Write app.txt.
    rounds: 3
"#;

#[tokio::test]
async fn a_stage_with_rounds_runs_until_the_agent_says_done() {
    let (_top, dir) = new_dir();
    let mock = MockServer::start(Script::new(vec![
        Reply::text(
            "First draft.\nACTION: write\nPATH: app.txt\nCONTENT:\nv1\nEND_ACTION\nROUND_STATUS: continue\n",
        ),
        Reply::text(
            "Polished.\nACTION: write\nPATH: notes.txt\nCONTENT:\nv2\nEND_ACTION\nROUND_STATUS: done\n",
        ),
    ]));
    let p = project(&dir, &mock, &[]);
    let report = pass(&p, &workflow(&p, ROUNDS)).await;
    assert_eq!(mock.model_calls(), 2, "round 2 said done");
    let all = prompts(&mock);
    assert!(all[0].contains("Round 1/3 of stage build"));
    assert!(all[1].contains("Round 2/3 of stage build"));
    // The stage's outcome covers both rounds.
    assert_eq!(report.stages[0].files, ["app.txt", "notes.txt"]);
}
