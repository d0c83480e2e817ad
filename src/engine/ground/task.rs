//! Tasks of the work queue (`clk task`, `/task`, `clk work`): their states, the requests that
//! change them, and which request is allowed in which state. Plain data and pure functions; the
//! store keeps tasks, the runs layer works them.

use serde::{Deserialize, Serialize};

use super::config::Autonomy;
pub use super::task_slash::parse_slash;

/// Where a task stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    /// Waits for a worker.
    Queued,
    /// Could start but waits: the reason says why (files another task is changing, a budget).
    Held,
    /// A worker is on it.
    Running,
    /// Stopped at a checkpoint mid-task (its plan, a risky change): `task approve` lets it go
    /// on from there, `task reject` sends it back with a note.
    AwaitingApproval,
    /// Stopped by the user; `task resume` queues it again.
    Paused,
    /// Done and checked; waits for `task approve` before it merges.
    Approval,
    /// Approved; merges on the worker's next round.
    Approved,
    /// Its work is on the user's branch.
    Merged,
    /// Could not finish; the reason says why. `task resume` tries again.
    Failed,
    /// Its worker died mid-task; `task resume` continues it from its worktree.
    Interrupted,
    /// Dropped by the user.
    Cancelled,
}

impl TaskState {
    pub const ALL: &'static [TaskState] = &[
        TaskState::Queued,
        TaskState::Held,
        TaskState::Running,
        TaskState::AwaitingApproval,
        TaskState::Paused,
        TaskState::Approval,
        TaskState::Approved,
        TaskState::Merged,
        TaskState::Failed,
        TaskState::Interrupted,
        TaskState::Cancelled,
    ];

    pub fn name(self) -> &'static str {
        match self {
            TaskState::Queued => "queued",
            TaskState::Held => "held",
            TaskState::Running => "running",
            TaskState::AwaitingApproval => "awaiting_approval",
            TaskState::Paused => "paused",
            TaskState::Approval => "approval",
            TaskState::Approved => "approved",
            TaskState::Merged => "merged",
            TaskState::Failed => "failed",
            TaskState::Interrupted => "interrupted",
            TaskState::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<TaskState> {
        TaskState::ALL.iter().copied().find(|t| t.name() == s)
    }

    /// A worker may start it.
    pub fn runnable(self) -> bool {
        matches!(self, TaskState::Queued | TaskState::Held)
    }

    /// Nothing more happens to it.
    pub fn finished(self) -> bool {
        matches!(self, TaskState::Merged | TaskState::Cancelled)
    }
}

/// How a task's green result reaches the user's branch.
pub fn autonomy_name(a: Autonomy) -> &'static str {
    match a {
        Autonomy::Safe => "safe",
        Autonomy::Balanced => "balanced",
        Autonomy::Aggressive => "aggressive",
    }
}

pub fn parse_autonomy(s: &str) -> Option<Autonomy> {
    match s {
        "safe" => Some(Autonomy::Safe),
        "balanced" => Some(Autonomy::Balanced),
        "aggressive" => Some(Autonomy::Aggressive),
        _ => None,
    }
}

/// What `Command::Task` asks for (`clk task ...`, `/task ...`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum TaskCommand {
    /// Queue a new task.
    Add {
        prompt: String,
        #[serde(default)]
        flow: Option<String>,
        /// A roster agent (engineer, ...) or a provider (claude, codex, ...).
        #[serde(default)]
        agent: Option<String>,
        #[serde(default)]
        autonomy: Option<String>,
        /// A saved template: its prompt (the given one is added after it) and settings.
        #[serde(default)]
        template: Option<String>,
        /// Who asked: `cli`, `dashboard`, a chat user.
        #[serde(default)]
        requested_by: Option<String>,
    },
    List,
    Show {
        id: i64,
    },
    Timeline {
        id: i64,
    },
    Approve {
        id: i64,
        #[serde(default)]
        note: Option<String>,
    },
    /// Send a task waiting at a checkpoint or for its merge back to its implementer; the note
    /// says what to do differently.
    Reject {
        id: i64,
        #[serde(default)]
        note: Option<String>,
    },
    Pause {
        id: i64,
    },
    Resume {
        id: i64,
        #[serde(default)]
        note: Option<String>,
    },
    Cancel {
        id: i64,
    },
    /// Another review pass by the paired reviewer on the task's current branch; a note is
    /// passed on to the reviewer.
    Review {
        id: i64,
        #[serde(default)]
        note: Option<String>,
    },
    /// A rule every task's agents see from their next turn (`clk context add`).
    ContextAdd {
        text: String,
    },
    ContextList,
    ContextRemove {
        id: i64,
    },
    /// A task saved under a name (`clk template save`); settings not given stay defaults.
    TemplateSave {
        name: String,
        prompt: String,
        #[serde(default)]
        flow: Option<String>,
        #[serde(default)]
        agent: Option<String>,
        #[serde(default)]
        autonomy: Option<String>,
    },
    TemplateList,
    /// Queue a task from a saved template.
    TemplateRun {
        name: String,
        /// Who asked: `cli`, `dashboard`, a chat user.
        #[serde(default)]
        requested_by: Option<String>,
    },
}

/// Whether `action` (approve, reject, pause, resume, cancel, review) may be done to a task in
/// `state`, and the state it moves to; `Err` is the one line that says why not and what to do.
pub fn transition(id: i64, state: TaskState, action: &str) -> Result<TaskState, String> {
    use TaskState::*;
    let to = match (action, state) {
        ("approve", Approval) => Approved,
        ("approve", AwaitingApproval) => Queued,
        ("reject", Approval | AwaitingApproval) => Queued,
        ("pause", Queued | Held | Running) => Paused,
        ("resume", Paused | Failed | Interrupted) => Queued,
        ("cancel", s) if !s.finished() => Cancelled,
        ("review", Approval | Failed | Paused | Interrupted) => Queued,
        _ => {
            let hint = match (action, state) {
                ("approve" | "reject", _) => {
                    "only a task waiting for approval can be approved or rejected"
                }
                ("pause", _) => "only a queued, held or running task can be paused",
                ("resume", _) => "only a paused, failed or interrupted task can be resumed",
                ("review", Merged | Cancelled) => "its branch is gone",
                ("review", _) => {
                    "only a task waiting for approval, paused, failed or interrupted can be \
                     reviewed again"
                }
                _ => "it is already over",
            };
            return Err(format!(
                "task {id} is {}: cannot {action} it ({hint})",
                state.name()
            ));
        }
    };
    Ok(to)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in TaskState::ALL {
            assert_eq!(TaskState::parse(s.name()), Some(*s));
        }
        assert_eq!(TaskState::parse("nope"), None);
    }

    #[test]
    fn transitions_allow_and_refuse() {
        assert_eq!(
            transition(1, TaskState::Approval, "approve"),
            Ok(TaskState::Approved)
        );
        assert_eq!(
            transition(1, TaskState::Running, "pause"),
            Ok(TaskState::Paused)
        );
        assert_eq!(
            transition(1, TaskState::Interrupted, "resume"),
            Ok(TaskState::Queued)
        );
        assert_eq!(
            transition(1, TaskState::AwaitingApproval, "approve"),
            Ok(TaskState::Queued)
        );
        assert_eq!(
            transition(1, TaskState::Approval, "reject"),
            Ok(TaskState::Queued)
        );
        let e = transition(3, TaskState::Running, "reject").unwrap_err();
        assert!(e.contains("cannot reject it (only a task waiting"), "{e}");
        let e = transition(3, TaskState::Queued, "approve").unwrap_err();
        assert!(e.starts_with("task 3 is queued: cannot approve it"), "{e}");
        assert!(transition(3, TaskState::Merged, "cancel").is_err());
        assert!(transition(3, TaskState::Running, "resume").is_err());
        assert_eq!(
            transition(1, TaskState::Approval, "review"),
            Ok(TaskState::Queued)
        );
        let e = transition(4, TaskState::Running, "review").unwrap_err();
        assert!(e.contains("cannot review it (only a task waiting"), "{e}");
        let e = transition(4, TaskState::Merged, "review").unwrap_err();
        assert!(e.ends_with("(its branch is gone)"), "{e}");
    }
}
