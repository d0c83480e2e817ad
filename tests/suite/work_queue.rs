//! Work asked for while other work runs waits in the engine's queue instead of running in
//! parallel: it is reported as queued, `/queue` lists and drops it, and it starts in order
//! when the work before it ends; `/stop` ends the work after the current model call. Driven
//! through the real engine with a slow shell agent.

use std::path::Path;
use std::time::Duration;

use clk::engine::Engine;
use clk::engine::ground::config::Env;
use clk::engine::ground::events::{Command, Event, QueueCommand};
use clk::engine::ground::state::describe;
use clk::engine::store::bus::Bus;
use clk::engine::store::workspace::{Project, Workspace, read_json, write_json};
use tokio::sync::broadcast::Receiver;

/// A project whose shell agent takes `secs` seconds to answer.
fn project(dir: &Path, secs: f32) -> Project {
    clk::engine::store::init::init(dir, Some("t")).unwrap();
    let ws = Workspace::new(dir.canonicalize().unwrap());
    let path = ws.config_dir().join("agent.sh");
    std::fs::write(&path, format!("cat >/dev/null\nsleep {secs}\necho fine\n")).unwrap();
    let mut v = read_json(&ws.providers_file()).unwrap().unwrap_or_default();
    v["active"] = "shell".into();
    v["providers"]["shell"]["type"] = "shell".into();
    v["providers"]["shell"]["command"] = format!("sh {}", path.display()).into();
    write_json(&ws.providers_file(), &v).unwrap();
    let mut p = ws.load(&Env::none()).unwrap();
    p.providers.active = "shell".into();
    p
}

fn ask(agent: &str) -> Command {
    Command::Dispatch {
        agent: agent.into(),
        objective: format!("work as {agent}"),
        stage: None,
        dry_run: false,
    }
}

/// Events until `done` says stop (60 s at most).
async fn until(rx: &mut Receiver<Event>, done: impl Fn(&Event) -> bool) -> Vec<Event> {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let ev = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .expect("no such event within 60 s")
            .unwrap();
        let stop = done(&ev);
        seen.push(ev);
        if stop {
            return seen;
        }
    }
}

fn finished(id: u64) -> impl Fn(&Event) -> bool {
    move |e| matches!(e, Event::TaskFinished { task_id, .. } if *task_id == id)
}

#[tokio::test]
async fn work_typed_while_work_runs_waits_its_turn() {
    let dir = tempfile::tempdir().unwrap();
    let p = project(dir.path(), 1.0);
    let (engine, _join) = Engine::spawn(p, Bus::new(None));
    let mut rx = engine.subscribe();
    let first = engine.submit(ask("engineer")).unwrap();
    until(&mut rx, |e| matches!(e, Event::DispatchStarted { .. })).await;
    let second = engine.submit(ask("qa")).unwrap();
    let third = engine
        .submit(Command::Message {
            text: "also add a readme".into(),
        })
        .unwrap();
    let fourth = engine.submit(ask("critic")).unwrap();
    let seen = until(
        &mut rx,
        |e| matches!(e, Event::Queued { task_id, .. } if *task_id == fourth),
    )
    .await;
    let queued: Vec<(u64, usize, String)> = seen
        .iter()
        .filter_map(|e| match e {
            Event::Queued {
                task_id,
                position,
                what,
            } => Some((*task_id, *position, what.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        queued,
        vec![
            (second, 1, "dispatch qa".to_string()),
            (third, 2, "message \"also add a readme\"".to_string()),
            (fourth, 3, "dispatch critic".to_string()),
        ]
    );
    let line = describe(
        seen.iter()
            .find(|e| matches!(e, Event::Queued { .. }))
            .unwrap(),
    );
    assert!(
        line.unwrap()
            .starts_with("queued, starts after the current step: dispatch qa")
    );
    // `/queue` lists them in order; `/queue drop 2` takes the message off.
    let list = engine
        .submit(Command::Queue {
            action: QueueCommand::List,
        })
        .unwrap();
    let seen = until(&mut rx, finished(list)).await;
    let lines = seen
        .iter()
        .find_map(|e| match e {
            Event::Report { topic, lines } if topic == "queue" => Some(lines.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(
        lines[..3],
        [
            "1. dispatch qa",
            "2. message \"also add a readme\"",
            "3. dispatch critic"
        ]
    );
    let drop = engine
        .submit(Command::Queue {
            action: QueueCommand::Drop { n: 2 },
        })
        .unwrap();
    let seen = until(&mut rx, finished(drop)).await;
    assert!(
        seen.iter()
            .any(|e| matches!(e, Event::QueueDropped { task_id, .. } if *task_id == third))
    );
    assert!(seen.iter().any(|e| matches!(
        e,
        Event::TaskFinished { task_id, ok: false, summary, .. }
            if *task_id == third && summary == "dropped from the queue"
    )));
    assert_eq!(engine.snapshot().queue.len(), 2);
    // The rest start one after the other, in order, never two at once.
    let seen = until(&mut rx, finished(fourth)).await;
    // Quality repair may call an agent twice; count each agent's start once.
    let mut order: Vec<String> = seen
        .iter()
        .filter_map(|e| match e {
            Event::DispatchStarted { agent, .. } => Some(format!("start {agent}")),
            Event::TaskFinished { task_id, .. } => Some(format!("end {task_id}")),
            Event::QueueStarted { task_id, .. } => Some(format!("dequeue {task_id}")),
            _ => None,
        })
        .filter(|e| e != "start engineer")
        .collect();
    order.dedup();
    assert_eq!(
        order,
        vec![
            format!("end {first}"),
            format!("dequeue {second}"),
            "start qa".to_string(),
            format!("end {second}"),
            format!("dequeue {fourth}"),
            "start critic".to_string(),
            format!("end {fourth}"),
        ]
    );
    assert!(engine.snapshot().queue.is_empty());
}

#[tokio::test]
async fn quick_commands_never_wait_and_abort_empties_the_queue() {
    let dir = tempfile::tempdir().unwrap();
    let p = project(dir.path(), 3.0);
    let (engine, _join) = Engine::spawn(p, Bus::new(None));
    let mut rx = engine.subscribe();
    let first = engine.submit(ask("engineer")).unwrap();
    until(&mut rx, |e| matches!(e, Event::DispatchStarted { .. })).await;
    let waiting = engine
        .submit(Command::Run {
            workflow: "engineering".into(),
            max_cycles: Some(1),
            dry_run: false,
        })
        .unwrap();
    until(&mut rx, |e| matches!(e, Event::Queued { .. })).await;
    // Status runs at once, while the dispatch still works.
    let status = engine.submit(Command::Status).unwrap();
    let seen = until(&mut rx, finished(status)).await;
    assert!(
        !seen.iter().any(finished(first)),
        "status waited for the work"
    );
    engine.submit(Command::Abort).unwrap();
    let seen = until(&mut rx, finished(first)).await;
    assert!(
        seen.iter()
            .any(|e| matches!(e, Event::QueueDropped { task_id, .. } if *task_id == waiting))
    );
    assert!(!seen.iter().any(|e| matches!(e, Event::QueueStarted { .. })));
    let empty = engine
        .submit(Command::Queue {
            action: QueueCommand::List,
        })
        .unwrap();
    let seen = until(&mut rx, finished(empty)).await;
    assert!(seen.iter().any(|e| matches!(
        e,
        Event::Report { lines, .. } if lines == &["nothing waits, and nothing runs".to_string()]
    )));
}

/// `DispatchStarted` events in `events`.
fn starts(events: &[Event]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, Event::DispatchStarted { .. }))
        .count()
}

#[tokio::test]
async fn stop_takes_effect_after_the_current_model_call_not_the_stage() {
    // The agent's reply is too short to pass the quality check: without a stop, it is sent
    // back for repair, a second model call in the same step.
    let dir = tempfile::tempdir().unwrap();
    let p = project(dir.path(), 1.0);
    let (engine, _join) = Engine::spawn(p, Bus::new(None));
    let mut rx = engine.subscribe();
    let free = engine.submit(ask("engineer")).unwrap();
    let seen = until(&mut rx, finished(free)).await;
    assert!(starts(&seen) >= 2, "a short reply is repaired: {seen:?}");
    let stopped = engine.submit(ask("engineer")).unwrap();
    until(&mut rx, |e| matches!(e, Event::DispatchStarted { .. })).await;
    let waiting = engine.submit(ask("qa")).unwrap();
    engine.submit(Command::Stop).unwrap();
    let seen = until(&mut rx, finished(stopped)).await;
    assert!(seen.iter().any(|e| matches!(e, Event::StopRequested)));
    assert_eq!(starts(&seen), 0, "no model call after the stop: {seen:?}");
    // What waited starts next, not stopped by the stop meant for the work before it.
    let seen = until(&mut rx, finished(waiting)).await;
    assert!(
        seen.iter()
            .any(|e| matches!(e, Event::QueueStarted { task_id, .. } if *task_id == waiting))
    );
    assert!(starts(&seen) >= 1);
}
