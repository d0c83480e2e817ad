//! The Tasks view: a table of the task queue (id, state, agent, turns, cost, files, and the
//! task with why it waits), the cursor's row marked, and under it the selected task in full
//! with what came of the last step asked. Columns drop, least useful first, as the screen
//! narrows; the id, state and task always show.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Widget};

use crate::engine::ground::task::TaskState;
use crate::engine::session::tasks::TaskRow;
use crate::tui::app::AppState;
use crate::tui::fmt;
use crate::tui::theme::Theme;

/// A column besides id, state and the task: its header, width, the narrowest table that keeps
/// it, and its cell.
struct Column {
    head: &'static str,
    width: usize,
    /// Text starts at the left; numbers sit at the right.
    left: bool,
    keep_from: usize,
    cell: fn(&TaskRow) -> String,
}

const COLUMNS: &[Column] = &[
    Column {
        head: "agent",
        width: 10,
        left: true,
        keep_from: 70,
        cell: |r| fmt::fit(&r.agent, 10),
    },
    Column {
        head: "turns",
        left: false,
        width: 5,
        keep_from: 56,
        cell: |r| r.turns.to_string(),
    },
    Column {
        head: "cost",
        left: false,
        width: 7,
        keep_from: 48,
        cell: |r| fmt::usd(r.cost_micros),
    },
    Column {
        head: "files",
        left: false,
        width: 5,
        keep_from: 80,
        cell: |r| r.files.to_string(),
    },
];

/// The state column's width when no longer state is shown ("interrupted"); a task waiting
/// at a checkpoint ("awaiting_approval") widens it.
const STATE_COLS: usize = 11;

fn state_style(t: Theme, s: TaskState) -> Style {
    match s {
        TaskState::Approval | TaskState::AwaitingApproval => t.prompt(),
        TaskState::Running | TaskState::Approved => t.accent(),
        TaskState::Merged => t.ok(),
        TaskState::Failed | TaskState::Interrupted => t.error(),
        TaskState::Held | TaskState::Paused => t.warn(),
        TaskState::Queued | TaskState::Cancelled => t.dim(),
    }
}

/// The border's title: `tasks · 5 · ⏸1 approve`.
pub fn title(s: &AppState) -> String {
    let b = &s.board;
    let mut t = format!(" tasks · {}", b.rows.len());
    let n = b.waiting_approval();
    if n > 0 {
        t.push_str(&format!(" · ⏸{n} approve"));
    }
    t.push(' ');
    t
}

/// The task column: the title, then why it waits (the title keeps at least half).
fn task_cell(r: &TaskRow, width: usize) -> String {
    if r.reason.is_empty() {
        return fmt::fit(&r.title, width);
    }
    let title_w = fmt::width(&r.title)
        .min(width.saturating_sub(fmt::width(&r.reason) + 3))
        .max(width / 2);
    let title = fmt::fit(&r.title, title_w);
    fmt::fit(&format!("{title} — {}", r.reason), width)
}

/// `text` padded to a column.
fn pad(text: &str, c: &Column) -> String {
    if c.left {
        format!("{text:<w$} ", w = c.width)
    } else {
        format!("{text:>w$} ", w = c.width)
    }
}

/// One row of the table as text, `width` wide.
fn row_text(
    r: &TaskRow,
    width: usize,
    (id_cols, state_cols): (usize, usize),
    columns: &[&Column],
) -> String {
    let mut out = format!(
        "{:>id_cols$} {:<state_cols$} ",
        format!("#{}", r.id),
        r.state.name()
    );
    for c in columns {
        out.push_str(&pad(&(c.cell)(r), c));
    }
    let rest = width.saturating_sub(fmt::width(&out));
    out.push_str(&task_cell(r, rest));
    out
}

pub fn render(s: &AppState, area: Rect, buf: &mut Buffer) {
    if area.is_empty() {
        return;
    }
    let t = s.theme;
    let b = &s.board;
    Clear.render(area, buf);
    let block = Block::default()
        .borders(Borders::TOP)
        .border_style(t.accent())
        .title(Span::styled(
            fmt::fit(&title(s), usize::from(area.width)),
            t.accent(),
        ));
    let inner = block.inner(area);
    block.render(area, buf);
    let width = usize::from(inner.width);
    let line = |i: u16, text: Line<'_>, buf: &mut Buffer| {
        if i < inner.height {
            text.render(Rect::new(inner.x, inner.y + i, inner.width, 1), buf);
        }
    };
    if let Some(e) = &b.error {
        line(
            0,
            Line::styled(
                fmt::fit(&format!("cannot read the tasks: {e}"), width),
                t.error(),
            ),
            buf,
        );
        if b.rows.is_empty() {
            return;
        }
    }
    let top = u16::from(b.error.is_some());
    if !b.loaded && b.rows.is_empty() {
        line(top, Line::styled("loading…", t.dim()), buf);
        return;
    }
    if b.rows.is_empty() {
        for (i, text) in [
            "No tasks yet.",
            "/task add \"what to do\" queues one; /work runs the queue.",
            "Esc goes back.",
        ]
        .iter()
        .enumerate()
        {
            line(
                top + i as u16,
                Line::styled(fmt::fit(text, width), t.dim()),
                buf,
            );
        }
        return;
    }
    let columns: Vec<&Column> = COLUMNS.iter().filter(|c| width >= c.keep_from).collect();
    let id_cols = b
        .rows
        .iter()
        .map(|r| r.id.to_string().len() + 1)
        .max()
        .unwrap_or(2)
        .max(3);
    // Header, rows, then (room allowing) a rule and two lines on the selected task.
    let room = inner.height.saturating_sub(top);
    let detail_rows: u16 = if room >= 7 { 3 } else { 0 };
    let table_rows = usize::from(room.saturating_sub(1 + detail_rows));
    // One column more on the left: the cursor's mark.
    let state_cols = b
        .rows
        .iter()
        .map(|r| r.state.name().len())
        .fold(STATE_COLS, usize::max);
    let mut head = format!(" {:>id_cols$} {:<state_cols$} ", "id", "state");
    for c in &columns {
        head.push_str(&pad(c.head, c));
    }
    head.push_str("task");
    line(top, Line::styled(fmt::fit(&head, width), t.dim()), buf);
    let first = b.first_shown(table_rows);
    for (i, r) in b.rows.iter().enumerate().skip(first).take(table_rows) {
        let text = row_text(r, width.saturating_sub(1), (id_cols, state_cols), &columns);
        let selected = i == b.selected;
        let y = top + 1 + (i - first) as u16;
        let mark = if selected { "▸" } else { " " };
        let text = fmt::fit(&format!("{mark}{text}"), width);
        // The state word gets its colour; the selected row is reversed as a whole.
        let cut = 1 + id_cols + 1;
        let (a, rest) = split_at_chars(&text, cut);
        let (st, rest) = split_at_chars(rest, state_cols);
        let base = if selected {
            t.plain().add_modifier(Modifier::REVERSED)
        } else {
            t.plain()
        };
        let st_style = if selected {
            base
        } else {
            state_style(t, r.state)
        };
        line(
            y,
            Line::from(vec![
                Span::styled(a.to_string(), base),
                Span::styled(st.to_string(), st_style),
                Span::styled(rest.to_string(), base),
            ]),
            buf,
        );
    }
    if detail_rows == 0 {
        return;
    }
    let Some(r) = b.selected_row() else {
        return;
    };
    let y = inner.height.saturating_sub(detail_rows);
    line(y, Line::styled("─".repeat(width), t.dim()), buf);
    let mut about = format!("#{} {}", r.id, r.title);
    if !r.reason.is_empty() {
        about.push_str(&format!(" — {}", r.reason));
    }
    let rows = crate::tui::log::wrap(&about, width.max(1), width.max(1));
    let last = match &b.flash {
        Some(f) => Line::styled(fmt::fit(f, width), t.user()),
        None => Line::styled(
            fmt::fit(rows.get(1).map_or("", String::as_str), width),
            t.plain(),
        ),
    };
    line(
        y + 1,
        Line::styled(rows.first().cloned().unwrap_or_default(), t.plain()),
        buf,
    );
    line(y + 2, last, buf);
}

/// `s` split after `n` characters.
fn split_at_chars(s: &str, n: usize) -> (&str, &str) {
    match s.char_indices().nth(n) {
        Some((i, _)) => s.split_at(i),
        None => (s, ""),
    }
}
