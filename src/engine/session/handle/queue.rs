//! The work queue: one piece of work (a run, a loop, a message that starts a cycle) at a time.
//!
//! Work asked for while other work runs waits here instead of starting a second run in
//! parallel over the same files; it starts, in order, when the work before it ends. Quick
//! commands (status, roles, provider, questions) never wait. The engine loop owns the queue
//! and reports every change as an event (`Queued`, `QueueStarted`, `QueueDropped`), which each
//! front end folds into `RunState::queue`.

use std::collections::VecDeque;

use crate::engine::ground::events::{Command, RolesCommand};

/// True for commands that start work on the project, or write files and commits a run also
/// writes (the idea, the roster): these run one at a time.
pub(super) fn is_work(cmd: &Command) -> bool {
    matches!(
        cmd,
        Command::CaptureIdea { .. }
            | Command::Roles {
                action: RolesCommand::Add { .. } | RolesCommand::Drop { .. }
            }
            | Command::Dispatch { .. }
            | Command::Cast { .. }
            | Command::Plan { .. }
            | Command::Run { .. }
            | Command::Mission { .. }
            | Command::Loop { .. }
            | Command::Work { .. }
            | Command::Message { .. }
            | Command::Tutorial
            | Command::Undo { confirm: true }
    )
}

/// How a queued command is named in the log and `/queue`.
pub(super) fn label(cmd: &Command, task: &str) -> String {
    match cmd {
        Command::Message { text } => {
            let first = text.lines().next().unwrap_or_default();
            let short: String = first.chars().take(60).collect();
            let more = if short.len() < text.len() { "…" } else { "" };
            format!("message \"{short}{more}\"")
        }
        _ => task.to_string(),
    }
}

/// One waiting command.
pub(super) struct Waiting {
    pub id: u64,
    pub cmd: Command,
    pub what: String,
}

/// The running work's task id and what waits behind it.
#[derive(Default)]
pub(super) struct WorkQueue {
    running: Option<u64>,
    waiting: VecDeque<Waiting>,
}

impl WorkQueue {
    /// Whether new work must wait.
    pub(super) fn busy(&self) -> bool {
        self.running.is_some() || !self.waiting.is_empty()
    }

    pub(super) fn start(&mut self, id: u64) {
        self.running = Some(id);
    }

    /// Put work at the back; returns its 1-based position.
    pub(super) fn push(&mut self, w: Waiting) -> usize {
        self.waiting.push_back(w);
        self.waiting.len()
    }

    /// Task `id` ended; when it was the running work, the next waiting one (now running).
    pub(super) fn finished(&mut self, id: u64) -> Option<Waiting> {
        if self.running != Some(id) {
            return None;
        }
        self.running = None;
        let next = self.waiting.pop_front()?;
        self.running = Some(next.id);
        Some(next)
    }

    /// Take entry `n` (1-based) off the queue.
    pub(super) fn remove(&mut self, n: usize) -> Option<Waiting> {
        self.waiting.remove(n.checked_sub(1)?)
    }

    /// Take everything off the queue.
    pub(super) fn clear(&mut self) -> Vec<Waiting> {
        self.waiting.drain(..).collect()
    }

    /// The `/queue` report.
    pub(super) fn lines(&self) -> Vec<String> {
        if self.waiting.is_empty() {
            return vec![if self.running.is_some() {
                "nothing waits; new work starts after the current work".into()
            } else {
                "nothing waits, and nothing runs".into()
            }];
        }
        let mut out: Vec<String> = self
            .waiting
            .iter()
            .enumerate()
            .map(|(i, w)| format!("{}. {}", i + 1, w.what))
            .collect();
        out.push("/queue drop N removes one, /queue clear removes all".into());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waiting(id: u64) -> Waiting {
        Waiting {
            id,
            cmd: Command::Status,
            what: format!("w{id}"),
        }
    }

    #[test]
    fn work_starts_in_order_after_the_running_work() {
        let mut q = WorkQueue::default();
        assert!(!q.busy());
        q.start(1);
        assert!(q.busy());
        assert_eq!(q.push(waiting(2)), 1);
        assert_eq!(q.push(waiting(3)), 2);
        assert_eq!(q.push(waiting(4)), 3);
        assert!(
            q.finished(9).is_none(),
            "a quick task ending starts nothing"
        );
        assert_eq!(q.remove(2).map(|w| w.id), Some(3));
        assert!(q.remove(0).is_none() && q.remove(5).is_none());
        assert_eq!(q.lines()[0], "1. w2");
        assert_eq!(q.finished(1).map(|w| w.id), Some(2));
        assert_eq!(q.finished(2).map(|w| w.id), Some(4));
        assert!(q.finished(4).is_none());
        assert!(!q.busy());
        assert!(q.lines()[0].contains("nothing runs"));
    }

    #[test]
    fn only_work_queues_and_messages_are_named_by_their_text() {
        assert!(is_work(&Command::Message { text: "x".into() }));
        assert!(!is_work(&Command::Status));
        assert!(!is_work(&Command::Roles {
            action: RolesCommand::List
        }));
        assert!(is_work(&Command::Roles {
            action: RolesCommand::Drop { name: "x".into() }
        }));
        assert!(!is_work(&Command::Undo { confirm: false }));
        let long = "a".repeat(100);
        assert_eq!(
            label(&Command::Message { text: long }, "message"),
            format!("message \"{}…\"", "a".repeat(60))
        );
    }
}
