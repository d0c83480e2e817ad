//! One agent's card: name (`*` marks the baseline team), status in words and colour, and
//! three rows that depend on the status. Working: elapsed time, runs, PID and bytes received,
//! whether output is streaming, the latest output line. Done or failed: the last outcome.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Widget};

use crate::engine::ground::state::{AgentStatus, AgentView};
use crate::tui::app::{AppState, Card};
use crate::tui::fmt;
use crate::tui::theme::status_word;

/// The content rows of a card `cols` wide inside its border.
pub fn rows<'a>(s: &AppState, card: &Card, cols: usize) -> Vec<Line<'a>> {
    let t = s.theme;
    let idle = AgentView::default();
    let a = s.run.agents.get(&card.name).unwrap_or(&idle);
    let st = a.status;
    let mut head = vec![Span::styled(status_word(st).to_string(), t.status(st))];
    let runs = if a.dispatches > 0 {
        format!(
            " · {} run{}",
            a.dispatches,
            if a.dispatches == 1 { "" } else { "s" }
        )
    } else {
        String::new()
    };
    match st {
        AgentStatus::Working => {
            let since = s.working_since.get(&card.name).copied().unwrap_or(s.now_ms);
            head.push(Span::raw(format!(
                " {} · ",
                fmt::duration_ms(s.now_ms.saturating_sub(since))
            )));
            let silent = s.silent_ms.get(&card.name).copied().unwrap_or(0);
            let flow = if a.bytes_received == 0 && silent < 15_000 {
                "waiting".to_string()
            } else if silent >= 15_000 {
                format!("silent {}", fmt::duration_ms(silent))
            } else {
                "streaming".to_string()
            };
            let flow_style = if silent >= 120_000 {
                t.error()
            } else {
                t.dim()
            };
            head.push(Span::styled(flow, flow_style));
            let pid = a.pid.map(|p| format!("pid {p} · ")).unwrap_or_default();
            let last = if a.last_line.is_empty() {
                "awaiting output…".to_string()
            } else {
                a.last_line.clone()
            };
            vec![
                Line::from(head),
                Line::raw(fmt::fit(
                    &format!("{pid}{}{runs}", fmt::bytes(a.bytes_received)),
                    cols,
                )),
                Line::raw(fmt::fit(&last, cols)),
            ]
        }
        AgentStatus::Done | AgentStatus::Failed => {
            head.push(Span::raw(runs));
            let outcome_style = if st == AgentStatus::Failed {
                t.error()
            } else {
                t.ok()
            };
            let outcome = match (st, s.last_run_ms.get(&card.name)) {
                (AgentStatus::Done, Some(ms)) => format!("ok in {}", fmt::seconds_ms(*ms)),
                _ => a.outcome.clone(),
            };
            vec![
                Line::from(head),
                Line::styled(fmt::fit(&outcome, cols), outcome_style),
                Line::styled(fmt::fit(&a.last_line, cols), t.dim()),
            ]
        }
        AgentStatus::Idle => {
            head.push(Span::raw(runs));
            let mut out = vec![Line::from(head)];
            let role = crate::tui::log::wrap(&card.role, cols, cols);
            let n = role.len();
            for (i, r) in role.into_iter().take(2).enumerate() {
                // The second row ends in … when the role is longer still.
                let r = if i == 1 && n > 2 {
                    fmt::fit(&format!("{r} …"), cols)
                } else {
                    r
                };
                out.push(Line::styled(r, t.dim()));
            }
            out
        }
    }
}

/// Draw `card`; a focused card gets a `▸` before its name and an accented, thick border.
pub fn render(s: &AppState, card: &Card, focused: bool, area: Rect, buf: &mut Buffer) {
    if area.width < 4 || area.height < 2 {
        return;
    }
    let t = s.theme;
    let st = s.status(&card.name);
    let name = format!(
        "{}{}{}",
        if focused { "▸ " } else { "" },
        if card.baseline { "*" } else { "" },
        card.name
    );
    let title = fmt::fit(&name, usize::from(area.width.saturating_sub(4)));
    let border = if focused {
        t.accent()
    } else if st == AgentStatus::Working {
        t.status(st)
    } else {
        t.border()
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_type(if focused {
            BorderType::Thick
        } else {
            BorderType::Plain
        })
        .border_style(border)
        .title(Span::styled(format!(" {title} "), t.accent()));
    let inner = block.inner(area);
    block.render(area, buf);
    let cols = usize::from(inner.width);
    for (i, line) in rows(s, card, cols)
        .into_iter()
        .take(usize::from(inner.height))
        .enumerate()
    {
        let r = Rect::new(inner.x, inner.y + i as u16, inner.width, 1);
        line.render(r, buf);
    }
}
