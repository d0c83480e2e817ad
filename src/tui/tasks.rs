//! The Tasks view (part of the reducer): the task queue as a table, a cursor over it, and the
//! keys that steer the task under it. The rows come from the driver (`Msg::Tasks`, read
//! through the session layer off the draw path); approve, pause, resume and cancel go to the
//! engine as `Command::Task`, the same requests `clk task ...` makes. Approve and cancel ask
//! y/N first. Enter opens the task's timeline as a view.

use super::keymap::Act;
use super::log::Level;
use super::state::{AppState, Effect, Pending};
use super::view::{Request, View, ViewKind};
use crate::engine::ground::events::Command;
use crate::engine::ground::task::{TaskCommand, TaskState};
use crate::engine::session::tasks::TaskRow;

/// The task queue as the dashboard last read it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Board {
    /// The Tasks view is on screen.
    pub open: bool,
    pub rows: Vec<TaskRow>,
    /// The row under the cursor.
    pub selected: usize,
    /// The rows were read at least once.
    pub loaded: bool,
    /// Why the last read failed.
    pub error: Option<String>,
    /// What came of the last step asked from the view (or that it was sent).
    pub flash: Option<String>,
}

impl Board {
    /// Tasks that wait for `task approve` (to merge, or at a checkpoint).
    pub fn waiting_approval(&self) -> usize {
        self.rows
            .iter()
            .filter(|r| matches!(r.state, TaskState::Approval | TaskState::AwaitingApproval))
            .count()
    }

    pub fn selected_row(&self) -> Option<&TaskRow> {
        self.rows.get(self.selected)
    }

    /// New rows from the store; the cursor stays on the same task when it is still there.
    pub fn accept(&mut self, rows: Result<Vec<TaskRow>, String>) {
        match rows {
            Ok(rows) => {
                let id = self.selected_row().map(|r| r.id);
                self.selected = id
                    .and_then(|id| rows.iter().position(|r| r.id == id))
                    .unwrap_or(self.selected)
                    .min(rows.len().saturating_sub(1));
                self.rows = rows;
                self.loaded = true;
                self.error = None;
            }
            Err(e) => self.error = Some(e),
        }
    }

    /// The first row drawn when `height` rows fit: the cursor is always on screen.
    pub fn first_shown(&self, height: usize) -> usize {
        (self.selected + 1).saturating_sub(height.max(1))
    }
}

/// Open the Tasks view (F2, `T`, `/tasks`) and ask for fresh rows.
pub fn open(s: &mut AppState) -> Vec<Effect> {
    s.view = None;
    s.help_open = false;
    s.board.open = true;
    s.board.flash = None;
    vec![Effect::LoadTasks]
}

/// `title` cut for a question.
fn quoted(title: &str) -> String {
    format!("“{}”", super::fmt::fit(title, 48))
}

/// A key bound in the Tasks view.
pub(crate) fn on_act(s: &mut AppState, act: Act) -> Vec<Effect> {
    let n = s.board.rows.len();
    let b = &mut s.board;
    match act {
        Act::LineDown | Act::Next => b.selected = (b.selected + 1).min(n.saturating_sub(1)),
        Act::LineUp | Act::Prev => b.selected = b.selected.saturating_sub(1),
        Act::PageDown => b.selected = (b.selected + 10).min(n.saturating_sub(1)),
        Act::PageUp => b.selected = b.selected.saturating_sub(10),
        Act::Top => b.selected = 0,
        Act::Bottom => b.selected = n.saturating_sub(1),
        Act::Back => b.open = false,
        Act::Help => s.help_open = true,
        Act::Open => {
            if let Some(r) = b.selected_row() {
                let request = Request {
                    kind: ViewKind::Timeline,
                    agent: format!("task {}", r.id),
                    index: usize::try_from(r.id).unwrap_or(0),
                    sha: None,
                };
                s.view = Some(View::new(request.clone()));
                return vec![Effect::Load(request)];
            }
        }
        Act::Approve | Act::Cancel => {
            let Some(r) = b.selected_row() else {
                return Vec::new();
            };
            let (id, title) = (r.id, quoted(&r.title));
            let (question, action) = if act == Act::Approve {
                let next = if r.state == TaskState::AwaitingApproval {
                    "It goes on from its checkpoint"
                } else {
                    "Its work merges into your branch"
                };
                (
                    format!("Approve task {id} {title}? {next} on the worker's next round."),
                    TaskCommand::Approve { id, note: None },
                )
            } else {
                (
                    format!("Cancel task {id} {title}? Its work is dropped."),
                    TaskCommand::Cancel { id },
                )
            };
            s.pending.push_back(Pending::Task { question, action });
        }
        Act::Pause | Act::Resume => {
            let Some(id) = b.selected_row().map(|r| r.id) else {
                return Vec::new();
            };
            let action = if act == Act::Pause {
                TaskCommand::Pause { id }
            } else {
                TaskCommand::Resume { id, note: None }
            };
            return send(s, action);
        }
        _ => {}
    }
    Vec::new()
}

/// Send a task request to the engine; its answer arrives as the task's `TaskFinished`.
pub(crate) fn send(s: &mut AppState, action: TaskCommand) -> Vec<Effect> {
    let what = match &action {
        TaskCommand::Approve { id, .. } => format!("approve task {id}"),
        TaskCommand::Pause { id } => format!("pause task {id}"),
        TaskCommand::Resume { id, .. } => format!("resume task {id}"),
        TaskCommand::Cancel { id } => format!("cancel task {id}"),
        _ => "task".to_string(),
    };
    s.note(Level::User, &format!("> {what}"));
    s.board.flash = Some(format!("{what}: sent"));
    vec![Effect::Submit(Command::Task { action })]
}

/// A task request finished: the view says what came of it (the log has it too).
pub(crate) fn finished(s: &mut AppState, ok: bool, summary: &str) {
    if s.board.open {
        s.board.flash = Some(if ok {
            summary.to_string()
        } else {
            format!("refused: {summary}")
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: i64, state: TaskState) -> TaskRow {
        TaskRow {
            id,
            state,
            title: format!("task number {id}"),
            agent: "engineer".into(),
            turns: 0,
            cost_micros: 0,
            reason: String::new(),
            files: 0,
        }
    }

    #[test]
    fn the_cursor_follows_its_task_across_reloads_and_stays_in_range() {
        let mut b = Board::default();
        b.accept(Ok(vec![
            row(1, TaskState::Queued),
            row(2, TaskState::Approval),
            row(3, TaskState::Running),
            row(4, TaskState::AwaitingApproval),
        ]));
        b.selected = 1;
        assert_eq!(b.waiting_approval(), 2, "at a checkpoint counts too");
        // Task 1 is gone: the cursor stays on task 2.
        b.accept(Ok(vec![
            row(2, TaskState::Merged),
            row(3, TaskState::Running),
        ]));
        assert_eq!(b.selected_row().map(|r| r.id), Some(2));
        assert_eq!(b.waiting_approval(), 0);
        b.accept(Err("locked".into()));
        assert_eq!(b.rows.len(), 2, "a failed read keeps the last rows");
        assert_eq!(b.error.as_deref(), Some("locked"));
        b.selected = 1;
        b.accept(Ok(vec![row(7, TaskState::Queued)]));
        assert_eq!(b.selected, 0);
        b.accept(Ok(Vec::new()));
        assert_eq!(b.selected, 0);
        assert_eq!(b.first_shown(3), 0);
        b.rows = (1..=20).map(|i| row(i, TaskState::Queued)).collect();
        b.selected = 12;
        assert_eq!(b.first_shown(5), 8);
    }
}
