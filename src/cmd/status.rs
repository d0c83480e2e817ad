//! `clk status`: a quick look at the project. Reads files only: no network, no provider calls.

use std::path::Path;

use super::{Failure, project};
use crate::engine::context::Idea;
use crate::engine::git;
use crate::engine::providers::registry;
use crate::engine::records::UsageTotals;

pub fn run(dir: &Path) -> Result<u8, Failure> {
    let p = project(dir)?;
    let ws = &p.ws;
    let mut out = String::new();
    let name = p.config.project_name.clone().unwrap_or_default();
    out.push_str(&format!("Project   {name}  ({})\n", ws.root.display()));
    match Idea::load(ws) {
        Some(i) => out.push_str(&format!("Idea      {}\n", i.title)),
        None => out.push_str("Idea      (none yet: clk idea \"...\")\n"),
    }
    out.push_str(&format!("Provider  {}\n", p.providers.active));
    if let Some(repo) = git::open(&ws.root) {
        let branch = git::branch(&repo).unwrap_or_else(|| "(detached)".into());
        match git::head_summary(&repo) {
            Some((sha, subj)) => out.push_str(&format!("Git       {branch} at {sha} {subj}\n")),
            None => out.push_str(&format!("Git       {branch} (no commits)\n")),
        }
    } else {
        out.push_str("Git       not a repository\n");
    }
    out.push_str("Agents\n");
    for (agent, spec) in &p.agents.agents {
        let provider = registry::choose(&p, agent);
        out.push_str(&format!(
            "  {agent:<16} {:<9} {provider:<10} {}\n",
            if spec.dynamic { "dynamic" } else { "baseline" },
            spec.role
        ));
    }
    let t = UsageTotals::load(ws);
    out.push_str(&format!(
        "Usage     {} dispatches, {} tokens in, {} out{}, ${:.4}\n",
        t.total.dispatches,
        t.total.input_tokens,
        t.total.output_tokens,
        if t.total.estimated > 0 {
            format!(" ({} estimated)", t.total.estimated)
        } else {
            String::new()
        },
        t.total.cost_micros as f64 / 1_000_000.0
    ));
    for (prov, tally) in &t.providers {
        out.push_str(&format!(
            "  {prov:<16} {} dispatches, {} tokens, ${:.4}\n",
            tally.dispatches,
            tally.input_tokens.saturating_add(tally.output_tokens),
            tally.cost_micros as f64 / 1_000_000.0
        ));
    }
    let mut runs: Vec<String> = std::fs::read_dir(ws.runs_dir())
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter(|e| e.path().is_dir())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    runs.sort();
    out.push_str("Recent runs\n");
    if runs.is_empty() {
        out.push_str("  (none)\n");
    }
    for r in runs.iter().rev().take(5) {
        out.push_str(&format!("  {r}\n"));
    }
    let done = ws.state_dir().join("done.md");
    if let Ok(text) = std::fs::read_to_string(done) {
        let reason = text
            .lines()
            .find_map(|l| l.strip_prefix("Reason: "))
            .unwrap_or("(no reason)");
        out.push_str(&format!("Done      requested: {reason}\n"));
    }
    print!("{out}");
    Ok(super::EXIT_OK)
}
