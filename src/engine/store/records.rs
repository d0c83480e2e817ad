//! What each dispatch leaves behind: `.clk/runs/<run_id>/{prompt.txt,response.txt,meta.json}`,
//! a line in `.clk/state/agent_memory.jsonl`, and the running totals in `.clk/state/usage.json`.
//!
//! The totals are the budget session: they count every dispatch since `started_at`, survive
//! restarts (the dashboard's title bar and the budget caps read them), and start again only
//! when the user resets them (`clk budget --reset`), which files the old totals as a line of
//! `.clk/state/usage-history.jsonl`.
//!
//! Everything written here is redacted first. The totals file is updated under a process-wide
//! lock and an OS file lock (`usage.json.lock`), and written atomically, so parallel
//! dispatches, in this process or another, never lose a count.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::engine::ground::events::Usage;
use crate::engine::ground::pricing::{Cost, CostBasis};
use crate::engine::ground::redact::{redact_json, redact_text};
use crate::engine::store::lock::with_file_lock;
use crate::engine::store::workspace::{
    Durability, Workspace, append_jsonl, read_json, replace_file, write_record,
};

/// One dispatch's record (meta.json and the agent_memory.jsonl line).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunMeta {
    pub agent: String,
    pub run_id: String,
    pub stage: Option<String>,
    pub objective: String,
    pub provider: String,
    pub model: String,
    pub ok: bool,
    pub error: Option<String>,
    pub dry_run: bool,
    pub started_at: String,
    pub finished_at: String,
    pub elapsed_ms: u64,
    pub usage: Usage,
    pub cost_micros: u64,
    /// Where `cost_micros` came from (`unknown`: the model's price is not known).
    #[serde(default)]
    pub cost_basis: CostBasis,
    pub files_written: Vec<String>,
    pub text_preview: String,
    /// False for replies that were only recorded: consensus samples and attempts the quality
    /// check sent back for repair.
    #[serde(default = "applied_default")]
    pub applied: bool,
}

fn applied_default() -> bool {
    true
}

/// Write a redacted text file into the run folder.
pub fn write_text(run_dir: &Path, name: &str, text: &str) -> std::io::Result<()> {
    write_record(&run_dir.join(name), redact_text(text).as_bytes())
}

/// Write meta.json and append the agent_memory.jsonl line.
pub fn write_meta(ws: &Workspace, run_dir: &Path, meta: &RunMeta) -> std::io::Result<()> {
    let mut v = serde_json::to_value(meta).map_err(std::io::Error::other)?;
    redact_json(&mut v);
    let mut text = serde_json::to_string_pretty(&v).map_err(std::io::Error::other)?;
    text.push('\n');
    write_record(&run_dir.join("meta.json"), text.as_bytes())?;
    append_jsonl(&ws.state_dir().join("agent_memory.jsonl"), &v)
}

/// The records of `agent`'s dispatches, newest first, at most `limit` (read from
/// `.clk/state/agent_memory.jsonl`; lines that do not parse are skipped).
pub fn agent_runs(ws: &Workspace, agent: &str, limit: usize) -> Vec<RunMeta> {
    let mut runs: Vec<RunMeta> =
        crate::engine::store::workspace::read_jsonl(&ws.state_dir().join("agent_memory.jsonl"))
            .into_iter()
            .filter(|v| v.get("agent").and_then(|a| a.as_str()) == Some(agent))
            .filter_map(|v| serde_json::from_value(v).ok())
            .collect();
    runs.reverse();
    runs.truncate(limit);
    runs
}

/// Append one line to `.clk/state/decisions.md`, the readable record of what was decided
/// and why (casting, workflow changes, done-gate verdicts). Best effort: a failure to write
/// the note never stops the work.
pub fn note_decision(ws: &Workspace, who: &str, what: &str) {
    use std::io::Write;
    let line = format!(
        "- {} :: {who}: {}\n",
        chrono::Local::now().format("%Y-%m-%d %H:%M"),
        redact_text(&what.split_whitespace().collect::<Vec<_>>().join(" "))
    );
    let _ = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(ws.state_dir().join("decisions.md"))
        .and_then(|mut f| f.write_all(line.as_bytes()));
}

/// Token and cost totals, persisted so a restart keeps them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_micros: u64,
    pub dispatches: u64,
    /// Dispatches whose usage was estimated rather than reported (their cost is too).
    pub estimated: u64,
    /// Dispatches on a paid model with no known price: `cost_micros` leaves them out.
    #[serde(default)]
    pub unpriced: u64,
}

impl Tally {
    fn add(&mut self, u: &Usage, cost: Cost) {
        self.input_tokens = self.input_tokens.saturating_add(u.input_tokens);
        self.output_tokens = self.output_tokens.saturating_add(u.output_tokens);
        self.cost_micros = self.cost_micros.saturating_add(cost.micros);
        self.dispatches = self.dispatches.saturating_add(1);
        self.estimated = self.estimated.saturating_add(u64::from(u.estimated));
        self.unpriced = self
            .unpriced
            .saturating_add(u64::from(cost.basis == CostBasis::Unknown));
    }

    /// The cost as people read it: `$0.0123`, `$0.0123 + 2 unknown`, `unknown`, with
    /// `(estimated)` when some usage was estimated.
    pub fn cost_text(&self) -> String {
        let money = crate::engine::ground::pricing::format_usd(self.cost_micros);
        let mut s = match (self.unpriced, self.dispatches) {
            (0, _) => money,
            (u, d) if u == d => "unknown".to_string(),
            (u, _) => format!("{money} + {u} at unknown price"),
        };
        if self.estimated > 0 && self.cost_micros > 0 {
            s.push_str(" (estimated)");
        }
        s
    }
}

/// `.clk/state/usage.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageTotals {
    /// When this session of totals began (RFC 3339); empty in files from before sessions.
    #[serde(default)]
    pub started_at: String,
    pub total: Tally,
    pub providers: BTreeMap<String, Tally>,
    pub agents: BTreeMap<String, Tally>,
}

/// The local time to the second, for the session's start and end.
fn now_text() -> String {
    chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

static TOTALS_LOCK: Mutex<()> = Mutex::new(());

impl UsageTotals {
    pub fn load(ws: &Workspace) -> UsageTotals {
        read_json(&ws.state_dir().join("usage.json"))
            .ok()
            .flatten()
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default()
    }

    /// Add one dispatch's usage and cost to the persisted totals; returns the new totals.
    pub fn record(
        ws: &Workspace,
        provider: &str,
        agent: &str,
        usage: &Usage,
        cost: Cost,
    ) -> std::io::Result<UsageTotals> {
        let _guard = TOTALS_LOCK.lock().unwrap_or_else(|p| p.into_inner());
        with_file_lock(&ws.state_dir().join("usage.json"), || {
            Self::add_locked(ws, provider, agent, usage, cost)
        })?
    }

    /// The read-modify-write of [`UsageTotals::record`]; the caller holds both locks.
    fn add_locked(
        ws: &Workspace,
        provider: &str,
        agent: &str,
        usage: &Usage,
        cost: Cost,
    ) -> std::io::Result<UsageTotals> {
        let mut t = UsageTotals::load(ws);
        if t.started_at.is_empty() {
            t.started_at = now_text();
        }
        t.total.add(usage, cost);
        t.providers
            .entry(provider.to_string())
            .or_default()
            .add(usage, cost);
        t.agents
            .entry(agent.to_string())
            .or_default()
            .add(usage, cost);
        t.save(ws)?;
        Ok(t)
    }

    fn save(&self, ws: &Workspace) -> std::io::Result<()> {
        let mut text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        text.push('\n');
        // Totals are rewritten on every dispatch: atomic, but no .bak copy each time.
        replace_file(
            &ws.state_dir().join("usage.json"),
            text.as_bytes(),
            Durability::ClkCrash,
        )
    }

    /// Start a new session: file the current totals in `usage-history.jsonl` (with the time
    /// they ended) and begin again from zero. Returns the totals that were filed.
    pub fn reset(ws: &Workspace) -> std::io::Result<UsageTotals> {
        let _guard = TOTALS_LOCK.lock().unwrap_or_else(|p| p.into_inner());
        with_file_lock(&ws.state_dir().join("usage.json"), || {
            Self::reset_locked(ws)
        })?
    }

    fn reset_locked(ws: &Workspace) -> std::io::Result<UsageTotals> {
        let old = UsageTotals::load(ws);
        if old.total.dispatches > 0 {
            let mut line = serde_json::to_value(&old).map_err(std::io::Error::other)?;
            if let serde_json::Value::Object(map) = &mut line {
                map.insert("ended_at".into(), chrono::Local::now().to_rfc3339().into());
            }
            append_jsonl(&ws.state_dir().join("usage-history.jsonl"), &line)?;
        }
        UsageTotals {
            started_at: now_text(),
            ..Default::default()
        }
        .save(ws)?;
        Ok(old)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_accumulate_across_loads() {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::new(dir.path());
        let u = Usage {
            input_tokens: 10,
            output_tokens: 5,
            estimated: true,
            ..Default::default()
        };
        let paid = Cost {
            micros: 7,
            basis: CostBasis::Table,
        };
        let unknown = Cost {
            micros: 0,
            basis: CostBasis::Unknown,
        };
        UsageTotals::record(&ws, "api", "qa", &u, paid).unwrap();
        let back = UsageTotals::record(&ws, "api", "engineer", &u, unknown).unwrap();
        let t = UsageTotals::load(&ws);
        assert_eq!(t, back);
        assert_eq!(t.total.input_tokens, 20);
        assert_eq!(t.total.cost_micros, 7);
        assert_eq!(t.total.estimated, 2);
        assert_eq!(t.total.unpriced, 1);
        assert_eq!(t.agents["qa"].dispatches, 1);
        assert_eq!(t.providers["api"].dispatches, 2);
        assert!(!t.started_at.is_empty());
        assert_eq!(
            t.total.cost_text(),
            "<$0.0001 + 1 at unknown price (estimated)"
        );
        assert_eq!(t.agents["engineer"].cost_text(), "unknown");
    }

    #[test]
    fn reset_files_the_old_session_and_starts_from_zero() {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::new(dir.path());
        let cost = Cost {
            micros: 1_500_000,
            basis: CostBasis::Configured,
        };
        UsageTotals::record(&ws, "api", "qa", &Usage::default(), cost).unwrap();
        let old = UsageTotals::reset(&ws).unwrap();
        assert_eq!(old.total.cost_micros, 1_500_000);
        let now = UsageTotals::load(&ws);
        assert_eq!(now.total, Tally::default());
        assert!(!now.started_at.is_empty());
        let history = crate::engine::store::workspace::read_jsonl(
            &ws.state_dir().join("usage-history.jsonl"),
        );
        assert_eq!(history.len(), 1);
        assert_eq!(history[0]["total"]["cost_micros"], 1_500_000);
        assert!(history[0]["ended_at"].is_string());
    }
}
