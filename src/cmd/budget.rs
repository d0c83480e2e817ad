//! `clk budget`: the spending caps and the session's spend against them; `--reset` starts a
//! new session (the old totals are filed, never thrown away).

use std::path::Path;

use super::{Failure, project};
use crate::engine::agents::budget;
use crate::engine::ground::pricing::{cap_micros, format_usd};
use crate::engine::store::records::UsageTotals;
use crate::engine::store::tasks;

pub fn run(dir: &Path, reset: bool) -> Result<u8, Failure> {
    let p = project(dir)?;
    if reset {
        let old = UsageTotals::reset(&p.ws)
            .map_err(|e| Failure::failed(format!("cannot reset .clk/state/usage.json: {e}")))?;
        println!(
            "New budget session started. The previous one ({} dispatches, {}) is filed in \
             .clk/state/usage-history.jsonl.",
            old.total.dispatches,
            old.total.cost_text()
        );
        return Ok(super::EXIT_OK);
    }
    let t = UsageTotals::load(&p.ws);
    let cfg = &p.config.budget;
    let since = if t.started_at.is_empty() {
        "the first dispatch".to_string()
    } else {
        t.started_at.clone()
    };
    println!(
        "Session   since {since}: {} dispatches, cost {}",
        t.total.dispatches,
        t.total.cost_text()
    );
    let day = tasks::today();
    let used = tasks::open_project(&p)
        .and_then(|s| s.day_usage(&day))
        .map_err(|e| Failure::failed(e.to_string()))?;
    for l in crate::engine::runs::tasks::budget::lines(&cfg.daily, &used, &day) {
        println!("{l}");
    }
    if !budget::any_caps(cfg) {
        println!(
            "Caps      none. Set one with `clk configure --set budget.session_usd_cap=5` or \
             `--set budget.agent_usd_caps.engineer=2`."
        );
        return Ok(super::EXIT_OK);
    }
    let line = |key: String, cap: u64, spent: u64| {
        let left = cap.saturating_sub(spent);
        println!(
            "  {key:<34} {} of {}  ({})",
            format_usd(spent),
            format_usd(cap),
            if left == 0 {
                "reached: the next model call asks first, or stops when headless".to_string()
            } else {
                format!("{} left", format_usd(left))
            }
        );
    };
    let session = cap_micros(cfg.session_usd_cap);
    if session > 0 {
        line(
            "budget.session_usd_cap".into(),
            session,
            t.total.cost_micros,
        );
    }
    for (agent, usd) in &cfg.agent_usd_caps {
        let cap = cap_micros(*usd);
        if cap > 0 {
            let spent = t.agents.get(agent).map_or(0, |a| a.cost_micros);
            line(format!("budget.agent_usd_caps.{agent}"), cap, spent);
        }
    }
    if t.total.unpriced > 0 {
        println!(
            "Note      {} dispatches had no known price and are not counted; set a price in \
             providers.json (\"price\": {{\"input_per_mtok\": .., \"output_per_mtok\": ..}}).",
            t.total.unpriced
        );
    }
    Ok(super::EXIT_OK)
}
