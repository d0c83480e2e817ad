//! A yes/no question the engine (or Ctrl-C) is waiting on, in a box nobody can miss.
//! y answers yes; any other key answers no, which is the default.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Widget, Wrap};

use crate::tui::app::{AppState, Pending};
use crate::tui::layout::centered;

pub fn render(s: &AppState, p: &Pending, screen: Rect, buf: &mut Buffer) {
    let t = s.theme;
    let w = 70.min(screen.width);
    let text_cols = usize::from(w.saturating_sub(2)).max(1);
    let q_rows = crate::tui::log::wrap(p.question(), text_cols, text_cols).len() as u16;
    let area = centered(screen, w, q_rows + 4);
    if area.width < 4 || area.height < 3 {
        // Too small for a box: the hint bar still says y/N.
        return;
    }
    Clear.render(area, buf);
    let more = s.pending.len().saturating_sub(1);
    let title = if more > 0 {
        format!(" question (+{more} waiting) ")
    } else {
        " question ".to_string()
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(t.prompt())
        .title(title);
    let inner = block.inner(area);
    block.render(area, buf);
    let lines = vec![
        Line::raw(p.question().to_string()),
        Line::raw(""),
        Line::styled(
            match p {
                Pending::Setup { .. } => {
                    "y = set up · t = set up and run the tutorial · other = leave"
                }
                _ => "y = yes · any other key = no (default)",
            },
            t.prompt(),
        ),
    ];
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .render(inner, buf);
}
