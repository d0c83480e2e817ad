//! What the chief is told about casting: `$casting_feedback` and `$current_roster`.
//!
//! The reference wrote rejections to one file and looked for them in another, so the chief
//! never learned why its proposals were refused and kept sending them. Here the writer and
//! the reader share one file, `.clk/state/casting.log`, and one event name per kind
//! (`role_rejected`, `workflow_rejected`). Output is one line per item whatever the log
//! holds: names and reasons are folded onto one line.

use serde_json::{Value, json};

use super::{log_path, one_line, timestamp};
use crate::engine::ground::config::AgentsFile;
use crate::engine::ground::config::agents::BASELINE;
use crate::engine::store::workspace::{Workspace, append_jsonl};

/// The first line of a non-empty `$casting_feedback`.
pub const FEEDBACK_HEADER: &str = "Rejected casting proposals (do not repeat them):";
/// How many characters of a prompt `$current_roster` shows.
pub const PREVIEW_CHARS: usize = 160;

/// Record a rejected PROPOSE_WORKFLOW so the chief sees it in `$casting_feedback`.
pub fn log_workflow_rejected(
    ws: &Workspace,
    source_agent: &str,
    name: &str,
    reason: &str,
) -> std::io::Result<()> {
    let record = json!({
        "ts": timestamp(),
        "event": "workflow_rejected",
        "agent": source_agent,
        "name": name,
        "reason": reason,
    });
    append_jsonl(&log_path(ws), &record)
}

fn text<'a>(record: &'a Value, key: &str) -> Option<&'a str> {
    record.get(key).and_then(Value::as_str)
}

/// The last `max` rejected role and workflow proposals, oldest first, under a header line;
/// `(none)` when there are none.
pub fn casting_feedback(ws: &Workspace, max: usize) -> String {
    if max == 0 {
        return "(none)".to_string();
    }
    let line = |r: &Value| {
        let kind = match text(r, "event")? {
            "role_rejected" => "role",
            "workflow_rejected" => "workflow",
            _ => return None,
        };
        let reason = text(r, "reason")
            .or_else(|| text(r, "code"))
            .unwrap_or("no reason recorded");
        Some(format!(
            "- {} {kind} `{}` rejected: {}",
            text(r, "ts").unwrap_or("?"),
            one_line(text(r, "name").unwrap_or("?")),
            one_line(reason)
        ))
    };
    // From the end of the log: only the last `max` are shown.
    let mut recent = Vec::new();
    crate::engine::store::tail::newest_first(&log_path(ws), |r| {
        if let Some(l) = line(&r) {
            recent.push(l);
        }
        recent.len() < max
    });
    if recent.is_empty() {
        return "(none)".to_string();
    }
    recent.reverse();
    format!("{FEEDBACK_HEADER}\n{}", recent.join("\n"))
}

/// The first `PREVIEW_CHARS` characters of a prompt with whitespace collapsed.
fn preview(prompt: &str) -> String {
    // The words joined by single spaces, read only as far as the preview reaches.
    let mut flat = prompt
        .split_whitespace()
        .flat_map(|w| std::iter::once(' ').chain(w.chars()))
        .skip(1);
    let mut cut: String = flat.by_ref().take(PREVIEW_CHARS).collect();
    if flat.next().is_some() {
        cut.push('…');
    }
    cut
}

/// `$current_roster`: one line per agent, baseline agents first (even when agents.json was
/// written before one of them existed), then the rest by name.
pub fn roster_summary(roster: &AgentsFile, prompts: &dyn Fn(&str) -> Option<String>) -> String {
    let baseline = BASELINE.iter().map(|(name, role)| {
        let role = roster
            .agents
            .get(*name)
            .map(|s| s.role.as_str())
            .filter(|r| !r.trim().is_empty())
            .unwrap_or(role);
        (name.to_string(), "baseline", role.to_string())
    });
    let others = roster
        .agents
        .iter()
        .filter(|(name, _)| !AgentsFile::is_baseline(name))
        .map(|(name, spec)| (name.clone(), "dynamic", spec.role.clone()));
    baseline
        .chain(others)
        .map(|(name, kind, role)| {
            let role = match one_line(&role) {
                r if r.is_empty() => "(no role given)".to_string(),
                r => r,
            };
            let shown = prompts(&name)
                .map(|p| preview(&p))
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| "none".to_string());
            format!("- [{kind}] {name} :: {role} (prompt preview: {shown})")
        })
        .collect::<Vec<_>>()
        .join("\n")
}
