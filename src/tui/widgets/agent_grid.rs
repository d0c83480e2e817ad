//! The grid of agent cards, reflowed to the terminal's width by `layout`. When not every card
//! fits, the last slot says how many more there are and how many of them work; the cards
//! shown move with the focus so the focused card is always on screen.

use ratatui::buffer::Buffer;
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Paragraph, Widget};

use super::agent_card;
use crate::engine::ground::state::AgentStatus;
use crate::tui::app::AppState;
use crate::tui::layout::{Grid, card_rect};

pub fn render(s: &AppState, g: &Grid, buf: &mut Buffer) {
    if g.area.is_empty() || g.slots == 0 {
        return;
    }
    let all = s.cards.len();
    let (start, shown) = s.card_window(g);
    let focused = s.focused_card().map(|c| c.name.as_str());
    for (i, card) in s.cards.iter().skip(start).take(shown).enumerate() {
        let focus = focused == Some(card.name.as_str());
        if g.card_rows == 1 {
            agent_card::render_line(s, card, focus, card_rect(g, i), buf);
        } else {
            agent_card::render(s, card, focus, card_rect(g, i), buf);
        }
    }
    if shown < all {
        let rest: Vec<_> = s.cards[..start]
            .iter()
            .chain(&s.cards[start + shown..])
            .collect();
        let working = rest
            .iter()
            .filter(|c| s.status(&c.name) == AgentStatus::Working)
            .count();
        if g.card_rows == 1 {
            let text = format!("+{} more, {working} working", rest.len());
            let r = card_rect(g, shown);
            Line::styled(
                crate::tui::fmt::fit(&text, usize::from(r.width)),
                s.theme.dim(),
            )
            .render(r, buf);
            return;
        }
        let text = vec![
            Line::raw(format!("+{} more", rest.len())),
            Line::styled(format!("{working} working"), s.theme.dim()),
        ];
        Paragraph::new(text)
            .block(
                Block::default()
                    .borders(Borders::ALL)
                    .border_style(s.theme.border()),
            )
            .render(card_rect(g, shown), buf);
    }
}
