//! The small blocks of clk.config.json: budget, retries, the gate's limits, supervision,
//! recovery, consensus fan-out, casting and the blackboard digest. Each has serde defaults for
//! every key, so a file that sets one key of a block keeps the rest.

use serde::{Deserialize, Serialize};

use super::choices::RollbackOnFailure;

/// Spending caps in USD over the session's persisted totals (`.clk/state/usage.json`).
/// Reaching a cap pauses the run to ask the user; without an answer (headless) it stops.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BudgetConfig {
    /// Most the whole session may spend, in USD (0: no cap).
    pub session_usd_cap: f64,
    /// Most each named agent may spend in the session, in USD (0 or absent: no cap).
    pub agent_usd_caps: std::collections::BTreeMap<String, f64>,
    /// Limits per day (UTC) on the task queue; a task that would cross one waits.
    pub daily: DailyBudget,
}

/// `budget.daily.*`: what the task queue may use in one day (UTC); 0 is no limit.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DailyBudget {
    /// Tasks started.
    pub tasks: u64,
    /// Agent turns taken on tasks.
    pub turns: u64,
    /// USD spent on tasks.
    pub usd: f64,
}

/// The work queue (`clk work`): how many tasks at once, and each task's guardrails.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TasksConfig {
    /// Most tasks worked at the same time (each in its own worktree).
    pub max_concurrent: u32,
    /// Most agent turns one task may take before it fails with that reason.
    pub max_turns: u32,
    /// Longest one task may run, in seconds, before it stops with that reason (0: no limit).
    pub max_runtime_s: u64,
    /// The duo flow's reviewer for each implementer's provider: work done on the key is
    /// reviewed on the value. A provider with no entry runs single-agent.
    pub review_pairs: std::collections::BTreeMap<String, String>,
    /// Most review rounds before a task that the reviewer still wants changed fails.
    pub max_review_rounds: u32,
    /// The checks a finished task must pass in a clean checkout before it merges (empty: the
    /// ones the project's shape calls for, as a run's done gate uses).
    pub checks: Vec<String>,
    /// Pull requests through the GitHub REST API with `GITHUB_TOKEN` (none without one):
    /// `off`, `after_merge` (push the merged task's branch and open one) or `instead` (push
    /// and open one instead of merging here; `task approve` still merges).
    pub pull_requests: String,
    /// The git remote a task's branch is pushed to for its pull request.
    pub pr_remote: String,
    /// The GitHub API's base URL (GitHub Enterprise, or a test's mock).
    pub github_api: String,
    /// `owner/name` of the repository; empty: read from the remote's URL.
    pub github_repo: String,
}

impl Default for TasksConfig {
    fn default() -> Self {
        TasksConfig {
            max_concurrent: 2,
            max_turns: 8,
            max_runtime_s: 3600,
            review_pairs: [("claude", "codex"), ("codex", "claude")]
                .into_iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
            max_review_rounds: 2,
            checks: Vec::new(),
            pull_requests: "off".into(),
            pr_remote: "origin".into(),
            github_api: "https://api.github.com".into(),
            github_repo: String::new(),
        }
    }
}

/// Retries of a failed provider call (retryable errors only) and of a failed stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RetryConfig {
    pub max_retries: u32,
    /// First pause; each further retry doubles it (with jitter), up to `max_backoff_ms`.
    pub backoff_ms: u64,
    pub max_backoff_ms: u64,
    pub stage_max_retries: u32,
    pub stage_backoff_ms: u64,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            max_retries: 3,
            backoff_ms: 2_000,
            max_backoff_ms: 30_000,
            stage_max_retries: 2,
            stage_backoff_ms: 5_000,
        }
    }
}

/// Limits the action gate enforces on one agent batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ValidationConfig {
    /// File actions past this many in one reply are refused.
    pub max_files_per_batch: u32,
    /// A batch with more file actions than this is applied with a warning.
    pub warn_files_per_batch: u32,
    /// Longest an `ACTION: run` command may take, in seconds.
    pub run_timeout_s: u64,
    /// `ACTION: run` blocks past this many in one reply are refused.
    pub max_runs_per_reply: u32,
    /// Seconds all of one reply's commands may take together.
    pub runs_budget_s: u64,
    /// Bytes of one command's output kept in the activity log (first and last half).
    pub output_keep_bytes: u64,
    /// When a stage's validation fails, undo its commit: never, careful (careful stages), always.
    pub rollback_on_failure: RollbackOnFailure,
}

impl Default for ValidationConfig {
    fn default() -> Self {
        ValidationConfig {
            max_files_per_batch: 25,
            warn_files_per_batch: 5,
            run_timeout_s: 120,
            max_runs_per_reply: 10,
            runs_budget_s: 600,
            output_keep_bytes: 64 * 1024,
            rollback_on_failure: RollbackOnFailure::Careful,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SuperviseConfig {
    pub max_cycles: u32,
    pub max_consecutive_no_progress: u32,
    pub stall_rescue: bool,
}

impl Default for SuperviseConfig {
    fn default() -> Self {
        SuperviseConfig {
            max_cycles: 20,
            max_consecutive_no_progress: 3,
            stall_rescue: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RecoveryConfig {
    /// Times the chief is sent to unblock a workflow stuck on one failed stage.
    pub max_per_stage: u32,
    /// A stage that left out declared outputs is asked once more, then the chief once.
    pub dispatch_on_unmet_outputs: bool,
}

impl Default for RecoveryConfig {
    fn default() -> Self {
        RecoveryConfig {
            max_per_stage: 3,
            dispatch_on_unmet_outputs: true,
        }
    }
}

/// `workflow.*`: how a workflow pass runs its stages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct WorkflowConfig {
    /// Ready stages run at once, each in its own worktree (1: one after another).
    pub max_parallel_stages: u32,
    /// Before a cycle the chief drafts each stage's objective for this project.
    pub meta_prompting: bool,
}

impl Default for WorkflowConfig {
    fn default() -> Self {
        WorkflowConfig {
            max_parallel_stages: 2,
            meta_prompting: false,
        }
    }
}

/// Consensus fan-out: how many samples of one reply at most, and how many run at once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConsensusConfig {
    /// Samples per fan-out (a PROPOSE_CONSENSUS may ask for fewer, never more).
    pub max_samples: u32,
    /// Samples in flight at once; the rest wait for a free slot.
    pub max_parallel: u32,
}

impl Default for ConsensusConfig {
    fn default() -> Self {
        ConsensusConfig {
            max_samples: 6,
            max_parallel: 4,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CastingConfig {
    pub max_dynamic_roles: u32,
    pub auto_cast_on_idea: bool,
}

impl Default for CastingConfig {
    fn default() -> Self {
        CastingConfig {
            max_dynamic_roles: 12,
            auto_cast_on_idea: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BlackboardConfig {
    pub digest_max_posts: u32,
    pub digest_max_chars_per_post: u32,
}

impl Default for BlackboardConfig {
    fn default() -> Self {
        BlackboardConfig {
            digest_max_posts: 20,
            digest_max_chars_per_post: 800,
        }
    }
}

/// How many records of past dispatches clk keeps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RecordsConfig {
    /// Run folders (`.clk/runs/`) kept, and as many folders of originals (`.clk/backups/`);
    /// older ones are removed, a few at a time while work runs (0: keep all).
    pub keep_runs: u32,
}

impl Default for RecordsConfig {
    fn default() -> Self {
        RecordsConfig { keep_runs: 2000 }
    }
}
