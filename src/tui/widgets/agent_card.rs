//! One agent's card: name (`*` marks the baseline team), tokens and cost on the border, the state
//! in words and colour, and rows that depend on it. Working: elapsed time, whether the reply
//! streams (or the retry and its wait), runs, PID and bytes, the latest output line. Done: how long
//! it took and what it came to (its commit, else its last words). Failed: the reason on two rows.
//! Aborted: "aborted by you".

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Widget};

use crate::engine::ground::state::{AgentStatus, AgentView};
use crate::tui::app::{AppState, Card, Pending};
use crate::tui::fmt;
use crate::tui::theme::status_word;

/// The card's state in words: the status, or what it really means right now.
pub fn state_word(s: &AppState, name: &str) -> String {
    let st = s.status(name);
    // A question about this agent (the budget asks before its next dispatch starts).
    let asked = s
        .pending
        .iter()
        .any(|p| matches!(p, Pending::Engine { about: Some(a), .. } if a.as_str() == name));
    if asked {
        return "waiting for you".into();
    }
    match st {
        AgentStatus::Working
            if s.pending
                .iter()
                .any(|p| matches!(p, Pending::Engine { .. })) =>
        {
            "waiting for you".into()
        }
        AgentStatus::Working => match s.retrying.get(name) {
            Some(r) => format!("retrying {}/{}", r.attempt, r.max_attempts),
            None => status_word(st).into(),
        },
        AgentStatus::Failed if s.aborted_agents.contains(name) => "aborted by you".into(),
        _ => status_word(st).into(),
    }
}

/// The content rows of a card `cols` wide inside its border.
pub fn rows<'a>(s: &AppState, card: &Card, cols: usize) -> Vec<Line<'a>> {
    let t = s.theme;
    let idle = AgentView::default();
    let a = s.run.agents.get(&card.name).unwrap_or(&idle);
    let st = a.status;
    let aborted = s.aborted_agents.contains(&card.name);
    let word_style = if aborted { t.warn() } else { t.status(st) };
    let mut head = vec![Span::styled(state_word(s, &card.name), word_style)];
    let mut runs = if a.dispatches > 0 {
        format!(
            " · {} run{}",
            a.dispatches,
            if a.dispatches == 1 { "" } else { "s" }
        )
    } else {
        String::new()
    };
    runs.push_str(&todos(a));
    match st {
        AgentStatus::Working => {
            let since = s.working_since.get(&card.name).copied().unwrap_or(s.now_ms);
            let elapsed = fmt::duration_ms(s.now_ms.saturating_sub(since));
            let silent = s.silent_ms.get(&card.name).copied().unwrap_or(0);
            let asking = s
                .pending
                .iter()
                .any(|p| matches!(p, Pending::Engine { .. }));
            let (flow, last) = if asking {
                ("a question is open".to_string(), a.last_line.clone())
            } else if let Some(r) = s.retrying.get(&card.name) {
                let wait = r.next_at_ms.saturating_sub(s.now_ms);
                (
                    format!("next try in {}", fmt::duration_ms(wait)),
                    "the provider failed; trying again".to_string(),
                )
            } else {
                let flow = if silent >= 15_000 {
                    format!("silent {}", fmt::duration_ms(silent))
                } else if s.streaming(&card.name) {
                    "streaming".to_string()
                } else {
                    "waiting".to_string()
                };
                let last = if a.last_line.is_empty() {
                    "awaiting output…".to_string()
                } else {
                    a.last_line.clone()
                };
                (flow, last)
            };
            head.push(Span::raw(format!(" {elapsed} · ")));
            let flow_style = if silent >= 120_000 {
                t.error()
            } else {
                t.dim()
            };
            head.push(Span::styled(flow, flow_style));
            let pid = a.pid.map(|p| format!("pid {p} · ")).unwrap_or_default();
            vec![
                Line::from(head),
                Line::raw(fmt::fit(
                    &format!("{pid}{}{runs}{}", fmt::bytes(a.bytes_received), changing(a)),
                    cols,
                )),
                Line::raw(fmt::fit(&last, cols)),
            ]
        }
        AgentStatus::Done => {
            head.push(Span::raw(runs));
            // What the call came to: never a protocol line such as `CONFIDENCE: 0.9`.
            let said = s
                .said
                .get(&card.name)
                .map(|w| w.text.clone())
                .unwrap_or_default();
            let outcome = match s.last_run_ms.get(&card.name) {
                Some(ms) => format!("ok in {}", fmt::seconds_ms(*ms)),
                None => a.outcome.clone(),
            };
            vec![
                Line::from(head),
                Line::styled(fmt::fit(&outcome, cols), t.ok()),
                Line::styled(fmt::fit(&said, cols), t.dim()),
            ]
        }
        AgentStatus::Failed => {
            head.push(Span::raw(runs));
            let mut out = vec![Line::from(head)];
            let reason = if aborted {
                match s.last_run_ms.get(&card.name) {
                    Some(ms) => format!("stopped after {}", fmt::seconds_ms(*ms)),
                    None => "stopped".to_string(),
                }
            } else {
                a.outcome.clone()
            };
            // The reason is the point of a failed card: two rows of it, not one.
            let style = if aborted { t.dim() } else { t.error() };
            out.extend(
                two_rows(&reason, cols)
                    .into_iter()
                    .map(|r| Line::styled(r, style)),
            );
            out
        }
        AgentStatus::Idle => {
            head.push(Span::raw(runs));
            let mut out = vec![Line::from(head)];
            // After a restart: what the agent's last recorded dispatch came to.
            if let Some((ok, text)) = s.last_runs.get(&card.name) {
                out.push(Line::styled(fmt::fit(&card.role, cols), t.dim()));
                let style = if *ok { t.ok() } else { t.error() };
                out.push(Line::styled(fmt::fit(text, cols), style));
                return out;
            }
            out.extend(
                two_rows(&card.role, cols)
                    .into_iter()
                    .map(|r| Line::styled(r, t.dim())),
            );
            out
        }
    }
}

/// ` · todos 1/3 (1 req)` while the agent keeps a TODOS list; empty otherwise.
fn todos(a: &AgentView) -> String {
    if a.todos.is_empty() {
        return String::new();
    }
    let done = a
        .todos
        .iter()
        .filter(|t| t.state == crate::engine::ground::protocol::TodoState::Done)
        .count();
    let required = a.todos.iter().filter(|t| t.blocks_done()).count();
    let req = if required > 0 {
        format!(" ({required} req)")
    } else {
        String::new()
    };
    format!(" · todos {done}/{}{req}", a.todos.len())
}

/// `text` word-wrapped to at most two rows; the second ends in … when more is cut.
/// ` · 3 files: b.rs, a.rs` while the agent's own tools change files; empty otherwise.
fn changing(a: &AgentView) -> String {
    match a.changing {
        0 => String::new(),
        n => format!(
            " · {n} file{}: {}",
            if n == 1 { "" } else { "s" },
            a.changing_files.join(", ")
        ),
    }
}

fn two_rows(text: &str, cols: usize) -> Vec<String> {
    let rows = crate::tui::log::wrap(text, cols, cols);
    let n = rows.len();
    rows.into_iter()
        .take(2)
        .enumerate()
        .map(|(i, r)| {
            if i == 1 && n > 2 {
                fmt::fit(&format!("{r} …"), cols)
            } else {
                r
            }
        })
        .collect()
}

/// Tokens and cost an agent spent this session, for the card's border: the longest form
/// that fits in `room` cells.
pub fn spend(s: &AppState, name: &str, room: usize) -> Option<String> {
    let (tokens, micros) = s.agent_spend.get(name).copied()?;
    let (tok, usd) = (fmt::tokens(tokens), fmt::usd(micros));
    [
        format!(" {tok} tok · {usd} "),
        format!(" {tok}·{usd} "),
        format!(" {usd} "),
    ]
    .into_iter()
    .find(|t| fmt::width(t) <= room)
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
    let room = usize::from(area.width).saturating_sub(fmt::width(&title) + 5);
    let block = match spend(s, &card.name, room) {
        Some(sp) => block.title(Line::styled(sp, t.dim()).right_aligned()),
        None => block,
    };
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

/// A card as one line on a small screen: `▸*name state 12s`.
pub fn render_line(s: &AppState, card: &Card, focused: bool, area: Rect, buf: &mut Buffer) {
    if area.is_empty() {
        return;
    }
    let t = s.theme;
    let st = s.status(&card.name);
    let time = match st {
        AgentStatus::Working => s
            .working_since
            .get(&card.name)
            .map(|since| fmt::duration_ms(s.now_ms.saturating_sub(*since))),
        AgentStatus::Done | AgentStatus::Failed => {
            s.last_run_ms.get(&card.name).map(|ms| fmt::seconds_ms(*ms))
        }
        AgentStatus::Idle => None,
    };
    let name = format!(
        "{}{}{} ",
        if focused { "▸" } else { " " },
        if card.baseline { "*" } else { "" },
        card.name
    );
    let name_style = if focused { t.accent() } else { t.plain() };
    let mut spans = vec![
        Span::styled(name, name_style),
        Span::styled(state_word(s, &card.name), t.status(st)),
    ];
    if let Some(time) = time {
        spans.push(Span::styled(format!(" {time}"), t.dim()));
    }
    Line::from(spans).render(area, buf);
}
