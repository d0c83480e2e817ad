//! `/budget`: the spending caps in force and what was spent, and caps set for this session.
//!
//! Caps set here live on the bus, so the next budget check sees them, even in work that is
//! already running; `clk configure --set` is the way to keep a cap for later sessions.

use super::commands::Handled;
use crate::engine::agents::budget;
use crate::engine::ground::events::Event;
use crate::engine::ground::pricing::{cap_micros, format_usd};
use crate::engine::store::bus::Bus;
use crate::engine::store::records::UsageTotals;
use crate::engine::store::workspace::{Project, read_jsonl};

const SESSION_KEY: &str = "budget.session_usd_cap";
const AGENT_PREFIX: &str = "budget.agent_usd_caps.";

fn cap_text(usd: f64) -> String {
    match cap_micros(usd) {
        0 => "no cap".to_string(),
        m => format_usd(m),
    }
}

/// What was spent on dispatches that started today (local time), from the run records.
fn spent_today(project: &Project) -> u64 {
    let today = chrono::Local::now().format("%Y-%m-%d").to_string();
    read_jsonl(&project.ws.state_dir().join("agent_memory.jsonl"))
        .iter()
        .filter(|v| {
            v.get("started_at")
                .and_then(|s| s.as_str())
                .is_some_and(|s| s.starts_with(&today))
        })
        .filter_map(|v| v.get("cost_micros").and_then(|c| c.as_u64()))
        .sum()
}

/// The caps in force and the spend they are checked against, as a `budget` report.
pub(super) fn show(project: &Project, bus: &Bus) -> Handled {
    let caps = budget::live(&project.config.budget, bus);
    let totals = UsageTotals::load(&project.ws);
    let mut lines = vec![format!(
        "session cap: {} · spent this session: {}{}",
        cap_text(caps.session_usd_cap),
        totals.total.cost_text(),
        if totals.started_at.is_empty() {
            String::new()
        } else {
            format!(" (since {})", totals.started_at)
        }
    )];
    let mut agents: Vec<&String> = caps.agent_usd_caps.keys().collect();
    agents.extend(
        totals
            .agents
            .keys()
            .filter(|a| !caps.agent_usd_caps.contains_key(*a)),
    );
    agents.sort();
    for agent in agents {
        let cap = caps.agent_usd_caps.get(agent).copied().unwrap_or(0.0);
        let spent = totals
            .agents
            .get(agent)
            .map_or_else(|| "$0.00".to_string(), |t| t.cost_text());
        lines.push(format!("  {agent}: cap {} · spent {spent}", cap_text(cap)));
    }
    lines.push(format!("spent today: {}", format_usd(spent_today(project))));
    lines.push(
        "set a cap for this session: /budget set session USD | /budget set AGENT USD (0: no cap)"
            .into(),
    );
    bus.emit(Event::Report {
        topic: "budget".into(),
        lines,
    });
    Handled::Done("budget shown".into())
}

/// Set `key` to `usd` for the rest of this session.
pub(super) fn set(bus: &Bus, key: &str, usd: f64) -> Handled {
    if !usd.is_finite() || usd < 0.0 {
        return Handled::Failed(format!(
            "{usd} is not a cap; use a number of dollars, 0 or more (0: no cap)"
        ));
    }
    let whose = match key.strip_prefix(AGENT_PREFIX) {
        Some(agent) if !agent.is_empty() && !agent.contains('.') => format!("{agent}'s cap"),
        None if key == SESSION_KEY => "the session cap".to_string(),
        _ => {
            return Handled::Failed(format!(
                "no cap called {key:?}; use {SESSION_KEY} or {AGENT_PREFIX}<agent>"
            ));
        }
    };
    bus.set_cap(key, usd);
    Handled::Done(format!(
        "{whose} is {} for this session; the next dispatch checks it",
        cap_text(usd)
    ))
}
