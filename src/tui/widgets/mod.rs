//! Pure views: each widget draws from `&AppState` into a buffer area. No widget holds a
//! channel, spawns a task or reads the clock; `draw` lays the screen out and calls them.

pub mod agent_card;
pub mod agent_grid;
pub mod completions;
pub mod confirm;
pub mod help;
pub mod hint_bar;
pub mod input;
pub mod status_log;
pub mod tasks;
pub mod title_bar;
pub mod viewer;
pub mod welcome;

use ratatui::Frame;

use super::app::AppState;

/// Draw the whole screen.
pub fn draw(frame: &mut Frame, s: &AppState) {
    let a = s.areas();
    let buf = frame.buffer_mut();
    title_bar::render(s, a.title, buf);
    if let Some(v) = &s.view {
        viewer::render(s, v, s.view_area(), buf);
    } else if s.board.open {
        tasks::render(s, s.view_area(), buf);
    } else {
        welcome::render(s, a.welcome, buf);
        agent_grid::render(s, &a.grid, buf);
        status_log::render(s, a.log, buf);
    }
    hint_bar::render(s, a.hint, buf);
    input::render(s, a.input, buf);
    let screen = frame.area();
    let above = if a.hint.height > 0 { a.hint } else { a.input };
    completions::render(s, above, screen, frame.buffer_mut());
    if s.help_open {
        help::render(s, screen, frame.buffer_mut());
    }
    if let Some(p) = s.pending.front() {
        confirm::render(s, p, screen, frame.buffer_mut());
    }
}
