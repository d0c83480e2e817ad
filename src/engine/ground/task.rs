//! Tasks of the work queue (`clk task`, `/task`, `clk work`): their states, the requests that
//! change them, and which request is allowed in which state. Plain data and pure functions; the
//! store keeps tasks, the runs layer works them.

use serde::{Deserialize, Serialize};

use super::config::Autonomy;

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
}

/// Whether `action` (approve, reject, pause, resume, cancel, review) may be done to a task in `state`,
/// and the state it moves to; `Err` is the one line that says why not and what to do.
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

/// `/task ...` after the word: `add "prompt" [--agent A] [--flow F] [--autonomy X]`, `list`,
/// `show ID`, `timeline ID`, `approve ID [note]`, `reject ID [note]`, `review ID [note]`,
/// `pause ID`, `resume ID [note]`, `cancel ID`.
pub fn parse_slash(argv: &[String]) -> Result<TaskCommand, String> {
    const USAGE: &str = "usage: /task add \"prompt\" [--agent A] [--flow F] [--autonomy X] | list | \
                         show ID | timeline ID | approve ID [note] | reject ID [note] | \
                         review ID [note] | pause ID | resume ID [note] | cancel ID";
    let id = |s: Option<&String>| -> Result<i64, String> {
        let Some(s) = s else {
            return Err(format!("which task? {USAGE}"));
        };
        s.trim_start_matches('#')
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| format!("{s:?} is not a task id (`/task list` shows them)"))
    };
    let note = |rest: &[String]| (!rest.is_empty()).then(|| rest.join(" "));
    let word = argv.first().map(|s| s.to_lowercase());
    let one = |cmd: TaskCommand| {
        if argv.len() > 2 {
            Err(format!("too many words; {USAGE}"))
        } else {
            Ok(cmd)
        }
    };
    match word.as_deref() {
        None | Some("list") if argv.len() <= 1 => Ok(TaskCommand::List),
        Some("add") => {
            let mut prompt = Vec::new();
            let (mut flow, mut agent, mut autonomy) = (None, None, None);
            let mut it = argv[1..].iter();
            while let Some(w) = it.next() {
                let slot = match w.as_str() {
                    "--flow" => &mut flow,
                    "--agent" => &mut agent,
                    "--autonomy" => &mut autonomy,
                    _ => {
                        prompt.push(w.clone());
                        continue;
                    }
                };
                *slot = Some(it.next().cloned().ok_or(format!("{w} needs a value"))?);
            }
            if prompt.is_empty() {
                return Err(format!("say what the task is; {USAGE}"));
            }
            Ok(TaskCommand::Add {
                prompt: prompt.join(" "),
                flow,
                agent,
                autonomy,
                template: None,
                requested_by: Some("dashboard".into()),
            })
        }
        Some("show") => one(TaskCommand::Show {
            id: id(argv.get(1))?,
        }),
        Some("timeline") => one(TaskCommand::Timeline {
            id: id(argv.get(1))?,
        }),
        Some("pause") => one(TaskCommand::Pause {
            id: id(argv.get(1))?,
        }),
        Some("cancel") => one(TaskCommand::Cancel {
            id: id(argv.get(1))?,
        }),
        Some("approve") => Ok(TaskCommand::Approve {
            id: id(argv.get(1))?,
            note: note(argv.get(2..).unwrap_or_default()),
        }),
        Some("reject") => Ok(TaskCommand::Reject {
            id: id(argv.get(1))?,
            note: note(argv.get(2..).unwrap_or_default()),
        }),
        Some("resume") => Ok(TaskCommand::Resume {
            id: id(argv.get(1))?,
            note: note(argv.get(2..).unwrap_or_default()),
        }),
        Some("review") => Ok(TaskCommand::Review {
            id: id(argv.get(1))?,
            note: note(argv.get(2..).unwrap_or_default()),
        }),
        _ => Err(USAGE.into()),
    }
}

#[cfg(test)]
mod slash_tests {
    use super::*;

    fn p(s: &str) -> Result<TaskCommand, String> {
        let argv: Vec<String> = s.split_whitespace().map(String::from).collect();
        parse_slash(&argv)
    }

    #[test]
    fn parses_each_action() {
        assert_eq!(p(""), Ok(TaskCommand::List));
        assert_eq!(p("show 3"), Ok(TaskCommand::Show { id: 3 }));
        assert_eq!(p("cancel #4"), Ok(TaskCommand::Cancel { id: 4 }));
        assert_eq!(
            p("approve 2 looks good"),
            Ok(TaskCommand::Approve {
                id: 2,
                note: Some("looks good".into())
            })
        );
        assert_eq!(
            p("add fix the test --agent codex --autonomy safe"),
            Ok(TaskCommand::Add {
                prompt: "fix the test".into(),
                flow: None,
                agent: Some("codex".into()),
                autonomy: Some("safe".into()),
                template: None,
                requested_by: Some("dashboard".into()),
            })
        );
        assert_eq!(
            p("review #2 check the error paths"),
            Ok(TaskCommand::Review {
                id: 2,
                note: Some("check the error paths".into())
            })
        );
        assert_eq!(p("review 5"), Ok(TaskCommand::Review { id: 5, note: None }));
        assert_eq!(
            p("reject 5 use the builder"),
            Ok(TaskCommand::Reject {
                id: 5,
                note: Some("use the builder".into())
            })
        );
        assert!(p("show x").unwrap_err().contains("not a task id"));
        assert!(p("show").unwrap_err().contains("which task"));
        assert!(p("add --agent").unwrap_err().contains("needs a value"));
        assert!(p("add").unwrap_err().contains("say what the task is"));
        assert!(p("fly 3").unwrap_err().starts_with("usage: /task"));
    }
}
