//! `/status`: where things stand, told in a few plain lines.
//!
//! Built from the files (idea, roster, persisted usage) and the session's folded state (who is
//! working, files written), so it is right after a restart and during a run alike.

use crate::engine::agents::providers::registry;
use crate::engine::ground::state::{AgentStatus, RunState};
use crate::engine::store::git;
use crate::engine::store::idea::Idea;
use crate::engine::store::records::UsageTotals;
use crate::engine::store::roster::current_agents;
use crate::engine::store::workspace::Project;

fn dollars(micros: u64) -> String {
    format!("${:.4}", micros as f64 / 1_000_000.0)
}

/// The narrative snapshot for `/status`.
pub fn status_lines(project: &Project, state: &RunState) -> Vec<String> {
    let ws = &project.ws;
    let mut out = Vec::new();
    match Idea::load(ws) {
        Some(i) => out.push(format!("Idea: {}", i.title)),
        None => out.push("No idea yet: type what you want to build.".into()),
    }
    out.push(format!("Active provider: {}", project.providers.active));
    let roster = current_agents(project);
    let mut working = Vec::new();
    let mut agents = Vec::new();
    for (name, spec) in &roster.agents {
        let view = state.agents.get(name);
        let status = match view.map(|v| v.status) {
            Some(AgentStatus::Working) => {
                working.push(name.clone());
                "working"
            }
            Some(AgentStatus::Done) => "done",
            Some(AgentStatus::Failed) => "failed",
            Some(AgentStatus::Idle) | None => "idle",
        };
        let kind = if spec.dynamic { ", cast" } else { "" };
        agents.push(format!(
            "  {name} ({status}{kind}) on {}",
            registry::choose(project, name)
        ));
    }
    out.push(format!(
        "Team: {} agent(s){}",
        roster.agents.len(),
        if working.is_empty() {
            ", none working".to_string()
        } else {
            format!(", working now: {}", working.join(", "))
        }
    ));
    out.extend(agents);
    let totals = UsageTotals::load(ws);
    let t = &totals.total;
    out.push(format!(
        "Tokens: {} in, {} out over {} dispatch(es){}; cost {}",
        t.input_tokens,
        t.output_tokens,
        t.dispatches,
        if t.estimated > 0 {
            format!(" ({} estimated)", t.estimated)
        } else {
            String::new()
        },
        dollars(t.cost_micros)
    ));
    for (provider, tally) in &totals.providers {
        out.push(format!(
            "  {provider}: {} tokens, {}",
            tally.input_tokens.saturating_add(tally.output_tokens),
            dollars(tally.cost_micros)
        ));
    }
    let lists = crate::engine::store::todos::load(ws);
    for (agent, items) in &lists {
        out.push(format!(
            "Todos of {agent}: {}",
            crate::engine::store::todos::tally(items)
        ));
        for t in items {
            let mark = match t.state {
                crate::engine::ground::protocol::TodoState::Todo => "[ ]",
                crate::engine::ground::protocol::TodoState::Doing => "[~]",
                crate::engine::ground::protocol::TodoState::Done => "[x]",
            };
            let req = if t.required { " [required]" } else { "" };
            out.push(format!("  {mark}{req} {}", t.text));
        }
    }
    if let Some(step) = &state.mission {
        out.push(format!("Mission: {step}"));
    }
    let files: Vec<&String> = state.files_written.iter().collect();
    if files.is_empty() {
        out.push("Files written this session: none".into());
    } else {
        let shown: Vec<&str> = files.iter().take(8).map(|s| s.as_str()).collect();
        out.push(format!(
            "Files written this session: {}{}",
            shown.join(", "),
            if files.len() > shown.len() {
                format!(" and {} more", files.len() - shown.len())
            } else {
                String::new()
            }
        ));
    }
    if let Some(repo) = git::open(&ws.root) {
        if let Some((sha, subject)) = git::head_summary(&repo) {
            out.push(format!("Last commit: {sha} {subject}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::ground::config::Env;
    use crate::engine::ground::protocol::{TodoItem, TodoState};
    use crate::engine::store::workspace::Workspace;

    #[test]
    fn status_lists_each_agents_todos() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        crate::engine::store::init::init(&root, Some("demo")).unwrap();
        let project = Workspace::new(&root).load(&Env::none()).unwrap();
        let items = [
            TodoItem {
                text: "tests for empty input".into(),
                state: TodoState::Todo,
                required: true,
            },
            TodoItem {
                text: "entry point".into(),
                state: TodoState::Done,
                required: false,
            },
        ];
        crate::engine::store::todos::set(&project.ws, "engineer", &items).unwrap();
        let lines = status_lines(&project, &RunState::default());
        let at = lines
            .iter()
            .position(|l| l == "Todos of engineer: 1/2 done, 1 required open")
            .unwrap_or_else(|| panic!("{lines:#?}"));
        assert_eq!(lines[at + 1], "  [ ] [required] tests for empty input");
        assert_eq!(lines[at + 2], "  [x] entry point");
    }
}
