//! The commands the dashboard sends, driven through the real engine: free-text messages,
//! `/stop`, `/provider`, `/undo`, `/doctor --fix` with its questions, `/status`, `/roles`,
//! and heartbeats. Agents are the shell provider running small scripts.

use std::path::Path;
use std::time::Duration;

use clk::engine::ground::config::Env;
use clk::engine::ground::events::{Command, Event, RolesCommand};
use clk::engine::store::bus::Bus;
use clk::engine::store::workspace::{Project, Workspace, read_json, write_json};
use clk::engine::{Engine, EngineHandle};
use tokio::sync::broadcast::Receiver;

/// A fresh project whose shell provider runs `script` (None: the fixed model-less reply).
pub(crate) fn project(dir: &Path, script: Option<&str>) -> Project {
    clk::engine::store::init::init(dir, Some("t")).unwrap();
    let ws = Workspace::new(dir.canonicalize().unwrap());
    if let Some(body) = script {
        let path = ws.config_dir().join("agent.sh");
        std::fs::write(&path, body).unwrap();
        let mut v = read_json(&ws.providers_file()).unwrap().unwrap_or_default();
        v["active"] = "shell".into();
        v["providers"]["shell"]["type"] = "shell".into();
        v["providers"]["shell"]["command"] = format!("sh {}", path.display()).into();
        write_json(&ws.providers_file(), &v).unwrap();
    }
    let mut p = ws.load(&Env::none()).unwrap();
    p.providers.active = "shell".into();
    p
}

fn set_config(p: &Project, key: &str, value: serde_json::Value) {
    let mut v = read_json(&p.ws.config_file()).unwrap().unwrap();
    v[key] = value;
    write_json(&p.ws.config_file(), &v).unwrap();
}

/// Every event until the task `id` finishes, and how it finished.
pub(crate) async fn until_finished(
    rx: &mut Receiver<Event>,
    id: u64,
) -> (Vec<Event>, bool, String) {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let ev = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .expect("the task did not finish within 60 s")
            .unwrap();
        if let Event::TaskFinished {
            task_id,
            ok,
            summary,
            ..
        } = &ev
        {
            if *task_id == id {
                return (seen, *ok, summary.clone());
            }
        }
        seen.push(ev);
    }
}

pub(crate) async fn submit(
    engine: &EngineHandle,
    rx: &mut Receiver<Event>,
    cmd: Command,
) -> (Vec<Event>, bool, String) {
    let id = engine.submit(cmd).unwrap();
    until_finished(rx, id).await
}

/// The last report on `topic`.
pub(crate) fn report(events: &[Event], topic: &str) -> Vec<String> {
    events
        .iter()
        .rev()
        .find_map(|e| match e {
            Event::Report { topic: t, lines } if t == topic => Some(lines.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no {topic} report in {events:?}"))
}

const WRITER: &str = r#"cat > /dev/null
printf 'ACTION: write\nPATH: notes/%s.txt\nCONTENT:\nwritten by %s\nEND_ACTION\n\nPROGRESS: yes\n' "$CLK_AGENT" "$CLK_AGENT"
"#;

#[tokio::test]
async fn the_first_message_becomes_the_idea_and_later_ones_steer_the_work() {
    let dir = tempfile::tempdir().unwrap();
    let p = project(dir.path(), None);
    let ws = p.ws.clone();
    let (engine, _join) = Engine::spawn(p, Bus::new(None));
    let mut rx = engine.subscribe();
    let (events, ok, summary) = submit(
        &engine,
        &mut rx,
        Command::Message {
            text: "A local-first journaling app".into(),
        },
    )
    .await;
    assert!(ok, "{summary}");
    assert!(summary.contains("rehearsal"), "{summary}");
    assert!(events.iter().any(
        |e| matches!(e, Event::IdeaCaptured { title } if title == "A local-first journaling app")
    ));
    let agents: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            Event::DispatchStarted { agent, .. } => Some(agent.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        agents.first(),
        Some(&"chief"),
        "casting comes first: {agents:?}"
    );
    assert!(agents.contains(&"engineer"), "then the run: {agents:?}");

    let (events, ok, summary) = submit(
        &engine,
        &mut rx,
        Command::Message {
            text: "Add an export to markdown".into(),
        },
    )
    .await;
    assert!(ok, "{summary}");
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, Event::IdeaCaptured { .. })),
        "the idea stays"
    );
    let run_id = events
        .iter()
        .find_map(|e| match e {
            Event::DispatchStarted { run_id, .. } => Some(run_id.clone()),
            _ => None,
        })
        .unwrap();
    let prompt = std::fs::read_to_string(ws.runs_dir().join(run_id).join("prompt.txt")).unwrap();
    assert!(
        prompt.contains("latest requests from the user: Add an export to markdown"),
        "agents see the request"
    );
    let (_, ok, summary) = submit(&engine, &mut rx, Command::Message { text: "   ".into() }).await;
    assert!(!ok && summary.contains("empty"), "{summary}");
}

#[tokio::test]
async fn stop_lets_the_current_stage_finish_and_starts_no_other() {
    let dir = tempfile::tempdir().unwrap();
    let p = project(dir.path(), Some(&format!("sleep 1\n{WRITER}")));
    let (engine, _join) = Engine::spawn(p, Bus::new(None));
    let mut rx = engine.subscribe();
    let (_, ok, summary) = submit(&engine, &mut rx, Command::Stop).await;
    assert!(!ok && summary.contains("nothing is running"), "{summary}");
    let id = engine
        .submit(Command::Run {
            workflow: "engineering".into(),
            max_cycles: Some(3),
            dry_run: false,
        })
        .unwrap();
    loop {
        if let Event::DispatchStarted { .. } = rx.recv().await.unwrap() {
            break;
        }
    }
    engine.submit(Command::Stop).unwrap();
    let (events, _, summary) = until_finished(&mut rx, id).await;
    assert!(events.iter().any(|e| matches!(e, Event::StopRequested)));
    assert!(summary.contains("stopped"), "{summary}");
    let stages = events
        .iter()
        .filter(|e| matches!(e, Event::StageStarted { .. }))
        .count();
    assert_eq!(stages, 0, "no stage started after the stop: {events:?}");
    assert!(
        events.iter().any(|e| matches!(e, Event::Committed { .. })),
        "the running stage finished its work"
    );
    // New work after a stop runs normally.
    let (_, ok, _) = submit(
        &engine,
        &mut rx,
        Command::Dispatch {
            agent: "qa".into(),
            objective: "check".into(),
            stage: None,
            dry_run: false,
        },
    )
    .await;
    assert!(ok);
}

#[tokio::test]
async fn switching_provider_is_saved_checked_and_used() {
    let dir = tempfile::tempdir().unwrap();
    let p = project(dir.path(), None);
    let ws = p.ws.clone();
    let mut v = read_json(&ws.providers_file()).unwrap().unwrap_or_default();
    v["providers"]["ollama"] =
        serde_json::json!({"type": "ollama", "endpoint": "http://127.0.0.1:9", "model": "m"});
    write_json(&ws.providers_file(), &v).unwrap();
    let (engine, _join) = Engine::spawn(p, Bus::new(None));
    let mut rx = engine.subscribe();
    let (_, ok, summary) = submit(
        &engine,
        &mut rx,
        Command::SwitchProvider {
            name: "nope".into(),
        },
    )
    .await;
    assert!(!ok && summary.contains("configured:"), "{summary}");
    let (events, ok, summary) = submit(
        &engine,
        &mut rx,
        Command::SwitchProvider {
            name: "ollama".into(),
        },
    )
    .await;
    assert!(!ok, "an unreachable provider is reported: {summary}");
    assert!(events.iter().any(
        |e| matches!(e, Event::ProviderSwitched { name, usable: false, .. } if name == "ollama")
    ));
    assert_eq!(
        read_json(&ws.providers_file()).unwrap().unwrap()["active"],
        "ollama"
    );
    let (events, _, _) = submit(
        &engine,
        &mut rx,
        Command::Dispatch {
            agent: "qa".into(),
            objective: "x".into(),
            stage: None,
            dry_run: true,
        },
    )
    .await;
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::DispatchStarted { provider, .. } if provider == "ollama"))
    );
    let (_, ok, summary) = submit(
        &engine,
        &mut rx,
        Command::SwitchProvider {
            name: "shell".into(),
        },
    )
    .await;
    assert!(ok, "{summary}");
}

#[tokio::test]
async fn undo_previews_then_reverts_the_agent_commit() {
    let dir = tempfile::tempdir().unwrap();
    let p = project(dir.path(), Some(WRITER));
    let root = p.ws.root.clone();
    let (engine, _join) = Engine::spawn(p, Bus::new(None));
    let mut rx = engine.subscribe();
    let (_, ok, _) = submit(
        &engine,
        &mut rx,
        Command::Dispatch {
            agent: "engineer".into(),
            objective: "write notes".into(),
            stage: None,
            dry_run: false,
        },
    )
    .await;
    assert!(ok);
    assert!(root.join("notes/engineer.txt").exists());
    std::fs::write(root.join("mine.txt"), "uncommitted work\n").unwrap();
    let (events, ok, _) = submit(&engine, &mut rx, Command::Undo { confirm: false }).await;
    assert!(ok);
    let lines = report(&events, "undo");
    assert!(
        lines[0].contains("[engineer] update notes/engineer.txt"),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|l| l.contains("added notes/engineer.txt")),
        "{lines:?}"
    );
    assert!(
        root.join("notes/engineer.txt").exists(),
        "a preview changes nothing"
    );
    let (events, ok, summary) = submit(&engine, &mut rx, Command::Undo { confirm: true }).await;
    assert!(ok, "{summary}");
    assert!(events.iter().any(|e| matches!(e, Event::Undone { files, .. } if files == &vec!["notes/engineer.txt".to_string()])));
    assert!(!root.join("notes/engineer.txt").exists());
    assert_eq!(
        std::fs::read_to_string(root.join("mine.txt")).unwrap(),
        "uncommitted work\n"
    );
    let (events, _, _) = submit(&engine, &mut rx, Command::Undo { confirm: false }).await;
    assert!(
        report(&events, "undo")[0].contains("no clk commit"),
        "init is never undone"
    );
}

#[tokio::test]
async fn doctor_fix_asks_before_each_repair() {
    let dir = tempfile::tempdir().unwrap();
    let p = project(dir.path(), None);
    let lock = p.ws.state_dir().join(".tui-active");
    // A lock left by a dashboard process that no longer exists.
    std::fs::write(&lock, "999999999\n").unwrap();
    // Headless: every question is answered no, nothing is repaired.
    let (engine, _join) = Engine::spawn(p.clone(), Bus::new(None));
    let mut rx = engine.subscribe();
    let (events, _, _) = submit(&engine, &mut rx, Command::Doctor { fix: true }).await;
    assert!(events.iter().any(
        |e| matches!(e, Event::ConfirmAnswered { approve: false, by, .. } if by == "headless")
    ));
    assert!(lock.exists());
    assert!(
        report(&events, "doctor")
            .iter()
            .any(|l| l.starts_with("skipped:"))
    );

    // Interactive: the question waits for the person's answer.
    let bus = Bus::new(None);
    bus.set_interactive(true);
    let (engine, _join) = Engine::spawn(p, bus);
    let mut rx = engine.subscribe();
    let id = engine.submit(Command::Doctor { fix: true }).unwrap();
    // Other repairs (the pre-push hook the mock project lacks) are declined.
    let question = loop {
        if let Event::ConfirmRequested { id, question, .. } = rx.recv().await.unwrap() {
            if question.contains("stale dashboard lock") {
                break (id, question);
            }
            engine
                .submit(Command::Confirm { id, approve: false })
                .unwrap();
        }
    };
    assert!(
        question.1.contains("stale dashboard lock"),
        "{}",
        question.1
    );
    assert!(lock.exists(), "nothing happens before the answer");
    let (_, ok, _) = submit(
        &engine,
        &mut rx,
        Command::Confirm {
            id: question.0,
            approve: true,
        },
    )
    .await;
    assert!(ok);
    let (events, _, _) = until_finished(&mut rx, id).await;
    assert!(!lock.exists());
    let lines = report(&events, "doctor");
    assert!(
        lines
            .iter()
            .any(|l| l == "fixed: removed the stale dashboard lock"),
        "{lines:?}"
    );
}

#[tokio::test]
async fn status_roles_and_heartbeats() {
    let dir = tempfile::tempdir().unwrap();
    let p = project(
        dir.path(),
        Some("sleep 2.5\ncat > /dev/null\necho 'PROGRESS: no'\n"),
    );
    set_config(&p, "heartbeat_s", 1.into());
    let (engine, _join) = Engine::spawn(p, Bus::new(None));
    let mut rx = engine.subscribe();
    let (events, ok, _) = submit(&engine, &mut rx, Command::Status).await;
    assert!(ok);
    let lines = report(&events, "status");
    assert!(lines[0].contains("No idea yet"), "{lines:?}");
    assert!(
        lines.iter().any(|l| l.starts_with("Team: 5 agent(s)")),
        "{lines:?}"
    );

    let add = Command::Roles {
        action: RolesCommand::Add {
            name: "designer".into(),
            description: "Owns the look and feel of every screen".into(),
        },
    };
    let (events, ok, summary) = submit(&engine, &mut rx, add).await;
    assert!(ok, "{summary}");
    assert!(events.iter().any(|e| matches!(e, Event::RoleDecided { name, decision, .. } if name == "designer" && decision == "added")));
    let (events, _, _) = submit(
        &engine,
        &mut rx,
        Command::Roles {
            action: RolesCommand::List,
        },
    )
    .await;
    assert!(
        report(&events, "roles")
            .iter()
            .any(|l| l.contains("designer"))
    );
    let drop = Command::Roles {
        action: RolesCommand::Drop { name: "qa".into() },
    };
    let (_, ok, summary) = submit(&engine, &mut rx, drop).await;
    assert!(!ok && summary.contains("baseline"), "{summary}");

    let (events, ok, _) = submit(
        &engine,
        &mut rx,
        Command::Dispatch {
            agent: "engineer".into(),
            objective: "think slowly".into(),
            stage: None,
            dry_run: false,
        },
    )
    .await;
    assert!(ok);
    let beats: Vec<(u64, u64)> = events
        .iter()
        .filter_map(|e| match e {
            Event::Heartbeat {
                elapsed_ms,
                silent_ms,
                ..
            } => Some((*elapsed_ms, *silent_ms)),
            _ => None,
        })
        .collect();
    assert!(beats.len() >= 2, "{beats:?}");
    assert!(
        beats.iter().all(|(e, s)| s == e && *e >= 900),
        "silent all along: {beats:?}"
    );
}

#[tokio::test]
async fn task_slash_commands_queue_and_work_through_the_engine() {
    use clk::engine::ground::slash::{Slash, parse};
    let dir = tempfile::tempdir().unwrap();
    let p = project(
        dir.path(),
        Some(
            "cat > /dev/null\nprintf 'ACTION: write\\nPATH: hello.txt\\nCONTENT:\\nhi\\nEND_ACTION\\n'\n",
        ),
    );
    let (engine, _join) = Engine::spawn(p, Bus::new(None));
    let mut rx = engine.subscribe();
    let slash = |text: &str| match parse(text) {
        Ok(Slash::Engine(c)) => c,
        other => panic!("{text}: {other:?}"),
    };
    let (events, ok, summary) = submit(
        &engine,
        &mut rx,
        slash("/task add \"write hello.txt\" --autonomy safe --flow solo"),
    )
    .await;
    assert!(ok, "{summary}");
    assert!(report(&events, "task")[0].starts_with("task 1 queued"));
    let (_, ok, summary) = submit(&engine, &mut rx, slash("/task approve 1")).await;
    assert!(
        !ok && summary.contains("task 1 is queued: cannot approve it"),
        "{summary}"
    );
    // `/work` keeps waiting for new tasks until `/stop`.
    let work = engine.submit(slash("/work")).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let ev = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .unwrap()
            .unwrap();
        if matches!(&ev, Event::Report { lines, .. } if lines[0].starts_with("task 1: approval")) {
            break;
        }
    }
    engine.submit(slash("/stop")).unwrap();
    let (_, ok, summary) = until_finished(&mut rx, work).await;
    assert!(ok && summary.contains("1 wait for approval"), "{summary}");
    let (events, _, _) = submit(&engine, &mut rx, slash("/task show 1")).await;
    assert!(
        report(&events, "task")[0].contains("approval"),
        "{events:?}"
    );
}
