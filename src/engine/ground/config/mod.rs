//! Configuration: `.clk/config/clk.config.json`, `providers.json` and `agents.json`.
//!
//! Every struct here has serde defaults at every level, so a user file that sets one key of a
//! nested block keeps every other default of that block (the Python CLK merged shallowly and
//! dropped them). Environment variables win over files: `CLK_<BLOCK>_<KEY>` for any key of
//! clk.config.json (e.g. `CLK_SUPERVISE_MAX_CYCLES`), and the provider variables in
//! [`providers`]. Reading never writes; writes go through [`crate::engine::store::workspace`].
//!
//! Keys that take one of a few words are enums ([`choices`]); a word they do not take is a
//! one-line error naming the key, never a quiet default. This file holds the top-level
//! [`ClkConfig`] and its loading; the blocks sit in `blocks.rs` and `robustness.rs`.

pub mod agents;
mod blocks;
pub mod choices;
mod error;
mod gate;
mod gauntlet;
pub mod keys;
pub mod providers;
mod robustness;
mod sandbox;
pub mod task_keys;

use serde::{Deserialize, Serialize};

pub use agents::{AgentSpec, AgentsFile};
pub use blocks::{
    BlackboardConfig, BudgetConfig, CastingConfig, ConsensusConfig, DailyBudget, RecordsConfig,
    RecoveryConfig, RetryConfig, SuperviseConfig, TasksConfig, ValidationConfig, WorkflowConfig,
};
pub use choices::{
    AutoConsensus, AutoRefine, Autonomy, NotifyConfig, PlateauAction, RollbackOnFailure,
    ServeConfig, StoreConfig, UiConfig, UiTheme,
};
pub use error::{ConfigError, Env, EnvLookup, process_env};
pub use gate::GateConfig;
pub use gauntlet::{GauntletConfig, GauntletPreset, GauntletScope};
pub use providers::{ApiStyle, Mode, ProviderSettings, ProvidersFile};
pub use robustness::RobustnessConfig;
pub use sandbox::{SandboxConfig, SandboxMode};

/// `.clk/config/clk.config.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClkConfig {
    pub version: u32,
    pub project_name: Option<String>,
    pub default_workflow: String,
    /// Iterations of `clk loop` when `--max-iterations` is not given.
    pub max_iterations: u32,
    /// Commit every agent batch that changed files.
    pub auto_commit: bool,
    /// Longest a single provider call may take, in seconds (at least 1).
    pub provider_timeout_s: u64,
    /// Give up on a provider that printed nothing for this long, in seconds (0: no limit).
    pub provider_no_output_timeout_s: u64,
    /// While an agent works, say every this many seconds whether output is flowing (0: never).
    pub heartbeat_s: u64,
    pub provider_retry: RetryConfig,
    pub validation: ValidationConfig,
    pub supervise: SuperviseConfig,
    pub recovery: RecoveryConfig,
    /// Parallel stages and meta-prompting.
    pub workflow: WorkflowConfig,
    pub consensus: ConsensusConfig,
    pub casting: CastingConfig,
    pub robustness: RobustnessConfig,
    pub blackboard: BlackboardConfig,
    /// What must hold before an `ACTION: done` ends a run.
    pub done_gate: GateConfig,
    /// Spending caps, checked against the persisted usage totals around every dispatch.
    pub budget: BudgetConfig,
    /// The OS sandbox around agents' commands, validation, tests and CLI providers.
    pub sandbox: SandboxConfig,
    /// How a run's branch reaches the user's branch: ask first, merge, or merge and push.
    pub autonomy: Autonomy,
    /// The dashboard: `ui.theme` is `dark` or `light`.
    pub ui: UiConfig,
    /// The dashboard's bell and desktop notifications: `notify.bell`, `notify.desktop`.
    pub notify: NotifyConfig,
    /// The work queue: tasks at once, turns and runtime per task.
    pub tasks: TasksConfig,
    /// `clk serve --telegram` and `--discord`: who may use each bot (nobody by default) and
    /// where its API is.
    pub serve: ServeConfig,
    /// The gauntlet: answer key, adversarial critique, revisions and a final check per stage.
    pub gauntlet: GauntletConfig,
    /// The task store: SQLite here, or a PostgreSQL database shared by many machines.
    pub store: StoreConfig,
    /// How many records of past dispatches are kept.
    pub records: RecordsConfig,
}

impl Default for ClkConfig {
    fn default() -> Self {
        ClkConfig {
            version: 1,
            project_name: None,
            default_workflow: "engineering".into(),
            max_iterations: 10,
            auto_commit: true,
            provider_timeout_s: 600,
            provider_no_output_timeout_s: 0,
            heartbeat_s: 15,
            provider_retry: RetryConfig::default(),
            validation: ValidationConfig::default(),
            supervise: SuperviseConfig::default(),
            recovery: RecoveryConfig::default(),
            workflow: WorkflowConfig::default(),
            consensus: ConsensusConfig::default(),
            casting: CastingConfig::default(),
            robustness: RobustnessConfig::default(),
            blackboard: BlackboardConfig::default(),
            done_gate: GateConfig::default(),
            budget: BudgetConfig::default(),
            sandbox: SandboxConfig::default(),
            autonomy: Autonomy::Balanced,
            ui: UiConfig::default(),
            notify: NotifyConfig::default(),
            tasks: TasksConfig::default(),
            serve: ServeConfig::default(),
            gauntlet: GauntletConfig::default(),
            store: StoreConfig::default(),
            records: RecordsConfig::default(),
        }
    }
}

impl ClkConfig {
    /// Parse the project's file (if any) over the defaults, then apply `CLK_*` overrides.
    pub fn from_json_with_env(
        project: Option<&serde_json::Value>,
        env: EnvLookup<'_>,
    ) -> Result<ClkConfig, ConfigError> {
        Self::from_layers(&[("clk.config.json", project)], env)
    }

    /// The defaults, then each `(file name, contents)` layer in turn (the user's settings,
    /// then the project's), key by key, then the `CLK_*` overrides. Each layer's types are
    /// checked on their own, so an error names the file that holds the bad value.
    pub fn from_layers(
        layers: &[(&str, Option<&serde_json::Value>)],
        env: EnvLookup<'_>,
    ) -> Result<ClkConfig, ConfigError> {
        let mut value = Self::layered(layers)?;
        keys::apply_env_overrides(&mut value, env)?;
        choices::check(&value)?;
        let config: ClkConfig = serde_json::from_value(value)
            .map_err(|e| ConfigError::Invalid(format!("clk.config.json: {e}")))?;
        config.check()?;
        Ok(config)
    }

    /// The defaults with each layer merged over them, as JSON, before the environment.
    pub fn layered(
        layers: &[(&str, Option<&serde_json::Value>)],
    ) -> Result<serde_json::Value, ConfigError> {
        let mut value = crate::engine::ground::fixed::json(&ClkConfig::default());
        for (name, layer) in layers {
            if let Some(layer) = layer {
                let mut layer = (*layer).clone();
                sandbox::expand_short_form(&mut layer);
                keys::check_types(&value, &layer, name)?;
                keys::merge_deep(&mut value, &layer);
            }
        }
        Ok(value)
    }

    /// Values that parse but make no sense.
    pub fn check(&self) -> Result<(), ConfigError> {
        let bad = |m: &str| Err(ConfigError::Invalid(m.to_string()));
        if self.provider_timeout_s == 0 {
            return bad(
                "provider_timeout_s must be at least 1 second; set it with `clk configure --set provider_timeout_s=600`",
            );
        }
        // Limits beyond a week are mistakes, and would overflow time arithmetic.
        const WEEK_S: u64 = 7 * 24 * 3600;
        for (key, v) in [
            ("provider_timeout_s", self.provider_timeout_s),
            (
                "provider_no_output_timeout_s",
                self.provider_no_output_timeout_s,
            ),
            ("validation.run_timeout_s", self.validation.run_timeout_s),
            ("validation.runs_budget_s", self.validation.runs_budget_s),
            (
                "provider_retry.backoff_ms",
                self.provider_retry.backoff_ms / 1000,
            ),
            (
                "provider_retry.max_backoff_ms",
                self.provider_retry.max_backoff_ms / 1000,
            ),
            (
                "provider_retry.stage_backoff_ms",
                self.provider_retry.stage_backoff_ms / 1000,
            ),
        ] {
            if v > WEEK_S {
                return Err(ConfigError::Invalid(format!(
                    "{key} is more than a week; use a smaller value"
                )));
            }
        }
        if self.provider_retry.max_retries > 100 {
            return bad("provider_retry.max_retries must be at most 100");
        }
        if self.validation.max_files_per_batch == 0 {
            return bad("validation.max_files_per_batch must be at least 1");
        }
        if self.validation.run_timeout_s == 0 {
            return bad("validation.run_timeout_s must be at least 1 second");
        }
        if self.validation.runs_budget_s == 0 {
            return bad("validation.runs_budget_s must be at least 1 second");
        }
        if self.validation.output_keep_bytes < 1024 {
            return bad("validation.output_keep_bytes must be at least 1024");
        }
        if self.records.keep_runs != 0 && self.records.keep_runs < 100 {
            return bad("records.keep_runs must be 0 (keep all) or at least 100");
        }
        if self.workflow.max_parallel_stages == 0 || self.workflow.max_parallel_stages > 16 {
            return bad("workflow.max_parallel_stages must be between 1 and 16 (1: one at a time)");
        }
        if self.tasks.max_concurrent == 0 {
            return bad("tasks.max_concurrent must be at least 1 (1: one task at a time)");
        }
        if self.tasks.max_turns == 0 {
            return bad("tasks.max_turns must be at least 1: a task needs a turn to do anything");
        }
        if self.tasks.max_review_rounds == 0 {
            return bad(
                "tasks.max_review_rounds must be at least 1; for no review use `--flow solo` or \
                 leave the provider out of tasks.review_pairs",
            );
        }
        if self.consensus.max_parallel == 0 {
            return bad("consensus.max_parallel must be at least 1");
        }
        if self.gauntlet.budget == 0 {
            return bad(
                "gauntlet.budget must be at least 1; to turn the gauntlet off set gauntlet.enabled=false",
            );
        }
        if self.consensus.max_samples == 0 || self.consensus.max_samples > 64 {
            return bad(
                "consensus.max_samples must be between 1 and 64; turn fan-out off with robustness.auto_consensus=off",
            );
        }
        if self.gauntlet.critic.trim().is_empty() {
            return bad("gauntlet.critic is empty; name an agent, e.g. critic");
        }
        if self.robustness.max_quality_retries > 20 {
            return bad("robustness.max_quality_retries must be at most 20");
        }
        if self.robustness.refine_max_rounds == 0 || self.robustness.refine_max_rounds > 20 {
            return bad(
                "robustness.refine_max_rounds must be between 1 and 20; turn refining off with robustness.auto_refine=off",
            );
        }
        for (key, v) in [
            ("robustness.min_confidence", self.robustness.min_confidence),
            (
                "robustness.refine_accept_threshold",
                self.robustness.refine_accept_threshold,
            ),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(ConfigError::Invalid(format!(
                    "{key} is {v}; use a number between 0 and 1"
                )));
            }
        }
        let caps = std::iter::once((
            "budget.session_usd_cap".to_string(),
            self.budget.session_usd_cap,
        ))
        .chain(
            self.budget
                .agent_usd_caps
                .iter()
                .map(|(a, v)| (format!("budget.agent_usd_caps.{a}"), *v)),
        );
        for (key, usd) in caps {
            if !usd.is_finite() || usd < 0.0 {
                return Err(ConfigError::Invalid(format!(
                    "{key} is {usd}; use a number of dollars, 0 or more (0: no cap)"
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
