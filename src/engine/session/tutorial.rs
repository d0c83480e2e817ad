//! `/tutorial`: the whole flow once, on a tiny sample idea, for free.
//!
//! A scratch project under `.clk/tutorial/` (ignored by git; replaced on each run) gets the
//! idea "Add a hello() function to greeter.py". Its agents are the built-in shell provider
//! running a short script that answers as the chief, the engineer and qa would, so the person
//! watches real dispatches, real ACTION blocks applied by the gate, a validation command and a
//! real commit, with no account and no cost. The user's own project, its config and its active
//! provider are never touched; the environment's `CLK_*` overrides are ignored in the scratch
//! project so a `CLK_PROVIDER` pointing at a paid model cannot be used by accident.

use std::path::{Path, PathBuf};

use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::engine::ground::config::Env;
use crate::engine::ground::config::ProvidersFile;
use crate::engine::ground::events::Event;
use crate::engine::runs::orchestrate::{self, StepResult};
use crate::engine::store::bus::Bus;
use crate::engine::store::git;
use crate::engine::store::idea::Idea;
use crate::engine::store::init;
use crate::engine::store::workspace::{Project, Workspace, read_json, write_atomic, write_json};

/// The sample idea.
pub const IDEA: &str = "Add a hello() function to greeter.py";

/// Seconds each scripted agent "thinks", so the cards are seen working.
const PACE_S: &str = "1";

const WORKFLOW: &str = r#"name: tutorial
description: The tutorial's one cycle - the engineer builds, qa checks.
stages:
  - id: implement
    agent: engineer
    objective: Add a hello() function to greeter.py, with a test.
    outputs: [implementation]
    validation: grep -q "def hello" greeter.py
  - id: qa
    agent: qa
    depends_on: [implement]
    objective: Check that hello() exists and is tested, then post a PASS or FAIL verdict.
    inputs: [type:implementation, stage:implement]
"#;

const AGENT_SCRIPT: &str = r#"#!/bin/sh
# The clk tutorial's agents: each role answers with a fixed reply in clk's block protocol.
cat > /dev/null
sleep "${CLK_TUTORIAL_PACE_S:-1}"
case "$CLK_AGENT" in
chief)
  cat <<'REPLY'
The baseline team fits this small change: the engineer writes it, qa checks it.

CONFIDENCE: 0.9
PROGRESS: yes
REPLY
  ;;
engineer)
  cat <<'REPLY'
I added hello() to greeter.py and a test for it.

ACTION: write
PATH: greeter.py
CONTENT:
def hello(name="world"):
    """Return a friendly greeting."""
    return f"Hello, {name}!"
END_ACTION

ACTION: write
PATH: test_greeter.py
CONTENT:
from greeter import hello


def test_hello():
    assert hello() == "Hello, world!"
    assert hello("clk") == "Hello, clk!"
END_ACTION

POST: implementation
TITLE: hello() is in greeter.py
PRODUCES: implementation
BODY:
greeter.py defines hello(name="world"); test_greeter.py checks both greetings.
END_POST

CONFIDENCE: 0.9
PROGRESS: yes
REPLY
  ;;
qa)
  cat <<'REPLY'
ACTION: run
CMD: grep -n "def hello" greeter.py
END_ACTION

POST: qa
TITLE: hello() checked
BODY:
PASS: greeter.py defines hello() and test_greeter.py covers it.
END_POST

CONFIDENCE: 0.9
PROGRESS: yes
REPLY
  ;;
*)
  printf 'Nothing for %s to do in the tutorial.\n\nPROGRESS: no\n' "$CLK_AGENT"
  ;;
esac
"#;

fn marker(ws: &Workspace) -> PathBuf {
    ws.state_dir().join("tutorial.json")
}

/// True once the tutorial has finished in this project (the welcome banner stops pointing
/// at it).
pub fn has_run(ws: &Workspace) -> bool {
    matches!(read_json(&marker(ws)), Ok(Some(v)) if v["ok"] == true)
}

/// Make a fresh scratch project at `dir` whose only provider is the scripted shell agent.
fn prepare(dir: &Path, pace_s: &str) -> Result<Project, String> {
    match std::fs::symlink_metadata(dir) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(dir).map_err(|e| e.to_string())?,
        Ok(_) => std::fs::remove_file(dir).map_err(|e| e.to_string())?,
        Err(_) => {}
    }
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    init::init(dir, Some("clk-tutorial")).map_err(|e| e.to_string())?;
    let ws = Workspace::new(dir.canonicalize().map_err(|e| e.to_string())?);
    let script = ws.config_dir().join("tutorial-agent.sh");
    write_atomic(&script, AGENT_SCRIPT.as_bytes()).map_err(|e| e.to_string())?;
    write_atomic(
        &ws.workflows_dir().join("tutorial.yaml"),
        WORKFLOW.as_bytes(),
    )
    .map_err(|e| e.to_string())?;
    // The defaults already make shell the active provider; the environment is not consulted.
    let mut providers = ProvidersFile::default();
    if let Some(shell) = providers.providers.get_mut("shell") {
        shell.command = Some(format!("sh '{}'", script.display()));
        shell
            .env
            .insert("CLK_TUTORIAL_PACE_S".into(), pace_s.to_string());
    }
    let value = serde_json::to_value(&providers).map_err(|e| e.to_string())?;
    write_json(&ws.providers_file(), &value).map_err(|e| e.to_string())?;
    ws.load(&Env::none()).map_err(|e| e.to_string())
}

/// Run the tutorial for the project `main`. `pace_s` overrides the agents' pause (tests).
pub async fn run(
    main: &Project,
    bus: &Bus,
    pace_s: Option<&str>,
    cancel: &CancellationToken,
) -> StepResult {
    let dir = main.ws.clk().join("tutorial");
    let project = match prepare(&dir, pace_s.unwrap_or(PACE_S)) {
        Ok(p) => p,
        Err(e) => return StepResult::failed(format!("cannot set up the tutorial: {e}")),
    };
    let scratch = project.ws.root.display().to_string();
    let idea = Idea::new(IDEA, None, Vec::new());
    if let Err(e) = crate::engine::store::idea::capture(&project, &idea) {
        return StepResult::failed(e);
    }
    bus.emit(Event::IdeaCaptured {
        title: format!("{} (tutorial)", idea.title),
    });
    let cast = orchestrate::cast(&project, bus, false, cancel).await;
    if cast.cancelled || !cast.ok {
        bus.emit(Event::TutorialFinished {
            ok: false,
            scratch: scratch.clone(),
        });
        return cast;
    }
    let no_env = Env::none();
    let run =
        orchestrate::run_with_env(&project, bus, "tutorial", Some(1), false, cancel, &no_env).await;
    let built = std::fs::read_to_string(project.ws.root.join("greeter.py"))
        .is_ok_and(|t| t.contains("def hello"));
    let committed = git::open(&project.ws.root)
        .and_then(|r| git::head_summary(&r))
        .map(|(sha, subject)| format!("{sha} {subject}"))
        .unwrap_or_default();
    let ok = built && !run.cancelled;
    let _ = write_json(
        &marker(&main.ws),
        &json!({"ok": ok, "at": chrono::Local::now().to_rfc3339(), "scratch": scratch}),
    );
    bus.emit(Event::TutorialFinished {
        ok,
        scratch: scratch.clone(),
    });
    if !ok {
        return StepResult {
            ok: false,
            cancelled: run.cancelled,
            summary: format!("the tutorial did not finish: {}", run.summary),
            bad_input: false,
        };
    }
    bus.emit(Event::Report {
        topic: "tutorial".into(),
        lines: vec![
            format!("Idea: {IDEA}"),
            "The chief kept the baseline team; the engineer wrote greeter.py and \
             test_greeter.py; the gate applied the blocks, the stage's validation passed, and \
             each agent's batch became a git commit; qa checked it and posted PASS."
                .into(),
            format!("Last commit there: {committed}"),
            format!("Look around: {scratch} (git log, greeter.py, .clk/logs/)."),
            format!(
                "Your project and its provider ({}) were not touched; this cost nothing.",
                main.providers.active
            ),
            "Next: type what you want to build.".into(),
        ],
    });
    StepResult {
        ok: true,
        cancelled: false,
        summary: format!("tutorial finished in {scratch}"),
        bad_input: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::ground::config::Env;

    #[tokio::test]
    async fn the_tutorial_builds_hello_and_commits_without_touching_the_project() {
        let dir = tempfile::tempdir().unwrap();
        init::init(dir.path(), Some("mine")).unwrap();
        let main = Workspace::new(dir.path().canonicalize().unwrap())
            .load(&Env::none())
            .unwrap();
        assert!(!has_run(&main.ws));
        let providers_before = std::fs::read(main.ws.providers_file()).ok();
        let bus = Bus::new(None);
        let mut rx = bus.subscribe();
        let r = run(&main, &bus, Some("0"), &CancellationToken::new()).await;
        assert!(r.ok, "{r:?}");
        assert!(has_run(&main.ws));
        let scratch = main.ws.clk().join("tutorial");
        let greeter = std::fs::read_to_string(scratch.join("greeter.py")).unwrap();
        assert!(greeter.contains("def hello"));
        assert!(
            !main.ws.root.join("greeter.py").exists(),
            "the project is untouched"
        );
        assert_eq!(
            std::fs::read(main.ws.providers_file()).ok(),
            providers_before
        );
        let mut agents = Vec::new();
        let mut finished = false;
        while let Ok(ev) = rx.try_recv() {
            match ev {
                Event::DispatchStarted { agent, .. } => agents.push(agent),
                Event::TutorialFinished { ok, .. } => finished = ok,
                _ => {}
            }
        }
        assert_eq!(agents, vec!["chief", "engineer", "qa"]);
        assert!(finished);
        // A second run starts from a clean scratch project.
        let again = run(&main, &bus, Some("0"), &CancellationToken::new()).await;
        assert!(again.ok, "{again:?}");
    }
}
