//! The help overlay (`/help`, F1, `?` in an empty input): every command on one line (on a narrow
//! screen, its help on the rows under it), then the keys. Drawn over the screen in a centred box;
//! on a short screen ↑/↓ scroll it, and any other key closes it.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Widget};

use crate::engine::ground::slash::COMMANDS;
use crate::tui::fmt;
use crate::tui::layout::centered;
use crate::tui::state::AppState;

pub const KEYS: &str = "Enter sends · Tab completes, or in an empty box moves to the cards · \
     ↑/↓ history · PgUp/PgDn scroll · Ctrl-U/Ctrl-W delete · Esc clears · Ctrl-L redraws · \
     F2 tasks · Ctrl-C quits";
const FREE_TEXT: &str = "Free text talks to the team: the first message is the idea.";
/// The keys on a focused card, and what the marks on cards mean.
pub const CARD_KEYS: &str = "On a card: j/k or arrows move · Enter its transcript · d its last \
     diff · T tasks · Esc back. A click focuses a card. * marks the baseline team clk always has.";
/// The keys of the Tasks view.
pub const TASK_KEYS: &str = "Tasks (F2, /tasks): j/k move · Enter the task's timeline · \
     a approve · p pause · r resume · x cancel (approve and cancel ask y/N) · Esc back. \
     ⏸N in the title: tasks waiting for your approval.";

/// Below this many columns a command's help goes under its usage instead of beside it.
const NARROW: usize = 60;

pub fn lines(s: &AppState, width: usize) -> Vec<Line<'static>> {
    let t = s.theme;
    // Most usages fit a narrow column; a longer one pushes its help text right.
    let usage_cols = COMMANDS
        .iter()
        .map(|c| fmt::width(c.usage))
        .filter(|w| *w <= 24)
        .max()
        .unwrap_or(0)
        .min(width / 2);
    // Too narrow for usage and help side by side: each help goes on its own rows under its
    // usage, indented, so no command's words are cut off.
    let narrow = width < NARROW;
    let mut out: Vec<Line<'static>> = Vec::new();
    for c in COMMANDS {
        if narrow {
            for row in crate::tui::log::wrap(c.usage, width, width) {
                out.push(Line::styled(row, t.accent()));
            }
            let cols = width.saturating_sub(2).max(1);
            for row in crate::tui::log::wrap(c.help, cols, cols) {
                out.push(Line::raw(format!("  {row}")));
            }
            continue;
        }
        let usage = fmt::fit(c.usage, width.saturating_sub(2));
        let pad = usage_cols.saturating_sub(fmt::width(&usage));
        let help = fmt::fit(c.help, width.saturating_sub(fmt::width(&usage) + pad + 2));
        out.push(Line::from(vec![
            Span::styled(format!("{usage}{}  ", " ".repeat(pad)), t.accent()),
            Span::raw(help),
        ]));
    }
    out.push(Line::raw(""));
    for text in [FREE_TEXT, KEYS, CARD_KEYS, TASK_KEYS] {
        for row in crate::tui::log::wrap(text, width, width) {
            out.push(Line::styled(row, t.dim()));
        }
    }
    out
}

/// The help's box on `screen`.
fn area(s: &AppState, screen: Rect) -> Rect {
    let want_w = 84.min(screen.width.saturating_sub(2)).max(10);
    let want_h =
        (lines(s, usize::from(want_w.saturating_sub(2))).len() as u16 + 2).min(screen.height);
    centered(screen, want_w, want_h)
}

/// The furthest the help scrolls on the current screen (its last line at the bottom), so
/// ↑ after many ↓ moves at once.
pub fn max_scroll(s: &AppState) -> usize {
    let area = area(s, Rect::new(0, 0, s.width, s.height));
    let all = lines(s, usize::from(area.width.saturating_sub(2))).len();
    all.saturating_sub(usize::from(area.height.saturating_sub(2)))
}

pub fn render(s: &AppState, screen: Rect, buf: &mut Buffer) {
    let area = area(s, screen);
    if area.width < 6 || area.height < 3 {
        return;
    }
    Clear.render(area, buf);
    let all = lines(s, usize::from(area.width.saturating_sub(2)));
    let rows = usize::from(area.height.saturating_sub(2));
    let title = match (all.len() > rows, area.width < 54) {
        (true, false) => " clk commands · ↑/↓ scroll · any other key closes ",
        (true, true) => " ↑/↓ scroll · any other key closes ",
        (false, _) => " clk commands · any key closes ",
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(s.theme.accent())
        .title(title);
    let inner = block.inner(area);
    block.render(area, buf);
    let top = s.help_scroll.min(all.len().saturating_sub(rows));
    Paragraph::new(all.into_iter().skip(top).collect::<Vec<_>>()).render(inner, buf);
}
