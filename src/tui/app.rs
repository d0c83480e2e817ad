//! The dashboard's reducer: `update(&mut AppState, Msg) -> Vec<Effect>` is the only place UI
//! state changes (the state itself is in `state.rs`).
//!
//! Messages are facts from outside (a key, an engine event, a clock tick, a resize); effects
//! are what the driver must do (submit a command to the engine, quit). The reducer does no IO
//! and reads no clock: time arrives as `Msg::Tick`, so every test can replay a session exactly.

use crossterm::event::KeyEventKind;

use super::log::Level;

pub use super::hint::hint;
pub use super::state::{AppState, Card, Effect, ErrorHint, Focus, Init, Msg, Pending};

/// Apply one message; return what the driver must do.
pub fn update(s: &mut AppState, msg: Msg) -> Vec<Effect> {
    match msg {
        Msg::Tick { now_ms, tod_secs } => {
            if now_ms / 250 != s.now_ms / 250 {
                s.frame = s.frame.wrapping_add(1);
            }
            s.now_ms = now_ms;
            s.tod_secs = tod_secs;
            Vec::new()
        }
        Msg::Resize { width, height } => {
            s.width = width;
            s.height = height;
            Vec::new()
        }
        Msg::Engine(ev) => {
            super::fold::event(s, &ev);
            let mut fx: Vec<Effect> = s
                .told
                .event(&ev)
                .map(|n| Effect::Notify(n.text))
                .into_iter()
                .collect();
            if let crate::engine::ground::events::Event::Report { topic, lines } = &ev
                && topic == "undo"
            {
                fx.extend(super::nav::undo_preview(s, lines));
            }
            fx
        }
        Msg::Lagged { missed, snapshot } => {
            s.run = *snapshot;
            s.note(
                Level::Warn,
                &format!(
                    "{missed} events not shown (the screen fell behind); cards are up to date"
                ),
            );
            Vec::new()
        }
        Msg::Submitted { task_id, what } => {
            s.tasks.insert(task_id, what);
            s.work_finished = false;
            s.budget_stop = None;
            s.aborted = false;
            Vec::new()
        }
        Msg::EngineGone => {
            if !s.engine_gone {
                s.engine_gone = true;
                s.tasks.clear();
                s.note(Level::Error, "the engine stopped; /quit to leave");
            }
            Vec::new()
        }
        Msg::Refreshed { ahead, idea } => {
            s.ahead = ahead;
            s.idea = idea;
            Vec::new()
        }
        Msg::Terminate => vec![Effect::Quit],
        Msg::Click { column, row } => {
            super::nav::click(s, column, row);
            Vec::new()
        }
        Msg::Tasks(rows) => {
            let told = match &rows {
                Ok(rows) => s
                    .told
                    .tasks(rows.iter().map(|r| (r.id, r.state, r.title.as_str()))),
                Err(_) => Vec::new(),
            };
            s.board.accept(rows);
            told.into_iter().map(|n| Effect::Notify(n.text)).collect()
        }
        Msg::Loaded(loaded) => {
            if let Some(v) = s.view.as_mut() {
                v.accept(*loaded);
            }
            Vec::new()
        }
        Msg::Paste(text) => {
            if s.pending.is_empty() && !s.help_open {
                s.input.paste(&text);
            }
            Vec::new()
        }
        Msg::Wheel(dir) => {
            if let Some(v) = s.view.as_mut() {
                v.scroll_by(if dir > 0 { -3 } else { 3 });
                return Vec::new();
            }
            if s.board.open {
                let act = if dir > 0 {
                    super::keymap::Act::LineUp
                } else {
                    super::keymap::Act::LineDown
                };
                return super::tasks::on_act(s, act);
            }
            let (_, cols) = s.log_page();
            if dir > 0 {
                s.log.scroll_up(3, cols);
            } else {
                s.log.scroll_down(3, cols);
            }
            Vec::new()
        }
        Msg::Key(key) => {
            if key.kind == KeyEventKind::Release {
                return Vec::new();
            }
            super::keys::on_key(s, key)
        }
    }
}
