//! The input box: a `> ` prompt and the tui-textarea buffer, growing to five rows.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::Widget;

use crate::tui::app::AppState;

const PROMPT: &str = "> ";

pub fn render(s: &AppState, area: Rect, buf: &mut Buffer) {
    if area.is_empty() {
        return;
    }
    let t = s.theme;
    Line::styled(PROMPT, t.accent()).render(Rect::new(area.x, area.y, 2.min(area.width), 1), buf);
    if area.width <= 2 {
        return;
    }
    let text_area = Rect::new(area.x + 2, area.y, area.width - 2, area.height);
    s.input.textarea().render(text_area, buf);
    if s.input.is_empty() && s.pending.is_empty() {
        // The textarea drew the cursor cell; the placeholder goes after it.
        let placeholder = if s.idea.is_none() {
            "describe what to build, or /help"
        } else {
            "message the team, or /help"
        };
        if text_area.width > 1 {
            let ph = crate::tui::fmt::fit(placeholder, usize::from(text_area.width - 1));
            Line::styled(ph, t.dim()).render(
                Rect::new(text_area.x + 1, text_area.y, text_area.width - 1, 1),
                buf,
            );
        }
    }
}
