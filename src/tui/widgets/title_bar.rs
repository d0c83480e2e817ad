//! The title bar: project, the run's branch, provider, phase, tokens, session cost, files written,
//! commits not pushed and tasks waiting for approval. Segments that do not fit are dropped, least
//! important first; when space is short, tokens, cost and files move to the front and the project's
//! name is cut last.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::Widget;

use crate::tui::app::AppState;
use crate::tui::fmt;

/// The idea's priority: below every other segment.
const IDEA: u8 = 7;

/// From this width on, a title short of room keeps the files count with tokens and cost.
const FILES_KEPT: usize = 60;

const SPINNER: [char; 4] = ['|', '/', '-', '\\'];

/// The segments in display order, each with its priority (0 = kept longest).
pub fn segments(s: &AppState) -> Vec<(u8, String)> {
    let mut phase = s.phase();
    if s.busy() {
        phase.push(' ');
        phase.push(SPINNER[(s.frame % 4) as usize]);
    }
    let mut out = vec![
        (0, format!("clk · {}", s.project)),
        (2, s.provider.clone()),
        (1, phase),
        (4, format!("tok {}", fmt::tokens(s.total_tokens()))),
        (
            3,
            format!(
                "{}{}",
                if s.cost_unknown() { "≥" } else { "" },
                fmt::usd(s.total_cost_micros())
            ),
        ),
        (5, format!("files {}", s.run.files_written.len())),
    ];
    // The idea, after the project's name; the first to go when room is short.
    if let Some(idea) = s.idea.as_deref().filter(|i| !i.trim().is_empty()) {
        out.insert(1, (IDEA, fmt::fit(idea, 40)));
    }
    // While a run goes, the branch its agents work on (their own worktree): long, and less
    // use than the totals, so it goes before them.
    if let Some(branch) = &s.run.run_branch {
        out.insert(1, (6, format!("on {branch}")));
    }
    if let Some(n) = s.ahead.filter(|n| *n > 0) {
        out.push((5, format!("↑{n}")));
    }
    // Tasks that wait for the user: kept long, it asks for action.
    let waiting = s.board.waiting_approval();
    if waiting > 0 {
        out.push((2, format!("⏸{waiting} approve")));
    }
    out
}

pub fn text(s: &AppState, width: usize) -> String {
    let mut segs = segments(s);
    let join = |segs: &[(u8, String)]| {
        format!(
            " {} ",
            segs.iter()
                .map(|(_, t)| t.as_str())
                .collect::<Vec<_>>()
                .join(" · ")
        )
    };
    // The idea is the first to go, before anything moves.
    if fmt::width(&join(&segs)) > width {
        segs.retain(|(p, _)| *p != IDEA);
    }
    let short = fmt::width(&join(&segs)) > width;
    if short {
        // Short of room: the totals (tokens, cost, and files unless the screen is tiny) come
        // first and stay; the project's name is cut.
        let total = |t: &str| {
            t.starts_with("tok ")
                || t.starts_with('$')
                || t.starts_with('≥')
                || (t.starts_with("files ") && width >= FILES_KEPT)
        };
        let money: Vec<(u8, String)> = segs
            .iter()
            .filter(|(_, t)| total(t))
            .map(|(_, t)| (0, t.clone()))
            .collect();
        segs.retain(|(_, t)| !total(t));
        for seg in &mut segs {
            if seg.1.starts_with("clk · ") {
                seg.0 = 1;
            } else if seg.0 <= 1 {
                seg.0 = 2;
            }
        }
        segs.splice(0..0, money);
    }
    // Short of room, the money and the project's name stay (the name is cut at the end).
    let floor = if short { 1 } else { 0 };
    loop {
        let t = join(&segs);
        let droppable = segs.iter().any(|(p, _)| *p > floor);
        if fmt::width(&t) <= width || segs.len() <= 1 || !droppable {
            return fmt::fit(&t, width);
        }
        // Drop the least important segment.
        if let Some(i) = segs
            .iter()
            .enumerate()
            .max_by_key(|(_, (p, _))| *p)
            .map(|(i, _)| i)
        {
            segs.remove(i);
        }
    }
}

pub fn render(s: &AppState, area: Rect, buf: &mut Buffer) {
    if area.is_empty() {
        return;
    }
    buf.set_style(area, s.theme.title());
    Line::styled(text(s, usize::from(area.width)), s.theme.title()).render(area, buf);
}
