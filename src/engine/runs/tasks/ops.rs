//! The task requests (`clk task ...`, `/task ...`): add one to the queue, list, show, read a
//! timeline, approve or reject (at a checkpoint or before the merge), pause, resume, cancel,
//! ask for another review; the context rules and templates (`clk context`, `clk template`) go
//! through here too. Each is checked against the task's state first; a refusal is one
//! line saying why and what to do. A worker (`clk work`) in another process
//! sees the change on its next look at the store.

use serde_json::{Value, json};

use super::checkpoint::{APPROVED, REJECTED};
use super::duo::{REVIEW_REQUESTED, pair};
use super::overlap::predict_files;
use super::rules::{self, RuleCommand};
use super::templates;
use crate::engine::ground::pricing::format_usd;
use crate::engine::ground::task::{TaskCommand, TaskState, autonomy_name, parse_autonomy};
use crate::engine::store::tasks::{self, Move, NewTask, Task, TaskStore, Template};
use crate::engine::store::workspace::Project;

/// The flows a task can follow; the first is the default. duo: implementer turns with
/// handoffs, then a review by the other provider; solo: implementer turns until one succeeds.
pub const FLOWS: &[&str] = &["duo", "solo"];

/// What a request came to: lines for a person, JSON for scripts, a one-line summary.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub lines: Vec<String>,
    pub json: Value,
    pub summary: String,
}

/// Run one task request against the workspace's store.
pub fn apply(project: &Project, cmd: TaskCommand) -> Result<Reply, String> {
    apply_from(project, cmd, "dashboard")
}

/// Run one task request that came through `channel` (cli, dashboard, ...).
pub fn apply_from(project: &Project, cmd: TaskCommand, channel: &str) -> Result<Reply, String> {
    let store = tasks::open_project(project).map_err(|e| e.to_string())?;
    apply_with(project, store.as_ref(), cmd, &who(channel))
}

/// Who asks: the login name and the way in, e.g. `ann (cli)`.
fn who(channel: &str) -> String {
    let user = ["USER", "LOGNAME", "USERNAME"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.trim().is_empty()))
        .unwrap_or_else(|| "the user".into());
    format!("{user} ({channel})")
}

/// Approve task `id`: past the checkpoint it waits at (it is queued to go on from there), or
/// to its merge. The timeline says who approved what and when.
fn approve(
    store: &dyn TaskStore,
    id: i64,
    note: Option<String>,
    by: &str,
) -> Result<Reply, String> {
    let err = |e: tasks::StoreError| e.to_string();
    let t = find(store, id)?;
    let note = note.unwrap_or_default();
    let checkpoint = if t.state == TaskState::AwaitingApproval {
        store.progress(id).map_err(err)?.checkpoint
    } else {
        String::new()
    };
    let reason = if t.state == TaskState::AwaitingApproval {
        let mut r = format!("{APPROVED}{checkpoint} by {by}");
        if !note.trim().is_empty() {
            r.push_str(&format!(": {note}"));
        }
        r
    } else {
        note.clone()
    };
    let mut r = steer(store, id, "approve", &reason)?;
    store.approve_at(id, &checkpoint, by, &note).map_err(err)?;
    if t.state == TaskState::AwaitingApproval {
        store.set_checkpoint(id, "").map_err(err)?;
        let line =
            format!("task {id} approved at checkpoint {checkpoint}; `clk work` goes on with it");
        r.lines = vec![line.clone()];
        r.summary = line;
    }
    Ok(r)
}

fn find(store: &dyn TaskStore, id: i64) -> Result<Task, String> {
    store
        .get(id)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("there is no task {id}; `clk task list` shows them"))
}

/// Whether `agent` names a roster agent or a configured provider.
fn check_agent(project: &Project, agent: &str) -> Result<(), String> {
    if project.agents.agents.contains_key(agent) || project.providers.providers.contains_key(agent)
    {
        return Ok(());
    }
    let mut known: Vec<&str> = project.agents.agents.keys().map(String::as_str).collect();
    known.extend(project.providers.providers.keys().map(String::as_str));
    Err(format!(
        "no agent or provider called {agent:?}; use one of: {}",
        known.join(", ")
    ))
}

/// A task's flow, agent and autonomy: the given ones checked, the defaults for the rest.
pub fn settle(
    project: &Project,
    flow: Option<String>,
    agent: Option<String>,
    autonomy: Option<String>,
) -> Result<(String, String, String), String> {
    let flow = flow.unwrap_or_else(|| FLOWS[0].to_string());
    if !FLOWS.contains(&flow.as_str()) {
        return Err(format!(
            "no flow called {flow:?}; use one of: {}",
            FLOWS.join(", ")
        ));
    }
    let agent = agent.unwrap_or_else(|| "engineer".to_string());
    check_agent(project, &agent)?;
    let autonomy = match autonomy {
        None => project.config.autonomy,
        Some(a) => parse_autonomy(&a)
            .ok_or_else(|| format!("autonomy {a:?} is not one of safe, balanced, aggressive"))?,
    };
    Ok((flow, agent, autonomy_name(autonomy).to_string()))
}

/// Run one task request against `store`; `by` is who asks (for the timeline's approvals).
pub fn apply_with(
    project: &Project,
    store: &dyn TaskStore,
    cmd: TaskCommand,
    by: &str,
) -> Result<Reply, String> {
    let err = |e: tasks::StoreError| e.to_string();
    match cmd {
        TaskCommand::Add {
            prompt,
            flow,
            agent,
            autonomy,
            template,
            requested_by,
        } => {
            let mut prompt = prompt.trim().to_string();
            let (mut flow, mut agent, mut autonomy) = (flow, agent, autonomy);
            if let Some(name) = template {
                let t = store.template(&name).map_err(err)?.ok_or_else(|| {
                    format!("there is no template {name:?}; `clk template list` shows them")
                })?;
                prompt = if prompt.is_empty() {
                    t.prompt
                } else {
                    format!("{}\n\n{prompt}", t.prompt)
                };
                let or = |given: Option<String>, saved: String| {
                    given.or_else(|| (!saved.is_empty()).then_some(saved))
                };
                flow = or(flow, t.flow);
                agent = or(agent, t.agent);
                autonomy = or(autonomy, t.autonomy);
            }
            if prompt.is_empty() {
                return Err("say what the task is: clk task add \"what to do\"".into());
            }
            let (flow, agent, autonomy) = settle(project, flow, agent, autonomy)?;
            let task = store
                .add(&NewTask {
                    prompt: prompt.clone(),
                    flow,
                    agent,
                    autonomy,
                    requested_by: requested_by.unwrap_or_else(|| "cli".into()),
                })
                .map_err(err)?;
            let files = predict_files(&prompt);
            if !files.is_empty() {
                store.set_predicted(task.id, &files).map_err(err)?;
            }
            let task = find(store, task.id)?;
            let line = format!(
                "task {} queued ({}, {}, autonomy {}); `clk work` runs it",
                task.id, task.agent, task.flow, task.autonomy
            );
            Ok(Reply {
                lines: vec![line.clone()],
                json: json!(task),
                summary: line,
            })
        }
        TaskCommand::List => {
            let all = store.list().map_err(err)?;
            let mut lines = vec![format!(
                "{:>4}  {:<17} {:<10} {:>5} {:>8}  {}",
                "id", "state", "agent", "turns", "cost", "task"
            )];
            for t in &all {
                let what = if t.reason.is_empty() {
                    short(&t.prompt, 60)
                } else {
                    format!("{} — {}", short(&t.prompt, 40), t.reason)
                };
                lines.push(format!(
                    "{:>4}  {:<17} {:<10} {:>5} {:>8}  {what}",
                    t.id,
                    t.state.name(),
                    short(&t.agent, 10),
                    t.turns,
                    format_usd(t.cost_micros)
                ));
            }
            if all.is_empty() {
                lines = vec!["no tasks yet; add one with `clk task add \"what to do\"`".into()];
            }
            Ok(Reply {
                summary: format!("{} task(s)", all.len()),
                lines,
                json: json!(all),
            })
        }
        TaskCommand::Show { id } => {
            let t = find(store, id)?;
            let mut lines = vec![
                format!("task {}  {}", t.id, t.state.name()),
                format!("  prompt     {}", t.prompt),
                format!(
                    "  agent      {} (flow {}, autonomy {})",
                    t.agent, t.flow, t.autonomy
                ),
            ];
            let mut field = |k: &str, v: &str| {
                if !v.is_empty() {
                    lines.push(format!("  {k:<10} {v}"));
                }
            };
            field("why", &t.reason);
            field("branch", &t.branch);
            field("worktree", &t.worktree);
            field("files", &t.files().join(", "));
            field("asked by", &t.requested_by);
            field("added", &t.created_at);
            field("started", &t.started_at);
            field("finished", &t.finished_at);
            lines.push(format!(
                "  turns      {} ({})",
                t.turns,
                format_usd(t.cost_micros)
            ));
            let used = store.progress(id).map_err(err)?.runtime_ms as f64 / 1000.0;
            let limit = project.config.tasks.max_runtime_s;
            lines.push(if limit > 0 {
                format!("  runtime    {used:.1} s of {limit} s (tasks.max_runtime_s)")
            } else {
                format!("  runtime    {used:.1} s")
            });
            Ok(Reply {
                summary: format!("task {} is {}", t.id, t.state.name()),
                lines,
                json: json!(t),
            })
        }
        TaskCommand::Timeline { id } => {
            let t = find(store, id)?;
            let entries = store.timeline(id).map_err(err)?;
            let turns = store.turns(id).map_err(err)?;
            let mut lines = vec![format!("task {}: {}", t.id, short(&t.prompt, 70))];
            lines.extend(
                entries
                    .iter()
                    .map(|e| format!("  {}  {:<8} {}", e.at, e.kind, e.text)),
            );
            Ok(Reply {
                summary: format!("{} event(s)", entries.len()),
                lines,
                json: json!({ "task": t, "timeline": entries, "turns": turns }),
            })
        }
        TaskCommand::Approve { id, note } => approve(store, id, note, by),
        TaskCommand::Reject { id, note } => {
            let mut reason = format!("{REJECTED}{by}");
            if let Some(n) = note.filter(|n| !n.trim().is_empty()) {
                reason.push_str(&format!(": {n}"));
            }
            let r = steer(store, id, "reject", &reason)?;
            store.set_checkpoint(id, "").map_err(err)?;
            Ok(r)
        }
        TaskCommand::Pause { id } => steer(store, id, "pause", "paused by the user"),
        TaskCommand::Resume { id, note } => {
            let note = note.map_or_else(
                || "resumed by the user".to_string(),
                |n| format!("resumed by the user: {n}"),
            );
            steer(store, id, "resume", &note)
        }
        TaskCommand::Cancel { id } => {
            let was = find(store, id)?.state;
            let mut r = steer(store, id, "cancel", "cancelled by the user")?;
            // A running task's worker stops it and removes its worktree; any other goes now.
            if was != TaskState::Running {
                let t = find(store, id)?;
                r.lines.extend(super::sweep::cancelled(project, store, &t));
            }
            Ok(r)
        }
        TaskCommand::Review { id, note } => review(project, store, id, note),
        TaskCommand::ContextAdd { text } => rules::apply(store, RuleCommand::Add(text)),
        TaskCommand::ContextList => rules::apply(store, RuleCommand::List),
        TaskCommand::ContextRemove { id } => rules::apply(store, RuleCommand::Remove(id)),
        TaskCommand::TemplateSave {
            name,
            prompt,
            flow,
            agent,
            autonomy,
        } => {
            let t = Template {
                name,
                prompt,
                flow: flow.unwrap_or_default(),
                agent: agent.unwrap_or_default(),
                autonomy: autonomy.unwrap_or_default(),
            };
            templates::save(project, store, t)
        }
        TaskCommand::TemplateList => templates::list(store),
        TaskCommand::TemplateRun { name, requested_by } => {
            let add = TaskCommand::Add {
                prompt: String::new(),
                flow: None,
                agent: None,
                autonomy: None,
                template: Some(name),
                requested_by,
            };
            apply_with(project, store, add, by)
        }
    }
}

/// Queue task `id` for another review pass by its paired reviewer, on its branch as it is.
fn review(
    project: &Project,
    store: &dyn TaskStore,
    id: i64,
    note: Option<String>,
) -> Result<Reply, String> {
    let t = find(store, id)?;
    crate::engine::ground::task::transition(id, t.state, "review")?;
    if t.branch.is_empty() {
        return Err(format!(
            "task {id} has no branch to review; `clk task resume {id}` runs it again"
        ));
    }
    let (implementer, reviewer) = pair(project, &t);
    let Some(reviewer) = reviewer else {
        return Err(format!(
            "no reviewer provider is paired with {implementer}; pair one in tasks.review_pairs \
             (.clk/config/clk.config.json)"
        ));
    };
    let reason = match note {
        Some(n) => format!("{REVIEW_REQUESTED}: {n}"),
        None => REVIEW_REQUESTED.to_string(),
    };
    let mut r = steer(store, id, "review", &reason)?;
    let line = format!("task {id} queued for another review by {reviewer}; `clk work` runs it");
    r.lines = vec![line.clone()];
    r.summary = line;
    Ok(r)
}

/// Move task `id` as `action` asks, if its state allows it.
fn steer(store: &dyn TaskStore, id: i64, action: &str, reason: &str) -> Result<Reply, String> {
    let t = find(store, id)?;
    let to = crate::engine::ground::task::transition(id, t.state, action)?;
    let moved = store
        .move_state(
            &Move {
                id,
                from: &[t.state],
                to,
                reason,
            },
            0,
        )
        .map_err(|e| e.to_string())?;
    if !moved {
        return Err(format!(
            "task {id} changed state while you asked; look again with `clk task show {id}`"
        ));
    }
    let line = match (t.state, to) {
        (TaskState::Running, TaskState::Paused | TaskState::Cancelled) => format!(
            "task {id} is {}; its worker stops it within a few seconds",
            to.name()
        ),
        (_, TaskState::Approved) => {
            format!("task {id} approved; `clk work` merges it on its next round")
        }
        _ => format!("task {id} is {} now", to.name()),
    };
    Ok(Reply {
        lines: vec![line.clone()],
        json: json!({ "id": id, "state": to.name() }),
        summary: line,
    })
}

fn short(s: &str, n: usize) -> String {
    let first = s.lines().next().unwrap_or_default();
    if first.chars().count() <= n && first.len() == s.len() {
        first.to_string()
    } else {
        let cut: String = first.chars().take(n.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}
