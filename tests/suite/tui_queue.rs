//! The work queue in the dashboard, through the reducer: a message typed while an agent works
//! goes to the engine (which queues it) and the log says it waits; `/queue`, `/queue drop N`
//! and `/queue clear` become engine commands; `/queue` completes with Tab and is in help.

use crate::support::tui;

use clk::engine::ground::events::{Command, Event, QueueCommand};
use clk::engine::ground::slash::COMMANDS;
use clk::tui::app::{AppState, Effect, Msg, update};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use tui::state;

fn key(s: &mut AppState, code: KeyCode) -> Vec<Effect> {
    update(s, Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

fn typed(s: &mut AppState, text: &str) -> Vec<Effect> {
    for c in text.chars() {
        assert!(key(s, KeyCode::Char(c)).is_empty());
    }
    key(s, KeyCode::Enter)
}

fn log_text(s: &AppState) -> Vec<String> {
    s.log.since(0).map(|e| e.text.to_string()).collect()
}

fn engine(s: &mut AppState, ev: Event) {
    update(s, Msg::Engine(ev));
}

#[test]
fn a_message_typed_while_work_runs_is_queued_and_starts_later() {
    let mut s = state(100, 30);
    let fx = typed(&mut s, "/run");
    update(
        &mut s,
        Msg::Submitted {
            task_id: 1,
            what: "run engineering".into(),
        },
    );
    assert!(matches!(fx[..], [Effect::Submit(Command::Run { .. })]));
    engine(
        &mut s,
        Event::DispatchStarted {
            agent: "engineer".into(),
            stage: Some("build".into()),
            run_id: "r1".into(),
            provider: "shell".into(),
            objective: "build it".into(),
            prompt_chars: 10,
            dry_run: false,
        },
    );
    // The dashboard sends the message; the engine decides it waits.
    let fx = typed(&mut s, "also add a readme");
    assert_eq!(
        fx,
        vec![Effect::Submit(Command::Message {
            text: "also add a readme".into()
        })]
    );
    update(
        &mut s,
        Msg::Submitted {
            task_id: 2,
            what: "working on your message".into(),
        },
    );
    engine(
        &mut s,
        Event::Queued {
            task_id: 2,
            what: "message \"also add a readme\"".into(),
            position: 1,
        },
    );
    let log = log_text(&s);
    assert!(
        log.last().unwrap().starts_with(
            "queued, starts after the current step: message \"also add a readme\" (#1"
        ),
        "{log:?}"
    );
    assert_eq!(s.run.queue.len(), 1);
    assert_eq!(s.run.queue[0].task_id, 2);
    // `/queue` asks the engine, whose report is shown line by line.
    assert_eq!(
        typed(&mut s, "/queue"),
        vec![Effect::Submit(Command::Queue {
            action: QueueCommand::List
        })]
    );
    engine(
        &mut s,
        Event::Report {
            topic: "queue".into(),
            lines: vec!["1. message \"also add a readme\"".into()],
        },
    );
    assert!(
        log_text(&s)
            .iter()
            .any(|l| l == "1. message \"also add a readme\"")
    );
    // The run ends; the queued message starts.
    engine(
        &mut s,
        Event::TaskFinished {
            task_id: 1,
            task: "run engineering".into(),
            ok: true,
            summary: "done".into(),
        },
    );
    engine(
        &mut s,
        Event::QueueStarted {
            task_id: 2,
            what: "message \"also add a readme\"".into(),
        },
    );
    assert!(s.run.queue.is_empty());
    assert!(s.busy(), "the queued message is work in progress");
    assert!(
        log_text(&s)
            .last()
            .unwrap()
            .contains("starting queued work: message")
    );
}

#[test]
fn queue_drop_and_clear_are_engine_commands_and_bad_ones_say_what_to_type() {
    let mut s = state(80, 24);
    let queue = |action| vec![Effect::Submit(Command::Queue { action })];
    assert_eq!(
        typed(&mut s, "/queue drop 2"),
        queue(QueueCommand::Drop { n: 2 })
    );
    assert_eq!(typed(&mut s, "/queue clear"), queue(QueueCommand::Clear));
    assert!(typed(&mut s, "/queue drop none").is_empty());
    for (task_id, what) in [(6, "working on your message"), (7, "run engineering")] {
        update(
            &mut s,
            Msg::Submitted {
                task_id,
                what: what.into(),
            },
        );
    }
    assert!(
        log_text(&s)
            .last()
            .unwrap()
            .contains("is not an entry number")
    );
    engine(
        &mut s,
        Event::Queued {
            task_id: 7,
            what: "run engineering".into(),
            position: 1,
        },
    );
    assert_eq!(
        s.phase(),
        "working on your message",
        "the title names the running work, not the queued"
    );
    engine(
        &mut s,
        Event::QueueDropped {
            task_id: 7,
            what: "run engineering".into(),
        },
    );
    assert!(s.run.queue.is_empty());
    assert_eq!(
        log_text(&s).last().unwrap(),
        "dropped from the queue: run engineering"
    );
}

#[test]
fn queue_completes_with_tab_and_is_in_help() {
    let mut s = state(80, 24);
    for c in "/que".chars() {
        key(&mut s, KeyCode::Char(c));
    }
    key(&mut s, KeyCode::Tab);
    assert_eq!(s.input.text(), "/queue ");
    s.input.set_text("/q");
    key(&mut s, KeyCode::Tab);
    let popup = s.completions.join(" ");
    assert!(
        popup.contains("/queue") && popup.contains("/quit"),
        "{popup}"
    );
    let spec = COMMANDS.iter().find(|c| c.name == "/queue").unwrap();
    assert!(spec.usage.contains("drop N"));
    s.input.set_text("");
    typed(&mut s, "/help");
    assert!(s.help_open);
    let screen = tui::screen(&mut s, 100, 30);
    assert!(screen.contains("/queue [drop N]"), "{screen}");
}
