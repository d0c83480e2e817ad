//! Context rules (`clk context add|list|remove`): lines every agent working a task of this
//! workspace is given at the top of its objective ("use pnpm, not npm", "never touch infra/").

use serde_json::json;

use super::ops::Reply;
use crate::engine::store::tasks::{self, TaskStore};

/// What `clk context` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleCommand {
    Add(String),
    List,
    Remove(i64),
}

/// Run one `clk context` (`/context`) request against `store`.
pub fn apply(store: &dyn TaskStore, cmd: RuleCommand) -> Result<Reply, String> {
    let err = |e: tasks::StoreError| e.to_string();
    let one = |line: String, json| Reply {
        lines: vec![line.clone()],
        json,
        summary: line,
    };
    match cmd {
        RuleCommand::Add(text) => {
            let text = text.trim().to_string();
            if text.is_empty() {
                return Err("say the rule: clk context add \"use pnpm, not npm\"".into());
            }
            let id = store.add_rule(&text).map_err(err)?;
            Ok(one(
                format!("rule {id} added; every task's agents see it from their next turn"),
                json!({ "id": id, "text": text }),
            ))
        }
        RuleCommand::List => {
            let rules = store.rules().map_err(err)?;
            let lines = if rules.is_empty() {
                vec!["no context rules; add one with `clk context add \"...\"`".to_string()]
            } else {
                rules
                    .iter()
                    .map(|r| format!("{:>4}  {}", r.id, r.text))
                    .collect()
            };
            Ok(Reply {
                summary: format!("{} rule(s)", rules.len()),
                lines,
                json: json!(rules),
            })
        }
        RuleCommand::Remove(id) => {
            if !store.remove_rule(id).map_err(err)? {
                return Err(format!(
                    "there is no rule {id}; `clk context list` shows them"
                ));
            }
            Ok(one(format!("rule {id} removed"), json!({ "id": id })))
        }
    }
}

/// The rules as the opening of an agent's objective; empty when there are none.
pub fn preamble(store: &dyn TaskStore) -> String {
    let rules = store.rules().unwrap_or_default();
    if rules.is_empty() {
        return String::new();
    }
    let mut out = String::from("Rules for every agent in this workspace:\n");
    for r in rules {
        out.push_str("- ");
        out.push_str(&r.text);
        out.push('\n');
    }
    out.push('\n');
    out
}
