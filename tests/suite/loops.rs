//! The Ralph and autoresearch loops with scripted agents (the shell provider in command mode):
//! passing iterations commit `[ralph] <objective>`, failing ones are put back without touching
//! the user's uncommitted work, a loop that never improves escalates, reframes through the
//! chief and stops on plateau, done.md stops a loop, and autoresearch records every finding.

use crate::support::loop_agents;

use std::collections::BTreeMap;
use std::fs;

use clk::engine::ground::config::{AutoConsensus, AutoRefine, Env};
use clk::engine::runs::loops::{LoopOptions, StopReason, run_autoresearch, run_ralph};
use clk::engine::store::bus::Bus;
use clk::engine::store::git;
use clk::engine::store::workspace::Workspace;
use loop_agents::*;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

#[tokio::test]
async fn a_passing_iteration_is_committed_under_ralphs_name() {
    let (_top, dir) = new_dir();
    let p = project(&dir, &[("FILE", "ok.txt")]);
    let bus = Bus::new(Some(p.ws.activity_log()));
    let report = run_ralph(
        &p,
        &bus,
        &opts(2, "test -f ok.txt"),
        &CancellationToken::new(),
    )
    .await;
    assert_eq!(report.stop_reason, StopReason::MaxIterations);
    assert_eq!(
        (report.iterations, report.improved, report.committed),
        (2, 2, 2)
    );
    let subs = subjects(&dir);
    assert_eq!(
        subs[0],
        "[ralph] Create the greeting file so the check passes"
    );
    assert_eq!(subs[1], subs[0]);
    // Exactly the iteration's file is in the commit; clk's progress log is not.
    assert_eq!(
        git_out(&dir, &["show", "--name-only", "--format=", "HEAD"]).trim(),
        "ok.txt"
    );
    let body = git_out(&dir, &["log", "-1", "--format=%b"]);
    assert!(
        body.contains("Ralph iteration 2; qa ok=true verdict=PASS"),
        "{body}"
    );
    assert!(
        body.contains("eval: PASS 1 check: test -f ok.txt"),
        "{body}"
    );

    let recs = experiments(&p);
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[0]["index"], 1);
    assert_eq!(recs[0]["improved"], true);
    assert_eq!(recs[0]["committed"], true);
    assert_eq!(
        recs[0]["objective"],
        "Create the greeting file so the check passes"
    );
    assert_ne!(recs[0]["sha_before"], recs[0]["sha_after"]);
    assert_eq!(recs[1]["sha_before"], recs[0]["sha_after"]);
    for k in ["started_at", "finished_at", "eval_summary"] {
        assert!(recs[1][k].is_string(), "{k} missing: {}", recs[1]);
    }
    let progress = fs::read_to_string(p.ws.state_dir().join("progress.md")).unwrap();
    assert!(
        progress.contains("- iter 2 @ ") && progress.contains("improved=true committed=true"),
        "{progress}"
    );
    assert!(
        !dir.join("PROGRESS.md").exists(),
        "the product's PROGRESS.md was written"
    );
    let ev = activity(&p);
    assert!(ev.iter().any(|e| e["event"] == "validation_ran"
        && e["workflow"] == "ralph"
        && e["stage"] == "iteration-1"
        && e["exit_code"] == 0));
}

#[tokio::test]
async fn a_failing_iteration_is_put_back_and_the_users_work_survives() {
    let (_top, dir) = new_dir();
    let p = project(&dir, &[("FILE", "bad.txt"), ("ALSO_APP", "1")]);
    fs::write(dir.join("app.txt"), "v1\n").unwrap();
    fs::write(dir.join("README.md"), "readme\n").unwrap();
    let repo = git::open(&dir).unwrap();
    git::commit_paths(
        &repo,
        "user",
        &["app.txt".into(), "README.md".into()],
        "base",
    )
    .unwrap()
    .unwrap();
    // The user's uncommitted work: an edit to a tracked file and a new untracked file.
    let readme = "readme\nmy edit, not committed \u{e9}\n";
    fs::write(dir.join("README.md"), readme).unwrap();
    fs::write(dir.join("notes.txt"), b"mine\x00\xff bytes\n").unwrap();
    let before = subjects(&dir);
    let bus = Bus::new(Some(p.ws.activity_log()));
    let report = run_ralph(
        &p,
        &bus,
        &opts(1, "grep -q v3 app.txt"),
        &CancellationToken::new(),
    )
    .await;
    assert_eq!(
        (report.iterations, report.improved, report.committed),
        (1, 0, 0)
    );
    assert_eq!(subjects(&dir), before, "a failed iteration committed");
    assert!(
        !dir.join("bad.txt").exists(),
        "the new file was not removed"
    );
    assert_eq!(fs::read_to_string(dir.join("app.txt")).unwrap(), "v1\n");
    assert_eq!(fs::read_to_string(dir.join("README.md")).unwrap(), readme);
    assert_eq!(
        fs::read(dir.join("notes.txt")).unwrap(),
        b"mine\x00\xff bytes\n"
    );
    let recs = experiments(&p);
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0]["improved"], false);
    assert_eq!(recs[0]["committed"], false);
    assert!(
        recs[0]["eval_summary"]
            .as_str()
            .unwrap()
            .starts_with("FAIL `grep -q v3 app.txt` (exit 1)")
    );
    let undone = activity(&p)
        .into_iter()
        .find(|e| e["event"] == "changes_undone")
        .expect("no changes_undone event");
    assert_eq!(undone["agent"], "ralph");
    assert_eq!(undone["files"], serde_json::json!(["bad.txt", "app.txt"]));
}

#[tokio::test]
async fn a_loop_that_never_improves_escalates_reframes_and_stops() {
    let (_top, dir) = new_dir();
    let mut p = project(&dir, &[("FILE", "bad.txt")]);
    assert_eq!(p.config.robustness.plateau_window, 3);
    // The ladder alone: careful iterations cost no extra dispatches here (the consensus and
    // critic that escalation brings are tested against the mock server in
    // tests/suite/robustness.rs).
    p.config.robustness.auto_consensus = AutoConsensus::Off;
    p.config.robustness.auto_refine = AutoRefine::Off;
    let bus = Bus::new(Some(p.ws.activity_log()));
    let report = run_ralph(
        &p,
        &bus,
        &opts(10, "test -f ok.txt"),
        &CancellationToken::new(),
    )
    .await;
    assert_eq!(report.stop_reason, StopReason::Plateau);
    assert_eq!(report.stop_reason.to_string(), "plateau");
    // Iterations 1-2 too few to judge, 3 escalates, 4 reframes, 5 stops.
    assert_eq!(report.iterations, 5);
    assert_eq!(report.committed, 0);
    let want: BTreeMap<String, usize> = [("chief", 1), ("engineer", 5), ("qa", 5), ("ralph", 5)]
        .iter()
        .map(|(a, n)| (a.to_string(), *n))
        .collect();
    assert_eq!(dispatches(&p), want);
    let ev = activity(&p);
    let chief = ev
        .iter()
        .find(|e| e["event"] == "dispatch_started" && e["agent"] == "chief")
        .unwrap();
    let objective = chief["objective"].as_str().unwrap();
    assert!(
        objective.starts_with("RECOVERY: the Ralph loop has plateaued"),
        "{objective}"
    );
    assert!(objective.contains("#3 improved=false"), "{objective}");
    let careful: Vec<bool> = experiments(&p)
        .iter()
        .map(|r| r["careful"].as_bool().unwrap())
        .collect();
    assert_eq!(careful, vec![false, false, false, true, true]);
    let steps: Vec<(u64, &str)> = ev
        .iter()
        .filter(|e| e["event"] == "loop_steered")
        .map(|e| {
            (
                e["iteration"].as_u64().unwrap(),
                e["step"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(steps, [(3, "escalated"), (4, "reframed"), (5, "stopped")]);
    assert!(ev.iter().any(|e| {
        e["event"] == "loop_steered"
            && e["message"]
                .as_str()
                .is_some_and(|m| m.contains("stopped: plateau"))
    }));
    assert!(!dir.join("bad.txt").exists());
}

#[tokio::test]
async fn a_regression_asks_the_critic_about_the_failing_diff() {
    let (_top, dir) = new_dir();
    let p = project(&dir, &[("FILE", "ok.txt"), ("BAD_FROM", "2")]);
    let bus = Bus::new(Some(p.ws.activity_log()));
    let report = run_ralph(
        &p,
        &bus,
        &opts(3, "! test -f bad.txt"),
        &CancellationToken::new(),
    )
    .await;
    assert_eq!((report.iterations, report.committed), (3, 1));
    let ev = activity(&p);
    let critic: Vec<&Value> = ev
        .iter()
        .filter(|e| e["event"] == "dispatch_started" && e["agent"] == "critic")
        .collect();
    assert_eq!(critic.len(), 1, "history T,F,F regresses once");
    let objective = critic[0]["objective"].as_str().unwrap();
    assert!(objective.contains("iteration #3"), "{objective}");
    assert!(
        objective.contains("+hello"),
        "the diff is missing: {objective}"
    );
    assert!(objective.contains("bad.txt"), "{objective}");
}

#[tokio::test]
async fn done_md_stops_the_loop() {
    let (_top, dir) = new_dir();
    let p = project(&dir, &[("FILE", "ok.txt"), ("DONE_AFTER_QA", "1")]);
    let bus = Bus::new(Some(p.ws.activity_log()));
    let report = run_ralph(
        &p,
        &bus,
        &opts(5, "test -f ok.txt"),
        &CancellationToken::new(),
    )
    .await;
    assert_eq!(report.stop_reason, StopReason::Done);
    assert_eq!(report.iterations, 1);
    assert_eq!(experiments(&p).len(), 1);

    // A done request that predates the loop: nothing is dispatched at all.
    let (_top2, dir2) = new_dir();
    let p2 = project(&dir2, &[("FILE", "ok.txt")]);
    fs::write(p2.ws.state_dir().join("done.md"), "done\n").unwrap();
    let bus2 = Bus::new(Some(p2.ws.activity_log()));
    let r2 = run_ralph(&p2, &bus2, &opts(5, "true"), &CancellationToken::new()).await;
    assert_eq!((r2.stop_reason, r2.iterations), (StopReason::Done, 0));
    assert!(dispatches(&p2).is_empty());
}

#[tokio::test]
async fn a_stub_objective_never_becomes_the_subject() {
    let (_top, dir) = new_dir();
    let p = project(&dir, &[("FILE", "ok.txt"), ("RALPH_STUB", "1")]);
    let bus = Bus::new(None);
    let report = run_ralph(
        &p,
        &bus,
        &opts(1, "test -f ok.txt"),
        &CancellationToken::new(),
    )
    .await;
    assert_eq!(report.committed, 1);
    assert_eq!(subjects(&dir)[0], "[ralph] iteration #1 improvement");
}

#[tokio::test]
async fn autoresearch_records_every_finding_and_undoes_a_breaking_write() {
    let (_top, dir) = new_dir();
    let p = project(&dir, &[("FILE", "experiments/e.txt")]);
    let bus = Bus::new(Some(p.ws.activity_log()));
    let report = run_autoresearch(
        &p,
        &bus,
        &opts(2, "! test -f broken.txt"),
        &CancellationToken::new(),
    )
    .await;
    assert_eq!(
        (report.iterations, report.improved, report.committed),
        (2, 1, 1)
    );
    assert_eq!(subjects(&dir)[0], "[autoresearch] question 1");
    assert!(dir.join("experiments/e.txt").exists());
    assert!(
        !dir.join("broken.txt").exists(),
        "the breaking write was kept"
    );
    let recs = experiments(&p);
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[0]["question"], "question 1");
    assert_eq!(recs[0]["committed"], true);
    assert_eq!(recs[1]["question"], "question 2");
    assert_eq!(recs[1]["committed"], false);
    assert_eq!(recs[1]["improved"], false);
    let finding = recs[1]["finding"].as_str().unwrap();
    assert!(
        finding.starts_with("Done: wrote broken.txt for step 2"),
        "{finding}"
    );
    let want: BTreeMap<String, usize> = [("critic", 2), ("engineer", 2), ("ralph", 2)]
        .iter()
        .map(|(a, n)| (a.to_string(), *n))
        .collect();
    assert_eq!(dispatches(&p), want);
}

#[tokio::test]
async fn a_dry_run_renders_one_iteration_and_changes_nothing() {
    let (_top, dir) = new_dir();
    let p = project(&dir, &[("FILE", "ok.txt")]);
    let before = subjects(&dir);
    let bus = Bus::new(Some(p.ws.activity_log()));
    let o = LoopOptions {
        max_iterations: 3,
        dry_run: true,
        checks: vec!["true".into()],
    };
    let report = run_ralph(&p, &bus, &o, &CancellationToken::new()).await;
    assert_eq!(
        (report.stop_reason, report.iterations),
        (StopReason::DryRun, 1)
    );
    assert_eq!(dispatches(&p).values().sum::<usize>(), 3);
    assert!(
        activity(&p)
            .iter()
            .filter(|e| e["event"] == "dispatch_started")
            .all(|e| e["dry_run"] == true)
    );
    assert_eq!(subjects(&dir), before);
    assert!(experiments(&p).is_empty());
    assert!(!dir.join("ok.txt").exists());
}

#[tokio::test]
async fn the_shell_stub_is_never_an_improvement() {
    let (_top, dir) = new_dir();
    clk::engine::store::init::init(&dir, None).unwrap();
    let mut p = Workspace::new(dir.canonicalize().unwrap())
        .load(&Env::none())
        .unwrap();
    p.providers.active = "shell".into();
    p.providers.providers.get_mut("shell").unwrap().command = None;
    let before = subjects(&dir);
    let o = LoopOptions {
        max_iterations: 3,
        ..LoopOptions::default()
    };
    let clock = std::time::Instant::now();
    let report = run_ralph(
        &p,
        &Bus::new(Some(p.ws.activity_log())),
        &o,
        &CancellationToken::new(),
    )
    .await;
    eprintln!("3 stub iterations took {:?}", clock.elapsed());
    assert_eq!((report.iterations, report.improved), (3, 0));
    assert_eq!(subjects(&dir), before);
    let recs = experiments(&p);
    assert_eq!(recs[0]["objective"], "iteration #1 improvement");
    assert_eq!(recs[0]["reason"], "no files changed");
    assert_eq!(recs[0]["eval_summary"], "no checks found");
    assert!(
        activity(&p).iter().any(|e| e["event"] == "warning"
            && e["message"].as_str().unwrap().contains("no checks found"))
    );
}
