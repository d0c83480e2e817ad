//! `/diag` and `/workspaces` through the engine, as the dashboard sends them.

use clk::engine::Engine;
use clk::engine::ground::command::Command;
use clk::engine::ground::config::Env;
use clk::engine::store::bus::Bus;
use clk::engine::store::workspace::Workspace;

use super::engine_commands::{report, submit};

#[tokio::test]
async fn diag_and_workspaces_answer_in_the_log() {
    let top = tempfile::tempdir().unwrap();
    let dir = top.path().join("demo");
    std::fs::create_dir_all(&dir).unwrap();
    clk::engine::store::init::init(&dir, Some("demo")).unwrap();
    let env = Env::fixed([(
        "XDG_DATA_HOME",
        top.path().join("data").to_string_lossy().into_owned(),
    )]);
    let ws = Workspace::new(dir.canonicalize().unwrap());
    clk::engine::store::workspaces::touch(&ws, &env, Some("demo-project"), false).unwrap();
    let p = ws.load(&env).unwrap();
    let (engine, _join) = Engine::spawn(p, Bus::new(None));
    let mut rx = engine.subscribe();

    let (events, ok, summary) = submit(&engine, &mut rx, Command::Workspaces).await;
    assert!(ok, "{summary}");
    let lines = report(&events, "workspaces");
    assert!(lines[0].starts_with("demo-project"), "{lines:?}");
    assert!(lines[0].contains(&*ws.root.to_string_lossy()), "{lines:?}");

    let (events, ok, summary) = submit(&engine, &mut rx, Command::Diag).await;
    assert!(ok, "{summary}");
    let lines = report(&events, "diag");
    let path = lines[0].strip_prefix("wrote ").unwrap();
    assert!(
        path.ends_with(".tar.gz") && std::path::Path::new(path).is_file(),
        "{lines:?}"
    );
    assert!(lines[1].contains("doctor.txt"), "{lines:?}");
}
