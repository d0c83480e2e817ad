//! The Tab completion popup: the candidates for what is being typed, in a box just above the
//! input, until the next key.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Widget};

use crate::tui::app::AppState;

pub fn render(s: &AppState, above: Rect, screen: Rect, buf: &mut Buffer) {
    if s.completions.is_empty() || screen.width < 8 {
        return;
    }
    let width = usize::from(screen.width.saturating_sub(2));
    let rows = crate::tui::log::wrap(&s.completions.join("  "), width, width);
    let h = (rows.len() as u16 + 2).min(above.y.saturating_sub(1));
    if h < 3 {
        return;
    }
    let area = Rect::new(0, above.y - h, screen.width, h);
    Clear.render(area, buf);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(s.theme.accent())
        .title(" Tab: type more to narrow ");
    let inner = block.inner(area);
    block.render(area, buf);
    Paragraph::new(rows.join("\n"))
        .style(s.theme.accent())
        .render(inner, buf);
}
