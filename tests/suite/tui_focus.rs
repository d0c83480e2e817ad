//! Focus, the transcript and diff views, clicks and shell-like input keys: keys in, effects
//! and state out, then the views drawn (insta) and the driver's reads against real records.

use crate::support::tui;

use clk::engine::ground::events::Usage;
use clk::engine::store::records::{self, RunMeta};
use clk::engine::store::workspace::Workspace;
use clk::tui::app::{AppState, Effect, Focus, Msg, hint, update};
use clk::tui::view::{LineKind, Loaded, Request, ViewKind};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use insta::assert_snapshot;
use tui::{apply, fixture, screen, state};

fn key(s: &mut AppState, code: KeyCode) -> Vec<Effect> {
    update(s, Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

fn ctrl(s: &mut AppState, c: char) -> Vec<Effect> {
    update(
        s,
        Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)),
    )
}

fn chars(s: &mut AppState, text: &str) {
    for c in text.chars() {
        key(s, KeyCode::Char(c));
    }
}

fn loaded(request: Request, runs: usize, lines: &[&str]) -> Msg {
    let label = match request.kind {
        ViewKind::Transcript => "run 1/2 · r-7",
        ViewKind::Diff => "commit ffdc006ee9",
    };
    Msg::Loaded(Box::new(Loaded {
        request,
        runs,
        label: label.into(),
        lines: lines
            .iter()
            .map(|l| {
                let kind = match l.chars().next() {
                    Some('+') => LineKind::Added,
                    Some('-') => LineKind::Removed,
                    Some('@') => LineKind::Hunk,
                    Some('─') => LineKind::Heading,
                    _ => LineKind::Plain,
                };
                (kind, l.to_string())
            })
            .collect(),
    }))
}

#[test]
fn tab_and_j_k_move_focus_through_the_cards_and_the_log() {
    let mut s = state(120, 40);
    let n = s.cards.len();
    assert!(n >= 3);
    key(&mut s, KeyCode::Tab);
    assert_eq!(s.focus, Focus::Card(0));
    assert!(hint(&s).starts_with("Tab/j/k move · Enter transcript · d diff"));
    key(&mut s, KeyCode::Char('j'));
    key(&mut s, KeyCode::Down);
    assert_eq!(s.focus, Focus::Card(2));
    key(&mut s, KeyCode::Char('k'));
    assert_eq!(s.focus, Focus::Card(1));
    key(&mut s, KeyCode::BackTab);
    key(&mut s, KeyCode::BackTab);
    assert_eq!(s.focus, Focus::Input, "before the first card is the input");
    key(&mut s, KeyCode::Tab);
    for _ in 0..n {
        key(&mut s, KeyCode::Tab);
    }
    assert_eq!(s.focus, Focus::Log, "after the last card is the log");
    assert!(hint(&s).contains("j/k scroll"));
    key(&mut s, KeyCode::Tab);
    assert_eq!(s.focus, Focus::Input);
    key(&mut s, KeyCode::Tab);
    key(&mut s, KeyCode::Esc);
    assert_eq!(s.focus, Focus::Input, "Esc goes back to typing");
}

#[test]
fn typing_on_a_card_goes_to_the_input() {
    let mut s = state(80, 24);
    key(&mut s, KeyCode::Tab);
    chars(&mut s, "xyz");
    assert_eq!(s.focus, Focus::Input);
    assert_eq!(s.input.text(), "xyz");
    // With text in the box, Tab completes instead of moving focus.
    key(&mut s, KeyCode::Tab);
    assert_eq!(s.focus, Focus::Input);
}

#[test]
fn the_log_scrolls_with_j_and_k_when_focused() {
    let mut s = state(80, 24);
    for i in 0..100 {
        s.note(clk::tui::log::Level::Info, &format!("line {i}"));
    }
    s.focus = Focus::Log;
    key(&mut s, KeyCode::Char('k'));
    assert!(!s.log.following());
    key(&mut s, KeyCode::Char('G'));
    assert!(s.log.following());
    key(&mut s, KeyCode::Char('g'));
    assert!(!s.log.following());
}

#[test]
fn enter_opens_the_transcript_and_up_down_walk_the_runs() {
    let mut s = state(80, 24);
    key(&mut s, KeyCode::Tab);
    let agent = s.cards[0].name.clone();
    let fx = key(&mut s, KeyCode::Enter);
    let want = Request {
        kind: ViewKind::Transcript,
        agent: agent.clone(),
        index: 0,
        sha: None,
    };
    assert_eq!(fx, vec![Effect::Load(want.clone())]);
    assert!(screen(&mut s, 80, 24).contains("loading…"));
    assert!(hint(&s).contains("↑/↓ older/newer run"));
    let lines: Vec<String> = (0..60).map(|i| format!("reply line {i}")).collect();
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    update(&mut s, loaded(want.clone(), 2, &refs));
    assert!(screen(&mut s, 80, 24).contains("reply line 0"));
    key(&mut s, KeyCode::Char('j'));
    key(&mut s, KeyCode::PageDown);
    let v = s.view.as_ref().unwrap();
    assert!(v.scroll > 1, "{}", v.scroll);
    key(&mut s, KeyCode::Char('G'));
    assert!(screen(&mut s, 80, 24).contains("reply line 59"));
    assert!(key(&mut s, KeyCode::Down).is_empty(), "no newer run");
    let fx = key(&mut s, KeyCode::Up);
    assert_eq!(
        fx,
        vec![Effect::Load(Request {
            index: 1,
            ..want.clone()
        })]
    );
    // Text for the old request arriving late is dropped.
    update(&mut s, loaded(want, 2, &["stale"]));
    assert!(s.view.as_ref().unwrap().loaded.is_none());
    chars(&mut s, "x");
    assert!(s.input.is_empty(), "a view takes no typing");
    key(&mut s, KeyCode::Esc);
    assert!(s.view.is_none());
    assert_eq!(s.focus, Focus::Card(0), "back on the card it came from");
}

#[test]
fn d_opens_the_diff_of_the_agents_last_commit() {
    let mut s = state(80, 24);
    apply(&mut s, &fixture());
    let i = s.cards.iter().position(|c| c.name == "engineer").unwrap();
    s.focus = Focus::Card(i);
    let fx = key(&mut s, KeyCode::Char('d'));
    let Some(Effect::Load(req)) = fx.first() else {
        panic!("{fx:?}")
    };
    assert_eq!(req.kind, ViewKind::Diff);
    assert_eq!(
        req.sha.as_deref(),
        Some("ffdc006ee9f14fcf14b29bda9ec7fac11a53bbde"),
        "the commit seen in this session"
    );
    // From the diff, Enter switches to the transcript and Esc goes back.
    let fx = key(&mut s, KeyCode::Enter);
    assert!(matches!(&fx[..], [Effect::Load(r)] if r.kind == ViewKind::Transcript));
    key(&mut s, KeyCode::Char('q'));
    assert!(s.view.is_none());
}

#[test]
fn a_click_focuses_the_card_under_it() {
    let mut s = state(120, 40);
    let a = s.areas();
    let second = clk::tui::layout::card_rect(&a.grid, 1);
    update(
        &mut s,
        Msg::Click {
            column: second.x + 2,
            row: second.y + 1,
        },
    );
    assert_eq!(s.focus, Focus::Card(1));
    update(
        &mut s,
        Msg::Click {
            column: 3,
            row: a.log.y + 2,
        },
    );
    assert_eq!(s.focus, Focus::Log);
    update(
        &mut s,
        Msg::Click {
            column: 3,
            row: a.input.y,
        },
    );
    assert_eq!(s.focus, Focus::Input);
}

#[test]
fn input_keys_work_like_a_shell() {
    let mut s = state(80, 24);
    chars(&mut s, "add a hello function");
    ctrl(&mut s, 'w');
    assert_eq!(s.input.text(), "add a hello ");
    ctrl(&mut s, 'u');
    assert!(s.input.is_empty(), "Ctrl-U deletes to the line start");
    chars(&mut s, "typo");
    key(&mut s, KeyCode::Esc);
    assert!(s.input.is_empty(), "Esc clears");
    assert_eq!(ctrl(&mut s, 'l'), vec![Effect::Redraw]);
}

fn focused_transcript(w: u16, h: u16) -> String {
    let mut s = state(w, h);
    apply(&mut s, &fixture());
    let i = s.cards.iter().position(|c| c.name == "engineer").unwrap();
    s.focus = Focus::Card(i);
    let focused = screen(&mut s, w, h);
    let Some(Effect::Load(req)) = key(&mut s, KeyCode::Enter).pop() else {
        panic!("no load")
    };
    let long = "a reply line long enough to wrap at eighty columns, because transcripts show the \
                full reply and never cut it at the edge of the screen";
    update(
        &mut s,
        loaded(
            req,
            2,
            &[
                "── prompt ──",
                "You are engineer. Build the next slice of the idea.",
                "── reply ──",
                long,
                "CONFIDENCE: 0.9",
            ],
        ),
    );
    format!("{focused}\n{}", screen(&mut s, w, h))
}

fn diff_view(w: u16, h: u16) -> String {
    let mut s = state(w, h);
    s.focus = Focus::Card(0);
    let Some(Effect::Load(req)) = key(&mut s, KeyCode::Char('d')).pop() else {
        panic!("no load")
    };
    update(
        &mut s,
        loaded(
            req,
            0,
            &[
                "diff --git a/greeter.py b/greeter.py",
                "@@ -1,2 +1,3 @@",
                " def hello():",
                "-    return 'hi'",
                "+    return 'hello'",
            ],
        ),
    );
    screen(&mut s, w, h)
}

#[test]
fn views_at_80x24_and_120x40() {
    assert_snapshot!("transcript_80x24", focused_transcript(80, 24));
    assert_snapshot!("transcript_120x40", focused_transcript(120, 40));
    assert_snapshot!("diff_80x24", diff_view(80, 24));
    assert_snapshot!("diff_120x40", diff_view(120, 40));
}

#[test]
fn the_driver_reads_the_newest_records_first_with_the_full_reply() {
    let dir = tempfile::tempdir().unwrap();
    let ws = Workspace::new(dir.path());
    std::fs::create_dir_all(ws.state_dir()).unwrap();
    let reply = "x".repeat(5000);
    for (i, agent) in ["engineer", "qa", "engineer"].iter().enumerate() {
        let run_id = format!("r{i}");
        let run_dir = ws.runs_dir().join(&run_id);
        std::fs::create_dir_all(&run_dir).unwrap();
        records::write_text(&run_dir, "prompt.txt", &format!("prompt {i}")).unwrap();
        records::write_text(&run_dir, "response.txt", &format!("reply {i}\n{reply}")).unwrap();
        let meta = RunMeta {
            agent: agent.to_string(),
            run_id,
            stage: Some("implement".into()),
            objective: "o".into(),
            provider: "shell".into(),
            model: String::new(),
            ok: true,
            error: None,
            dry_run: false,
            started_at: format!("2026-01-0{}T00:00:00Z", i + 1),
            finished_at: String::new(),
            elapsed_ms: 1200,
            usage: Usage::default(),
            cost_micros: 0,
            cost_basis: Default::default(),
            files_written: vec!["greeter.py".into()],
            text_preview: String::new(),
            applied: true,
        };
        records::write_meta(&ws, &run_dir, &meta).unwrap();
    }
    let req = |index| Request {
        kind: ViewKind::Transcript,
        agent: "engineer".into(),
        index,
        sha: None,
    };
    let text = |l: &Loaded| {
        l.lines
            .iter()
            .map(|(_, t)| t.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    };
    let newest = clk::tui::load::read(Some(dir.path()), req(0));
    assert_eq!(newest.runs, 2);
    assert_eq!(newest.label, "run 1/2 · r2");
    let t = text(&newest);
    assert!(t.contains("prompt 2") && t.contains("reply 2"), "{t}");
    assert!(t.contains(&reply), "the whole reply, not a preview");
    let older = clk::tui::load::read(Some(dir.path()), req(1));
    assert!(text(&older).contains("reply 0"));
    let none = clk::tui::load::read(Some(dir.path()), req(5));
    assert!(text(&none).contains("no recorded dispatches"));
    let nodiff = clk::tui::load::read(
        Some(dir.path()),
        Request {
            kind: ViewKind::Diff,
            ..req(0)
        },
    );
    assert!(
        text(&nodiff).contains("no git repository"),
        "{}",
        text(&nodiff)
    );
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
    chars(&mut s, "/filter critic");
    assert!(key(&mut s, KeyCode::Enter).is_empty());
    let shown = screen(&mut s, 80, 24);
    assert!(
        shown.contains("only \"critic\" · /filter shows all"),
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
    chars(&mut s, "/filter warn");
    key(&mut s, KeyCode::Enter);
    assert_snapshot!("filtered_log_warn_120x40", screen(&mut s, 120, 40));
    chars(&mut s, "/filter");
    key(&mut s, KeyCode::Enter);
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
    chars(&mut s, "/loop a");
    key(&mut s, KeyCode::Tab);
    assert_eq!(s.input.text(), "/loop autoresearch ");
    ctrl(&mut s, 'u');
    chars(&mut s, "/provider c");
    key(&mut s, KeyCode::Tab);
    assert_eq!(s.completions, ["claude", "codex"]);
    assert_snapshot!("completion_popup_80x24", screen(&mut s, 80, 24));
    ctrl(&mut s, 'u');
    chars(&mut s, "/roles drop q");
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
    assert!(hint(&s).contains("v details"));
    key(&mut s, KeyCode::Char('v'));
    let verbose = screen(&mut s, 120, 40);
    assert!(
        verbose.contains("tokens in,") && verbose.contains("every step"),
        "{verbose}"
    );
    assert_snapshot!("log_verbose_120x40", verbose);
    key(&mut s, KeyCode::Enter);
    assert!(!s.log.verbose(), "Enter folds again");
    assert_snapshot!("log_folded_80x24", screen(&mut s, 80, 24));
}
