//! `clk status`: a quick look at the project. Reads files only: no network, no provider calls.
//!
//! Usage and cost come from the persisted session totals (`.clk/state/usage.json`), per
//! provider and per agent, with the budget caps beside them. `--json` prints the same facts as
//! one JSON document.

use std::path::Path;

use serde_json::{Value, json};

use super::{Failure, project};
use crate::engine::agents::budget;
use crate::engine::agents::providers::registry;
use crate::engine::ground::pricing::{self, format_usd};
use crate::engine::store::git;
use crate::engine::store::idea::Idea;
use crate::engine::store::records::{Tally, UsageTotals};
use crate::engine::store::workspace::Project;
use crate::headless::Format;

pub fn run(dir: &Path, format: Format) -> Result<u8, Failure> {
    let p = project(dir)?;
    let mut doc = gather(&p);
    // Who holds the project lock now, if anyone: status never takes it.
    let holder = crate::engine::store::lock::current_holder(&p.ws);
    doc["working"] = serde_json::to_value(&holder).unwrap_or(Value::Null);
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default()),
        Format::Human => {
            print!("{}", human(&p, &doc));
            if let Some(h) = holder {
                println!(
                    "Working   {} (pid {}, since {})",
                    h.command,
                    h.pid,
                    h.since()
                );
            }
        }
    }
    Ok(super::EXIT_OK)
}

/// A tally as JSON, with the cost as people read it and whether it is estimated or unknown.
fn tally_json(t: &Tally) -> Value {
    json!({
        "dispatches": t.dispatches,
        "input_tokens": t.input_tokens,
        "output_tokens": t.output_tokens,
        "cost_micros": t.cost_micros,
        "cost": t.cost_text(),
        "estimated_dispatches": t.estimated,
        "unpriced_dispatches": t.unpriced,
    })
}

/// The caps that are set, with what is spent against each.
fn budget_json(p: &Project, totals: &UsageTotals) -> Value {
    let cfg = &p.config.budget;
    let mut caps = Vec::new();
    let session = pricing::cap_micros(cfg.session_usd_cap);
    if session > 0 {
        caps.push(
            json!({"key": "budget.session_usd_cap", "cap_micros": session,
            "spent_micros": totals.total.cost_micros}),
        );
    }
    for (agent, usd) in &cfg.agent_usd_caps {
        let cap = pricing::cap_micros(*usd);
        if cap > 0 {
            let spent = totals.agents.get(agent).map_or(0, |t| t.cost_micros);
            caps.push(json!({"key": format!("budget.agent_usd_caps.{agent}"),
                "cap_micros": cap, "spent_micros": spent}));
        }
    }
    for c in &mut caps {
        let reached = c["spent_micros"].as_u64() >= c["cap_micros"].as_u64();
        c["reached"] = json!(reached);
    }
    json!({"enabled": budget::any_caps(cfg), "caps": caps})
}

pub fn gather(p: &Project) -> Value {
    let ws = &p.ws;
    let git = git::open(&ws.root).map(|repo| {
        let head = git::head_summary(&repo);
        json!({
            "branch": git::branch(&repo),
            "head": head.as_ref().map(|(sha, _)| sha.clone()),
            "subject": head.map(|(_, subj)| subj),
        })
    });
    let agents: Vec<Value> = p
        .agents
        .agents
        .iter()
        .map(|(name, spec)| {
            json!({"name": name, "dynamic": spec.dynamic, "role": spec.role,
                "provider": registry::choose(p, name)})
        })
        .collect();
    let t = UsageTotals::load(ws);
    let map = |m: &std::collections::BTreeMap<String, Tally>| -> Value {
        m.iter()
            .map(|(k, v)| (k.clone(), tally_json(v)))
            .collect::<serde_json::Map<_, _>>()
            .into()
    };
    let mut runs: Vec<String> = std::fs::read_dir(ws.runs_dir())
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter(|e| e.path().is_dir())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    runs.sort();
    runs.reverse();
    runs.truncate(5);
    let done = std::fs::read_to_string(ws.state_dir().join("done.md"))
        .ok()
        .map(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("Reason: "))
                .unwrap_or("(no reason)")
                .to_string()
        });
    json!({
        "project": p.config.project_name.clone().unwrap_or_default(),
        "root": ws.root.display().to_string(),
        "idea": Idea::load(ws).map(|i| i.title),
        "provider": p.providers.active,
        "git": git,
        "agents": agents,
        "todos": crate::engine::store::todos::load(ws),
        "usage": {
            "since": t.started_at,
            "total": tally_json(&t.total),
            "providers": map(&t.providers),
            "agents": map(&t.agents),
        },
        "budget": budget_json(p, &t),
        "recent_runs": runs,
        "done_requested": done,
    })
}

/// ` (3 estimated)` when some of a tally's dispatches had estimated usage.
fn estimated_note(t: &Value) -> String {
    match t["estimated_dispatches"].as_u64().unwrap_or(0) {
        0 => String::new(),
        e => format!(" ({e} estimated)"),
    }
}

fn tally_line(label: &str, t: &Value) -> String {
    let n = |k: &str| t[k].as_u64().unwrap_or(0);
    format!(
        "  {label:<16} {:>4} dispatches{:<16} {:>9} in {:>8} out  {}\n",
        n("dispatches"),
        estimated_note(t),
        n("input_tokens"),
        n("output_tokens"),
        t["cost"].as_str().unwrap_or_default(),
    )
}

fn human(p: &Project, doc: &Value) -> String {
    let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let mut out = String::new();
    out.push_str(&format!(
        "Project   {}  ({})\n",
        s(&doc["project"]),
        s(&doc["root"])
    ));
    match doc["idea"].as_str() {
        Some(i) => out.push_str(&format!("Idea      {i}\n")),
        None => out.push_str("Idea      (none yet: clk idea \"...\")\n"),
    }
    out.push_str(&format!("Provider  {}\n", s(&doc["provider"])));
    match doc["git"].as_object() {
        None => out.push_str("Git       not a repository\n"),
        Some(g) => {
            let branch = g["branch"].as_str().unwrap_or("(detached)");
            match (g["head"].as_str(), g["subject"].as_str()) {
                (Some(sha), Some(subj)) => {
                    out.push_str(&format!("Git       {branch} at {sha} {subj}\n"))
                }
                _ => out.push_str(&format!("Git       {branch} (no commits)\n")),
            }
        }
    }
    out.push_str("Agents\n");
    for (agent, spec) in &p.agents.agents {
        out.push_str(&format!(
            "  {agent:<16} {:<9} {:<10} {}\n",
            if spec.dynamic { "dynamic" } else { "baseline" },
            registry::choose(p, agent),
            spec.role
        ));
    }
    for (agent, items) in &crate::engine::store::todos::load(&p.ws) {
        out.push_str(&format!(
            "Todos     {agent}: {}\n",
            crate::engine::store::todos::tally(items)
        ));
    }
    let usage = &doc["usage"];
    let total = &usage["total"];
    let since = usage["since"].as_str().filter(|v| !v.is_empty());
    out.push_str(&format!(
        "Usage     {} dispatches{}, {} tokens in, {} out, cost {}{}\n",
        total["dispatches"],
        estimated_note(total),
        total["input_tokens"],
        total["output_tokens"],
        s(&total["cost"]),
        since.map(|v| format!(", since {v}")).unwrap_or_default()
    ));
    for (heading, key) in [("by provider", "providers"), ("by agent", "agents")] {
        if let Some(m) = usage[key].as_object().filter(|m| !m.is_empty()) {
            out.push_str(&format!(" {heading}\n"));
            for (name, t) in m {
                out.push_str(&tally_line(name, t));
            }
        }
    }
    let caps = doc["budget"]["caps"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if caps.is_empty() {
        out.push_str("Budget    no caps (budget.session_usd_cap, budget.agent_usd_caps)\n");
    } else {
        let parts: Vec<String> = caps
            .iter()
            .map(|c| {
                format!(
                    "{} {} of {}{}",
                    s(&c["key"]).trim_start_matches("budget."),
                    format_usd(c["spent_micros"].as_u64().unwrap_or(0)),
                    format_usd(c["cap_micros"].as_u64().unwrap_or(0)),
                    if c["reached"] == true { " REACHED" } else { "" }
                )
            })
            .collect();
        out.push_str(&format!("Budget    {}\n", parts.join("; ")));
    }
    out.push_str("Recent runs\n");
    let runs = doc["recent_runs"].as_array().cloned().unwrap_or_default();
    if runs.is_empty() {
        out.push_str("  (none)\n");
    }
    for r in runs {
        out.push_str(&format!("  {}\n", s(&r)));
    }
    if let Some(reason) = doc["done_requested"].as_str() {
        out.push_str(&format!("Done      requested: {reason}\n"));
    }
    out
}
