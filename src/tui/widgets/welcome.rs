//! The first-run banner: shown until the tutorial has run, pointing at `/tutorial`.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget, Wrap};

use crate::tui::app::AppState;

pub fn render(s: &AppState, area: Rect, buf: &mut Buffer) {
    if area.is_empty() || !s.show_welcome {
        return;
    }
    let t = s.theme;
    let line = Line::from(vec![
        Span::styled("Welcome to clk. ", t.accent()),
        Span::raw("New here? "),
        Span::styled("/tutorial", t.accent()),
        Span::raw(" runs a free 30-second sample. Or type your idea and press Enter. "),
        Span::styled("/help", t.accent()),
        Span::raw(" lists every command."),
    ]);
    Paragraph::new(line)
        .wrap(Wrap { trim: true })
        .render(area, buf);
}
