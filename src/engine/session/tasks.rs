//! What the dashboard's Tasks view reads: the task queue as rows, and one task's timeline.
//! Read-only queries of the task store; steering a task (approve, pause, resume, cancel) goes
//! to the engine as `Command::Task`, the same path as `clk task ...`.
//!
//! The store is the one the project's settings name (`store.url`, `CLK_STORE_URL`): the
//! workspace's SQLite file, or a PostgreSQL database that workers on other machines share, so
//! the dashboard shows their tasks too. A project with no SQLite store yet has no tasks:
//! nothing is created by looking.

use std::sync::{Arc, Mutex};

use crate::engine::ground::config::Env;
use crate::engine::ground::task::TaskState;
use crate::engine::store::tasks::{self, TaskStore, TimelineEntry, TurnRecord};
use crate::engine::store::workspace::Workspace;

/// One task as the table shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRow {
    pub id: i64,
    pub state: TaskState,
    /// The prompt's first line.
    pub title: String,
    pub agent: String,
    pub turns: u32,
    pub cost_micros: u64,
    /// Why it waits, failed or stopped; empty when nothing needs saying.
    pub reason: String,
    /// Files it will or did change.
    pub files: usize,
}

/// One task in full, for its timeline view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskDetail {
    pub task: tasks::Task,
    pub timeline: Vec<TimelineEntry>,
    pub turns: Vec<TurnRecord>,
}

/// The project's task store, or None when it is SQLite and not made yet. A shared database's
/// connection is kept for the next look (the view reads every second or so).
pub fn store(ws: &Workspace) -> Result<Option<Arc<dyn TaskStore>>, String> {
    static SHARED: Mutex<Option<(String, Arc<dyn TaskStore>)>> = Mutex::new(None);
    let store = ws
        .load(&Env::process())
        .map(|p| p.config.store)
        .unwrap_or_default();
    let url = store.url.trim().to_string();
    if url.is_empty() {
        if !ws.state_dir().join("clk.db").is_file() {
            return Ok(None);
        }
        return tasks::open(ws)
            .map(|s| Some(Arc::new(s) as Arc<dyn TaskStore>))
            .map_err(|e| e.to_string());
    }
    let mut kept = SHARED.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((u, s)) = kept.as_ref()
        && *u == url
    {
        return Ok(Some(s.clone()));
    }
    let s = tasks::connect(ws, &url, store.lease_s).map_err(|e| e.to_string())?;
    *kept = Some((url, s.clone()));
    Ok(Some(s))
}

/// Every task, oldest first.
pub fn board(ws: &Workspace) -> Result<Vec<TaskRow>, String> {
    let Some(store) = store(ws)? else {
        return Ok(Vec::new());
    };
    let all = store.list().map_err(|e| e.to_string())?;
    Ok(all
        .into_iter()
        .map(|t| TaskRow {
            id: t.id,
            state: t.state,
            title: t
                .prompt
                .lines()
                .next()
                .unwrap_or_default()
                .trim()
                .to_string(),
            agent: t.agent.clone(),
            turns: t.turns,
            cost_micros: t.cost_micros,
            reason: t.reason.clone(),
            files: t.files().len(),
        })
        .collect())
}

/// Task `id` with its timeline and turns.
pub fn detail(ws: &Workspace, id: i64) -> Result<TaskDetail, String> {
    let missing = || format!("there is no task {id}");
    let store = store(ws)?.ok_or_else(missing)?;
    let err = |e: tasks::StoreError| e.to_string();
    let task = store.get(id).map_err(err)?.ok_or_else(missing)?;
    Ok(TaskDetail {
        timeline: store.timeline(id).map_err(err)?,
        turns: store.turns(id).map_err(err)?,
        task,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::store::tasks::NewTask;

    #[test]
    fn a_project_without_a_store_has_no_tasks_and_gets_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::new(dir.path());
        assert_eq!(board(&ws), Ok(Vec::new()));
        assert!(detail(&ws, 1).unwrap_err().contains("no task 1"));
        assert!(!ws.state_dir().join("clk.db").exists());
    }

    #[test]
    fn rows_and_detail_come_from_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::new(dir.path());
        std::fs::create_dir_all(ws.state_dir()).unwrap();
        let store = tasks::open(&ws).unwrap();
        let t = store
            .add(&NewTask {
                prompt: "add a health endpoint\nwith a test".into(),
                flow: "duo".into(),
                agent: "engineer".into(),
                autonomy: "safe".into(),
                requested_by: "cli".into(),
            })
            .unwrap();
        store.set_reason(t.id, "waits for files").unwrap();
        store.log(t.id, "note", "hello").unwrap();
        let rows = board(&ws).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].title, "add a health endpoint");
        assert_eq!(rows[0].state, TaskState::Queued);
        assert_eq!(rows[0].reason, "waits for files");
        let d = detail(&ws, t.id).unwrap();
        assert!(d.timeline.iter().any(|e| e.text == "hello"));
        assert!(detail(&ws, 9).unwrap_err().contains("no task 9"));
    }
}
