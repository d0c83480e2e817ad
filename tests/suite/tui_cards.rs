//! Cards that tell the truth: streaming only once reply text flows, retries with their wait,
//! a question waiting for the user, the failure reason on two rows, "aborted by you", each
//! agent's tokens and cost; and cards as one line each on a small screen.

use crate::support::tui;

use clk::engine::ground::events::{Event, Stream, Usage};
use clk::tui::app::{AppState, Msg, update};
use clk::tui::widgets::agent_card;
use insta::assert_snapshot;
use tui::{apply, fixture, screen, state, tick, widget};

fn card(s: &AppState, name: &str) -> String {
    let c = s.cards.iter().find(|c| c.name == name).unwrap().clone();
    widget(34, 5, |a, b| agent_card::render(s, &c, false, a, b))
}

fn ev(s: &mut AppState, e: Event) {
    update(s, Msg::Engine(e));
}

fn start(s: &mut AppState, agent: &str) {
    ev(
        s,
        Event::DispatchStarted {
            agent: agent.into(),
            stage: Some("implement".into()),
            run_id: "r1".into(),
            provider: "claude".into(),
            objective: "x".into(),
            prompt_chars: 1,
            dry_run: false,
        },
    );
}

fn out(s: &mut AppState, agent: &str, line: &str) {
    ev(
        s,
        Event::AgentOutput {
            agent: agent.into(),
            run_id: "r1".into(),
            stream: Stream::Stdout,
            line: line.into(),
        },
    );
}

fn finished(s: &mut AppState, agent: &str, error: Option<(&str, &str)>) {
    ev(
        s,
        Event::DispatchFinished {
            agent: agent.into(),
            run_id: "r1".into(),
            ok: error.is_none(),
            error: error.map(|(e, _)| e.to_string()),
            error_kind: error.map(|(_, k)| k.to_string()),
            response_chars: 10,
            elapsed_ms: 4_200,
        },
    );
}

#[test]
fn card_states_say_what_is_really_happening() {
    let mut s = state(120, 40);
    start(&mut s, "engineer");
    tick(&mut s, 3_000);
    out(&mut s, "engineer", r#"{"type":"system","subtype":"init"}"#);
    let startup = card(&s, "engineer");
    assert!(
        startup.contains("waiting"),
        "one startup line is not a reply:\n{startup}"
    );
    out(&mut s, "engineer", "I will add hello() to greeter.py");
    let streaming = card(&s, "engineer");
    assert!(streaming.contains("streaming"), "{streaming}");
    ev(
        &mut s,
        Event::ProviderRetry {
            agent: "engineer".into(),
            run_id: "r1".into(),
            attempt: 2,
            max_attempts: 3,
            delay_ms: 8_000,
            error: "overloaded".into(),
        },
    );
    tick(&mut s, 5_000);
    let retrying = card(&s, "engineer");
    assert!(
        retrying.contains("retrying 2/3") && retrying.contains("next try in 6s"),
        "{retrying}"
    );
    ev(
        &mut s,
        Event::ConfirmRequested {
            about: None,
            id: 4,
            question: "Spend past the cap?".into(),
        },
    );
    let asking = card(&s, "engineer");
    assert!(asking.contains("waiting for you"), "{asking}");
    ev(
        &mut s,
        Event::ConfirmAnswered {
            id: 4,
            approve: true,
            by: "user".into(),
        },
    );
    ev(
        &mut s,
        Event::UsageRecorded {
            agent: "engineer".into(),
            run_id: "r1".into(),
            provider: "claude".into(),
            model: "m".into(),
            usage: Usage {
                input_tokens: 12_000,
                output_tokens: 345,
                ..Usage::default()
            },
            cost_micros: 42_000,
            cost_basis: Default::default(),
        },
    );
    finished(&mut s, "engineer", None);
    let done = card(&s, "engineer");
    assert!(done.contains("12.3k tok · $0.04"), "{done}");
    start(&mut s, "qa");
    finished(
        &mut s,
        "qa",
        Some((
            "claude CLI not found on PATH; install it with npm i -g @anthropic-ai/claude-code",
            "not_found",
        )),
    );
    let failed = card(&s, "qa");
    assert!(
        failed.contains("install it"),
        "the reason's second row is kept:\n{failed}"
    );
    start(&mut s, "critic");
    finished(&mut s, "critic", Some(("cancelled", "cancelled")));
    let aborted = card(&s, "critic");
    assert!(
        aborted.contains("aborted by you") && !aborted.contains("failed"),
        "{aborted}"
    );
    assert_snapshot!(format!(
        "startup\n{startup}\nstreaming\n{streaming}\nretrying\n{retrying}\nasking\n{asking}\n\
         done\n{done}\nfailed\n{failed}\naborted\n{aborted}"
    ));
}

#[test]
fn small_screens_show_each_card_as_one_line() {
    let mut s = state(40, 12);
    apply(&mut s, &fixture());
    let small = screen(&mut s, 40, 12);
    for name in [
        "chief",
        "engineer",
        "qa",
        "ralph",
        "critic",
        "greeter_expert",
    ] {
        assert!(small.contains(name), "{name} missing:\n{small}");
    }
    assert!(!small.contains("more"), "{small}");
    assert_snapshot!("cards_40x12", small);
    // Focus still works on one-line cards, and the focused one is marked.
    s.focus = clk::tui::app::Focus::Card(1);
    assert!(screen(&mut s, 40, 12).contains("▸*engineer"));
}

#[test]
fn the_help_scrolls_on_a_tiny_terminal() {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    let key =
        |s: &mut AppState, c: KeyCode| update(s, Msg::Key(KeyEvent::new(c, KeyModifiers::NONE)));
    let mut s = state(40, 12);
    s.help_open = true;
    let top = screen(&mut s, 40, 12);
    assert!(top.contains("↑/↓ scroll"), "{top}");
    assert!(!top.contains("baseline team"), "{top}");
    for _ in 0..200 {
        key(&mut s, KeyCode::Down);
    }
    assert!(s.help_open, "arrows scroll, they do not close");
    let bottom = screen(&mut s, 40, 12);
    // At the end, one ↑ moves at once (the scroll stops at the last line).
    key(&mut s, KeyCode::Up);
    assert_ne!(
        screen(&mut s, 40, 12),
        bottom,
        "↑ moves right after the end"
    );
    key(&mut s, KeyCode::Down);
    assert!(
        bottom.contains("baseline"),
        "the last lines are reachable:\n{bottom}"
    );
    // Scrolled through from the top, every command's whole help is there: nothing is cut.
    key(&mut s, KeyCode::Char('x'));
    s.help_open = true;
    let mut seen = String::new();
    for _ in 0..120 {
        // The box's inside: between its borders, the words without the spaces of the wrap.
        for row in screen(&mut s, 40, 12).lines().skip(1) {
            if let (Some(a), Some(b)) = (row.find('│'), row.rfind('│'))
                && a < b
            {
                seen.extend(
                    row[a + '│'.len_utf8()..b]
                        .chars()
                        .filter(|c| !c.is_whitespace()),
                );
            }
        }
        key(&mut s, KeyCode::Down);
    }
    let squeeze = |t: &str| t.chars().filter(|c| !c.is_whitespace()).collect::<String>();
    for c in clk::engine::ground::slash::COMMANDS {
        assert!(
            seen.contains(&squeeze(c.help)) && seen.contains(&squeeze(c.usage)),
            "{} is cut:\n{seen}",
            c.name
        );
    }
    assert!(seen.contains(&squeeze("the first message is the idea.")));
    assert_snapshot!("help_40x12_top", top);
    assert_snapshot!("help_40x12_bottom", bottom);
    key(&mut s, KeyCode::Char('x'));
    assert!(!s.help_open);
    assert_eq!(s.help_scroll, 0);
}

#[test]
fn ui_theme_takes_dark_or_light_and_the_light_palette_draws() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        crate::support::clk()
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    assert!(run(&["init"]).status.success());
    let bad = run(&["configure", "--set", "ui.theme=pink"]);
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("ui.theme is \"pink\"; use one of: dark, light"),
        "{err}"
    );
    assert!(
        run(&["configure", "--set", "ui.theme=light"])
            .status
            .success()
    );
    // The light palette: the title bar is blue, not cyan, and agent states stay coloured.
    let mut s = state(80, 24);
    s.theme = clk::tui::theme::Theme::light();
    let buf = tui::buffer(&mut s, 80, 24);
    assert_eq!(buf[(1, 0)].bg, ratatui::style::Color::Blue);
}

#[test]
fn the_tutorial_leaves_the_title_totals_alone_and_ends_plainly() {
    let mut s = state(80, 24);
    let fx = update(
        &mut s,
        Msg::Key(crossterm::event::KeyEvent::new(
            crossterm::event::KeyCode::Enter,
            crossterm::event::KeyModifiers::NONE,
        )),
    );
    assert!(fx.is_empty());
    s.input.set_text("/tutorial");
    update(
        &mut s,
        Msg::Key(crossterm::event::KeyEvent::new(
            crossterm::event::KeyCode::Enter,
            crossterm::event::KeyModifiers::NONE,
        )),
    );
    assert!(s.tutorial_running);
    let before = clk::tui::widgets::title_bar::text(&s, 80);
    // The recorded run, as if the tutorial ran it (its task is the tutorial, still going).
    let run: Vec<Event> = fixture()
        .into_iter()
        .filter(|e| !matches!(e, Event::TaskFinished { .. }))
        .collect();
    apply(&mut s, &run);
    assert_eq!(
        s.total_tokens(),
        0,
        "no tutorial tokens in the project's totals"
    );
    assert_eq!(s.run.files_written.len(), 0);
    assert_eq!(
        clk::tui::widgets::title_bar::text(&s, 80),
        before.replace("ready", &s.phase())
    );
    update(
        &mut s,
        Msg::Engine(Event::TutorialFinished {
            ok: true,
            scratch: "/tmp/clk-tutorial".into(),
        }),
    );
    let text: Vec<String> = s.log.since(0).map(|e| e.text.to_string()).collect();
    assert!(
        text.last().unwrap().starts_with("tutorial done"),
        "{text:?}"
    );
    assert!(!text.iter().any(|l| l.contains("not done yet")), "{text:?}");
}

#[tokio::test]
async fn after_a_restart_cards_show_each_agents_last_run() {
    use crate::suite::engine_commands::{project, submit};
    use clk::engine::ground::events::Command;
    let dir = tempfile::tempdir().unwrap();
    // qa's agent fails; everyone else's replies.
    let p = project(
        dir.path(),
        Some("case \"$CLK_AGENT\" in qa) echo 'no model here' >&2; exit 3;; *) echo ok;; esac"),
    );
    let (engine, join) =
        clk::engine::Engine::spawn(p.clone(), clk::engine::store::bus::Bus::new(None));
    let dispatch = |agent: &str| Command::Dispatch {
        agent: agent.into(),
        objective: "check".into(),
        stage: None,
        dry_run: false,
    };
    let mut rx = engine.subscribe();
    assert!(submit(&engine, &mut rx, dispatch("engineer")).await.1);
    assert!(!submit(&engine, &mut rx, dispatch("qa")).await.1);
    engine.submit(Command::Shutdown).unwrap();
    join.await.unwrap();

    // A new session: nothing has happened yet, the records say how each agent's run went.
    let p =
        p.ws.load(&clk::engine::ground::config::Env::none())
            .unwrap();
    let s = AppState::new(clk::tui::init_for(&p, 120, 40, Vec::new()));
    let engineer = card(&s, "engineer");
    assert!(engineer.contains("last run ok in"), "{engineer}");
    let qa = card(&s, "qa");
    assert!(qa.contains("last run failed"), "{qa}");
    assert!(card(&s, "chief").contains("idle") && !card(&s, "chief").contains("last run"));
}

#[test]
fn a_budget_question_marks_the_card_of_the_agent_it_is_about() {
    let mut s = state(120, 40);
    apply(&mut s, &fixture());
    // The budget asks before qa's next dispatch starts: qa's card is done, not working.
    ev(
        &mut s,
        Event::ConfirmRequested {
            id: 9,
            question: "qa's spend $1.00 reached the $0.50 cap. Let qa make one more model call anyway? (y/N)".into(),
            about: Some("qa".into()),
        },
    );
    let qa = card(&s, "qa");
    assert!(qa.contains("waiting for you"), "{qa}");
    let engineer = card(&s, "engineer");
    assert!(!engineer.contains("waiting for you"), "{engineer}");
    ev(
        &mut s,
        Event::ConfirmAnswered {
            id: 9,
            approve: false,
            by: "user".into(),
        },
    );
    assert!(!card(&s, "qa").contains("waiting for you"));
}

/// A tool call the agent's CLI was not allowed to make shows on its card as it happens, and a
/// turn that failed for it keeps the reason on the card.
#[test]
fn a_refused_tool_call_shows_on_the_card() {
    let mut s = state(120, 40);
    apply(&mut s, &fixture());
    start(&mut s, "engineer");
    out(
        &mut s,
        "engineer",
        "the CLI was not allowed to: Write .git/hooks/pre-commit (read-only file system)",
    );
    let c = card(&s, "engineer");
    assert!(c.contains("not allowed to"), "{c}");
    finished(
        &mut s,
        "engineer",
        Some((
            "claude: the CLI was not allowed to: Write .git/hooks/pre-commit",
            "refused",
        )),
    );
    let c = card(&s, "engineer");
    assert!(c.contains("failed") && c.contains("not allowed"), "{c}");
}

#[test]
fn a_working_card_counts_the_files_its_tools_change_and_a_new_call_starts_at_zero() {
    let mut s = state(120, 40);
    start(&mut s, "engineer");
    tick(&mut s, 2_000);
    assert!(!card(&s, "engineer").contains("file"));
    ev(
        &mut s,
        Event::FilesChanging {
            agent: "engineer".into(),
            run_id: "r1".into(),
            count: 3,
            files: vec!["notes/a.txt".into(), "greeter.py".into()],
        },
    );
    let working = card(&s, "engineer");
    assert!(working.contains("· 3 files: notes/a"), "{working}");
    assert_snapshot!("card_files_changing", working);
    finished(&mut s, "engineer", None);
    start(&mut s, "engineer");
    assert!(!card(&s, "engineer").contains("3 files"), "a new call");
}

#[test]
fn a_todo_list_shows_on_the_card_and_an_empty_one_clears_it() {
    use clk::engine::ground::protocol::{TodoItem, TodoState};
    let item = |text: &str, state, required| TodoItem {
        text: text.into(),
        state,
        required,
    };
    let mut s = state(120, 40);
    start(&mut s, "engineer");
    finished(&mut s, "engineer", None);
    ev(
        &mut s,
        Event::TodosUpdated {
            agent: "engineer".into(),
            items: vec![
                item("entry point", TodoState::Done, false),
                item("tests", TodoState::Todo, true),
                item("help text", TodoState::Doing, false),
            ],
        },
    );
    let c = card(&s, "engineer");
    assert!(c.contains("todos 1/3 (1 req)"), "{c}");
    assert_snapshot!("card_todos", c);
    ev(
        &mut s,
        Event::TodosUpdated {
            agent: "engineer".into(),
            items: Vec::new(),
        },
    );
    assert!(!card(&s, "engineer").contains("todos"));
}

/// Two stages of one batch run at once: both cards work, the title names both stages, and
/// the one still running stays named when the other finishes.
#[test]
fn two_stages_at_once_show_two_working_cards() {
    let mut s = state(100, 30);
    for (agent, stage) in [("engineer", "left"), ("architect", "right")] {
        ev(
            &mut s,
            Event::StageStarted {
                workflow: "demo".into(),
                stage: stage.into(),
                agent: agent.into(),
            },
        );
        start(&mut s, agent);
        out(&mut s, agent, &format!("{agent} is writing"));
    }
    assert!(card(&s, "engineer").contains("engineer is writing"));
    assert!(card(&s, "architect").contains("architect is writing"));
    assert_eq!(
        (s.status("engineer"), s.status("architect")),
        (
            clk::engine::ground::state::AgentStatus::Working,
            clk::engine::ground::state::AgentStatus::Working
        )
    );
    assert_eq!(s.stage.as_deref(), Some("demo/left + demo/right"));
    finished(&mut s, "engineer", None);
    ev(
        &mut s,
        Event::StageFinished {
            workflow: "demo".into(),
            stage: "left".into(),
            ok: true,
            reason: None,
            commit: None,
        },
    );
    assert_eq!(s.stage.as_deref(), Some("demo/right"));
    assert!(card(&s, "architect").contains("architect is writing"));
    use clk::engine::ground::state::AgentStatus;
    assert_eq!(s.status("engineer"), AgentStatus::Done);
    assert_eq!(s.status("architect"), AgentStatus::Working);
}

#[test]
fn a_done_card_says_what_the_call_came_to_not_its_protocol_lines() {
    let mut s = state(120, 40);
    start(&mut s, "qa");
    out(&mut s, "qa", r#"{"type":"system","subtype":"init"}"#);
    out(&mut s, "qa", "All four tests pass; the greeting is right.");
    out(&mut s, "qa", "ACTION: write");
    out(&mut s, "qa", "PATH: notes.md");
    out(&mut s, "qa", "CONTENT:");
    out(&mut s, "qa", "some file text that is not what qa said");
    out(&mut s, "qa", "END_ACTION");
    out(&mut s, "qa", "CONFIDENCE: 0.9");
    out(&mut s, "qa", "PROGRESS: yes");
    finished(&mut s, "qa", None);
    let said = card(&s, "qa");
    assert!(said.contains("All four tests pass"), "{said}");
    assert!(
        !said.contains("CONFIDENCE") && !said.contains("PROGRESS"),
        "{said}"
    );
    // A call that committed says what changed, as the commit's subject does.
    start(&mut s, "engineer");
    out(&mut s, "engineer", "I added hello().");
    ev(
        &mut s,
        Event::Committed {
            agent: "engineer".into(),
            sha: "abc1234def".into(),
            subject: "[engineer] update greeter.py".into(),
            files: vec!["greeter.py".into()],
        },
    );
    out(&mut s, "engineer", "CONFIDENCE: 0.9");
    finished(&mut s, "engineer", None);
    let committed = card(&s, "engineer");
    assert!(
        committed.contains("committed: update greeter.py"),
        "{committed}"
    );
    // The next call starts afresh.
    start(&mut s, "engineer");
    out(&mut s, "engineer", "PROGRESS: no");
    finished(&mut s, "engineer", None);
    let quiet = card(&s, "engineer");
    assert!(
        !quiet.contains("committed") && !quiet.contains("PROGRESS"),
        "{quiet}"
    );
}
