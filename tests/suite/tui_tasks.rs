//! The Tasks view: keys in, effects and state out, the table and timeline drawn at 80x24 and
//! 40x12 (insta), the driver's reads against a real task store, and the real binary in tmux
//! steering tasks a `clk work` left waiting.

use crate::support::tui;

use clk::engine::ground::events::{Command, Event};
use clk::engine::ground::task::{TaskCommand, TaskState};
use clk::engine::session::tasks::TaskRow;
use clk::engine::store::tasks::{self, NewTask, TaskStore, TurnRecord};
use clk::engine::store::workspace::Workspace;
use clk::tui::app::{AppState, Effect, Msg, Pending, hint, update};
use clk::tui::view::{Request, ViewKind};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use insta::assert_snapshot;
use tui::{screen, state};

mod tmux;

fn key(s: &mut AppState, code: KeyCode) -> Vec<Effect> {
    update(s, Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

fn row(id: i64, state: TaskState, title: &str, reason: &str) -> TaskRow {
    TaskRow {
        id,
        state,
        title: title.into(),
        agent: "engineer".into(),
        turns: id as u32,
        cost_micros: 12_345 * id as u64,
        reason: reason.into(),
        files: 2,
    }
}

fn rows() -> Vec<TaskRow> {
    vec![
        row(1, TaskState::Merged, "add a health endpoint", ""),
        row(
            2,
            TaskState::Approval,
            "write the README with install steps and a usage example",
            "checks pass in a clean checkout; `clk task approve 2` merges it",
        ),
        row(
            3,
            TaskState::Held,
            "fix the flaky test in tests/api.rs",
            "waits for task 4: both change tests/api.rs",
        ),
        row(4, TaskState::Running, "rename the config key", ""),
    ]
}

/// The Tasks view opened with F2 and the rows read.
fn board(width: u16, height: u16) -> AppState {
    let mut s = state(width, height);
    assert_eq!(key(&mut s, KeyCode::F(2)), vec![Effect::LoadTasks]);
    assert!(screen(&mut s, width, height).contains("loading…"));
    update(&mut s, Msg::Tasks(Ok(rows())));
    s
}

#[test]
fn the_table_at_80x24_and_40x12() {
    let mut s = board(80, 24);
    let text = screen(&mut s, 80, 24);
    assert!(text.contains("⏸1 approve"), "{text}");
    // Every column the issue names shows at 80 columns, files too.
    let head = text
        .lines()
        .find(|l| l.contains("state"))
        .unwrap_or_default();
    for col in ["id", "state", "agent", "turns", "cost", "files", "task"] {
        assert!(head.contains(col), "{col} missing: {head}");
    }
    assert!(
        text.contains("#1 merged      engineer       1   $0.01     2 add a health endpoint"),
        "{text}"
    );
    assert!(
        hint(&s).starts_with("j/k · Enter timeline · a approve"),
        "{}",
        hint(&s)
    );
    assert_snapshot!("tasks_80x24", text);
    key(&mut s, KeyCode::Char('j'));
    let small = screen(&mut s, 40, 12);
    assert!(small.contains("▸ #2 approval"), "{small}");
    assert_snapshot!("tasks_40x12", small);
    // Tiny screens draw what fits and never panic.
    for (w, h) in [(20, 5), (10, 3), (1, 1), (200, 60)] {
        tui::draw_only(&mut s, w, h);
    }
}

#[test]
fn an_empty_queue_says_how_to_add_one_and_a_failed_read_says_why() {
    let mut s = state(80, 24);
    key(&mut s, KeyCode::F(2));
    update(&mut s, Msg::Tasks(Ok(Vec::new())));
    let text = screen(&mut s, 80, 24);
    assert!(text.contains("No tasks yet."), "{text}");
    assert!(text.contains("/task add"), "{text}");
    assert!(
        key(&mut s, KeyCode::Char('a')).is_empty(),
        "nothing to approve"
    );
    assert!(s.pending.is_empty());
    update(&mut s, Msg::Tasks(Err("database is locked".into())));
    assert!(screen(&mut s, 80, 24).contains("cannot read the tasks: database is locked"));
}

#[test]
fn keys_steer_the_task_under_the_cursor_through_the_engine() {
    let mut s = board(80, 24);
    // j to task 2 (waiting for approval); a asks first, and n leaves it.
    key(&mut s, KeyCode::Char('j'));
    assert!(key(&mut s, KeyCode::Char('a')).is_empty());
    match s.pending.front() {
        Some(Pending::Task { question, .. }) => {
            assert!(
                question.starts_with("Approve task 2 “write the README"),
                "{question}"
            )
        }
        other => panic!("{other:?}"),
    }
    assert!(screen(&mut s, 80, 24).contains("Approve task 2"));
    for (w, h) in [(40, 12), (20, 5), (1, 1)] {
        tui::draw_only(&mut s, w, h);
    }
    assert!(screen(&mut s, 40, 12).contains("Approve task 2"));
    assert!(hint(&s).starts_with("y to go ahead"));
    assert!(key(&mut s, KeyCode::Char('n')).is_empty());
    assert!(s.board.open, "the answer keeps the view open");
    let task = |action| vec![Effect::Submit(Command::Task { action })];
    key(&mut s, KeyCode::Char('a'));
    assert_eq!(
        key(&mut s, KeyCode::Char('y')),
        task(TaskCommand::Approve { id: 2, note: None })
    );
    // p and r go at once; x asks.
    key(&mut s, KeyCode::Down);
    assert_eq!(
        key(&mut s, KeyCode::Char('p')),
        task(TaskCommand::Pause { id: 3 })
    );
    assert_eq!(
        key(&mut s, KeyCode::Char('r')),
        task(TaskCommand::Resume { id: 3, note: None })
    );
    key(&mut s, KeyCode::Char('x'));
    assert!(
        matches!(s.pending.front(), Some(Pending::Task { question, .. }) if question.starts_with("Cancel task 3"))
    );
    assert_eq!(
        key(&mut s, KeyCode::Char('y')),
        task(TaskCommand::Cancel { id: 3 })
    );
    // The engine's answer shows under the table.
    update(
        &mut s,
        Msg::Engine(Event::TaskFinished {
            task_id: 9,
            task: "task".into(),
            ok: false,
            summary: "task 3 is cancelled: cannot cancel it (it is already over)".into(),
        }),
    );
    assert!(screen(&mut s, 80, 24).contains("refused: task 3 is cancelled"));
    // Rows read again keep the cursor on its task.
    let mut moved = rows();
    moved.remove(0);
    moved[1].state = TaskState::Cancelled;
    update(&mut s, Msg::Tasks(Ok(moved)));
    assert_eq!(s.board.selected_row().map(|r| r.id), Some(3));
    assert!(screen(&mut s, 80, 24).contains("▸ #3 cancelled"));
    // Esc leaves the view; typing works again.
    key(&mut s, KeyCode::Esc);
    assert!(!s.board.open);
    key(&mut s, KeyCode::Char('x'));
    assert_eq!(s.input.text(), "x");
}

#[test]
fn enter_opens_the_timeline_and_esc_goes_back_to_the_table() {
    let mut s = board(80, 24);
    key(&mut s, KeyCode::Char('j'));
    let fx = key(&mut s, KeyCode::Enter);
    let want = Request {
        kind: ViewKind::Timeline,
        agent: "task 2".into(),
        index: 2,
        sha: None,
    };
    assert_eq!(fx, vec![Effect::Load(want.clone())]);
    // The driver's read, against a real store.
    let dir = tempfile::tempdir().unwrap();
    let ws = Workspace::new(dir.path());
    let store = tasks::open(&ws).unwrap();
    for p in ["first task", "write the README\nwith steps"] {
        store
            .add(&NewTask {
                prompt: p.into(),
                flow: "duo".into(),
                agent: "engineer".into(),
                autonomy: "safe".into(),
                requested_by: "dashboard".into(),
            })
            .unwrap();
    }
    store
        .log(2, "state", "running — started by worker 42")
        .unwrap();
    store
        .record_turn(
            2,
            &TurnRecord {
                n: 1,
                role: "implementer".into(),
                agent: "engineer".into(),
                provider: "ollama".into(),
                ok: true,
                input_tokens: 1200,
                output_tokens: 300,
                cost_micros: 4_000,
                summary: "wrote README.md".into(),
                at: tasks::now(),
                ..Default::default()
            },
        )
        .unwrap();
    let loaded = clk::tui::load::read(Some(dir.path()), want.clone());
    let text: Vec<&str> = loaded.lines.iter().map(|(_, l)| l.as_str()).collect();
    assert!(text.contains(&"write the README"), "{text:?}");
    assert!(text.contains(&"with steps"), "the whole prompt: {text:?}");
    assert!(
        text.iter()
            .any(|l| l.contains("state    running — started by worker 42")),
        "{text:?}"
    );
    assert!(
        text.iter().any(|l| l.contains(
            "1. implementer engineer on ollama · 1.5k tokens · $0.004 · wrote README.md"
        )),
        "{text:?}"
    );
    update(&mut s, Msg::Loaded(Box::new(loaded)));
    let shown = screen(&mut s, 80, 24);
    assert!(
        shown.contains("timeline · task 2 · write the README"),
        "{shown}"
    );
    assert!(hint(&s).contains("Esc back to tasks"));
    let stamp = regex::Regex::new(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d").unwrap();
    assert_snapshot!(
        "task_timeline_80x24",
        stamp.replace_all(&shown, "YYYY-MM-DD hh:mm:ss")
    );
    let small = screen(&mut s, 40, 12);
    assert!(small.contains("timeline · task 2"), "{small}");
    tui::draw_only(&mut s, 10, 3);
    key(&mut s, KeyCode::Char('G'));
    key(&mut s, KeyCode::Esc);
    assert!(s.view.is_none() && s.board.open, "back to the table");
    assert!(screen(&mut s, 80, 24).contains("▸ #2 approval"));
    // A task that is not in the store says so.
    let gone = clk::tui::load::read(Some(dir.path()), Request { index: 77, ..want });
    assert_eq!(gone.lines[0].1, "there is no task 77");
}

#[test]
fn the_view_opens_from_a_card_and_from_tasks_and_the_title_counts_approvals() {
    let mut s = state(80, 24);
    update(&mut s, Msg::Tasks(Ok(rows())));
    assert!(screen(&mut s, 80, 24).contains("⏸1 approve"));
    assert!(hint(&s).contains("1 task waits for your approval — F2"));
    key(&mut s, KeyCode::Tab);
    assert_eq!(key(&mut s, KeyCode::Char('T')), vec![Effect::LoadTasks]);
    assert!(s.board.open);
    assert!(key(&mut s, KeyCode::F(2)).is_empty());
    assert!(!s.board.open, "F2 again closes it");
    for c in "/tasks".chars() {
        key(&mut s, KeyCode::Char(c));
    }
    assert_eq!(key(&mut s, KeyCode::Enter), vec![Effect::LoadTasks]);
    assert!(s.board.open);
    key(&mut s, KeyCode::Char('q'));
    // Tab completes the ids the action fits, from the rows the dashboard has.
    for c in "/task approve ".chars() {
        key(&mut s, KeyCode::Char(c));
    }
    key(&mut s, KeyCode::Tab);
    assert_eq!(s.input.text(), "/task approve 2 ");
    s.input.set_text("/task pause ");
    key(&mut s, KeyCode::Tab);
    assert_eq!(s.completions, ["3", "4"]);
}

#[test]
fn help_at_80x24_scrolls_to_the_task_keys_and_its_title_says_so() {
    let mut s = state(80, 24);
    key(&mut s, KeyCode::F(1));
    let top = screen(&mut s, 80, 24);
    assert!(top.contains("clk commands · ↑/↓ scroll"), "{top}");
    assert!(!top.contains("tasks waiting for your approval"));
    for _ in 0..40 {
        key(&mut s, KeyCode::Down);
    }
    let bottom = screen(&mut s, 80, 24);
    assert!(
        bottom.contains("tasks waiting for your approval"),
        "{bottom}"
    );
    assert!(s.help_open);
}
