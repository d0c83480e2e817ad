//! App-flow tests: keys and engine events in, commands out. First against the reducer alone,
//! then through the real event loop with a fake engine and a test screen.

use crate::support::tui;

use std::io;
use std::sync::{Arc, Mutex};

use clk::engine::EngineGone;
use clk::engine::ground::events::{Command, Event, RolesCommand, Stream};
use clk::engine::ground::state::{AgentStatus, RunState};
use clk::tui::app::{AppState, Effect, Msg, Pending, hint, update};
use clk::tui::event_loop::{self, EngineLink, Screen, Side};
use crossterm::event::{Event as TermEvent, KeyCode, KeyEvent, KeyModifiers};
use tui::{apply, fixture, state};

fn key(s: &mut AppState, code: KeyCode) -> Vec<Effect> {
    update(s, Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

fn ctrl(s: &mut AppState, c: char) -> Vec<Effect> {
    update(
        s,
        Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)),
    )
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

fn working(s: &mut AppState, agent: &str) {
    update(
        s,
        Msg::Engine(Event::DispatchStarted {
            agent: agent.into(),
            stage: None,
            run_id: "r1".into(),
            provider: "shell".into(),
            objective: "x".into(),
            prompt_chars: 1,
            dry_run: false,
        }),
    );
}

#[test]
fn free_text_becomes_a_message_and_is_echoed() {
    let mut s = state(80, 24);
    let fx = typed(&mut s, "Add a hello() function to greeter.py");
    assert_eq!(
        fx,
        vec![Effect::Submit(Command::Message {
            text: "Add a hello() function to greeter.py".into()
        })]
    );
    assert!(s.input.is_empty());
    assert_eq!(
        log_text(&s).last().unwrap(),
        "> Add a hello() function to greeter.py"
    );
    assert!(typed(&mut s, "   ").is_empty(), "blank input sends nothing");
}

#[test]
fn slash_commands_become_engine_commands() {
    let mut s = state(80, 24);
    assert!(
        matches!(&typed(&mut s, "/run")[..], [Effect::Submit(Command::Run { workflow, .. })] if workflow == "engineering")
    );
    assert!(matches!(
        &typed(&mut s, "/loop ralph 5")[..],
        [Effect::Submit(Command::Loop { iterations: 5, .. })]
    ));
    assert_eq!(
        typed(&mut s, "/abort"),
        vec![Effect::Submit(Command::Abort)]
    );
    assert_eq!(
        typed(&mut s, "/undo"),
        vec![Effect::Submit(Command::Undo { confirm: false })]
    );
    assert_eq!(
        typed(&mut s, "/undo confirm"),
        vec![Effect::Submit(Command::Undo { confirm: true })]
    );
    assert_eq!(
        typed(&mut s, "/roles list"),
        vec![Effect::Submit(Command::Roles {
            action: RolesCommand::List
        })]
    );
    assert_eq!(
        typed(&mut s, "/tutorial"),
        vec![Effect::Submit(Command::Tutorial)]
    );
    assert!(s.tutorial_running);
    assert!(hint(&s).contains("tutorial"));
}

#[test]
fn an_unknown_command_says_so_and_suggests_the_closest() {
    let mut s = state(80, 24);
    assert!(typed(&mut s, "/rnu").is_empty());
    let last = log_text(&s).last().unwrap().clone();
    assert!(last.contains("/run"), "{last}");
    assert_eq!(s.log.last().unwrap().level, clk::tui::log::Level::Warn);
}

#[test]
fn help_opens_from_slash_f1_and_question_mark_and_any_key_closes_it() {
    let mut s = state(80, 24);
    assert!(typed(&mut s, "/help").is_empty());
    assert!(s.help_open);
    assert!(key(&mut s, KeyCode::Esc).is_empty());
    assert!(!s.help_open);
    key(&mut s, KeyCode::F(1));
    assert!(s.help_open);
    key(&mut s, KeyCode::Char('q'));
    assert!(
        !s.help_open && s.input.is_empty(),
        "the closing key is not typed"
    );
    key(&mut s, KeyCode::Char('?'));
    assert!(s.help_open);
    key(&mut s, KeyCode::Enter);
    key(&mut s, KeyCode::Char('a'));
    key(&mut s, KeyCode::Char('?'));
    assert!(!s.help_open, "? in a non-empty input is a character");
    assert_eq!(s.input.text(), "a?");
}

#[test]
fn questions_default_to_no_and_y_says_yes() {
    let mut s = state(80, 24);
    update(
        &mut s,
        Msg::Engine(Event::ConfirmRequested {
            about: None,
            id: 7,
            question: "Revert abc123?".into(),
        }),
    );
    update(
        &mut s,
        Msg::Engine(Event::ConfirmRequested {
            about: None,
            id: 8,
            question: "And this?".into(),
        }),
    );
    assert!(hint(&s).contains("y for yes"));
    assert_eq!(
        key(&mut s, KeyCode::Char('y')),
        vec![Effect::Submit(Command::Confirm {
            id: 7,
            approve: true
        })]
    );
    assert_eq!(
        key(&mut s, KeyCode::Enter),
        vec![Effect::Submit(Command::Confirm {
            id: 8,
            approve: false
        })]
    );
    update(
        &mut s,
        Msg::Engine(Event::ConfirmRequested {
            about: None,
            id: 9,
            question: "Again?".into(),
        }),
    );
    assert_eq!(
        key(&mut s, KeyCode::Esc),
        vec![Effect::Submit(Command::Confirm {
            id: 9,
            approve: false
        })]
    );
    update(
        &mut s,
        Msg::Engine(Event::ConfirmRequested {
            about: None,
            id: 10,
            question: "Once more?".into(),
        }),
    );
    assert_eq!(
        key(&mut s, KeyCode::Char('n')),
        vec![Effect::Submit(Command::Confirm {
            id: 10,
            approve: false
        })]
    );
    // A question answered elsewhere (abort) leaves the screen.
    update(
        &mut s,
        Msg::Engine(Event::ConfirmRequested {
            about: None,
            id: 11,
            question: "Gone?".into(),
        }),
    );
    update(
        &mut s,
        Msg::Engine(Event::ConfirmAnswered {
            id: 11,
            approve: false,
            by: "abort".into(),
        }),
    );
    assert!(s.pending.is_empty());
    assert!(s.input.is_empty(), "answers are not typed into the input");
}

#[test]
fn ctrl_c_asks_before_quitting() {
    let mut s = state(80, 24);
    assert!(ctrl(&mut s, 'c').is_empty());
    assert!(matches!(s.pending.front(), Some(Pending::Quit { .. })));
    assert!(key(&mut s, KeyCode::Char('n')).is_empty(), "no: stay");
    assert!(s.pending.is_empty());
    ctrl(&mut s, 'c');
    assert_eq!(key(&mut s, KeyCode::Char('y')), vec![Effect::Quit]);
    ctrl(&mut s, 'c');
    assert_eq!(ctrl(&mut s, 'c'), vec![Effect::Quit], "Ctrl-C twice quits");
}

#[test]
fn quit_is_immediate_when_idle_and_asks_while_work_runs() {
    let mut s = state(80, 24);
    assert_eq!(typed(&mut s, "/quit"), vec![Effect::Quit]);
    working(&mut s, "engineer");
    assert!(typed(&mut s, "/quit").is_empty());
    let q = s.pending.front().unwrap().question().to_string();
    assert!(q.contains("stopped"), "{q}");
    assert_eq!(key(&mut s, KeyCode::Char('y')), vec![Effect::Quit]);
    assert_eq!(update(&mut s, Msg::Terminate), vec![Effect::Quit]);
}

#[test]
fn tab_completes_and_up_down_walk_the_history() {
    let mut s = state(80, 24);
    for c in "/lo".chars() {
        key(&mut s, KeyCode::Char(c));
    }
    key(&mut s, KeyCode::Tab);
    assert_eq!(s.input.text(), "/loop ");
    s.input.set_text("/st");
    key(&mut s, KeyCode::Tab);
    assert!(
        s.completions.contains(&"/status".to_string()),
        "several matches are listed in the popup"
    );
    assert!(
        !log_text(&s).iter().any(|l| l.contains("/status")),
        "not in the log"
    );
    let popup = tui::screen(&mut s, 80, 24);
    assert!(popup.contains("Tab: type more to narrow"), "{popup}");
    key(&mut s, KeyCode::Char('o'));
    assert!(s.completions.is_empty(), "the next key closes the popup");
    s.input.set_text("");
    typed(&mut s, "first idea");
    typed(&mut s, "/status");
    key(&mut s, KeyCode::Up);
    assert_eq!(s.input.text(), "/status");
    key(&mut s, KeyCode::Up);
    assert_eq!(s.input.text(), "first idea");
    key(&mut s, KeyCode::Down);
    key(&mut s, KeyCode::Down);
    assert_eq!(s.input.text(), "");
}

#[test]
fn the_log_scrolls_with_page_keys_and_the_wheel() {
    let mut s = state(80, 24);
    apply(&mut s, &fixture());
    assert!(s.log.following());
    key(&mut s, KeyCode::PageUp);
    assert!(!s.log.following());
    let hidden = s.log.newer_hidden();
    assert!(hidden > 0);
    update(&mut s, Msg::Wheel(1));
    assert!(s.log.newer_hidden() > hidden);
    key(&mut s, KeyCode::End);
    assert!(s.log.following());
    update(&mut s, Msg::Wheel(1));
    update(&mut s, Msg::Wheel(-1));
    assert!(s.log.following(), "wheel down to the end follows again");
    key(&mut s, KeyCode::Home);
    assert!(!s.log.following());
    // Typing something sends the view back to the tail.
    typed(&mut s, "hello");
    assert!(s.log.following());
}

#[test]
fn cards_appear_as_the_chief_casts_and_go_when_retired() {
    let mut s = state(80, 24);
    let cast = |name: &str, decision: &str| {
        Msg::Engine(Event::RoleDecided {
            by: "chief".into(),
            name: name.into(),
            decision: decision.into(),
            reason: None,
        })
    };
    update(&mut s, cast("data_steward", "added"));
    let names: Vec<_> = s.cards.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        ["chief", "engineer", "qa", "ralph", "critic", "data_steward"]
    );
    update(&mut s, cast("data_steward", "removed"));
    update(&mut s, cast("chief", "removed"));
    assert_eq!(s.cards.len(), 5, "baseline cards stay");
    update(&mut s, cast("ghost", "reject"));
    assert_eq!(s.cards.len(), 5, "a refused role gets no card");
}

#[test]
fn cards_follow_an_agent_through_working_to_done_and_failed() {
    let mut s = state(80, 24);
    working(&mut s, "engineer");
    assert_eq!(s.status("engineer"), AgentStatus::Working);
    assert!(s.busy() && s.animating());
    update(
        &mut s,
        Msg::Engine(Event::AgentOutput {
            agent: "engineer".into(),
            run_id: "r1".into(),
            stream: Stream::Stdout,
            line: "compiling".into(),
        }),
    );
    assert_eq!(s.run.agents["engineer"].last_line, "compiling");
    update(
        &mut s,
        Msg::Engine(Event::DispatchFinished {
            agent: "engineer".into(),
            run_id: "r1".into(),
            ok: false,
            error: Some("codex CLI not found".into()),
            error_kind: Some("not_found".into()),
            response_chars: 0,
            elapsed_ms: 5,
        }),
    );
    assert_eq!(s.status("engineer"), AgentStatus::Failed);
    assert!(!s.animating(), "nothing works: no clock ticks");
    assert!(hint(&s).contains("not found"), "{}", hint(&s));
}

#[test]
fn the_hint_always_names_the_next_move() {
    let mut s = state(80, 24);
    assert!(hint(&s).contains("type your idea"));
    update(
        &mut s,
        Msg::Engine(Event::IdeaCaptured { title: "x".into() }),
    );
    assert!(hint(&s).contains("type a message"));
    update(
        &mut s,
        Msg::Submitted {
            task_id: 4,
            what: "ralph loop".into(),
        },
    );
    assert!(hint(&s).contains("/abort"));
    assert_eq!(s.phase(), "ralph loop");
    update(
        &mut s,
        Msg::Engine(Event::TaskFinished {
            task_id: 4,
            task: "ralph loop".into(),
            ok: true,
            summary: "3 iterations".into(),
        }),
    );
    assert!(hint(&s).contains("/loop ralph 5"), "{}", hint(&s));
    assert_eq!(s.phase(), "ready");
}

#[test]
fn a_lagging_screen_takes_the_engine_snapshot() {
    let mut s = state(80, 24);
    let mut snap = RunState::default();
    snap.totals.input_tokens = 500;
    update(
        &mut s,
        Msg::Lagged {
            missed: 12,
            snapshot: Box::new(snap),
        },
    );
    assert_eq!(s.total_tokens(), 500);
    assert!(log_text(&s).last().unwrap().contains("12 events"));
}

#[test]
fn a_report_is_shown_line_by_line() {
    let mut s = state(80, 24);
    update(
        &mut s,
        Msg::Engine(Event::Report {
            topic: "status".into(),
            lines: vec!["idea: greeter".into(), "agents: 5".into()],
        }),
    );
    let log = log_text(&s);
    assert_eq!(&log[log.len() - 2..], ["idea: greeter", "agents: 5"]);
}

#[test]
fn session_cost_adds_to_what_earlier_sessions_spent() {
    let mut s = state(80, 24);
    s.base_cost_micros = 1_000_000;
    s.base_tokens = 10;
    update(
        &mut s,
        Msg::Engine(Event::UsageRecorded {
            agent: "qa".into(),
            run_id: "r".into(),
            provider: "claude".into(),
            model: "m".into(),
            usage: clk::engine::ground::events::Usage {
                input_tokens: 5,
                output_tokens: 5,
                ..Default::default()
            },
            cost_micros: 250_000,
            cost_basis: Default::default(),
        }),
    );
    assert_eq!(s.total_cost_micros(), 1_250_000);
    assert_eq!(s.total_tokens(), 20);
    assert!(clk::tui::widgets::title_bar::text(&s, 200).contains("$1.25"));
}

// ---- through the event loop ----

#[derive(Default, Clone)]
struct FakeEngine {
    sent: Arc<Mutex<Vec<Command>>>,
}

impl EngineLink for FakeEngine {
    fn submit(&self, cmd: Command) -> Result<u64, EngineGone> {
        let mut sent = self.sent.lock().unwrap();
        sent.push(cmd);
        Ok(sent.len() as u64)
    }
    fn snapshot(&self) -> RunState {
        RunState::default()
    }
}

#[derive(Default)]
struct CountingScreen {
    frames: usize,
    last: String,
}

impl Screen for CountingScreen {
    fn show(&mut self, app: &AppState) -> io::Result<()> {
        self.frames += 1;
        let mut t =
            ratatui::Terminal::new(ratatui::backend::TestBackend::new(app.width, app.height))
                .unwrap();
        t.draw(|f| clk::tui::widgets::draw(f, app)).unwrap();
        self.last = format!("{}", t.backend());
        Ok(())
    }
}

fn press(tx: &tokio::sync::mpsc::UnboundedSender<io::Result<TermEvent>>, code: KeyCode) {
    tx.send(Ok(TermEvent::Key(KeyEvent::new(code, KeyModifiers::NONE))))
        .unwrap();
}

#[tokio::test]
async fn the_loop_submits_draws_once_per_burst_and_aborts_on_quit() {
    let engine = FakeEngine::default();
    let bus = clk::engine::store::bus::Bus::new(None);
    let events = bus.subscribe();
    let (key_tx, key_rx) = tokio::sync::mpsc::unbounded_channel();
    let keys = tokio_stream::wrappers::UnboundedReceiverStream::new(key_rx);
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let mut app = state(80, 24);
    let mut screen = CountingScreen::default();
    // A burst of 3,000 output lines is already queued when the loop starts.
    working(&mut app, "engineer");
    for i in 0..3000 {
        bus.emit(Event::AgentOutput {
            agent: "engineer".into(),
            run_id: "r1".into(),
            stream: Stream::Stdout,
            line: format!("line {i}"),
        });
    }
    for c in "hi".chars() {
        press(&key_tx, KeyCode::Char(c));
    }
    press(&key_tx, KeyCode::Enter);
    let driver = {
        let engine = engine.clone();
        async move {
            let mut side = Side::default();
            event_loop::run(
                &mut app,
                &engine,
                events,
                &mut screen,
                keys,
                tx,
                rx,
                &mut side,
            )
            .await
            .unwrap();
            (app, screen)
        }
    };
    let quitter = async move {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        // Ctrl-C, then y.
        key_tx
            .send(Ok(TermEvent::Key(KeyEvent::new(
                KeyCode::Char('c'),
                KeyModifiers::CONTROL,
            ))))
            .unwrap();
        press(&key_tx, KeyCode::Char('y'));
        key_tx
    };
    let ((app, screen), _keep) = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        tokio::join!(driver, quitter)
    })
    .await
    .expect("the loop quits");
    assert_eq!(app.run.agents["engineer"].last_line, "line 2999");
    assert!(screen.frames < 40, "{} frames for one burst", screen.frames);
    assert!(screen.last.contains("line 2999"), "{}", screen.last);
    let sent = engine.sent.lock().unwrap().clone();
    assert_eq!(
        sent,
        vec![
            Command::Message { text: "hi".into() },
            Command::Abort,
            Command::Shutdown
        ],
        "quitting while an agent works aborts it first"
    );
}

#[tokio::test]
async fn the_loop_ends_when_input_ends() {
    let engine = FakeEngine::default();
    let bus = clk::engine::store::bus::Bus::new(None);
    let (key_tx, key_rx) = tokio::sync::mpsc::unbounded_channel::<io::Result<TermEvent>>();
    drop(key_tx);
    let keys = tokio_stream::wrappers::UnboundedReceiverStream::new(key_rx);
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let mut app = state(60, 20);
    let mut screen = CountingScreen::default();
    event_loop::run(
        &mut app,
        &engine,
        bus.subscribe(),
        &mut screen,
        keys,
        tx,
        rx,
        &mut Side::default(),
    )
    .await
    .unwrap();
    assert_eq!(*engine.sent.lock().unwrap(), vec![Command::Shutdown]);
}

#[test]
fn a_spending_cap_stop_is_the_hint_until_new_work_starts() {
    let mut s = state(80, 24);
    update(
        &mut s,
        Msg::Engine(Event::IdeaCaptured { title: "x".into() }),
    );
    update(
        &mut s,
        Msg::Engine(Event::BudgetStopped {
            agent: "qa".into(),
            cap_key: "budget.session_usd_cap".into(),
            spent_micros: 5_000_000,
            cap_micros: 5_000_000,
            reason: "session cap $5.00 reached; raise budget.session_usd_cap".into(),
        }),
    );
    assert!(
        hint(&s).contains("raise budget.session_usd_cap"),
        "{}",
        hint(&s)
    );
    assert_eq!(s.log.last().unwrap().level, clk::tui::log::Level::Error);
    update(
        &mut s,
        Msg::Submitted {
            task_id: 1,
            what: "run".into(),
        },
    );
    update(
        &mut s,
        Msg::Engine(Event::TaskFinished {
            task_id: 1,
            task: "status".into(),
            ok: true,
            summary: String::new(),
        }),
    );
    assert!(!hint(&s).contains("budget"), "{}", hint(&s));
    // A call with no known price makes the shown cost a lower bound.
    update(
        &mut s,
        Msg::Engine(Event::UsageRecorded {
            agent: "qa".into(),
            run_id: "r".into(),
            provider: "claude".into(),
            model: "new-model".into(),
            usage: clk::engine::ground::events::Usage::default(),
            cost_micros: 0,
            cost_basis: clk::engine::ground::pricing::CostBasis::Unknown,
        }),
    );
    assert!(clk::tui::widgets::title_bar::text(&s, 200).contains("≥$0.00"));
}

#[test]
fn after_an_abort_the_hint_offers_to_carry_on_and_the_phase_names_the_step() {
    let mut s = state(80, 24);
    update(
        &mut s,
        Msg::Engine(Event::IdeaCaptured { title: "x".into() }),
    );
    update(
        &mut s,
        Msg::Submitted {
            task_id: 1,
            what: "working on your message".into(),
        },
    );
    update(
        &mut s,
        Msg::Engine(Event::DispatchStarted {
            agent: "chief".into(),
            stage: Some("casting".into()),
            run_id: "r".into(),
            provider: "shell".into(),
            objective: "cast".into(),
            prompt_chars: 1,
            dry_run: false,
        }),
    );
    assert_eq!(s.phase(), "casting");
    update(
        &mut s,
        Msg::Engine(Event::DispatchFinished {
            agent: "chief".into(),
            run_id: "r".into(),
            ok: false,
            error: Some("aborted".into()),
            error_kind: Some("cancelled".into()),
            response_chars: 0,
            elapsed_ms: 3,
        }),
    );
    update(
        &mut s,
        Msg::Engine(Event::TaskFinished {
            task_id: 1,
            task: "message".into(),
            ok: false,
            summary: "cast: aborted".into(),
        }),
    );
    assert!(hint(&s).starts_with("stopped"), "{}", hint(&s));
    assert_eq!(s.phase(), "ready");
    typed(&mut s, "go on");
    update(
        &mut s,
        Msg::Submitted {
            task_id: 2,
            what: "working on your message".into(),
        },
    );
    assert!(!s.aborted);
}
