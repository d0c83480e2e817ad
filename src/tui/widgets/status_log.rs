//! The status log pane: a top border titled with the scroll keys, the visible wrapped rows,
//! and, when the user has scrolled up, how many newer lines are below and how to get back.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Widget};

use crate::tui::app::{AppState, Focus};
use crate::tui::fmt;
use crate::tui::log::Level;
use crate::tui::theme::Theme;

fn style(t: Theme, l: Level) -> Style {
    match l {
        Level::Info => t.plain(),
        Level::Warn => t.warn(),
        Level::Error => t.error(),
        Level::User => t.user(),
        Level::System => t.accent(),
    }
}

pub fn render(s: &AppState, area: Rect, buf: &mut Buffer) {
    if area.is_empty() {
        return;
    }
    let t = s.theme;
    // A border only when there is room for it and a line of text.
    let inner = if area.height >= 3 {
        let focused = s.focus == Focus::Log && s.view.is_none();
        let (title, style) = if focused {
            (
                " ▸ status log · j/k lines · Enter steps ".to_string(),
                t.accent(),
            )
        } else {
            (" status log · PgUp/PgDn ".to_string(), t.dim())
        };
        // A filter is named in the title, so an empty-looking log is never a mystery.
        let (title, style) = match s.log.filter() {
            Some(f) => (
                format!(" status log · only {} · /filter shows all ", f.label()),
                t.warn(),
            ),
            None => (title, style),
        };
        let title = if s.log.verbose() {
            format!("{title}· every step (v folds) ")
        } else {
            title
        };
        let mut block = Block::default()
            .borders(Borders::TOP)
            .border_style(style)
            .title(Span::styled(title, style));
        if !s.log.following() {
            let marker = format!(" ↓ {} newer · End follows ", s.log.newer_hidden());
            block = block.title(
                Line::styled(fmt::fit(&marker, usize::from(area.width)), t.warn()).right_aligned(),
            );
        }
        let inner = block.inner(area);
        block.render(area, buf);
        inner
    } else {
        area
    };
    let rows = s
        .log
        .visible_marked(usize::from(inner.width), usize::from(inner.height));
    // The cursor's line shows only while the log has focus.
    let focused = s.focus == Focus::Log && s.view.is_none();
    for (i, (level, text, marked)) in rows.iter().enumerate() {
        let r = Rect::new(inner.x, inner.y + i as u16, inner.width, 1);
        let mut st = style(t, *level);
        if *marked && focused {
            st = st.add_modifier(ratatui::style::Modifier::REVERSED);
        }
        Line::styled(text.as_str(), st).render(r, buf);
    }
}
