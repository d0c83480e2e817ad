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
        ViewKind::RunDiff => "clk/r-1",
        ViewKind::Timeline => "add a health endpoint",
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
    assert!(hint(&s).contains("j/k line"));
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
fn the_log_scrolls_with_page_keys_when_focused() {
    let mut s = state(80, 24);
    for i in 0..100 {
        s.note(clk::tui::log::Level::Info, &format!("line {i}"));
    }
    s.focus = Focus::Log;
    key(&mut s, KeyCode::PageUp);
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
    assert!(hint(&s).contains("↑/↓ other runs"));
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
fn shift_d_shows_the_run_so_far_and_flips_back_to_the_commit() {
    let mut s = state(80, 24);
    apply(&mut s, &fixture());
    update(
        &mut s,
        Msg::Engine(clk::engine::ground::events::Event::WorktreeCreated {
            run_id: "r-1".into(),
            branch: "clk/r-1".into(),
            path: "/tmp/wt".into(),
        }),
    );
    let i = s.cards.iter().position(|c| c.name == "engineer").unwrap();
    s.focus = Focus::Card(i);
    assert!(hint(&s).contains("D run diff"), "{}", hint(&s));
    let fx = key(&mut s, KeyCode::Char('D'));
    let Some(Effect::Load(req)) = fx.first() else {
        panic!("{fx:?}")
    };
    assert_eq!(req.kind, ViewKind::RunDiff);
    assert_eq!(req.sha.as_deref(), Some("clk/r-1"), "the run's branch");
    update(
        &mut s,
        loaded(
            req.clone(),
            0,
            &["clk/r-1 · 2 commits since 0a1b2c3d4e", "+hello"],
        ),
    );
    let shown = screen(&mut s, 80, 24);
    assert!(
        shown.contains("run so far") && shown.contains("+hello"),
        "{shown}"
    );
    let fx = key(&mut s, KeyCode::Char('D'));
    assert!(matches!(&fx[..], [Effect::Load(r)] if r.kind == ViewKind::Diff));
    let fx = key(&mut s, KeyCode::Char('D'));
    assert!(matches!(&fx[..], [Effect::Load(r)] if r.kind == ViewKind::RunDiff));
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
fn undo_opens_the_diff_of_what_it_would_take_back() {
    use clk::engine::ground::events::Event;
    let report = |first: &str| Event::Report {
        topic: "undo".into(),
        lines: vec![
            first.into(),
            "  added greeter.py".into(),
            "Type /undo confirm to revert it with a new commit.".into(),
        ],
    };
    let mut s = state(80, 24);
    let fx = update(
        &mut s,
        Msg::Engine(report(
            "Last clk commit: 3710e47 [engineer] update greeter.py (by engineer, 2 min ago)",
        )),
    );
    let [Effect::Load(req)] = fx.as_slice() else {
        panic!("the commit's diff is read: {fx:?}")
    };
    assert_eq!(req.kind, ViewKind::Diff);
    assert_eq!(req.sha.as_deref(), Some("3710e47"));
    assert_eq!(req.agent, "/undo");
    // A merge clk made is shown as a whole.
    key(&mut s, KeyCode::Esc);
    let fx = update(
        &mut s,
        Msg::Engine(report(
            "Last clk commit: 3710e47 clk/20261207T0833-1: fast-forward (by clk-merge, 5 min ago)",
        )),
    );
    let [Effect::Load(req)] = fx.as_slice() else {
        panic!("the merge's diff is read: {fx:?}")
    };
    assert_eq!(req.agent, clk::tui::nav::UNDO_MERGE);
    // Nothing to undo, or a view already open: nothing opens.
    let mut idle = state(80, 24);
    assert!(
        update(
            &mut idle,
            Msg::Engine(Event::Report {
                topic: "undo".into(),
                lines: vec!["There is no clk commit to undo.".into()],
            })
        )
        .is_empty()
    );
    assert!(
        update(
            &mut s,
            Msg::Engine(report(
                "Last clk commit: 3710e47 [engineer] update greeter.py (by engineer, 2 min ago)"
            ))
        )
        .is_empty(),
        "not over a view the user reads"
    );
}
