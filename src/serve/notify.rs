//! Notices: the few things a person should hear about without watching: a task that waits for
//! approval, a question the work asks, a run done or failed, a spending cap reached. Each has a
//! key, and a key is told once, however often the event or the task's state is seen again.
//! Chat adapters and the web dashboard read the same list (`GET /api/notices`).

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use super::events::Hub;
use crate::engine::ground::events::Event;
use crate::engine::ground::task::TaskState;
use crate::engine::store::tasks::{self, TaskStore};
use crate::engine::store::workspace::Workspace;

/// What a notice is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Approval,
    Question,
    RunDone,
    RunFailed,
    TaskMerged,
    TaskFailed,
    CapReached,
}

/// One thing to tell a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notice {
    /// Grows by one per notice; a reader asks for those after the last it saw.
    pub seq: u64,
    pub key: String,
    pub kind: Kind,
    pub text: String,
}

fn notice(key: String, kind: Kind, text: String) -> Notice {
    Notice {
        seq: 0,
        key,
        kind,
        text,
    }
}

/// The notice an event calls for, if any; `id` is the event's id on `/events`.
pub fn from_event(id: u64, ev: &Event) -> Option<Notice> {
    match ev {
        Event::ConfirmRequested {
            id: q, question, ..
        } => Some(notice(
            format!("question:{q}"),
            Kind::Question,
            question.clone(),
        )),
        Event::RunFinished { outcome, .. } if outcome == "dry_run" || outcome == "cancelled" => {
            None
        }
        Event::RunFinished {
            workflow,
            outcome,
            reason,
            ..
        } => {
            let (kind, text) = if outcome == "done" {
                (Kind::RunDone, format!("{workflow} run done"))
            } else {
                (
                    Kind::RunFailed,
                    format!("{workflow} run ended ({outcome}): {reason}"),
                )
            };
            Some(notice(format!("run:{id}"), kind, text))
        }
        Event::BudgetReached { cap_key, .. } | Event::BudgetStopped { cap_key, .. } => {
            Some(notice(
                format!("cap:{cap_key}"),
                Kind::CapReached,
                format!("spending cap {cap_key} reached; `/budget` shows it"),
            ))
        }
        _ => None,
    }
}

/// The notice a task's state calls for, if any.
pub fn for_task(id: i64, state: TaskState, prompt: &str) -> Option<Notice> {
    let short: String = prompt.chars().take(60).collect();
    let (kind, text) = match state {
        TaskState::Approval => (
            Kind::Approval,
            format!("task {id} waits for approval: {short}"),
        ),
        TaskState::Merged => (Kind::TaskMerged, format!("task {id} merged: {short}")),
        TaskState::Failed => (Kind::TaskFailed, format!("task {id} failed: {short}")),
        _ => return None,
    };
    Some(notice(format!("task:{id}:{}", state.name()), kind, text))
}

/// Notices kept for readers.
const KEEP: usize = 100;

/// The notices told so far, each key once. Cheap to clone.
#[derive(Clone, Default)]
pub struct Notices {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Default)]
struct Inner {
    seen: HashSet<String>,
    recent: VecDeque<Notice>,
    next: u64,
}

impl Notices {
    /// Keep `n` unless its key was told before; true when it is new.
    pub fn admit(&self, mut n: Notice) -> bool {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if !inner.seen.insert(n.key.clone()) {
            return false;
        }
        inner.next += 1;
        n.seq = inner.next;
        if inner.recent.len() == KEEP {
            inner.recent.pop_front();
        }
        inner.recent.push_back(n);
        true
    }

    /// The notices after `seq`, oldest first.
    pub fn after(&self, seq: u64) -> Vec<Notice> {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner
            .recent
            .iter()
            .filter(|n| n.seq > seq)
            .cloned()
            .collect()
    }

    /// Tell what the event stream and the task queue call for, until `stop`. Tasks are looked
    /// at every `every` (a worker in another process moves them without an event here).
    pub fn watch(&self, hub: &Hub, ws: Workspace, every: Duration, stop: CancellationToken) {
        let mut lines = hub.subscribe();
        let me = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    got = lines.recv() => match got {
                        Ok(line) => {
                            if let Ok(ev) = serde_json::from_str::<Event>(&line.data)
                                && let Some(n) = from_event(line.id, &ev)
                            {
                                me.admit(n);
                            }
                        }
                        Err(RecvError::Lagged(_)) => {}
                        Err(RecvError::Closed) => break,
                    },
                    _ = tick.tick() => me.look_at_tasks(&ws),
                }
            }
        });
    }

    fn look_at_tasks(&self, ws: &Workspace) {
        let Ok(list) = tasks::open(ws).and_then(|s| s.list()) else {
            return;
        };
        for t in list {
            if let Some(n) = for_task(t.id, t.state, &t.prompt) {
                self.admit(n);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_key_is_told_once_and_read_after_a_sequence_number() {
        let n = Notices::default();
        let approval = || for_task(3, TaskState::Approval, "add a health endpoint").unwrap();
        assert!(n.admit(approval()));
        assert!(
            !n.admit(approval()),
            "the same task waiting again is not told again"
        );
        assert!(for_task(3, TaskState::Queued, "x").is_none());
        let cap = Event::BudgetReached {
            agent: "engineer".into(),
            cap_key: "budget.session_usd_cap".into(),
            spent_micros: 5,
            cap_micros: 5,
        };
        assert!(n.admit(from_event(10, &cap).unwrap()));
        assert!(
            !n.admit(from_event(20, &cap).unwrap()),
            "one cap, one notice"
        );
        let all = n.after(0);
        assert_eq!(all.len(), 2);
        assert_eq!((all[0].seq, all[0].kind), (1, Kind::Approval));
        assert_eq!(n.after(1).len(), 1);
        assert!(n.after(2).is_empty());
    }

    #[test]
    fn runs_are_told_done_or_failed_but_not_dry_runs() {
        let run = |outcome: &str| Event::RunFinished {
            workflow: "engineering".into(),
            outcome: outcome.into(),
            reason: "why".into(),
            cycles: 1,
        };
        assert_eq!(from_event(1, &run("done")).unwrap().kind, Kind::RunDone);
        let failed = from_event(2, &run("stalled")).unwrap();
        assert_eq!(failed.kind, Kind::RunFailed);
        assert!(failed.text.contains("stalled"), "{}", failed.text);
        assert_ne!(from_event(1, &run("done")).unwrap().key, failed.key);
        assert!(from_event(3, &run("dry_run")).is_none());
        assert!(from_event(4, &Event::StopRequested).is_none());
    }
}
