//! The log and the input around it: the previous session's tail, /filter, folded dispatch
//! lines, no echo after a report, Tab completion in a popup, and the empty-folder welcome.

use crate::support::tui;

use clk::tui::app::{AppState, Effect, Focus, Msg, hint, update};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use insta::assert_snapshot;
use tui::{apply, fixture, screen, state};

fn key(s: &mut AppState, code: KeyCode) -> Vec<Effect> {
    update(s, Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

fn typed_line(s: &mut AppState, text: &str) {
    s.input.set_text(text);
    key(s, KeyCode::Enter);
}

#[test]
fn the_previous_sessions_tail_opens_the_log_and_history_is_kept() {
    use clk::tui::app::Init;
    use clk::tui::log::Level;
    let s = AppState::new(Init {
        project: "greeter".into(),
        previous: vec![
            (Level::User, 3600, "> /status".into()),
            (Level::Info, 3601, "run engineering done".into()),
        ],
        history: vec!["/status".into()],
        tod_secs: 7200,
        width: 80,
        height: 24,
        ..Init::default()
    });
    let lines: Vec<String> = s.log.since(0).map(|e| e.text.to_string()).collect();
    assert_eq!(
        lines,
        [
            "──── previous session ────",
            "> /status",
            "run engineering done",
            "──── this session ────"
        ]
    );
    assert_eq!(s.prior_entries, 4);
    assert_eq!(
        s.log.last().unwrap().tod_secs,
        7200,
        "stamped now, not 00:00:00"
    );
    assert_eq!(s.input.history(), ["/status".to_string()]);
}

#[test]
fn the_log_filters_by_text_agent_or_level_and_says_so_in_its_title() {
    let mut s = state(80, 24);
    apply(&mut s, &fixture());
    s.input.set_text("/filter critic");
    assert!(key(&mut s, KeyCode::Enter).is_empty());
    let shown = screen(&mut s, 80, 24);
    assert!(
        shown.contains("only agent critic · /filter shows all"),
        "{shown}"
    );
    let log_rows: Vec<&str> = shown
        .lines()
        .skip_while(|l| !l.contains("status log"))
        .skip(1)
        .take_while(|l| !l.contains("/help") && !l.contains("message the team"))
        .filter(|l| l.contains("09:00:00"))
        .collect();
    assert!(!log_rows.is_empty());
    assert!(
        log_rows.iter().all(|l| l.to_lowercase().contains("critic")),
        "{shown}"
    );
    assert_snapshot!("filtered_log_80x24", shown);
    // An agent's name keeps its lines, not every line with the name inside a longer word.
    typed_line(&mut s, "/filter engineer");
    let kept: Vec<String> = s
        .log
        .since(0)
        .filter(|e| s.log.filter().is_some_and(|f| f.keeps(e)))
        .map(|e| e.text.to_string())
        .collect();
    assert!(
        kept.iter()
            .any(|t| t.starts_with("engineer · implement · shell")),
        "{kept:#?}"
    );
    assert!(
        !kept.iter().any(|t| t.contains("started (ralph)")),
        "engineering/refine is ralph's stage:\n{kept:#?}"
    );
    // Any other word is a text: part of a word matches.
    typed_line(&mut s, "/filter engineering/ref");
    assert!(screen(&mut s, 80, 24).contains("stage engineering/refine started (ralph)"));
    typed_line(&mut s, "/filter warn");
    assert_snapshot!("filtered_log_warn_120x40", screen(&mut s, 120, 40));
    typed_line(&mut s, "/filter");
    assert!(s.log.filter().is_none());
}

#[test]
fn a_command_that_printed_its_answer_has_no_finished_echo() {
    use clk::engine::ground::events::Event;
    let mut s = state(80, 24);
    for ev in [
        Event::Report {
            topic: "status".into(),
            lines: vec!["Idea: greeter".into()],
        },
        Event::TaskFinished {
            task_id: 1,
            task: "status".into(),
            ok: true,
            summary: "status shown".into(),
        },
    ] {
        update(&mut s, Msg::Engine(ev));
    }
    let text: Vec<String> = s.log.since(0).map(|e| e.text.to_string()).collect();
    assert!(text.iter().any(|l| l.contains("Idea: greeter")), "{text:?}");
    assert!(!text.iter().any(|l| l.contains("status shown")), "{text:?}");
}

#[test]
fn tab_completes_arguments_in_a_popup() {
    let mut s = state(80, 24);
    s.words.providers = vec!["claude".into(), "codex".into(), "shell".into()];
    s.input.set_text("/loop a");
    key(&mut s, KeyCode::Tab);
    assert_eq!(s.input.text(), "/loop autoresearch ");
    s.input.set_text("/provider c");
    key(&mut s, KeyCode::Tab);
    assert_eq!(s.completions, ["claude", "codex"]);
    assert_snapshot!("completion_popup_80x24", screen(&mut s, 80, 24));
    s.input.set_text("/roles drop q");
    key(&mut s, KeyCode::Tab);
    assert_eq!(
        s.input.text(),
        "/roles drop qa ",
        "agents come from the cards"
    );
}

fn welcome(w: u16, h: u16) -> AppState {
    let dir = std::path::Path::new("/home/ada/greeter");
    let mut init = clk::tui::welcome_init(dir, w, h);
    init.tod_secs = tui::TOD;
    let mut s = AppState::new(init);
    s.show_welcome = true;
    s.pending.push_back(clk::tui::app::Pending::Setup {
        question: clk::tui::setup_question(dir),
    });
    s
}

#[test]
fn the_empty_folder_welcome_sets_up_on_y_or_t_and_leaves_on_anything_else() {
    let mut s = welcome(80, 24);
    assert!(hint(&s).starts_with("y sets clk up here"));
    assert_eq!(
        key(&mut s, KeyCode::Char('y')),
        vec![Effect::Setup { tutorial: false }]
    );
    let mut s = welcome(80, 24);
    assert_eq!(
        key(&mut s, KeyCode::Char('t')),
        vec![Effect::Setup { tutorial: true }]
    );
    let mut s = welcome(80, 24);
    assert_eq!(key(&mut s, KeyCode::Esc), vec![Effect::Quit]);
    assert_snapshot!(
        "welcome_empty_folder_80x24",
        screen(&mut welcome(80, 24), 80, 24)
    );
    assert_snapshot!(
        "welcome_empty_folder_120x40",
        screen(&mut welcome(120, 40), 120, 40)
    );
}

#[test]
fn each_dispatch_is_one_line_and_v_shows_every_step() {
    let mut s = state(120, 40);
    apply(&mut s, &fixture());
    let folded = screen(&mut s, 120, 40);
    assert!(
        folded.contains("engineer · implement · shell · 1.6k tok · $0.00 · 0.1s · ok"),
        "{folded}"
    );
    assert!(
        !folded.contains("tokens in,"),
        "steps are folded:\n{folded}"
    );
    s.focus = Focus::Log;
    assert!(hint(&s).contains("v all"));
    key(&mut s, KeyCode::Char('v'));
    let verbose = screen(&mut s, 120, 40);
    assert!(
        verbose.contains("tokens in,") && verbose.contains("every step"),
        "{verbose}"
    );
    assert_snapshot!("log_verbose_120x40", verbose);
    let wide = screen(&mut s, 200, 60);
    assert!(
        wide.contains("reports as failing; otherwise build the slice named in the latest review"),
        "the prompt is not cut at 80 characters:\n{wide}"
    );
    key(&mut s, KeyCode::Char('v'));
    assert!(!s.log.verbose(), "v folds again");
    assert_snapshot!("log_folded_80x24", screen(&mut s, 80, 24));
}

#[test]
fn enter_on_a_dispatch_line_unfolds_only_its_steps() {
    let mut s = state(120, 40);
    apply(&mut s, &fixture());
    s.focus = Focus::Log;
    assert!(hint(&s).contains("j/k line · Enter steps"));
    // k puts the cursor on the newest dispatch line (critic's failed call), k again on
    // chief's supervise; Enter unfolds it.
    key(&mut s, KeyCode::Char('k'));
    key(&mut s, KeyCode::Char('k'));
    key(&mut s, KeyCode::Enter);
    let one = screen(&mut s, 120, 40);
    assert!(one.contains("chief: 3324 tokens in"), "{one}");
    assert!(one.contains("chief: write greeter.py"), "{one}");
    assert!(
        !one.contains("qa: 1571 tokens in"),
        "only chief's steps:\n{one}"
    );
    assert!(!s.log.verbose(), "Enter is not the global switch");
    assert_snapshot!("log_one_dispatch_unfolded_120x40", one);
    // k to qa's line and Enter: qa's steps too; Enter again folds them.
    key(&mut s, KeyCode::Up);
    key(&mut s, KeyCode::Enter);
    assert!(screen(&mut s, 120, 40).contains("qa: 1571 tokens in"));
    key(&mut s, KeyCode::Enter);
    assert!(!screen(&mut s, 120, 40).contains("qa: 1571 tokens in"));
}

#[test]
fn a_failed_or_aborted_dispatch_is_one_line_with_its_reason_and_unfolds() {
    use clk::engine::ground::events::Event;
    let mut s = state(120, 40);
    let started = |agent: &str| Event::DispatchStarted {
        agent: agent.into(),
        stage: Some("implement".into()),
        run_id: format!("r-{agent}"),
        provider: "claude".into(),
        objective: "Build the slice".into(),
        prompt_chars: 10,
        dry_run: false,
    };
    let finished = |agent: &str, error: &str, kind: &str| Event::DispatchFinished {
        agent: agent.into(),
        run_id: format!("r-{agent}"),
        ok: false,
        error: Some(error.into()),
        error_kind: Some(kind.into()),
        response_chars: 0,
        elapsed_ms: 2_300,
    };
    apply(
        &mut s,
        &[
            started("qa"),
            finished("qa", "claude CLI not found on PATH", "not_found"),
            started("engineer"),
            finished("engineer", "cancelled", "cancelled"),
        ],
    );
    let text: Vec<String> = s.log.since(0).map(|e| e.text.to_string()).collect();
    let failed =
        "qa · implement · claude · 0 tok · $0.00 · 2.3s · failed: claude CLI not found on PATH";
    let aborted = "engineer · implement · claude · 0 tok · $0.00 · 2.3s · aborted by you";
    assert!(text.iter().any(|t| t == failed), "{text:#?}");
    assert!(text.iter().any(|t| t == aborted), "{text:#?}");
    assert!(
        !text.iter().any(|t| t.contains(": failed:")),
        "no second line for the same failure:\n{text:#?}"
    );
    let shown = screen(&mut s, 120, 40);
    assert!(shown.contains(failed) && shown.contains(aborted), "{shown}");
    assert!(!shown.contains("engineer [implement] → claude"), "{shown}");
    // /filter error keeps the failure; its steps unfold with Enter like a good dispatch's.
    typed_line(&mut s, "/filter error");
    let errors = screen(&mut s, 120, 40);
    assert!(
        errors.contains(failed) && !errors.contains(aborted),
        "{errors}"
    );
    typed_line(&mut s, "/filter");
    s.focus = Focus::Log;
    key(&mut s, KeyCode::Char('k'));
    key(&mut s, KeyCode::Char('k'));
    key(&mut s, KeyCode::Enter);
    let open = screen(&mut s, 120, 40);
    assert!(
        open.contains("qa [implement] → claude: Build the slice"),
        "{open}"
    );
}
