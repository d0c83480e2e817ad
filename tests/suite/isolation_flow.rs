//! The whole `clk "idea"` flow in a new empty folder, against the mock model server: clk's
//! own commits (setup, idea, casting) and the agents' work reach the user's branch without a
//! merge commit, and the files are there at the end. And `balanced` keeps a run whose last
//! checks failed on its branch, saying what to do, instead of merging it.

use std::fs;
use std::path::Path;

use clk::engine::Engine;
use clk::engine::ground::events::{Command, Event};
use clk::engine::store::bus::Bus;

use crate::suite::engine_commands::until_finished;
use crate::suite::worktree::git;
use crate::support;
use support::mock_server::{Fallback, MockServer, Reply, Script};

pub(crate) fn clk(dir: &Path, mock: &MockServer) -> assert_cmd::Command {
    let mut c = support::clk();
    c.current_dir(dir)
        .env("CLK_NO_TUI", "1")
        .env("CLK_PROVIDER", "ollama")
        .env("CLK_OLLAMA_ENDPOINT", mock.url())
        .env("CLK_OLLAMA_MODEL", "test-model")
        .env("CLK_SUPERVISE_MAX_CYCLES", "1")
        .env("CLK_DONE_GATE_REQUIRE_TESTS_GREEN", "false")
        .env("CLK_DONE_GATE_REQUIRE_RALPH_PASS", "false");
    c
}

const CASTING: &str = "Roster: add a data steward.\nPROPOSE_ROLE: data_steward\n\
ROLE: owns the data model\nPROMPT:\nYou are the data steward. $objective\nEND_ROLE\nPROGRESS: yes\n";

/// Every agent's answer: the deliverables every bundled workflow checks for, a qa verdict and
/// a done request.
const WORK: &str = "Done.\n\
ACTION: write\nPATH: RESEARCH.md\nCONTENT:\n# Research\nPeople keep journals.\nEND_ACTION\n\
ACTION: write\nPATH: DECISIONS.md\nCONTENT:\n# Decisions\nA small CLI.\nEND_ACTION\n\
ACTION: write\nPATH: PRD.json\nCONTENT:\n{\"vision\": \"v\", \"personas\": [], \"jobs_to_be_done\": [], \"mvp_features\": [], \"out_of_scope\": []}\nEND_ACTION\n\
ACTION: write\nPATH: ARCHITECTURE.md\nCONTENT:\n# Architecture\nOne file.\nEND_ACTION\n\
ACTION: write\nPATH: app.py\nCONTENT:\nprint('journal')\nEND_ACTION\n\
POST: qa\nPRODUCES: findings, synthesis, prd, architecture, implementation, qa_verdict\nBODY:\nPASS: app.py prints journal\nEND_POST\n\
ACTION: done\nREASON: the app runs and qa passed\nEND_ACTION\n\
CONFIDENCE: 0.9\nPROGRESS: yes\n";

#[test]
fn a_new_project_gets_its_files_on_a_linear_history() {
    let top = tempfile::tempdir().unwrap();
    let dir = top.path().join("journal");
    fs::create_dir(&dir).unwrap();
    let mock = MockServer::start(
        Script::new(vec![Reply::text(CASTING)]).fallback(Fallback::Reply(Reply::text(WORK))),
    );
    let out = clk(&dir, &mock).arg("A journaling app").output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let log = git(&dir, &["log", "--format=%an|%s"]);
    assert!(out.status.success(), "{text}\n{log}");
    eprintln!(
        "{log}\n{}",
        git(&dir, &["log", "--graph", "--oneline", "--all"])
    );
    for f in ["app.py", "RESEARCH.md", "PRD.json", "ARCHITECTURE.md"] {
        assert!(dir.join(f).is_file(), "{f} missing\n{text}\n{log}");
    }
    assert_eq!(
        git(&dir, &["rev-list", "--merges", "--count", "HEAD"]).trim(),
        "0",
        "{log}"
    );
    // clk's own commits are there, on the same line as the agents'.
    assert!(log.contains("[clk-idea]"), "{log}");
    assert!(log.contains("casting: roles data_steward"), "{log}");
    assert!(log.contains("[researcher]"), "{log}");
    assert_eq!(
        git(&dir, &["branch", "--list", "clk/*"]).trim(),
        "",
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboards_first_message_ends_in_a_fast_forward() {
    let (_t, dir) = support::mock_project::new_dir();
    let mock = MockServer::start(
        Script::new(vec![Reply::text(CASTING)]).fallback(Fallback::Reply(Reply::text(WORK))),
    );
    let url = mock.url();
    let p = support::mock_project::project(
        &dir,
        &mock,
        &[
            ("CLK_PROVIDER", "ollama"),
            ("CLK_OLLAMA_ENDPOINT", &url),
            ("CLK_OLLAMA_MODEL", "test-model"),
            ("CLK_SUPERVISE_MAX_CYCLES", "1"),
            ("CLK_DONE_GATE_REQUIRE_TESTS_GREEN", "false"),
            ("CLK_DONE_GATE_REQUIRE_RALPH_PASS", "false"),
        ],
    );
    let root = p.ws.root.clone();
    let init_head = git(&root, &["rev-parse", "HEAD"]);
    let (engine, _join) = Engine::spawn(p, Bus::new(None));
    let mut rx = engine.subscribe();
    let id = engine
        .submit(Command::Message {
            text: "A journaling app".into(),
        })
        .unwrap();
    let (events, ok, summary) = until_finished(&mut rx, id).await;
    let log = git(&root, &["log", "--format=%an|%s"]);
    assert!(ok, "{summary}\n{log}");
    // While the run went on, the user's branch did not move: the idea and the casting were
    // committed on the run's branch, and the run ended in one fast-forward.
    let merges: Vec<&String> = events
        .iter()
        .filter_map(|e| match e {
            Event::MergeDone { how, .. } => Some(how),
            _ => None,
        })
        .collect();
    assert!(!merges.is_empty(), "{summary}");
    assert!(merges.iter().all(|h| *h == "fast-forward"), "{merges:?}");
    assert_eq!(
        git(&root, &["rev-list", "--merges", "--count", "HEAD"]).trim(),
        "0",
        "{log}"
    );
    assert!(log.contains("[clk-idea]"), "{log}");
    assert!(log.contains("casting: roles data_steward"), "{log}");
    assert!(
        git(
            &root,
            &["merge-base", "--is-ancestor", init_head.trim(), "HEAD"]
        )
        .is_empty(),
        "the history grows from the setup commit"
    );
    assert!(root.join("app.py").is_file(), "{log}");
    assert!(
        fs::read_to_string(root.join(".clk/state/idea.json"))
            .unwrap()
            .contains("A journaling app")
    );
    // Nothing of clk's is left uncommitted in the user's folder.
    let status = git(&root, &["status", "--porcelain"]);
    assert!(
        !status.contains("idea.json") && !status.contains("agents.json"),
        "{status}"
    );
}
