//! One pass of a workflow with a scripted agent (the shell provider in command mode):
//! validated stages commit when the check passes, are undone when it fails (leaving the
//! user's own uncommitted files alone), and dependent stages are skipped with the reason.

use std::fs;
use std::path::Path;
use std::process::Command;

use clk::engine::ground::config::Env;
use clk::engine::ground::events::Event;
use clk::engine::runs::stages::runner::{PassOptions, run_pass};
use clk::engine::store::bus::Bus;
use clk::engine::store::live::Live;
use clk::engine::store::workflow::{Outcome, load};
use clk::engine::store::workspace::{Project, Workspace};
use tokio_util::sync::CancellationToken;

const WORKFLOW: &str = r#"
name: demo
stages:
  - id: build
    agent: engineer
    objective: create app.txt
    validation: test -f app.txt
  - id: check
    agent: qa
    depends_on: [build]
    objective: check the app
    outputs: [qa_verdict]
"#;

/// The agent: the engineer writes FILE (from the environment), qa posts a verdict.
const AGENT: &str = r#"cat >/dev/null
case "$CLK_AGENT" in
engineer) printf 'ACTION: write\nPATH: %s\nCONTENT:\nhello\nEND_ACTION\nPROGRESS: yes\n' "$FILE" ;;
qa) printf 'POST: qa\nPRODUCES: qa_verdict\nBODY:\nPASS all good\nEND_POST\n' ;;
chief) if [ -n "$CHIEF_FIXES" ]; then printf 'ACTION: write\nPATH: app.txt\nCONTENT:\nfixed by chief\nEND_ACTION\n'; fi ;;
esac
"#;

fn project(dir: &Path, file: &str) -> Project {
    clk::engine::store::init::init(dir, Some("demo")).unwrap();
    let script = dir.join("../agent.sh");
    fs::write(&script, AGENT).unwrap();
    let mut p = Workspace::new(dir.canonicalize().unwrap())
        .load(&Env::none())
        .unwrap();
    p.providers.active = "shell".into();
    let shell = p.providers.providers.get_mut("shell").unwrap();
    shell.command = Some(format!("sh {}", script.display()));
    shell.env.insert("FILE".into(), file.into());
    p
}

fn git_subjects(dir: &Path) -> Vec<String> {
    let out = Command::new("git")
        .args(["log", "--format=%s"])
        .current_dir(dir)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

fn roster() -> std::collections::BTreeSet<String> {
    ["engineer", "qa"].iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn a_passing_validation_commits_and_the_next_stage_runs() {
    let top = tempfile::tempdir().unwrap();
    let dir = top.path().join("p");
    fs::create_dir(&dir).unwrap();
    let p = project(&dir, "app.txt");
    let wf = load("demo.yaml", WORKFLOW, &roster()).unwrap();
    let report = crate::support::mock_project::pass(&p, &wf).await;
    assert_eq!(report.stages.len(), 2);
    assert_eq!(report.stages[0].outcome, Outcome::Completed);
    assert!(report.stages[0].commit.is_some());
    assert_eq!(report.stages[1].outcome, Outcome::Completed);
    assert!(report.stages[1].outputs_missing.is_empty());
    assert!(report.made_progress());
    assert_eq!(git_subjects(&dir)[0], "[engineer] update app.txt");
    let body = Command::new("git")
        .args(["log", "-1", "--format=%b"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&body.stdout).contains("validation `test -f app.txt` passed"));
}

#[tokio::test]
async fn a_failing_validation_is_undone_and_user_work_survives() {
    let top = tempfile::tempdir().unwrap();
    let dir = top.path().join("p");
    fs::create_dir(&dir).unwrap();
    let p = project(&dir, "wrong.txt");
    fs::write(dir.join("my-notes.txt"), "uncommitted, mine\n").unwrap();
    let wf = load("demo.yaml", WORKFLOW, &roster()).unwrap();
    let bus = Bus::new(Some(p.ws.activity_log()));
    let mut rx = bus.subscribe();
    let commits_before = git_subjects(&dir).len();
    let report = run_pass(
        &mut Live::new(p.clone()),
        &bus,
        &wf,
        &PassOptions::default(),
        &CancellationToken::new(),
    )
    .await
    .unwrap();
    match &report.stages[0].outcome {
        Outcome::Failed { reason } => assert!(reason.contains("test -f app.txt"), "{reason}"),
        other => panic!("build should fail, got {other:?}"),
    }
    // The chief was sent to recover once; its reply changed nothing, so the stage was not
    // retried (it could only fail the same way).
    let builds = report.stages.iter().filter(|s| s.stage == "build").count();
    assert_eq!(builds, 1);
    let check = report.stages.iter().find(|s| s.stage == "check").unwrap();
    match &check.outcome {
        Outcome::Skipped { reason } => assert!(reason.contains("build"), "{reason}"),
        other => panic!("check should be skipped, got {other:?}"),
    }
    assert!(!report.made_progress());
    assert!(
        !dir.join("wrong.txt").exists(),
        "the failed write was not undone"
    );
    assert_eq!(
        fs::read_to_string(dir.join("my-notes.txt")).unwrap(),
        "uncommitted, mine\n"
    );
    assert_eq!(
        git_subjects(&dir).len(),
        commits_before,
        "a failed stage committed"
    );
    let mut undone = false;
    while let Ok(ev) = rx.try_recv() {
        if let Event::ChangesUndone { files, .. } = ev {
            assert_eq!(files, vec!["wrong.txt".to_string()]);
            undone = true;
        }
    }
    assert!(undone);
}

#[tokio::test]
async fn recovery_sends_the_chief_with_the_failure_then_retries_the_stage() {
    let top = tempfile::tempdir().unwrap();
    let dir = top.path().join("p");
    fs::create_dir(&dir).unwrap();
    let mut p = project(&dir, "wrong.txt");
    let shell = p.providers.providers.get_mut("shell").unwrap();
    shell.env.insert("CHIEF_FIXES".into(), "1".into());
    let wf = load("demo.yaml", WORKFLOW, &roster()).unwrap();
    let report = crate::support::mock_project::pass(&p, &wf).await;
    let order: Vec<(&str, bool)> = report
        .stages
        .iter()
        .map(|s| (s.stage.as_str(), s.outcome == Outcome::Completed))
        .collect();
    assert_eq!(
        order,
        vec![("build", false), ("build", true), ("check", true)]
    );
    assert_eq!(
        fs::read_to_string(dir.join("app.txt")).unwrap(),
        "fixed by chief\n"
    );
    // The chief's prompt carried the exact failure.
    let runs = fs::read_dir(p.ws.runs_dir()).unwrap();
    let chief_prompt = runs
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains("chief"))
        .map(|e| fs::read_to_string(e.path().join("prompt.txt")).unwrap())
        .next()
        .unwrap();
    assert!(chief_prompt.contains("RECOVERY (attempt 1/3)"));
    assert!(chief_prompt.contains("validation `test -f app.txt` failed (exit 1)"));
    let subjects = git_subjects(&dir);
    assert!(
        subjects.iter().any(|s| s == "[chief] update app.txt"),
        "{subjects:?}"
    );
}

#[tokio::test]
async fn the_shell_stub_is_not_progress() {
    let top = tempfile::tempdir().unwrap();
    let dir = top.path().join("p");
    fs::create_dir(&dir).unwrap();
    clk::engine::store::init::init(&dir, None).unwrap();
    let mut p = Workspace::new(dir.canonicalize().unwrap())
        .load(&Env::none())
        .unwrap();
    p.providers.active = "shell".into();
    p.providers.providers.get_mut("shell").unwrap().command = None;
    let wf = load(
        "x.yaml",
        "name: x\nstages:\n  - id: a\n    agent: engineer\n    objective: do\n",
        &roster(),
    )
    .unwrap();
    let report = run_pass(
        &mut Live::new(p.clone()),
        &Bus::new(None),
        &wf,
        &PassOptions::default(),
        &CancellationToken::new(),
    )
    .await
    .unwrap();
    assert_eq!(report.stages[0].outcome, Outcome::Completed);
    assert!(!report.made_progress());
}
