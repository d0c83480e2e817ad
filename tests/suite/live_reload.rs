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
