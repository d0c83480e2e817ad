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

/// The next report on the bus about `topic`.
async fn report(rx: &mut broadcast::Receiver<Event>, want: &str) -> Vec<String> {
    loop {
        if let Event::Report { topic, lines } = rx.recv().await.unwrap()
            && topic == want
        {
            return lines;
        }
    }
}

#[tokio::test]
async fn a_cap_set_in_the_session_stops_the_next_dispatch() {
    let dir = tempfile::tempdir().unwrap();
    let p = project(dir.path(), Some("echo hi"));
    // A dollar already spent this session by the engineer.
    let mut totals = crate::engine::store::records::UsageTotals::default();
    totals.total.cost_micros = 1_000_000;
    totals
        .agents
        .entry("engineer".into())
        .or_default()
        .cost_micros = 1_000_000;
    let v = serde_json::to_value(&totals).unwrap();
    write_json(&p.ws.state_dir().join("usage.json"), &v).unwrap();
    let (engine, join) = Engine::spawn(p, Bus::new(None));
    let mut rx = engine.subscribe();
    let dispatch = || Command::Dispatch {
        agent: "engineer".into(),
        objective: "go".into(),
        stage: None,
        dry_run: false,
    };
    // No cap yet: the dispatch goes ahead.
    let id = engine.submit(dispatch()).unwrap();
    assert!(wait_finished(&mut rx, id).await.ok());

    let id = engine
        .submit(Command::SetCap {
            key: "budget.agent_usd_caps.engineer".into(),
            usd: 0.5,
        })
        .unwrap();
    let done = wait_finished(&mut rx, id).await;
    assert_eq!(
        done,
        Handled::Done(
            "engineer's cap is $0.50 for this session; the next dispatch checks it".into()
        )
    );
    let id = engine.submit(Command::ShowBudget).unwrap();
    let lines = report(&mut rx, "budget").await;
    assert!(wait_finished(&mut rx, id).await.ok());
    assert!(
        lines[0].starts_with("session cap: no cap · spent this session: $1.00"),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("  engineer: cap $0.50 · spent $1.00")),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with("spent today: $")),
        "{lines:?}"
    );

    // Headless, no one answers the budget question: the dispatch is refused.
    let id = engine.submit(dispatch()).unwrap();
    match wait_finished(&mut rx, id).await {
        Handled::Failed(why) => assert!(why.contains("stopped by the budget"), "{why}"),
        ok => panic!("the cap did not stop the dispatch: {ok:?}"),
    }
    // 0 turns the cap off again.
    let id = engine
        .submit(Command::SetCap {
            key: "budget.agent_usd_caps.engineer".into(),
            usd: 0.0,
        })
        .unwrap();
    assert!(wait_finished(&mut rx, id).await.ok());
    let id = engine.submit(dispatch()).unwrap();
    assert!(wait_finished(&mut rx, id).await.ok());
    let id = engine
        .submit(Command::SetCap {
            key: "budget.nonsense".into(),
            usd: 1.0,
        })
        .unwrap();
    assert!(!wait_finished(&mut rx, id).await.ok());
    engine.submit(Command::Shutdown).unwrap();
    join.await.unwrap();
}
