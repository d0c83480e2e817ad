//! What the gate works with and what it reports: the context of one batch, and the outcome
//! of applying it (files written and deleted, commands run, actions refused, a done request).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

/// What the gate needs to know about the batch it applies.
#[derive(Debug, Clone)]
pub struct GateContext {
    /// Canonical project root.
    pub root: PathBuf,
    pub agent: String,
    pub run_id: String,
    /// `.clk/backups/<run_id>/`: originals of mutated files.
    pub backups: PathBuf,
    pub warn_files: u32,
    pub max_files: u32,
    pub run_timeout: Duration,
    /// Files with uncommitted changes of the user's, which agents must leave alone.
    pub user_dirty: BTreeSet<String>,
    /// Where `ACTION: done` writes its request.
    pub done_file: PathBuf,
    /// How many commands one reply may run, for how long in all, and how much of their
    /// output is kept.
    pub limits: RunLimits,
    /// The sandbox `run` actions start in.
    pub sandbox: crate::engine::act::confine::Isolation,
}

/// Bounds on one reply's `ACTION: run` blocks (`validation.max_runs_per_reply`,
/// `validation.runs_budget_s`, `validation.output_keep_bytes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunLimits {
    /// Run blocks past this many in one reply are refused.
    pub max_runs: u32,
    /// Time all of one reply's commands may take together; each command also keeps its own
    /// `run_timeout`, whichever ends first.
    pub budget: Duration,
    /// Bytes of a command's output kept in the event stream and activity log: the first and
    /// the last half, with the count of what was left out between them.
    pub keep_output_bytes: usize,
}

impl Default for RunLimits {
    fn default() -> Self {
        RunLimits {
            max_runs: 10,
            budget: Duration::from_secs(600),
            keep_output_bytes: 64 * 1024,
        }
    }
}

/// One `run` action's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandRecord {
    pub cmd: String,
    pub exit_code: Option<i32>,
    pub timed_out: bool,
}

impl CommandRecord {
    pub fn ok(&self) -> bool {
        self.exit_code == Some(0) && !self.timed_out
    }
}

/// What a batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    /// Files written, edited or appended (relative paths, in order, no repeats).
    pub written: Vec<String>,
    pub deleted: Vec<String>,
    pub commands: Vec<CommandRecord>,
    /// `"<kind> <target>: <reason>"` for every skipped or refused action.
    pub refused: Vec<String>,
    pub done: Option<String>,
}

impl BatchOutcome {
    /// Every path whose content changed, for the commit.
    pub fn changed_paths(&self) -> Vec<String> {
        let mut v = self.written.clone();
        for d in &self.deleted {
            if !v.contains(d) {
                v.push(d.clone());
            }
        }
        v
    }

    /// e.g. `wrote 2, deleted 1, ran 1 (1 failed), refused 1, done`.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        if !self.written.is_empty() {
            parts.push(format!("wrote {}", self.written.len()));
        }
        if !self.deleted.is_empty() {
            parts.push(format!("deleted {}", self.deleted.len()));
        }
        if !self.commands.is_empty() {
            let failed = self.commands.iter().filter(|c| !c.ok()).count();
            if failed > 0 {
                parts.push(format!("ran {} ({failed} failed)", self.commands.len()));
            } else {
                parts.push(format!("ran {}", self.commands.len()));
            }
        }
        if !self.refused.is_empty() {
            parts.push(format!("refused {}", self.refused.len()));
        }
        if self.done.is_some() {
            parts.push("done".into());
        }
        if parts.is_empty() {
            "no actions".into()
        } else {
            parts.join(", ")
        }
    }
}
