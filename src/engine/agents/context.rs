//! What an agent is told: the idea, the state summary, the roster, the blackboard digest.
//!
//! `vars` builds the template variables a prompt uses, and only those; names with nothing to
//! say are set to an empty string or a short "(none)" so no `$name` leaks into a prompt.

use std::collections::BTreeMap;
use std::fs;

use crate::engine::store::blackboard;
use crate::engine::store::casting;
use crate::engine::store::idea::Idea;
use crate::engine::store::workspace::{Project, Workspace};

fn first_lines(text: &str, n: usize) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .take(n)
        .collect::<Vec<_>>()
        .join(" | ")
}

fn tail_chars(text: &str, n: usize) -> String {
    let count = text.chars().count();
    text.chars().skip(count.saturating_sub(n)).collect()
}

/// A few lines on where the project stands.
pub fn state_summary(ws: &Workspace, idea: Option<&Idea>) -> String {
    let mut lines = Vec::new();
    if let Some(i) = idea {
        lines.push(format!("idea: {}", i.title));
        lines.push(format!("statement: {}", i.statement));
    }
    for (label, file) in [
        ("prd", "PRD.json"),
        ("progress", "PROGRESS.md"),
        ("decisions", "DECISIONS.md"),
    ] {
        if let Ok(t) = fs::read_to_string(ws.work.join(file)) {
            lines.push(format!("{label}: {}", first_lines(&t, 5)));
        }
    }
    let asks = crate::engine::store::conversation::recent_requests(ws, 3);
    if !asks.is_empty() {
        lines.push(format!(
            "latest requests from the user: {}",
            asks.join(" | ")
        ));
    }
    if lines.is_empty() {
        "(no state yet)".into()
    } else {
        lines.join("\n")
    }
}

/// The template variables for one dispatch that `wanted` names (the ones its prompt uses:
/// the rest would cost file reads for nothing); `extra` wins.
pub fn vars(
    project: &Project,
    agent: &str,
    objective: &str,
    extra: &BTreeMap<String, String>,
    wanted: &dyn Fn(&str) -> bool,
) -> BTreeMap<String, String> {
    let ws = &project.ws;
    let any = |names: &[&str]| names.iter().any(|n| wanted(n));
    let idea = any(&["state_summary", "idea_title", "idea_statement"])
        .then(|| Idea::load(ws))
        .flatten();
    let bb = &project.config.blackboard;
    let mut v = BTreeMap::new();
    let mut set = |k: &str, val: &dyn Fn() -> String| {
        if wanted(k) {
            v.insert(k.to_string(), val());
        }
    };
    set("agent", &|| agent.to_string());
    set("objective", &|| objective.to_string());
    set("project_name", &|| {
        project.config.project_name.clone().unwrap_or_else(|| {
            ws.root
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
    });
    set("project_root", &|| ws.work.display().to_string());
    set("workspace_root", &|| ws.work.display().to_string());
    set("state_summary", &|| state_summary(ws, idea.as_ref()));
    set("idea_title", &|| {
        idea.as_ref().map(|i| i.title.clone()).unwrap_or_default()
    });
    set("idea_statement", &|| {
        idea.as_ref()
            .map(|i| i.statement.clone())
            .unwrap_or_default()
    });
    set("blackboard_digest", &|| {
        blackboard::digest(
            &blackboard::latest(ws, bb.digest_max_posts as usize),
            bb.digest_max_posts as usize,
            bb.digest_max_chars_per_post as usize,
        )
    });
    set("notes", &|| {
        fs::read_to_string(ws.work.join("PROGRESS.md"))
            .map(|t| tail_chars(&t, 3000))
            .unwrap_or_default()
    });
    set("current_roster", &|| {
        casting::roster_summary(&project.agents, &|a| {
            casting::current_prompt(ws, &project.agents, a)
        })
    });
    set("casting_feedback", &|| {
        casting::casting_feedback(ws, casting::FEEDBACK_MAX)
    });
    set("stop_when", &|| {
        fs::read_to_string(ws.state_dir().join("stop_when.txt")).unwrap_or_default()
    });
    for k in [
        "stage_id",
        "workflow",
        "phase",
        "iteration",
        "cycle_context",
        "outputs_contract",
    ] {
        set(k, &|| String::new());
    }
    for (k, val) in extra {
        v.insert(k.clone(), val.clone());
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_come_from_the_first_sentence() {
        let i = Idea::new(
            "A local-first journaling app. It syncs later.",
            None,
            vec![],
        );
        assert_eq!(i.title, "A local-first journaling app");
        let long = "x".repeat(200);
        assert_eq!(Idea::new(&long, None, vec![]).title.len(), 80);
        assert_eq!(Idea::new("a", Some("T"), vec![]).title, "T");
    }
}
