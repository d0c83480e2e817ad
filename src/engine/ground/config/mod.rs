//! Configuration: `.clk/config/clk.config.json`, `providers.json` and `agents.json`.
//!
//! Every struct here has serde defaults at every level, so a user file that sets one key of a
//! nested block keeps every other default of that block (the Python CLK merged shallowly and
//! dropped them). Environment variables win over files: `CLK_<BLOCK>_<KEY>` for any key of
//! clk.config.json (e.g. `CLK_SUPERVISE_MAX_CYCLES`), and the provider variables in
//! [`providers`]. Reading never writes; writes go through [`crate::engine::store::workspace`].

pub mod agents;
mod gate;
pub mod keys;
pub mod providers;

use serde::{Deserialize, Serialize};

pub use agents::{AgentSpec, AgentsFile};
pub use gate::GateConfig;
pub use providers::{ApiStyle, Mode, ProviderSettings, ProvidersFile};

/// A source of environment variables, so tests can pass their own.
pub type EnvLookup<'a> = &'a (dyn Fn(&str) -> Option<String> + Sync);

/// The process environment as an [`EnvLookup`].
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

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
    pub consensus: ConsensusConfig,
    pub casting: CastingConfig,
    pub robustness: RobustnessConfig,
    pub blackboard: BlackboardConfig,
    /// What must hold before an `ACTION: done` ends a run.
    pub done_gate: GateConfig,
    /// Spending caps, checked against the persisted usage totals around every dispatch.
    pub budget: BudgetConfig,
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
            consensus: ConsensusConfig::default(),
            casting: CastingConfig::default(),
            robustness: RobustnessConfig::default(),
            blackboard: BlackboardConfig::default(),
            done_gate: GateConfig::default(),
            budget: BudgetConfig::default(),
        }
    }
}

/// Spending caps in USD over the session's persisted totals (`.clk/state/usage.json`).
/// Reaching a cap pauses the run to ask the user; without an answer (headless) it stops.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BudgetConfig {
    /// Most the whole session may spend, in USD (0: no cap).
    pub session_usd_cap: f64,
    /// Most each named agent may spend in the session, in USD (0 or absent: no cap).
    pub agent_usd_caps: std::collections::BTreeMap<String, f64>,
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
    /// When a stage's validation fails, undo its commit: never, careful (careful stages), always.
    pub rollback_on_failure: String,
}

impl Default for ValidationConfig {
    fn default() -> Self {
        ValidationConfig {
            max_files_per_batch: 25,
            warn_files_per_batch: 5,
            run_timeout_s: 120,
            rollback_on_failure: "careful".into(),
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
    pub max_per_stage: u32,
}

impl Default for RecoveryConfig {
    fn default() -> Self {
        RecoveryConfig { max_per_stage: 3 }
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

/// What clk spends on the quality of replies; every key here is read by
/// [`crate::engine::agents::robust`], the Q&A router or the improvement loops.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RobustnessConfig {
    /// Fan a dispatch out into consensus samples: off | on_careful | always.
    pub auto_consensus: String,
    /// Critic loops: off (none, not even a stage's `refine:` block) | careful_only (stages with
    /// `refine:` and careful stages) | all (every stage).
    pub auto_refine: String,
    /// Repair dispatches after a reply fails the quality check (0: none).
    pub max_quality_retries: u32,
    /// A reply shorter than this, once trimmed, counts as empty.
    pub min_response_chars: u32,
    /// Replies that report CONFIDENCE below this are treated as weak.
    pub min_confidence: f64,
    /// Critic reviews per refine loop when the stage does not say.
    pub refine_max_rounds: u32,
    /// A critic SCORE at or above this accepts the work.
    pub refine_accept_threshold: f64,
    pub max_qa_depth: u32,
    /// Iterations without improvement before a loop counts as on a plateau.
    pub plateau_window: u32,
    /// What a loop does on a plateau: escalate_then_reframe (escalate, reframe, then stop) or
    /// off (no escalation, reframe, critique or plateau stop: the loop runs to its cap).
    pub plateau_action: String,
}

/// `robustness.auto_consensus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoConsensus {
    Off,
    OnCareful,
    Always,
}

/// `robustness.auto_refine`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoRefine {
    Off,
    CarefulOnly,
    All,
}

impl RobustnessConfig {
    /// The consensus mode; [`ClkConfig::check`] has refused anything unknown.
    pub fn consensus_mode(&self) -> AutoConsensus {
        match self.auto_consensus.as_str() {
            "always" => AutoConsensus::Always,
            "on_careful" => AutoConsensus::OnCareful,
            _ => AutoConsensus::Off,
        }
    }

    /// The refine mode; [`ClkConfig::check`] has refused anything unknown.
    pub fn refine_mode(&self) -> AutoRefine {
        match self.auto_refine.as_str() {
            "all" => AutoRefine::All,
            "careful_only" => AutoRefine::CarefulOnly,
            _ => AutoRefine::Off,
        }
    }

    /// False when `plateau_action` is off.
    pub fn plateau_steering(&self) -> bool {
        self.plateau_action != "off"
    }
}

impl Default for RobustnessConfig {
    fn default() -> Self {
        RobustnessConfig {
            auto_consensus: "on_careful".into(),
            auto_refine: "careful_only".into(),
            max_quality_retries: 2,
            min_response_chars: 40,
            min_confidence: 0.5,
            refine_max_rounds: 3,
            refine_accept_threshold: 0.8,
            max_qa_depth: 4,
            plateau_window: 3,
            plateau_action: "escalate_then_reframe".into(),
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

/// A configuration problem, said so a person knows what to fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "{path}: not valid JSON ({detail}); fix the file (clk keeps the version before its last change as {path}.bak)"
    )]
    Parse { path: String, detail: String },
    #[error("{0}")]
    Invalid(String),
    #[error("cannot read {path}: {detail}")]
    Io { path: String, detail: String },
}

impl ClkConfig {
    /// Parse the user's file (if any) over the defaults, then apply `CLK_*` overrides.
    pub fn from_json_with_env(
        user: Option<&serde_json::Value>,
        env: EnvLookup<'_>,
    ) -> Result<ClkConfig, ConfigError> {
        let mut value = crate::engine::ground::fixed::json(&ClkConfig::default());
        if let Some(user) = user {
            keys::check_types(&value, user, "clk.config.json")?;
            keys::merge_deep(&mut value, user);
        }
        keys::apply_env_overrides(&mut value, env)?;
        let config: ClkConfig = serde_json::from_value(value)
            .map_err(|e| ConfigError::Invalid(format!("clk.config.json: {e}")))?;
        config.check()?;
        Ok(config)
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
        if self.consensus.max_parallel == 0 {
            return bad("consensus.max_parallel must be at least 1");
        }
        if self.consensus.max_samples == 0 || self.consensus.max_samples > 64 {
            return bad(
                "consensus.max_samples must be between 1 and 64; turn fan-out off with robustness.auto_consensus=off",
            );
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
        let one_of = |key: &str, v: &str, allowed: &[&str]| -> Result<(), ConfigError> {
            if allowed.contains(&v) {
                Ok(())
            } else {
                Err(ConfigError::Invalid(format!(
                    "{key} is {v:?}; use one of: {}",
                    allowed.join(", ")
                )))
            }
        };
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
        one_of(
            "robustness.auto_consensus",
            &self.robustness.auto_consensus,
            &["off", "on_careful", "always"],
        )?;
        one_of(
            "robustness.auto_refine",
            &self.robustness.auto_refine,
            &["off", "careful_only", "all"],
        )?;
        one_of(
            "robustness.plateau_action",
            &self.robustness.plateau_action,
            &["escalate_then_reframe", "off"],
        )?;
        one_of(
            "validation.rollback_on_failure",
            &self.validation.rollback_on_failure,
            &["never", "careful", "always"],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn a_partial_nested_block_keeps_the_other_defaults() {
        let user = serde_json::json!({"supervise": {"max_cycles": 1}});
        let c = ClkConfig::from_json_with_env(Some(&user), &no_env).unwrap();
        assert_eq!(c.supervise.max_cycles, 1);
        assert_eq!(
            c.supervise.max_consecutive_no_progress,
            SuperviseConfig::default().max_consecutive_no_progress
        );
        assert!(c.supervise.stall_rescue);
    }

    #[test]
    fn env_wins_over_the_file() {
        let user = serde_json::json!({"supervise": {"max_cycles": 1}});
        let env = |k: &str| (k == "CLK_SUPERVISE_MAX_CYCLES").then(|| "7".to_string());
        let c = ClkConfig::from_json_with_env(Some(&user), &env).unwrap();
        assert_eq!(c.supervise.max_cycles, 7);
    }

    /// Every key of robustness.* and consensus.* has a `CLK_*` override that changes it.
    #[test]
    fn every_robustness_and_consensus_key_has_an_env_override() {
        let defaults = serde_json::to_value(ClkConfig::default()).unwrap();
        let mut checked = 0;
        for (key, value) in keys::leaves(&defaults) {
            if !(key.starts_with("robustness.") || key.starts_with("consensus.")) {
                continue;
            }
            let other = match (key.as_str(), &value) {
                ("robustness.auto_consensus", _) => "always".to_string(),
                ("robustness.auto_refine", _) => "all".to_string(),
                ("robustness.plateau_action", _) => "off".to_string(),
                (_, serde_json::Value::Number(n)) if n.is_u64() => {
                    (n.as_u64().unwrap() + 1).to_string()
                }
                (_, serde_json::Value::Number(n)) => (n.as_f64().unwrap() / 2.0).to_string(),
                (k, v) => panic!("{k} = {v}: add a value for this key to the test"),
            };
            let name = keys::env_name(&key);
            assert!(name.starts_with("CLK_ROBUSTNESS_") || name.starts_with("CLK_CONSENSUS_"));
            let env = |k: &str| (k == name).then(|| other.clone());
            let c = ClkConfig::from_json_with_env(None, &env)
                .unwrap_or_else(|e| panic!("{name}={other}: {e}"));
            let got = serde_json::to_value(&c).unwrap();
            assert_ne!(
                keys::get_path(&got, &key),
                Some(&value),
                "{name}={other} changed nothing"
            );
            checked += 1;
        }
        assert_eq!(
            checked, 12,
            "a key was added or removed: keep this test in step"
        );
    }

    #[test]
    fn zero_timeout_is_refused_with_the_fix() {
        let user = serde_json::json!({"provider_timeout_s": 0});
        let e = ClkConfig::from_json_with_env(Some(&user), &no_env).unwrap_err();
        assert!(e.to_string().contains("clk configure --set"), "{e}");
    }

    #[test]
    fn budget_caps_come_from_the_file_and_the_environment() {
        let user = serde_json::json!({"budget": {"agent_usd_caps": {"qa": 0.5}}});
        let env = |k: &str| match k {
            "CLK_BUDGET_SESSION_USD_CAP" => Some("2.5".to_string()),
            _ => None,
        };
        let c = ClkConfig::from_json_with_env(Some(&user), &env).unwrap();
        assert_eq!(c.budget.session_usd_cap, 2.5);
        assert_eq!(c.budget.agent_usd_caps["qa"], 0.5);
        let env = |k: &str| {
            (k == "CLK_BUDGET_AGENT_USD_CAPS").then(|| "engineer=1.25, chief=3".to_string())
        };
        let c = ClkConfig::from_json_with_env(Some(&user), &env).unwrap();
        assert_eq!(
            c.budget.agent_usd_caps.len(),
            2,
            "the variable replaces the file's map"
        );
        assert_eq!(c.budget.agent_usd_caps["engineer"], 1.25);
        assert_eq!(c.budget.agent_usd_caps["chief"], 3.0);
        let env = |k: &str| (k == "CLK_BUDGET_AGENT_USD_CAPS").then(|| "engineer".to_string());
        let e = ClkConfig::from_json_with_env(None, &env)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("CLK_BUDGET_AGENT_USD_CAPS") && e.contains("agent=usd"),
            "{e}"
        );
        let user = serde_json::json!({"budget": {"session_usd_cap": -1}});
        let e = ClkConfig::from_json_with_env(Some(&user), &no_env)
            .unwrap_err()
            .to_string();
        assert!(e.contains("budget.session_usd_cap"), "{e}");
        let user = serde_json::json!({"budget": {"agent_usd_caps": {"qa": "lots"}}});
        let e = ClkConfig::from_json_with_env(Some(&user), &no_env)
            .unwrap_err()
            .to_string();
        assert!(e.contains("budget.agent_usd_caps.qa"), "{e}");
    }

    #[test]
    fn a_wrong_type_names_the_key() {
        let user = serde_json::json!({"supervise": {"max_cycles": "many"}});
        let e = ClkConfig::from_json_with_env(Some(&user), &no_env).unwrap_err();
        assert!(e.to_string().contains("max_cycles"), "{e}");
    }
}
