//! The grid of agent cards, reflowed to the terminal's width by `layout`. When not every card
//! fits, the last slot says how many more there are and how many of them work.

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
    let truncated = g.slots < all;
    let shown = if truncated { g.slots - 1 } else { g.slots };
    for (i, card) in s.cards.iter().take(shown).enumerate() {
        agent_card::render(s, card, card_rect(g, i), buf);
    }
    if truncated {
        let rest = &s.cards[shown..];
        let working = rest
            .iter()
            .filter(|c| s.status(&c.name) == AgentStatus::Working)
            .count();
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
