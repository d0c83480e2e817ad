//! The first-run banner: shown until the tutorial has run, pointing at `/tutorial`, and at
//! `/setup` while the user has no settings of their own.

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
    let spans = if s.setup_needed {
        // Kept to the banner's two rows at 80 columns.
        vec![
            Span::styled("Welcome to clk. ", t.accent()),
            Span::raw("First time? "),
            Span::styled("/setup", t.accent()),
            Span::raw(" (or clk setup) checks your CLIs and keys. "),
            Span::styled("/tutorial", t.accent()),
            Span::raw(": a free sample run. Type your idea, press Enter. "),
            Span::styled("/help", t.accent()),
            Span::raw(" lists commands."),
        ]
    } else {
        vec![
            Span::styled("Welcome to clk. ", t.accent()),
            Span::raw("New here? "),
            Span::styled("/tutorial", t.accent()),
            Span::raw(" runs a free 30-second sample. Or type your idea and press Enter. "),
            Span::styled("/help", t.accent()),
            Span::raw(" lists every command."),
        ]
    };
    Paragraph::new(Line::from(spans))
        .wrap(Wrap { trim: true })
        .render(area, buf);
}
