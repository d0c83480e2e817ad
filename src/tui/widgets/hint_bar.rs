//! The hint bar: one line above the input with the next useful move (see `app::hint`).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::Widget;

use crate::tui::app::{AppState, hint};
use crate::tui::fmt;

pub fn render(s: &AppState, area: Rect, buf: &mut Buffer) {
    if area.is_empty() {
        return;
    }
    let text = fmt::fit(&format!(" {}", hint(s)), usize::from(area.width));
    Line::styled(text, s.theme.hint()).render(area, buf);
}
