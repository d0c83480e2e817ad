//! The words for the events of planned work: TODOS lists, delegations and mission steps.

use super::text::short;
use crate::engine::ground::events::Event;

pub(super) fn describe(ev: &Event) -> Option<String> {
    Some(match ev {
        Event::TodosUpdated { agent, items } if items.is_empty() => {
            format!("{agent} cleared its todo list")
        }
        Event::TodosUpdated { agent, items } => {
            let done = items
                .iter()
                .filter(|t| t.state == crate::engine::ground::protocol::TodoState::Done)
                .count();
            let required = items.iter().filter(|t| t.blocks_done()).count();
            format!(
                "{agent} todos: {done}/{} done{}",
                items.len(),
                if required > 0 {
                    format!(", {required} required open")
                } else {
                    String::new()
                }
            )
        }
        Event::Delegated {
            by,
            to,
            depth,
            dispatched: true,
            ok,
            note,
        } => format!(
            "{by} delegated to {to} (depth {depth}): {}{}",
            if *ok { "done" } else { "failed" },
            if note.is_empty() {
                String::new()
            } else {
                format!(": {}", short(note, 100))
            }
        ),
        Event::Delegated { by, to, note, .. } => {
            format!("{by}'s delegation to {to} not carried out: {note}")
        }
        Event::MissionStep {
            step,
            phase,
            attempt,
            note,
        } => {
            let at = match phase {
                Some(p) if *attempt > 0 => format!(" {p} (attempt {attempt})"),
                Some(p) => format!(" {p}"),
                None => String::new(),
            };
            let words = step.replace('_', " ");
            if note.is_empty() {
                format!("mission{at}: {words}")
            } else {
                format!("mission{at}: {words}: {}", short(note, 160))
            }
        }
        _ => return None,
    })
}
