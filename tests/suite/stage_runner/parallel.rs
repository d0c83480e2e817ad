//! Ready stages side by side: two independent stages overlap in time (the second request
//! reaches the mock before the first reply is sent), each works in its own worktree and both
//! files reach the project; a stage made ready by one that ended starts while a slower one
//! still runs; two stages declaring the same output run one after the other.

use std::fs;
use std::time::Duration;

use super::{agents, clk, named, project};
use crate::support::mock_server::{MockServer, Reply, Script};

const SIDE_BY_SIDE: &str = r#"
name: demo
stages:
  - id: left
    agent: engineer
    objective: Write left.txt.
    outputs: [left]
  - id: right
    agent: architect
    objective: Write right.txt.
    outputs: [right]
  - id: join
    agent: qa
    depends_on: [left, right]
    objective: Check both files.
"#;

/// A reply that satisfies either stage: which of the two gets it depends on arrival order.
fn work(file: &str) -> String {
    format!(
        "Wrote {file}.\nACTION: write\nPATH: {file}\nCONTENT:\n{file}\nEND_ACTION\n\
         POST: work\nPRODUCES: left, right\nBODY:\n{file} written\nEND_POST\nPROGRESS: yes\n"
    )
}

const QA: &str = "POST: qa\nPRODUCES: qa_verdict\nBODY:\nPASS: both there\nEND_POST\n";

const DELAY_MS: u64 = 1500;

/// `clk run --workflow demo` in `dir`; what it printed.
fn run_demo(dir: &std::path::Path, mock: &MockServer) -> String {
    let out = clk(dir, mock)
        .args(["run", "--workflow", "demo"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[test]
fn two_independent_stages_run_at_once_in_their_own_worktrees() {
    let mock = MockServer::start(Script::new(vec![
        Reply::delay(DELAY_MS, Reply::text(&work("one.txt"))),
        Reply::text(&work("two.txt")),
        Reply::text(QA),
    ]));
    let (_top, dir) = project(&mock, SIDE_BY_SIDE);
    // What a clk killed mid-batch leaves: a stage branch of a process that is gone.
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(&dir)
            .output()
            .unwrap()
    };
    assert!(
        git(&["branch", "clk/stage-20260101T000000000-0-left"])
            .status
            .success()
    );
    let text = run_demo(&dir, &mock);
    let reqs = mock.model_requests();
    assert_eq!(reqs.len(), 3, "{:?}\n{text}", agents(&mock));
    // The second stage asked before the first one's reply was sent.
    assert!(
        reqs[1].at < reqs[0].at + Duration::from_millis(DELAY_MS),
        "the stages did not overlap: {:?} apart\n{text}",
        reqs[1].at - reqs[0].at
    );
    let mut first_two = agents(&mock)[..2].to_vec();
    first_two.sort();
    assert_eq!(first_two, ["architect", "engineer"]);
    assert_eq!(agents(&mock)[2], "qa");
    // Each stage committed on its own branch, merged into the run's: the second by a merge
    // commit, since both branched from the same point.
    let log = std::process::Command::new("git")
        .args(["log", "--format=%s"])
        .current_dir(&dir)
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&log.stdout).to_string();
    assert!(log.contains("Merge clk/stage-"), "{log}");
    // Both stages' files are merged into the run, then into the project.
    for f in ["one.txt", "two.txt"] {
        assert_eq!(
            fs::read_to_string(dir.join(f)).ok().as_deref(),
            Some(format!("{f}\n").as_str()),
            "{f}\n{text}"
        );
    }
    let finished = named(&dir, "stage_finished");
    assert_eq!(finished.len(), 3, "{finished:?}");
    assert!(finished.iter().all(|e| e["ok"] == true), "{finished:?}");
    // No stage worktree or branch is left behind, nor the dead process's.
    let branches = git(&["branch", "--list", "clk/*"]);
    assert_eq!(String::from_utf8_lossy(&branches.stdout).trim(), "");
}

const SAME_OUTPUT: &str = r#"
name: demo
stages:
  - id: first
    agent: engineer
    objective: Write one.txt.
    outputs: [design]
  - id: second
    agent: architect
    objective: Write two.txt.
    outputs: [design]
"#;

fn design(file: &str) -> String {
    format!(
        "ACTION: write\nPATH: {file}\nCONTENT:\n{file}\nEND_ACTION\n\
         POST: design\nPRODUCES: design\nBODY:\n{file}\nEND_POST\nPROGRESS: yes\n"
    )
}

#[test]
fn stages_declaring_the_same_output_run_one_after_the_other() {
    let mock = MockServer::start(Script::new(vec![
        Reply::delay(800, Reply::text(&design("one.txt"))),
        Reply::text(&design("two.txt")),
    ]));
    let (_top, dir) = project(&mock, SAME_OUTPUT);
    clk(&dir, &mock)
        .args(["run", "--workflow", "demo"])
        .output()
        .unwrap();
    let reqs = mock.model_requests();
    assert_eq!(agents(&mock), ["engineer", "architect"]);
    assert!(
        reqs[1].at >= reqs[0].at + Duration::from_millis(800),
        "the second stage started {:?} after the first, before its reply",
        reqs[1].at - reqs[0].at
    );
    assert!(dir.join("one.txt").is_file() && dir.join("two.txt").is_file());
}

#[test]
fn the_stage_cap_is_set_with_configure_and_zero_is_refused() {
    let mock = MockServer::start(Script::new(vec![]));
    let (_top, dir) = project(&mock, SAME_OUTPUT);
    clk(&dir, &mock)
        .args(["configure", "--set", "workflow.max_parallel_stages=3"])
        .assert()
        .success();
    let cfg = fs::read_to_string(dir.join(".clk/config/clk.config.json")).unwrap();
    let cfg: serde_json::Value = serde_json::from_str(&cfg).unwrap();
    assert_eq!(cfg["workflow"]["max_parallel_stages"], 3);
    let out = clk(&dir, &mock)
        .args(["configure", "--set", "workflow.max_parallel_stages=0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("workflow.max_parallel_stages must be between 1 and 16"),
        "{err}"
    );
    assert_eq!(mock.model_calls(), 0);
}

const CLASH: &str = r#"
name: demo
stages:
  - id: left
    agent: engineer
    objective: Write shared.txt.
  - id: right
    agent: architect
    objective: Write shared.txt too.
"#;

fn shared(text: &str) -> Reply {
    Reply::text(&format!(
        "ACTION: write\nPATH: shared.txt\nCONTENT:\n{text}\nEND_ACTION\nPROGRESS: yes\n"
    ))
}

#[test]
fn a_stage_whose_files_clash_with_one_that_ended_first_fails_and_the_first_stays() {
    let mock = MockServer::start(Script::new(vec![
        Reply::delay(500, shared("one")),
        shared("two"),
    ]));
    let (_top, dir) = project(&mock, CLASH);
    clk(&dir, &mock)
        .args(["run", "--workflow", "demo"])
        .output()
        .unwrap();
    assert_eq!(mock.model_calls(), 2);
    let warned: Vec<String> = named(&dir, "warning")
        .iter()
        .filter_map(|e| e["message"].as_str().map(str::to_string))
        .collect();
    // The stage that asked first waits for its reply, so the other ends first and is merged;
    // the late one cannot be, whichever of the two it is.
    let late = if agents(&mock)[0] == "engineer" {
        "left"
    } else {
        "right"
    };
    assert_eq!(
        warned,
        [format!(
            "stage {late} failed: its work could not be merged: it changed shared.txt as a \
             stage that ran beside it did"
        )]
    );
    // The file of the stage that ended first is kept whole; nothing of the other is mixed in.
    assert_eq!(fs::read_to_string(dir.join("shared.txt")).unwrap(), "two\n");
    let branches = std::process::Command::new("git")
        .args(["branch", "--list", "clk/*"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&branches.stdout).trim(), "");
}

const TWO_CHAINS: &str = r#"
name: demo
stages:
  - id: left
    agent: engineer
    objective: Write a file.
  - id: right
    agent: architect
    objective: Write a file.
  - id: after_left
    agent: qa
    depends_on: [left]
    objective: Write a file.
  - id: after_right
    agent: researcher
    depends_on: [right]
    objective: Write a file.
"#;

#[test]
fn a_freed_slot_starts_the_next_ready_stage_while_a_slow_one_runs() {
    let mock = MockServer::start(Script::new(vec![
        Reply::delay(DELAY_MS, Reply::text(&work("one.txt"))),
        Reply::text(&work("two.txt")),
        Reply::text(&work("three.txt")),
        Reply::text(&work("four.txt")),
    ]));
    let (_top, dir) = project(&mock, TWO_CHAINS);
    let text = run_demo(&dir, &mock);
    let reqs = mock.model_requests();
    let who = agents(&mock);
    assert_eq!(reqs.len(), 4, "{who:?}\n{text}");
    // The stage that asked second got its reply at once; the stage after it asked while the
    // first was still waiting for its slow reply, not after it, as a batch would have.
    let after = |agent: &str| {
        if agent == "engineer" {
            "qa"
        } else {
            "researcher"
        }
    };
    assert_eq!(who[2], after(&who[1]), "{who:?}");
    assert!(
        reqs[2].at < reqs[0].at + Duration::from_millis(DELAY_MS),
        "the next stage waited for the slow one: {:?} after it asked\n{text}",
        reqs[2].at - reqs[0].at
    );
    assert_eq!(who[3], after(&who[0]), "{who:?}");
    let finished = named(&dir, "stage_finished");
    assert_eq!(finished.len(), 4, "{finished:?}");
    assert!(finished.iter().all(|e| e["ok"] == true), "{finished:?}");
    for f in ["one.txt", "two.txt", "three.txt", "four.txt"] {
        assert!(dir.join(f).is_file(), "{f}\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_lets_the_running_stages_end_and_starts_no_other() {
    use crate::support::mock_project;
    use clk::engine::ground::events::Event;
    use clk::engine::runs::stages::runner::{PassOptions, run_pass};
    use clk::engine::store::bus::Bus;
    use clk::engine::store::live::Live;
    use clk::engine::store::workflow::Outcome;

    let mock = MockServer::start(Script::new(vec![
        Reply::delay(800, Reply::text(&work("one.txt"))),
        Reply::delay(800, Reply::text(&work("two.txt"))),
        Reply::text(QA),
    ]));
    let (_t, dir) = mock_project::new_dir();
    let p = mock_project::project(&dir, &mock, &mock_project::KNOBS_OFF);
    let wf = mock_project::workflow(&p, SIDE_BY_SIDE);
    let bus = Bus::new(Some(p.ws.activity_log()));
    // `/stop` once both side-by-side stages have asked their model.
    let mut rx = bus.subscribe();
    let stopper = {
        let bus = bus.clone();
        tokio::spawn(async move {
            let mut asked = 0;
            while asked < 2 {
                if let Ok(Event::DispatchStarted { .. }) = rx.recv().await {
                    asked += 1;
                }
            }
            bus.request_stop();
        })
    };
    let report = run_pass(
        &mut Live::new(p.clone()),
        &bus,
        &wf,
        &PassOptions::default(),
        &tokio_util::sync::CancellationToken::new(),
    )
    .await
    .unwrap();
    stopper.await.unwrap();
    // Both running stages ended and kept their work; the stage after them never started.
    assert_eq!(mock.model_calls(), 2);
    let done: Vec<&str> = report.stages.iter().map(|s| s.stage.as_str()).collect();
    assert_eq!(done.len(), 2, "{done:?}");
    assert!(
        report
            .stages
            .iter()
            .all(|s| s.outcome == Outcome::Completed),
        "{:?}",
        report.stages
    );
    for f in ["one.txt", "two.txt"] {
        assert!(dir.join(f).is_file(), "{f}");
    }
}
