//! Helpers for dashboard tests: a state with the baseline roster, recorded event fixtures, and
//! rendering into a `TestBackend` as text.

#![allow(dead_code)]

use clk::engine::ground::config::agents::BASELINE;
use clk::engine::ground::events::Event;
use clk::tui::app::{AppState, Effect, Init, Msg, update};
use clk::tui::theme::Theme;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

/// 09:00:00, so log timestamps are stable.
pub const TOD: u32 = 9 * 3600;

pub fn state(width: u16, height: u16) -> AppState {
    let mut s = AppState::new(Init {
        project: "greeter".into(),
        provider: "shell".into(),
        roster: BASELINE
            .iter()
            .map(|(n, r)| (n.to_string(), r.to_string()))
            .collect(),
        idea: None,
        tutorial_done: false,
        setup_needed: false,
        base_tokens: 0,
        base_cost_micros: 0,
        base_cost_unknown: false,
        width,
        height,
        theme: Some(Theme::colored()),
        notes: Vec::new(),
        previous: Vec::new(),
        history: Vec::new(),
        tod_secs: TOD,
        providers: Vec::new(),
        workflows: Vec::new(),
        last_runs: Default::default(),
    });
    tick(&mut s, 0);
    s
}

pub fn tick(s: &mut AppState, now_ms: u64) {
    update(
        s,
        Msg::Tick {
            now_ms,
            tod_secs: TOD + (now_ms / 1000) as u32,
        },
    );
}

/// The recorded session: a real `clk --json run` on a scripted shell agent, with an idea and
/// a cast role before it and a failed dispatch after it.
pub fn fixture() -> Vec<Event> {
    let text = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/tui/session.jsonl"
    ));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("fixture line is an Event"))
        .collect()
}

/// Apply events; returns how many were applied.
pub fn apply(s: &mut AppState, events: &[Event]) {
    for ev in events {
        let fx = update(s, Msg::Engine(ev.clone()));
        assert!(
            fx.iter().all(|e| matches!(e, Effect::Notify(_))),
            "engine events cause no effect but a notice: {fx:?}"
        );
    }
}

/// Apply events up to and including the first one `stop` matches.
pub fn apply_until(s: &mut AppState, events: &[Event], stop: impl Fn(&Event) -> bool) {
    for ev in events {
        update(s, Msg::Engine(ev.clone()));
        if stop(ev) {
            return;
        }
    }
    panic!("the stop event is not in the fixture");
}

/// The whole screen as text.
pub fn screen(s: &mut AppState, width: u16, height: u16) -> String {
    update(s, Msg::Resize { width, height });
    let mut t = Terminal::new(TestBackend::new(width, height)).unwrap();
    t.draw(|f| clk::tui::widgets::draw(f, s)).unwrap();
    format!("{}", t.backend())
}

/// Draw without reading the result (TestBackend cannot print a zero-width screen).
pub fn draw_only(s: &mut AppState, width: u16, height: u16) {
    update(s, Msg::Resize { width, height });
    let mut t = Terminal::new(TestBackend::new(width, height)).unwrap();
    t.draw(|f| clk::tui::widgets::draw(f, s)).unwrap();
}

/// One widget drawn into a `width` x `height` buffer, as text.
pub fn widget(width: u16, height: u16, draw: impl FnOnce(Rect, &mut Buffer)) -> String {
    let mut t = Terminal::new(TestBackend::new(width, height)).unwrap();
    t.draw(|f| {
        let area = f.area();
        draw(area, f.buffer_mut())
    })
    .unwrap();
    format!("{}", t.backend())
}

/// The buffer of a full-screen draw, for style checks.
pub fn buffer(s: &mut AppState, width: u16, height: u16) -> Buffer {
    update(s, Msg::Resize { width, height });
    let mut t = Terminal::new(TestBackend::new(width, height)).unwrap();
    t.draw(|f| clk::tui::widgets::draw(f, s)).unwrap();
    t.backend().buffer().clone()
}
