//! Snapshots of the dashboard: each widget in each state, and whole screens at 80x24 and
//! 120x40 built from a recorded session. Review changes with `cargo insta review`.

use crate::support::tui;

use clk::engine::ground::events::{Event, Stream};
use clk::tui::app::{Msg, Pending, update};
use clk::tui::widgets::{
    agent_card, agent_grid, confirm, help, hint_bar, input, status_log, title_bar, welcome,
};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use insta::assert_snapshot;
use tui::{apply, apply_until, fixture, screen, state, tick, widget};

fn qa_is_streaming(ev: &Event) -> bool {
    matches!(ev, Event::AgentOutput { agent, line, .. } if agent == "qa" && line.starts_with("Planning"))
}

#[test]
fn whole_screen_80x24_mid_run() {
    let mut s = state(80, 24);
    apply_until(&mut s, &fixture(), qa_is_streaming);
    update(
        &mut s,
        Msg::Submitted {
            task_id: 1,
            what: "run engineering".into(),
        },
    );
    tick(&mut s, 4_000);
    assert_snapshot!(screen(&mut s, 80, 24));
}

#[test]
fn whole_screen_80x24_after_the_run() {
    let mut s = state(80, 24);
    apply(&mut s, &fixture());
    assert_snapshot!(screen(&mut s, 80, 24));
}

#[test]
fn whole_screen_120x40_mid_run() {
    let mut s = state(120, 40);
    apply_until(&mut s, &fixture(), qa_is_streaming);
    update(
        &mut s,
        Msg::Submitted {
            task_id: 1,
            what: "run engineering".into(),
        },
    );
    update(
        &mut s,
        Msg::Refreshed {
            ahead: Some(3),
            idea: Some("Add a hello() function to greeter.py".into()),
        },
    );
    tick(&mut s, 12_000);
    assert_snapshot!(screen(&mut s, 120, 40));
}

#[test]
fn whole_screen_120x40_after_the_run() {
    let mut s = state(120, 40);
    apply(&mut s, &fixture());
    assert_snapshot!(screen(&mut s, 120, 40));
}

#[test]
fn first_start_with_the_welcome_banner() {
    let mut s = state(80, 24);
    assert_snapshot!(screen(&mut s, 80, 24));
}

#[test]
fn tiny_terminals_show_what_fits_and_never_panic() {
    let mut s = state(20, 5);
    apply(&mut s, &fixture());
    assert_snapshot!(screen(&mut s, 20, 5));
    update(
        &mut s,
        Msg::Engine(Event::ConfirmRequested {
            about: None,
            id: 1,
            question: "Revert it?".into(),
        }),
    );
    for w in 0..=40u16 {
        for h in 0..=14u16 {
            tui::draw_only(&mut s, w, h);
            s.help_open = true;
            tui::draw_only(&mut s, w, h);
            s.help_open = false;
        }
    }
}

#[test]
fn title_bar_states() {
    let mut s = state(100, 30);
    let idle = widget(100, 1, |a, b| title_bar::render(&s, a, b));
    apply_until(&mut s, &fixture(), qa_is_streaming);
    update(
        &mut s,
        Msg::Submitted {
            task_id: 1,
            what: "run engineering".into(),
        },
    );
    update(
        &mut s,
        Msg::Refreshed {
            ahead: Some(2),
            idea: None,
        },
    );
    s.base_cost_micros = 1_234_567;
    let busy = widget(100, 1, |a, b| title_bar::render(&s, a, b));
    let narrow = widget(40, 1, |a, b| title_bar::render(&s, a, b));
    assert_snapshot!(format!("{idle}\n{busy}\n{narrow}"));
}

#[test]
fn agent_card_states() {
    let mut s = state(100, 30);
    let card = |s: &clk::tui::app::AppState, name: &str| {
        let c = s.cards.iter().find(|c| c.name == name).unwrap().clone();
        widget(30, 5, |a, b| agent_card::render(s, &c, false, a, b))
    };
    let idle = card(&s, "engineer");
    apply_until(&mut s, &fixture(), qa_is_streaming);
    tick(&mut s, 7_000);
    let working = card(&s, "qa");
    update(
        &mut s,
        Msg::Engine(Event::Heartbeat {
            agent: "qa".into(),
            run_id: "r".into(),
            elapsed_ms: 150_000,
            silent_ms: 130_000,
            bytes: 60,
        }),
    );
    let silent = card(&s, "qa");
    let done = card(&s, "engineer");
    apply(&mut s, &fixture());
    let failed = card(&s, "critic");
    let dynamic = card(&s, "greeter_expert");
    assert_snapshot!(format!(
        "idle\n{idle}\nworking\n{working}\nsilent\n{silent}\ndone\n{done}\nfailed\n{failed}\ndynamic\n{dynamic}"
    ));
}

#[test]
fn agent_grid_reflows_and_says_what_does_not_fit() {
    let mut s = state(200, 60);
    for i in 0..11 {
        update(
            &mut s,
            Msg::Engine(Event::RoleDecided {
                by: "chief".into(),
                name: format!("specialist_{i:02}"),
                decision: "added".into(),
                reason: None,
            }),
        );
    }
    let wide = clk::tui::layout::compute(
        ratatui::layout::Rect::new(0, 0, 200, 60),
        clk::tui::layout::Needs {
            cards: 16,
            input_rows: 1,
            welcome: false,
        },
    );
    let wide_text = widget(200, wide.grid.area.height, |_, b| {
        agent_grid::render(&s, &wide.grid, b)
    });
    let cramped = clk::tui::layout::compute(
        ratatui::layout::Rect::new(0, 0, 80, 24),
        clk::tui::layout::Needs {
            cards: 16,
            input_rows: 1,
            welcome: false,
        },
    );
    let cramped_text = widget(80, cramped.grid.area.height.max(1), |_, b| {
        agent_grid::render(&s, &cramped.grid, b)
    });
    assert_snapshot!(format!("{wide_text}\n{cramped_text}"));
}

#[test]
fn status_log_follows_wraps_and_marks_scrollback() {
    let mut s = state(60, 20);
    apply(&mut s, &fixture());
    let tail = widget(60, 8, |a, b| status_log::render(&s, a, b));
    update(
        &mut s,
        Msg::Key(KeyEvent::new(KeyCode::PageUp, KeyModifiers::NONE)),
    );
    let scrolled = widget(60, 8, |a, b| status_log::render(&s, a, b));
    assert_snapshot!(format!("{tail}\n{scrolled}"));
}

#[test]
fn hint_bar_states() {
    let lines = std::cell::RefCell::new(Vec::new());
    let mut s = state(90, 30);
    let shot = |s: &clk::tui::app::AppState, what: &str| {
        lines.borrow_mut().push(format!(
            "{what}: {}",
            widget(90, 1, |a, b| hint_bar::render(s, a, b))
        ));
    };
    shot(&s, "no idea");
    apply_until(&mut s, &fixture(), qa_is_streaming);
    update(
        &mut s,
        Msg::Submitted {
            task_id: 1,
            what: "run".into(),
        },
    );
    shot(&s, "working");
    update(&mut s, Msg::Engine(Event::StopRequested));
    shot(&s, "stop requested");
    update(
        &mut s,
        Msg::Engine(Event::Heartbeat {
            agent: "qa".into(),
            run_id: "r".into(),
            elapsed_ms: 200_000,
            silent_ms: 180_000,
            bytes: 10,
        }),
    );
    shot(&s, "silent");
    apply(&mut s, &fixture());
    shot(&s, "cli missing");
    update(
        &mut s,
        Msg::Engine(Event::ProviderSwitched {
            name: "ollama".into(),
            usable: true,
            reason: String::new(),
        }),
    );
    shot(&s, "run finished");
    let idea = s.idea.clone();
    update(
        &mut s,
        Msg::Refreshed {
            ahead: Some(3),
            idea,
        },
    );
    shot(&s, "not pushed");
    update(
        &mut s,
        Msg::Engine(Event::ConfirmRequested {
            about: None,
            id: 9,
            question: "Revert?".into(),
        }),
    );
    shot(&s, "question");
    assert_snapshot!(lines.borrow().join("\n"));
}

#[test]
fn input_states() {
    let mut s = state(40, 10);
    let empty = widget(40, 1, |a, b| input::render(&s, a, b));
    s.input.set_text("/loop ralph 5");
    let typed = widget(40, 1, |a, b| input::render(&s, a, b));
    s.input
        .set_text(&"a long follow-up message that wraps ".repeat(3));
    let rows = s.input.rows(38) as u16;
    let wrapped = widget(40, rows, |a, b| input::render(&s, a, b));
    assert_snapshot!(format!("{empty}\n{typed}\n{wrapped}"));
}

#[test]
fn help_overlay_lists_every_command() {
    // Tall enough for every command; a shorter screen scrolls (see tui_cards).
    let s = state(90, 35);
    let text = widget(90, 35, |a, b| help::render(&s, a, b));
    for c in clk::engine::ground::slash::COMMANDS {
        assert!(text.contains(c.name), "{} missing from help", c.name);
    }
    assert_snapshot!(text);
}

#[test]
fn confirm_box_and_welcome_banner() {
    let mut s = state(80, 12);
    update(
        &mut s,
        Msg::Engine(Event::ConfirmRequested {
            about: None,
            id: 3,
            question: "Doctor: write the missing .clk/config/providers.json with defaults?".into(),
        }),
    );
    update(
        &mut s,
        Msg::Engine(Event::ConfirmRequested {
            about: None,
            id: 4,
            question: "And the next one?".into(),
        }),
    );
    let p: Pending = s.pending.front().unwrap().clone();
    let boxed = widget(80, 9, |a, b| confirm::render(&s, &p, a, b));
    let banner = widget(80, 2, |a, b| welcome::render(&s, a, b));
    assert_snapshot!(format!("{boxed}\n{banner}"));
}

#[test]
fn no_color_leaves_only_modifiers() {
    let mut s = state(80, 24);
    s.theme = clk::tui::theme::Theme::monochrome();
    apply(&mut s, &fixture());
    update(
        &mut s,
        Msg::Engine(Event::AgentOutput {
            agent: "qa".into(),
            run_id: "r".into(),
            stream: Stream::Stdout,
            line: "x".into(),
        }),
    );
    let buf = tui::buffer(&mut s, 80, 24);
    for cell in buf.content() {
        assert_eq!(
            cell.fg,
            ratatui::style::Color::Reset,
            "a colour under NO_COLOR"
        );
        assert_eq!(
            cell.bg,
            ratatui::style::Color::Reset,
            "a colour under NO_COLOR"
        );
    }
}

/// A run starts in its own worktree on branch `clk/20260101T120000000-42`.
fn on_a_run_branch(s: &mut clk::tui::app::AppState) {
    update(
        s,
        Msg::Engine(Event::WorktreeCreated {
            run_id: "20260101T120000000-42".into(),
            branch: "clk/20260101T120000000-42".into(),
            path: "/p/.git/clk/worktrees/20260101T120000000-42".into(),
        }),
    );
}

#[test]
fn worktree_branch_in_the_title_and_a_waiting_merge_in_the_hint() {
    let mut s = state(100, 30);
    apply(&mut s, &fixture());
    on_a_run_branch(&mut s);
    let running = widget(100, 1, |a, b| title_bar::render(&s, a, b));
    update(
        &mut s,
        Msg::Engine(Event::MergeWaiting {
            branch: "clk/20260101T120000000-42".into(),
            reason: "you have uncommitted changes to app.py, which the run also changed".into(),
            todo: "commit or stash your changes to app.py, then run `clk merge`".into(),
        }),
    );
    update(
        &mut s,
        Msg::Engine(Event::WorktreeRemoved {
            branch: "clk/20260101T120000000-42".into(),
        }),
    );
    let title = widget(100, 1, |a, b| title_bar::render(&s, a, b));
    let hint = widget(100, 2, |a, b| hint_bar::render(&s, a, b));
    assert_snapshot!(format!("{running}\n{title}\n{hint}"));
}

#[test]
fn the_welcome_fits_its_two_rows_at_80_columns() {
    for setup_needed in [false, true] {
        let mut s = state(80, 24);
        s.setup_needed = setup_needed;
        let shown = screen(&mut s, 80, 24);
        let banner: String = shown.lines().skip(1).take(2).collect();
        assert!(
            banner.contains("Welcome to clk.") && banner.contains("/help lists"),
            "the banner is cut (setup_needed {setup_needed}):\n{shown}"
        );
        assert!(
            banner
                .trim_end()
                .trim_end_matches('"')
                .trim_end()
                .ends_with('.'),
            "{shown}"
        );
    }
}

#[test]
fn at_80_columns_a_run_on_its_branch_keeps_the_totals_in_the_title() {
    let mut s = state(80, 24);
    s.project = "a-project-with-a-rather-long-name".into();
    apply(&mut s, &fixture());
    on_a_run_branch(&mut s);
    let title = widget(80, 1, |a, b| title_bar::render(&s, a, b));
    for part in ["tok 8.4k", "$0.00", "files 1", "clk · a-project"] {
        assert!(title.contains(part), "{part} is missing: {title}");
    }
}
