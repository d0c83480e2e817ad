//! Templates (`clk template save|list|run`): a task saved under a name, to queue again with
//! `clk template run NAME` or `clk task add --template NAME [more]`.

use serde_json::json;

use super::ops::{self, Reply};
use crate::engine::store::tasks::{TaskStore, Template};
use crate::engine::store::workspace::Project;

/// Save `t` (its flow, agent and autonomy checked as a task's are; empty ones stay defaults).
pub fn save(project: &Project, store: &dyn TaskStore, t: Template) -> Result<Reply, String> {
    let name = t.name.trim().to_string();
    if name.is_empty() || name.contains(char::is_whitespace) {
        return Err(format!(
            "{name:?} cannot name a template; use one word, like `health-endpoint`"
        ));
    }
    if t.prompt.trim().is_empty() {
        return Err("say what the template's task is: clk template save NAME \"prompt\"".into());
    }
    let some = |s: &str| (!s.is_empty()).then(|| s.to_string());
    ops::settle(project, some(&t.flow), some(&t.agent), some(&t.autonomy))?;
    let t = Template { name, ..t };
    store.save_template(&t).map_err(|e| e.to_string())?;
    let line = format!(
        "template {} saved; `clk template run {}` queues it",
        t.name, t.name
    );
    Ok(Reply {
        lines: vec![line.clone()],
        json: json!(t),
        summary: line,
    })
}

/// Every template.
pub fn list(store: &dyn TaskStore) -> Result<Reply, String> {
    let all = store.templates().map_err(|e| e.to_string())?;
    let lines = if all.is_empty() {
        vec!["no templates; save one with `clk template save NAME \"prompt\"`".into()]
    } else {
        all.iter()
            .map(|t| {
                let first = t.prompt.lines().next().unwrap_or_default();
                format!("{:<20} {first}", t.name)
            })
            .collect()
    };
    Ok(Reply {
        summary: format!("{} template(s)", all.len()),
        lines,
        json: json!(all),
    })
}
