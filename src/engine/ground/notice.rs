//! Notices: the few things a person should hear about without watching: a task that waits for
//! approval, a question the work asks, a run done or failed, a spending cap reached. Each has a
//! key; a key is told once, however often its event or the task's state is seen again. What
//! is a notice is decided here, once, for every front end (`clk serve`'s chat bots, the web
//! dashboard and the terminal's bell).

use std::collections::HashSet;

use serde::Serialize;

use crate::engine::ground::events::Event;
use crate::engine::ground::task::TaskState;

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

/// What one front end told so far: a fold over its events and the task lists it reads, which
/// hands out each notice once. Task states seen in the first list are only noted: they were so
/// before this front end started, and telling them at every start would repeat them.
#[derive(Debug, Default)]
pub struct Told {
    keys: HashSet<String>,
    events: u64,
    primed: bool,
}

impl Told {
    fn fresh(&mut self, n: Notice) -> Option<Notice> {
        self.keys.insert(n.key.clone()).then_some(n)
    }

    /// The notice `ev` calls for, unless told already.
    pub fn event(&mut self, ev: &Event) -> Option<Notice> {
        self.events += 1;
        let n = from_event(self.events, ev)?;
        self.fresh(n)
    }

    /// The notices a fresh task list calls for (`(id, state, prompt)` each), none the first time.
    pub fn tasks<'a>(
        &mut self,
        rows: impl IntoIterator<Item = (i64, TaskState, &'a str)>,
    ) -> Vec<Notice> {
        let told: Vec<Notice> = rows
            .into_iter()
            .filter_map(|(id, state, prompt)| for_task(id, state, prompt))
            .filter_map(|n| self.fresh(n))
            .collect();
        if !self.primed {
            self.primed = true;
            return Vec::new();
        }
        told
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_front_end_is_told_each_thing_once_and_not_what_waited_before_it_started() {
        let mut t = Told::default();
        let waiting = [(1, TaskState::Approval, "old work")];
        assert!(t.tasks(waiting).is_empty(), "waiting before the start");
        assert!(t.tasks(waiting).is_empty());
        let now = [
            (1, TaskState::Approval, "old work"),
            (2, TaskState::Approval, "new work"),
            (3, TaskState::Queued, "later"),
        ];
        let told = t.tasks(now);
        assert_eq!(told.len(), 1);
        assert_eq!(told[0].key, "task:2:approval");
        assert!(t.tasks(now).is_empty(), "a second read tells nothing new");
        let done = Event::RunFinished {
            workflow: "engineering".into(),
            outcome: "done".into(),
            reason: String::new(),
            cycles: 1,
        };
        assert_eq!(t.event(&done).map(|n| n.kind), Some(Kind::RunDone));
        assert_eq!(
            t.event(&done).map(|n| n.kind),
            Some(Kind::RunDone),
            "a second run is its own notice"
        );
        let cap = Event::BudgetReached {
            agent: "engineer".into(),
            cap_key: "budget.session_usd_cap".into(),
            spent_micros: 5,
            cap_micros: 5,
        };
        assert!(t.event(&cap).is_some());
        assert!(t.event(&cap).is_none(), "one cap, one notice");
        assert!(t.event(&Event::StopRequested).is_none());
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
