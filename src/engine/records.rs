//! What each dispatch leaves behind: `.clk/runs/<run_id>/{prompt.txt,response.txt,meta.json}`,
//! a line in `.clk/state/agent_memory.jsonl`, and the running totals in `.clk/state/usage.json`.
//!
//! Everything written here is redacted first. The totals file is updated under a process-wide
//! lock and written atomically, so parallel dispatches never lose a count.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::events::Usage;
use super::redact::{redact_json, redact_text};
use super::workspace::{Workspace, append_jsonl, read_json, replace_file_fast, write_record};

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
    /// Dispatches whose usage was estimated rather than reported.
    pub estimated: u64,
}

impl Tally {
    fn add(&mut self, u: &Usage, cost_micros: u64) {
        self.input_tokens = self.input_tokens.saturating_add(u.input_tokens);
        self.output_tokens = self.output_tokens.saturating_add(u.output_tokens);
        self.cost_micros = self.cost_micros.saturating_add(cost_micros);
        self.dispatches = self.dispatches.saturating_add(1);
        self.estimated = self.estimated.saturating_add(u64::from(u.estimated));
    }
}

/// `.clk/state/usage.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageTotals {
    pub total: Tally,
    pub providers: BTreeMap<String, Tally>,
    pub agents: BTreeMap<String, Tally>,
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

    /// Add one dispatch's usage to the persisted totals.
    pub fn record(
        ws: &Workspace,
        provider: &str,
        agent: &str,
        usage: &Usage,
        cost_micros: u64,
    ) -> std::io::Result<()> {
        let _guard = TOTALS_LOCK.lock().unwrap_or_else(|p| p.into_inner());
        let mut t = UsageTotals::load(ws);
        t.total.add(usage, cost_micros);
        t.providers
            .entry(provider.to_string())
            .or_default()
            .add(usage, cost_micros);
        t.agents
            .entry(agent.to_string())
            .or_default()
            .add(usage, cost_micros);
        let mut text = serde_json::to_string_pretty(&t).map_err(std::io::Error::other)?;
        text.push('\n');
        // Totals are rewritten on every dispatch: atomic, but no .bak copy each time.
        replace_file_fast(&ws.state_dir().join("usage.json"), text.as_bytes())
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
        UsageTotals::record(&ws, "shell", "qa", &u, 7).unwrap();
        UsageTotals::record(&ws, "shell", "engineer", &u, 0).unwrap();
        let t = UsageTotals::load(&ws);
        assert_eq!(t.total.input_tokens, 20);
        assert_eq!(t.total.cost_micros, 7);
        assert_eq!(t.total.estimated, 2);
        assert_eq!(t.agents["qa"].dispatches, 1);
        assert_eq!(t.providers["shell"].dispatches, 2);
    }
}
