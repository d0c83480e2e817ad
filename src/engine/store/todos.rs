//! Each agent's `TODOS:` list, kept in `.clk/state/todos.json` as `{agent: [items]}`.
//!
//! A reply with a complete TODOS block replaces its author's list (an empty block clears it);
//! replies without one leave it alone. The file is rewritten atomically under a process-wide
//! lock, so parallel stages cannot lose each other's lists. A missing or unreadable file reads
//! as no lists: the gate then sees nothing open, and the next list written replaces it whole.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

use crate::engine::ground::protocol::TodoItem;
use crate::engine::store::workspace::{Workspace, write_atomic};

/// Every agent's current list, by agent name.
pub type Lists = BTreeMap<String, Vec<TodoItem>>;

/// Serializes read-modify-write of the file within this process.
static WRITE: Mutex<()> = Mutex::new(());

pub fn path(ws: &Workspace) -> PathBuf {
    ws.state_dir().join("todos.json")
}

/// The stored lists; empty when there are none or the file cannot be read.
pub fn load(ws: &Workspace) -> Lists {
    std::fs::read(path(ws))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

/// Replace `agent`'s list with `items` (an empty list removes the agent's entry).
pub fn set(ws: &Workspace, agent: &str, items: &[TodoItem]) -> std::io::Result<()> {
    let _guard = WRITE.lock().unwrap_or_else(|e| e.into_inner());
    let mut lists = load(ws);
    if items.is_empty() {
        lists.remove(agent);
    } else {
        lists.insert(agent.to_string(), items.to_vec());
    }
    let json = serde_json::to_vec_pretty(&lists).map_err(std::io::Error::other)?;
    std::fs::create_dir_all(ws.state_dir())?;
    write_atomic(&path(ws), &json)
}

/// Required items not yet done, as `agent: text`, in agent order.
pub fn open_required(lists: &Lists) -> Vec<String> {
    lists
        .iter()
        .flat_map(|(agent, items)| {
            items
                .iter()
                .filter(|t| t.blocks_done())
                .map(move |t| format!("{agent}: {}", t.text))
        })
        .collect()
}

/// `done/total` with the open required count, e.g. `1/3 done, 1 required open`.
pub fn tally(items: &[TodoItem]) -> String {
    use crate::engine::ground::protocol::TodoState;
    let done = items.iter().filter(|t| t.state == TodoState::Done).count();
    let required = items.iter().filter(|t| t.blocks_done()).count();
    let mut out = format!("{done}/{} done", items.len());
    if required > 0 {
        out.push_str(&format!(", {required} required open"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::ground::protocol::TodoState;

    fn item(text: &str, state: TodoState, required: bool) -> TodoItem {
        TodoItem {
            text: text.into(),
            state,
            required,
        }
    }

    #[test]
    fn set_replaces_and_empty_clears() {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::new(dir.path());
        assert!(load(&ws).is_empty());
        let a = [
            item("tests", TodoState::Todo, true),
            item("docs", TodoState::Done, false),
        ];
        set(&ws, "engineer", &a).unwrap();
        set(&ws, "qa", &[item("audit", TodoState::Doing, false)]).unwrap();
        assert_eq!(open_required(&load(&ws)), vec!["engineer: tests"]);
        assert_eq!(tally(&a), "1/2 done, 1 required open");
        set(&ws, "engineer", &[item("tests", TodoState::Done, true)]).unwrap();
        assert!(open_required(&load(&ws)).is_empty());
        set(&ws, "engineer", &[]).unwrap();
        assert_eq!(load(&ws).keys().collect::<Vec<_>>(), vec!["qa"]);
    }

    #[test]
    fn a_corrupt_file_reads_as_empty_and_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::new(dir.path());
        std::fs::create_dir_all(ws.state_dir()).unwrap();
        std::fs::write(path(&ws), "{not json").unwrap();
        assert!(load(&ws).is_empty());
        set(&ws, "qa", &[item("x", TodoState::Todo, false)]).unwrap();
        assert_eq!(load(&ws).len(), 1);
    }
}
