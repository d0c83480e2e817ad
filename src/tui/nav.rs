//! Focus and the views (part of the reducer): moving between cards and the log, opening an
//! agent's transcript or diff, scrolling them (and a task's timeline), and mouse clicks. Keys
//! come from `keymap`; the Tasks view's own keys are in `tasks.rs`.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::keymap::{self, Act, Ctx};
use super::layout::card_rect;
use super::state::{AppState, Effect, Focus};
use super::view::{Request, View, ViewKind};

/// The key map context for where focus is now; None when keys go to the input box.
pub fn context(s: &AppState) -> Option<Ctx> {
    if let Some(v) = &s.view {
        return Some(match v.kind() {
            ViewKind::Transcript => Ctx::Transcript,
            ViewKind::Diff | ViewKind::RunDiff => Ctx::Diff,
            ViewKind::Timeline => Ctx::Timeline,
        });
    }
    if s.board.open {
        return Some(Ctx::Tasks);
    }
    match s.focus {
        Focus::Card(_) if s.focused_card().is_some() => Some(Ctx::Card),
        Focus::Log => Some(Ctx::Log),
        _ => None,
    }
}

/// A key while a view is open or focus is on a card or the log. Returns None when the key
/// is not bound there: focus goes back to the input box, which takes the key.
pub(crate) fn on_key(s: &mut AppState, key: KeyEvent) -> Option<Vec<Effect>> {
    let ctx = context(s)?;
    let plain = !key
        .modifiers
        .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT);
    let act = if plain || key.code == KeyCode::BackTab {
        keymap::action(ctx, key.code)
    } else {
        None
    };
    let Some(act) = act else {
        if s.view.is_some() || s.board.open {
            // A view takes no typing; unbound keys do nothing.
            return Some(Vec::new());
        }
        s.focus = Focus::Input;
        return None;
    };
    Some(match ctx {
        Ctx::Card => card(s, act),
        Ctx::Log => log(s, act),
        Ctx::Transcript | Ctx::Diff | Ctx::Timeline => view(s, act),
        Ctx::Tasks => super::tasks::on_act(s, act),
    })
}

/// Open a view of `kind` for `agent` and ask the driver for its text.
pub fn open(s: &mut AppState, kind: ViewKind, agent: &str) -> Vec<Effect> {
    let request = Request {
        kind,
        agent: agent.to_string(),
        index: 0,
        sha: match kind {
            ViewKind::Diff => s.last_commit.get(agent).cloned(),
            ViewKind::RunDiff => s.run.run_branch.clone(),
            ViewKind::Transcript | ViewKind::Timeline => None,
        },
    };
    s.view = Some(View::new(request.clone()));
    vec![Effect::Load(request)]
}

/// The diff view's name for the merge `/undo` would take back.
pub const UNDO_MERGE: &str = "/undo merge";

/// `/undo`'s preview names the commit it would take back: show that commit's diff, so what
/// would be undone is seen and not only its file names (Esc goes back to the log).
pub fn undo_preview(s: &mut AppState, lines: &[String]) -> Vec<Effect> {
    let sha = lines
        .first()
        .and_then(|l| l.strip_prefix("Last clk commit: "))
        .and_then(|rest| rest.split_whitespace().next())
        .filter(|sha| sha.len() >= 7 && sha.chars().all(|c| c.is_ascii_hexdigit()));
    let Some(sha) = sha else {
        return Vec::new();
    };
    // Never over a view the user is reading or a question on screen.
    if s.view.is_some() || !s.pending.is_empty() || s.help_open {
        return Vec::new();
    }
    // A merge clk made is taken back as a whole: its diff is the branch's whole move.
    let merge = lines.first().is_some_and(|l| {
        l.contains(&format!(
            "(by {}",
            crate::engine::store::git::merge::MERGE_AUTHOR
        ))
    });
    let request = Request {
        kind: ViewKind::Diff,
        agent: if merge { UNDO_MERGE } else { "/undo" }.to_string(),
        index: 0,
        sha: Some(sha.to_string()),
    };
    s.view = Some(View::new(request.clone()));
    vec![Effect::Load(request)]
}

fn card(s: &mut AppState, act: Act) -> Vec<Effect> {
    let Focus::Card(i) = s.focus else {
        return Vec::new();
    };
    let agent = s.cards.get(i).map(|c| c.name.clone()).unwrap_or_default();
    match act {
        Act::Next => {
            s.focus = if i + 1 < s.cards.len() {
                Focus::Card(i + 1)
            } else {
                Focus::Log
            }
        }
        Act::Prev => {
            s.focus = if i == 0 {
                Focus::Input
            } else {
                Focus::Card(i - 1)
            }
        }
        Act::Open => return open(s, ViewKind::Transcript, &agent),
        Act::Diff => return open(s, ViewKind::Diff, &agent),
        Act::RunDiff => return open(s, ViewKind::RunDiff, &agent),
        Act::Back => s.focus = Focus::Input,
        Act::Help => s.help_open = true,
        Act::Tasks => return super::tasks::open(s),
        _ => {}
    }
    Vec::new()
}

fn log(s: &mut AppState, act: Act) -> Vec<Effect> {
    let (rows, cols) = s.log_page();
    let page = rows.saturating_sub(1).max(1);
    match act {
        Act::Next | Act::Back => s.focus = Focus::Input,
        Act::Prev => {
            s.focus = match s.cards.len() {
                0 => Focus::Input,
                n => Focus::Card(n - 1),
            }
        }
        // j/k walk the dispatch lines; Enter unfolds the one under the cursor.
        Act::LineUp => s.log.move_cursor(true, cols, rows),
        Act::LineDown => s.log.move_cursor(false, cols, rows),
        Act::Open => {
            s.log.toggle_under_cursor(cols, rows);
        }
        Act::PageUp => s.log.scroll_up(page, cols),
        Act::PageDown => s.log.scroll_down(page, cols),
        Act::Top => s.log.to_top(page, cols),
        Act::Bottom => s.log.to_tail(),
        Act::Verbose => {
            let v = !s.log.verbose();
            s.log.set_verbose(v);
        }
        Act::Help => s.help_open = true,
        Act::Tasks => return super::tasks::open(s),
        _ => {}
    }
    Vec::new()
}

fn view(s: &mut AppState, act: Act) -> Vec<Effect> {
    let rows = s.view_rows();
    let width = usize::from(s.width);
    let page = rows.saturating_sub(1).max(1) as isize;
    let Some(v) = s.view.as_mut() else {
        return Vec::new();
    };
    let agent = v.request.agent.clone();
    match act {
        Act::LineUp => v.scroll_by(-1),
        Act::LineDown => v.scroll_by(1),
        Act::PageUp => v.scroll_by(-page),
        Act::PageDown => v.scroll_by(page),
        Act::Top => v.to_top(),
        Act::Bottom => v.to_end(rows, width),
        Act::OlderRun | Act::NewerRun => {
            let step = if act == Act::OlderRun { 1 } else { -1 };
            if let Some(r) = v.step_run(step) {
                *v = View::new(r.clone());
                return vec![Effect::Load(r)];
            }
        }
        Act::Diff => return open(s, ViewKind::Diff, &agent),
        // D flips between the agent's last commit and the run so far.
        Act::RunDiff => {
            let kind = if v.kind() == ViewKind::RunDiff {
                ViewKind::Diff
            } else {
                ViewKind::RunDiff
            };
            return open(s, kind, &agent);
        }
        Act::Open => return open(s, ViewKind::Transcript, &agent),
        Act::Back => s.view = None,
        _ => {}
    }
    Vec::new()
}

/// Tab in an empty input box: focus the first card (or the log when there are none).
pub fn enter_grid(s: &mut AppState) {
    s.focus = if s.cards.is_empty() {
        Focus::Log
    } else {
        Focus::Card(0)
    };
}

/// A left click: focus the card, the log or the input under it.
pub fn click(s: &mut AppState, column: u16, row: u16) {
    if s.view.is_some() || s.board.open {
        return;
    }
    let at = ratatui::layout::Position::new(column, row);
    let a = s.areas();
    if a.grid.area.contains(at) {
        let (start, shown) = s.card_window(&a.grid);
        if let Some(slot) = (0..shown).find(|i| card_rect(&a.grid, *i).contains(at)) {
            s.focus = Focus::Card(start + slot);
        }
    } else if a.log.contains(at) {
        s.focus = Focus::Log;
    } else if a.input.contains(at) {
        s.focus = Focus::Input;
    }
}
