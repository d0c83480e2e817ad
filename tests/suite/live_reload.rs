//! Live reload through the engine the dashboard runs (`Engine::spawn_live`): a broken workflow
//! is reported with its file and line, user-level settings and prompts are taken in, and an
//! engine without live reload ignores edits.

use std::time::Duration;

use clk::engine::Engine;
use clk::engine::ground::config::Env;
use clk::engine::ground::events::Event;
use clk::engine::store::bus::Bus;
use tokio::sync::broadcast::Receiver;

use super::engine_commands::project;

/// The next settings event, or None after `secs` without one.
async fn next_settings(rx: &mut Receiver<Event>, secs: u64) -> Option<Event> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Err(_) => return None,
            Ok(Ok(ev @ (Event::SettingsReloaded { .. } | Event::SettingsRejected { .. }))) => {
                return Some(ev);
            }
            Ok(_) => {}
        }
    }
}

#[tokio::test]
async fn workflows_user_settings_and_prompts_are_checked_and_taken_in() {
    let dir = tempfile::tempdir().unwrap();
    let xdg = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(xdg.path().join("clk")).unwrap();
    let mut p = project(dir.path(), None);
    p.env = Env::fixed([("XDG_CONFIG_HOME", xdg.path().to_str().unwrap())]);
    let ws = p.ws.clone();
    let (engine, _join) = Engine::spawn_live(p, Bus::new(None));
    let mut rx = engine.subscribe();

    let wf = ws.workflows_dir().join("engineering.yaml");
    std::fs::write(
        &wf,
        "name: engineering\nstages:\n  - id: a\n    agent: [open\n",
    )
    .unwrap();
    match next_settings(&mut rx, 10).await {
        Some(Event::SettingsRejected { file, line, .. }) => {
            assert_eq!(file, ".clk/config/workflows/engineering.yaml");
            assert!(line.is_some_and(|l| l >= 4), "{line:?}");
        }
        other => panic!("no rejection: {other:?}"),
    }

    std::fs::remove_file(&wf).unwrap();
    let _ = next_settings(&mut rx, 2).await;
    let user = xdg.path().join("clk/providers.json");
    std::fs::write(&user, "{\"active\": \"shell\", \"providers\": {}}").unwrap();
    match next_settings(&mut rx, 10).await {
        Some(Event::SettingsReloaded { files }) => {
            assert!(
                files.iter().any(|f| f.ends_with("clk/providers.json")),
                "{files:?}"
            );
        }
        other => panic!("no reload: {other:?}"),
    }

    std::fs::write(ws.prompts_dir().join("engineer.md"), "You build things.\n").unwrap();
    match next_settings(&mut rx, 10).await {
        Some(Event::SettingsReloaded { files }) => {
            assert_eq!(files, vec![".clk/prompts/engineer.md".to_string()]);
        }
        other => panic!("no reload: {other:?}"),
    }
    // Backups and temp files are not edits.
    std::fs::write(ws.config_dir().join("clk.config.json.bak"), "{").unwrap();
    assert!(next_settings(&mut rx, 1).await.is_none());
}

#[tokio::test]
async fn an_engine_without_live_reload_ignores_edits() {
    let dir = tempfile::tempdir().unwrap();
    let p = project(dir.path(), None);
    let ws = p.ws.clone();
    let (engine, _join) = Engine::spawn(p, Bus::new(None));
    let mut rx = engine.subscribe();
    std::fs::write(ws.config_file(), "{\"budget\": {\"session_usd_cap\": 3}}").unwrap();
    assert!(next_settings(&mut rx, 1).await.is_none());
}

/// A settings file broken while a run works is reported, and the next cycle runs on the
/// settings it had instead of the run failing.
#[test]
fn a_run_keeps_its_settings_when_a_file_breaks_between_cycles() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let clk = |args: &[&str]| {
        let mut c = crate::support::clk();
        c.current_dir(dir).env("CLK_NO_TUI", "1").args(args);
        c
    };
    clk(&["init"]).assert().success();
    clk(&["idea", "a greeter"]).assert().success();
    std::fs::write(
        dir.join(".clk/config/workflows/one.yaml"),
        "name: one\nstages:\n  - id: build\n    agent: engineer\n    objective: Write notes.\n",
    )
    .unwrap();
    let agent = dir.join("agent.sh");
    std::fs::write(
        &agent,
        "#!/bin/sh\ncat > /dev/null\nsleep 2\nprintf 'Working on it.\\nCONFIDENCE: 0.7\\nPROGRESS: yes\\n'\n",
    )
    .unwrap();
    let mut run = clk(&["run", "--workflow", "one", "--max-cycles", "2"]);
    run.env("CLK_SHELL_COMMAND", format!("sh {}", agent.display()))
        .env("CLK_PROVIDER", "shell");
    // `clk idea` dispatched the chief already: only the run's own dispatch counts.
    let log = dir.join(".clk/logs/activity.jsonl");
    let before = std::fs::read_to_string(&log).unwrap_or_default().len();
    let running = std::thread::spawn(move || run.output().unwrap());
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .get(before..)
        .is_some_and(|new| new.contains("\"dispatch_started\""))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the run never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::fs::write(
        dir.join(".clk/config/clk.config.json"),
        "{\n  \"broken\": \n",
    )
    .unwrap();
    let out = running.join().unwrap();
    let printed =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let events: Vec<serde_json::Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let told: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e["event"] == "settings_rejected")
        .collect();
    assert_eq!(told.len(), 1, "told once:\n{printed}");
    assert_eq!(told[0]["file"], ".clk/config/clk.config.json", "{printed}");
    assert!(
        printed.contains("the settings before this edit stay in force"),
        "{printed}"
    );
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "cycle_finished" && e["cycle"] == 2),
        "the second cycle ran:\n{printed}"
    );
}

/// A workflow broken by an edit while the dashboard runs is reported, and the next run uses
/// the workflow as it was before the edit instead of failing on it.
#[tokio::test]
async fn a_run_after_a_broken_workflow_edit_uses_the_workflow_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let script = "cat > /dev/null\nprintf 'ACTION: write\\nPATH: notes/%s.txt\\nCONTENT:\\nby %s\\nEND_ACTION\\n\\nPROGRESS: yes\\n' \"$CLK_AGENT\" \"$CLK_AGENT\"\n";
    let p = project(dir.path(), Some(script));
    let ws = p.ws.clone();
    let (engine, _join) = Engine::spawn_live(p, Bus::new(None));
    let mut rx = engine.subscribe();
    let wf = ws.workflows_dir().join("engineering.yaml");
    let good = std::fs::read_to_string(&wf).unwrap();
    // Saved unchanged: taken in (and the watcher is surely running by now).
    std::fs::write(&wf, &good).unwrap();
    assert!(matches!(
        next_settings(&mut rx, 10).await,
        Some(Event::SettingsReloaded { .. })
    ));
    std::fs::write(
        &wf,
        "name: engineering\nstages:\n  - id: a\n    agent: [open\n",
    )
    .unwrap();
    assert!(matches!(
        next_settings(&mut rx, 10).await,
        Some(Event::SettingsRejected { .. })
    ));
    let (events, _, summary) = super::engine_commands::submit(
        &engine,
        &mut rx,
        clk::engine::ground::events::Command::Run {
            workflow: "engineering".into(),
            max_cycles: Some(1),
            dry_run: false,
        },
    )
    .await;
    assert!(
        events.iter().any(|e| matches!(e, Event::Warning { message }
            if message.contains("engineering.yaml") && message.contains("as it was before that edit"))),
        "{summary}: {events:?}"
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::DispatchStarted { .. })),
        "the run ran: {summary}"
    );
    assert!(summary.starts_with("engineering: "), "{summary}");
}

/// The active provider switched in providers.json while the dashboard runs is the one the
/// next command uses, as `/provider` would make it.
#[tokio::test]
async fn an_active_provider_edited_in_the_file_is_switched_to() {
    let dir = tempfile::tempdir().unwrap();
    let p = project(dir.path(), Some("cat > /dev/null\necho hi\n"));
    let ws = p.ws.clone();
    let (engine, _join) = Engine::spawn_live(p, Bus::new(None));
    let mut rx = engine.subscribe();
    let file = ws.providers_file();
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    v["providers"]["alt"] = v["providers"]["shell"].clone();
    v["active"] = "alt".into();
    std::fs::write(&file, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    assert!(matches!(
        next_settings(&mut rx, 10).await,
        Some(Event::SettingsReloaded { .. })
    ));
    let (events, _, _) = super::engine_commands::submit(
        &engine,
        &mut rx,
        clk::engine::ground::events::Command::Status,
    )
    .await;
    let lines = super::engine_commands::report(&events, "status");
    assert!(
        lines.iter().any(|l| l == "Active provider: alt"),
        "{lines:?}"
    );
}
