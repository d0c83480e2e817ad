//! The done gate on disk: gathering the facts from a real project made by `clk init`, and
//! settling a request written by the real `ACTION: done` (granted → done_granted.md,
//! rejected → done.md moved to done_requested.md). The pure decision is tested in
//! src/engine/done_gate/tests.rs.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clk::engine::act::actions::{GateContext, apply};
use clk::engine::ground::protocol::parse;
use clk::engine::runs::done_gate::{
    Facts, GateConfig, GateVerdict, RALPH_COUNT_CAP, TestsStatus, Unmet, decide, deliverable_files,
    evaluate_request, gather, gather_for, todo_markers,
};
use clk::engine::store::blackboard::{self, Origin};
use clk::engine::store::bus::Bus;
use clk::engine::store::git;
use clk::engine::store::init::init;
use clk::engine::store::workspace::{Workspace, append_jsonl};
use serde_json::json;
use tokio_util::sync::CancellationToken;

/// Facts under which the default gate passes.
fn passing() -> Facts {
    Facts {
        tests: TestsStatus::Green,
        deliverable_files: vec!["main.py".into()],
        latest_qa_post: Some("PASS: all 12 tests pass".into()),
        ralph_passes: 1,
        todo_markers: vec![],
        open_todos: vec![],
    }
}

fn strict() -> GateConfig {
    GateConfig {
        forbid_todo_markers: true,
        ..GateConfig::default()
    }
}

/// The passing facts with one change.
fn with(change: impl FnOnce(&mut Facts)) -> Facts {
    let mut f = passing();
    change(&mut f);
    f
}

fn post(ws: &Workspace, author: &str, text: &str) {
    let parsed = parse(text);
    let origin = Origin {
        author,
        ..Default::default()
    };
    for p in &parsed.posts {
        blackboard::add(ws, &origin, p).unwrap();
    }
}

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, text).unwrap();
}

#[test]
fn gather_from_an_initialized_repo() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    init(&root, None).unwrap();
    let ws = Workspace::new(&root);
    // clk's own committed files (and .gitignore) are not the product.
    let fresh = gather(&ws, TestsStatus::NotRun);
    assert_eq!(fresh.deliverable_files, Vec::<String>::new());
    assert_eq!(fresh.latest_qa_post, None);
    assert_eq!(fresh.ralph_passes, 0);
    assert_eq!(decide(&GateConfig::default(), &fresh).unwrap_err().len(), 4);

    write(
        &root,
        "src/main.py",
        "def main():\n    # TODO handle errors\n    return 1\n",
    );
    write(
        &root,
        "README.md",
        "Run it. todo: nothing; TODOS are fine\n",
    );
    write(&root, "gone.txt", "soon deleted\n");
    write(&root, "PROGRESS.md", "- did things\n");
    let repo = git::open(&root).unwrap();
    let committed: Vec<String> = ["src/main.py", "README.md", "gone.txt", "PROGRESS.md"]
        .map(String::from)
        .to_vec();
    git::commit_paths(&repo, "engineer", &committed, "build").unwrap();
    fs::remove_file(root.join("gone.txt")).unwrap();
    // Untracked: a new folder counts, tool folders, caches, hidden and ignored files do not.
    write(
        &root,
        "tests/test_main.py",
        "def test_main():\n    assert True\n",
    );
    write(&root, "node_modules/left/index.js", "x\n");
    write(&root, "src/__pycache__/main.cpython-312.pyc", "\0bin");
    write(&root, ".env", "SECRET=1\n");
    write(&root, ".clk/state/done.md", "# Done requested\n");
    let gi = fs::read_to_string(root.join(".gitignore")).unwrap();
    fs::write(root.join(".gitignore"), format!("{gi}build/\n*.log\n")).unwrap();
    write(&root, "build/out.txt", "artifact\n");
    write(&root, "debug.log", "noise\n");

    post(&ws, "qa", "POST: qa\nBODY:\nFAIL: 2 tests\nEND_POST\n");
    post(&ws, "qa", "POST: qa\nBODY:\nPASS: 14 tests\nEND_POST\n");
    post(
        &ws,
        "engineer",
        "POST: implementation\nBODY:\nFAIL fixed\nEND_POST\n",
    );
    // The chief cannot certify its own request.
    post(&ws, "chief", "POST: qa\nBODY:\nPASS trust me\nEND_POST\n");

    let state = ws.state_dir();
    for n in 0..2 {
        append_jsonl(&state.join("experiments.jsonl"), &json!({"iteration": n})).unwrap();
    }
    for (agent, ok, dry) in [
        ("ralph", true, false),
        ("ralph", false, false),
        ("ralph", true, true),
        ("engineer", true, false),
    ] {
        let rec = json!({"agent": agent, "ok": ok, "dry_run": dry});
        append_jsonl(&state.join("agent_memory.jsonl"), &rec).unwrap();
    }

    let facts = gather(&ws, TestsStatus::Green);
    assert_eq!(
        facts.deliverable_files,
        ["README.md", "src/main.py", "tests/test_main.py"]
    );
    assert_eq!(facts.latest_qa_post.as_deref(), Some("PASS: 14 tests"));
    assert_eq!(facts.ralph_passes, 3);
    assert!(facts.todo_markers.is_empty(), "not scanned unless asked");
    assert_eq!(decide(&GateConfig::default(), &facts), Ok(()));

    let scanned = gather_for(&ws, &strict(), TestsStatus::Green);
    assert_eq!(scanned.todo_markers, ["src/main.py:2"]);
    assert_eq!(
        decide(&strict(), &scanned),
        Err(vec![Unmet::TodoMarkers(vec!["src/main.py:2".into()])])
    );
}

/// A long history is counted from its end only up to the cap, and the evidence says so.
#[test]
fn ralph_passes_stop_counting_at_the_cap() {
    let dir = tempfile::tempdir().unwrap();
    init(dir.path(), None).unwrap();
    let ws = Workspace::new(dir.path());
    let state = ws.state_dir();
    // Old passes first, then many other agents' records: the newest are read first.
    for n in 0..150 {
        let agent = if n < 120 { "ralph" } else { "engineer" };
        let rec = json!({"agent": agent, "ok": true, "dry_run": false});
        append_jsonl(&state.join("agent_memory.jsonl"), &rec).unwrap();
    }
    let facts = gather(&ws, TestsStatus::Green);
    assert_eq!(facts.ralph_passes, RALPH_COUNT_CAP);
    assert!(
        facts.summary().contains("ralph passes: 100+"),
        "{}",
        facts.summary()
    );
}

#[test]
fn a_plain_folder_is_walked() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "app/index.html", "<p>hi</p>\n");
    write(root, "app/node_modules/x.js", "x\n");
    write(root, "target/debug/app", "bin\n");
    write(root, "venv/bin/python", "py\n");
    write(root, ".git/config", "[core]\n");
    write(root, "KICKOFF.md", "plan\n");
    write(root, "docs/KICKOFF.md", "a doc\n");
    #[cfg(unix)]
    std::os::unix::fs::symlink(root, root.join("app/loop")).unwrap();
    assert_eq!(
        deliverable_files(root),
        ["app/index.html", "docs/KICKOFF.md"]
    );
}

#[test]
fn markers_skip_binary_and_large_files_and_stop_at_fifty() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "bin.dat", "\0\0TODO\n");
    write(root, "big.txt", &"TODO\n".repeat(300_000));
    write(root, "many.txt", &"FIXME\nok\n".repeat(60));
    write(
        root,
        "words.txt",
        "XXX\nHACK:\n[PLACEHOLDER]\nhackathon TODOs\n",
    );
    let files = ["bin.dat", "big.txt", "words.txt", "many.txt"].map(String::from);
    let found = todo_markers(root, &files);
    assert_eq!(found.len(), 50);
    assert_eq!(found[..3], ["words.txt:1", "words.txt:2", "words.txt:3"]);
    assert_eq!(found[3], "many.txt:1");
    assert_eq!(found[49], "many.txt:93");
}

/// Write `.clk/state/done.md` through the real `ACTION: done`.
async fn request_done(root: &Path, reason: &str) {
    let ctx = GateContext {
        root: root.to_path_buf(),
        agent: "chief".into(),
        run_id: "run1".into(),
        backups: root.join(".clk/backups/run1"),
        warn_files: 5,
        max_files: 25,
        run_timeout: Duration::from_secs(10),
        user_dirty: BTreeSet::new(),
        done_file: root.join(".clk/state/done.md"),
        limits: Default::default(),
        sandbox: clk::engine::act::confine::Isolation::None,
    };
    let parsed = parse(&format!("ACTION: done\nREASON: {reason}\nEND_ACTION\n"));
    let out = apply(
        &ctx,
        &Bus::new(None),
        &parsed.actions,
        &CancellationToken::new(),
    )
    .await;
    assert_eq!(out.done.as_deref(), Some(reason));
}

fn state(root: &Path, name: &str) -> PathBuf {
    root.join(".clk/state").join(name)
}

#[tokio::test]
async fn requests_are_granted_or_moved_aside() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    init(&root, None).unwrap();
    let ws = Workspace::new(&root);
    let cfg = GateConfig::default();
    assert_eq!(
        evaluate_request(&ws, &cfg, &passing()).unwrap(),
        GateVerdict::NoRequest
    );

    // Rejected: the request moves aside and the loop sees none.
    request_done(&root, "first try").await;
    let red = with(|f| {
        f.tests = TestsStatus::Red("1 failed".into());
        f.ralph_passes = 0;
    });
    let v = evaluate_request(&ws, &cfg, &red).unwrap();
    assert_eq!(
        v,
        GateVerdict::Rejected {
            unmet: vec![Unmet::TestsRed("1 failed".into()), Unmet::NoRalphPass]
        }
    );
    assert!(!state(&root, "done.md").exists());
    assert!(!state(&root, "done_granted.md").exists());
    let moved = fs::read_to_string(state(&root, "done_requested.md")).unwrap();
    assert!(moved.contains("Reason: first try"), "{moved}");
    assert_eq!(
        evaluate_request(&ws, &cfg, &red).unwrap(),
        GateVerdict::NoRequest
    );

    // A second rejection replaces the older moved request.
    request_done(&root, "second try").await;
    let v = evaluate_request(&ws, &cfg, &Facts::default()).unwrap();
    assert!(matches!(v, GateVerdict::Rejected { unmet } if unmet.len() == 4));
    let moved = fs::read_to_string(state(&root, "done_requested.md")).unwrap();
    assert!(moved.contains("Reason: second try") && !moved.contains("first try"));

    // Granted: the evidence is written and the request stays.
    request_done(&root, "all criteria met").await;
    let v = evaluate_request(&ws, &cfg, &passing()).unwrap();
    assert_eq!(
        v,
        GateVerdict::Granted {
            reason: "all criteria met".into()
        }
    );
    assert!(state(&root, "done.md").is_file());
    let granted = fs::read_to_string(state(&root, "done_granted.md")).unwrap();
    assert!(granted.starts_with("# Done\n"), "{granted}");
    for want in [
        "Reason: all criteria met",
        "Requested by: chief",
        "Granted: ",
        "- tests: green",
        "- deliverables: 1 product file(s): main.py",
        "- latest qa post: PASS: PASS: all 12 tests pass",
        "- ralph passes: 1",
    ] {
        assert!(granted.contains(want), "{want:?} in {granted}");
    }
}
