//! An open transcript or diff view: a top border naming the agent and what is shown, then the
//! visible lines, coloured by kind (added green, removed red, the prompt dim).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Widget};

use crate::tui::app::AppState;
use crate::tui::fmt;
use crate::tui::theme::Theme;
use crate::tui::view::{LineKind, View, ViewKind};

fn style(t: Theme, k: LineKind) -> Style {
    match k {
        LineKind::Plain => t.plain(),
        LineKind::Heading => t.accent(),
        LineKind::Meta => t.warn(),
        LineKind::Quiet => t.dim(),
        LineKind::Added => t.ok(),
        LineKind::Removed | LineKind::Error => t.error(),
        LineKind::Hunk => t.user(),
    }
}

/// The border's title: `transcript · engineer · run 1/3 · r-12`.
pub fn title(v: &View) -> String {
    let what = match v.kind() {
        ViewKind::Transcript => "transcript",
        ViewKind::Diff => "diff",
        ViewKind::RunDiff => "run so far",
        ViewKind::Timeline => "timeline",
    };
    let label = v.loaded.as_ref().map_or("loading…", |l| l.label.as_str());
    if label.is_empty() {
        format!(" {what} · {} ", v.request.agent)
    } else {
        format!(" {what} · {} · {label} ", v.request.agent)
    }
}

pub fn render(s: &AppState, v: &View, area: Rect, buf: &mut Buffer) {
    if area.is_empty() {
        return;
    }
    let t = s.theme;
    Clear.render(area, buf);
    let mut block = Block::default()
        .borders(Borders::TOP)
        .border_style(t.accent())
        .title(Span::styled(
            fmt::fit(&title(v), usize::from(area.width)),
            t.accent(),
        ));
    if let Some(l) = &v.loaded
        && !l.lines.is_empty()
    {
        let pos = format!(" line {}/{} ", v.scroll + 1, l.lines.len());
        block = block.title(Line::styled(pos, t.dim()).right_aligned());
    }
    let inner = block.inner(area);
    block.render(area, buf);
    let rows = v.visible(usize::from(inner.width), usize::from(inner.height));
    if v.loaded.is_none() {
        Line::styled("loading…", t.dim()).render(inner, buf);
        return;
    }
    for (i, (kind, text)) in rows.iter().enumerate() {
        let r = Rect::new(inner.x, inner.y + i as u16, inner.width, 1);
        Line::styled(text.as_str(), style(t, *kind)).render(r, buf);
    }
}
