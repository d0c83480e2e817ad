//! Notices: the few things a person should hear about without watching: a task that waits for
//! approval, a question the work asks, a run done or failed, a spending cap reached. Each has a
//! key, and a key is told once, however often the event or the task's state is seen again.
//! Chat adapters and the web dashboard read the same list (`GET /api/notices`). Which events and
//! task states are notices is decided in `ground/notice.rs`, which the terminal dashboard uses too.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use super::events::Hub;
use crate::engine::ground::events::Event;
pub use crate::engine::ground::notice::{Kind, Notice, for_task, from_event};
use crate::engine::store::workspace::Workspace;

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
    /// A task list was read once.
    primed: bool,
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
        // The store the project's settings name: workers on other machines included.
        let Ok(Some(store)) = crate::engine::session::tasks::store(ws) else {
            return;
        };
        let Ok(list) = store.list() else {
            return;
        };
        let found = list
            .iter()
            .filter_map(|t| for_task(t.id, t.state, &t.prompt));
        self.tasks_seen(found);
    }

    /// Admit the notices of a task list, except from the first list read: those tasks were so
    /// before this server started, and a restart would tell them all again.
    pub fn tasks_seen(&self, found: impl Iterator<Item = Notice>) {
        let first = {
            let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
            !std::mem::replace(&mut inner.primed, true)
        };
        for n in found {
            if first {
                let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
                inner.seen.insert(n.key);
            } else {
                self.admit(n);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::ground::task::TaskState;

    #[test]
    fn tasks_waiting_before_the_start_are_not_told_again() {
        let n = Notices::default();
        let list = |ids: &[i64]| {
            ids.iter()
                .map(|&id| for_task(id, TaskState::Approval, "x").unwrap())
                .collect::<Vec<_>>()
                .into_iter()
        };
        n.tasks_seen(list(&[1]));
        assert!(n.after(0).is_empty(), "waited before the start");
        n.tasks_seen(list(&[1, 2]));
        let told = n.after(0);
        assert_eq!(told.len(), 1);
        assert_eq!(told[0].key, "task:2:approval");
    }

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
}
