use std::time::{Duration, Instant};

use super::*;
use crate::engine::ground::config::Env;
use crate::engine::store::workspace::{Workspace, write_json};

fn project(dir: &std::path::Path, shell_command: Option<&str>) -> Project {
    crate::engine::store::init::init(dir, Some("t")).unwrap();
    let mut p = Workspace::new(dir.canonicalize().unwrap())
        .load(&Env::none())
        .unwrap();
    p.providers.active = "shell".into();
    if let Some(s) = p.providers.providers.get_mut("shell") {
        s.command = shell_command.map(str::to_string);
    }
    // The engine reads the config files again for every command: keep them in step.
    let v = serde_json::to_value(&p.providers).unwrap();
    write_json(&p.ws.providers_file(), &v).unwrap();
    p
}

async fn wait_finished(rx: &mut broadcast::Receiver<Event>, id: u64) -> Handled {
    loop {
        if let Event::TaskFinished {
            task_id,
            ok,
            summary,
            ..
        } = rx.recv().await.unwrap()
        {
            if task_id == id {
                return Handled::from_ok(ok, summary);
            }
        }
    }
}

#[tokio::test]
async fn commands_run_as_tasks_and_fold_into_the_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, join) = Engine::spawn(project(dir.path(), None), Bus::new(None));
    let mut rx = engine.subscribe();
    let id = engine
        .submit(Command::CaptureIdea {
            statement: "A tiny app. More later.".into(),
            title: None,
            tags: vec![],
        })
        .unwrap();
    assert_eq!(
        wait_finished(&mut rx, id).await,
        Handled::Done("A tiny app".into())
    );
    let id = engine
        .submit(Command::Dispatch {
            agent: "qa".into(),
            objective: "check".into(),
            stage: None,
            dry_run: false,
        })
        .unwrap();
    assert!(wait_finished(&mut rx, id).await.ok());
    let snap = engine.snapshot();
    assert_eq!(snap.agents["qa"].dispatches, 1);
    assert!(snap.totals.estimated);
    engine.submit(Command::Shutdown).unwrap();
    join.await.unwrap();
    assert!(engine.submit(Command::Abort).is_err());
}

#[tokio::test]
async fn abort_stops_a_hanging_provider_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, join) = Engine::spawn(project(dir.path(), Some("sleep 60")), Bus::new(None));
    let mut rx = engine.subscribe();
    let id = engine
        .submit(Command::Dispatch {
            agent: "engineer".into(),
            objective: "hang".into(),
            stage: None,
            dry_run: false,
        })
        .unwrap();
    // Wait until the process runs, then abort.
    loop {
        if let Event::DispatchStarted { .. } = rx.recv().await.unwrap() {
            break;
        }
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let t = Instant::now();
    engine.submit(Command::Abort).unwrap();
    match wait_finished(&mut rx, id).await {
        Handled::Failed(summary) => assert!(summary.contains("aborted"), "{summary}"),
        done @ Handled::Done(_) => panic!("an aborted task finished: {done:?}"),
    }
    assert!(t.elapsed() < Duration::from_secs(3));
    engine.submit(Command::Shutdown).unwrap();
    join.await.unwrap();
}
