//! Config keys that take one of a few words, as enums.
//!
//! The words are the serde names (snake_case), so the file on disk and `clk configure --show`
//! spell them as before. A word a key does not take is refused before the config is built,
//! with one line naming the key and the words it takes: serde alone would say "unknown
//! variant" without the key, and a string matched at the use site would quietly fall back to
//! a default.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::ConfigError;
use super::gauntlet::{GauntletPreset, GauntletScope};
use super::keys::get_path;
use super::sandbox::SandboxMode;

/// `robustness.auto_consensus`: when a dispatch fans out into consensus samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AutoConsensus {
    /// Never.
    Off,
    /// For careful stages.
    OnCareful,
    /// For every dispatch.
    Always,
}

/// `robustness.auto_refine`: which stages get a critic loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AutoRefine {
    /// None, not even a stage's own `refine:` block.
    Off,
    /// Stages with a `refine:` block, and careful stages.
    CarefulOnly,
    /// Every stage.
    All,
}

/// `robustness.plateau_action`: what a loop does when it stops improving.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlateauAction {
    /// Escalate, then reframe, then stop.
    EscalateThenReframe,
    /// Nothing: no escalation, reframe, critique or plateau stop; the loop runs to its cap.
    Off,
}

/// `validation.rollback_on_failure`: when a stage whose validation fails has its commit undone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RollbackOnFailure {
    Never,
    /// For careful stages.
    Careful,
    Always,
}

/// `autonomy`: how a run's branch reaches the user's branch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Autonomy {
    /// Ask before every merge (default no; headless leaves it for `clk merge`).
    Safe,
    /// Merge when checks passed and nothing of the user's conflicts.
    Balanced,
    /// As balanced, then push when a remote is configured.
    Aggressive,
}

/// `ui.theme`: the dashboard's palette (`NO_COLOR` still wins: no colour at all).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UiTheme {
    /// For a dark terminal background.
    #[default]
    Dark,
    /// For a light terminal background.
    Light,
}

/// The dashboard's settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct UiConfig {
    pub theme: UiTheme,
}

/// How the dashboard tells a person about a notice (a task waiting for approval, a run done
/// or failed, a spending cap reached).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NotifyConfig {
    /// Ring the terminal's bell.
    pub bell: bool,
    /// A desktop notification: `notify-send` when it is installed, else the terminal's own
    /// (OSC 777 and OSC 9 escapes).
    pub desktop: bool,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        NotifyConfig {
            bell: true,
            desktop: true,
        }
    }
}

/// `clk serve`'s chat bots: who may use them and where their APIs are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServeConfig {
    /// Telegram user ids the bot obeys; nobody when empty.
    pub telegram_users: Vec<i64>,
    /// The Telegram Bot API's address (a local mock in tests).
    pub telegram_api: String,
    /// Discord role or user ids that may start and stop work (`run`, `review`, `abort`).
    pub discord_run: Vec<String>,
    /// Discord role or user ids that may approve, pause and resume tasks.
    pub discord_approve: Vec<String>,
    /// Discord role or user ids that may do all of it and link channels (`project add`).
    pub discord_admin: Vec<String>,
    /// The Discord REST API's address (a local mock in tests).
    pub discord_api: String,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            telegram_users: Vec::new(),
            telegram_api: "https://api.telegram.org".into(),
            discord_run: Vec::new(),
            discord_approve: Vec::new(),
            discord_admin: Vec::new(),
            discord_api: "https://discord.com/api/v10".into(),
        }
    }
}

/// Where the task queue is kept: empty `url` is SQLite in `.clk/state/clk.db`; a
/// `postgres://` URL is a database that workers on many machines share.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct StoreConfig {
    /// `postgres://user:password@host:port/db`, or empty for the SQLite file.
    pub url: String,
    /// Seconds a worker's lease on a task lasts without a heartbeat; then another worker
    /// takes the task over (PostgreSQL only).
    pub lease_s: u64,
    /// Most tasks running at once on one account (a provider), over every worker (0: no limit).
    pub account_limit: u32,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            url: String::new(),
            lease_s: 60,
            account_limit: 0,
        }
    }
}

/// A config value that is one of a few words.
pub trait Choice: Copy + Serialize + DeserializeOwned + 'static {
    /// The dotted key that takes it.
    const KEY: &'static str;
    /// Every value, in the order an error lists them.
    const ALL: &'static [Self];
}

impl Choice for AutoConsensus {
    const KEY: &'static str = "robustness.auto_consensus";
    const ALL: &'static [Self] = &[Self::Off, Self::OnCareful, Self::Always];
}

impl Choice for AutoRefine {
    const KEY: &'static str = "robustness.auto_refine";
    const ALL: &'static [Self] = &[Self::Off, Self::CarefulOnly, Self::All];
}

impl Choice for PlateauAction {
    const KEY: &'static str = "robustness.plateau_action";
    const ALL: &'static [Self] = &[Self::EscalateThenReframe, Self::Off];
}

impl Choice for RollbackOnFailure {
    const KEY: &'static str = "validation.rollback_on_failure";
    const ALL: &'static [Self] = &[Self::Never, Self::Careful, Self::Always];
}

impl Choice for SandboxMode {
    const KEY: &'static str = "sandbox.mode";
    const ALL: &'static [Self] = &[Self::Auto, Self::Bubblewrap, Self::Landlock, Self::Off];
}

impl Choice for Autonomy {
    const KEY: &'static str = "autonomy";
    const ALL: &'static [Self] = &[Self::Safe, Self::Balanced, Self::Aggressive];
}

impl Choice for UiTheme {
    const KEY: &'static str = "ui.theme";
    const ALL: &'static [Self] = &[Self::Dark, Self::Light];
}

impl Choice for GauntletPreset {
    const KEY: &'static str = "gauntlet.preset";
    const ALL: &'static [Self] = &[Self::Quick, Self::Standard, Self::Rigorous];
}

impl Choice for GauntletScope {
    const KEY: &'static str = "gauntlet.scope";
    const ALL: &'static [Self] = &[Self::CarefulOnly, Self::Producing, Self::All];
}

/// The word the config file uses for `c`.
pub fn word<C: Choice>(c: C) -> String {
    match serde_json::to_value(c) {
        Ok(Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(e) => e.to_string(),
    }
}

/// Every choice key of the merged config (defaults, file and environment) holds a word it
/// takes.
pub fn check(merged: &Value) -> Result<(), ConfigError> {
    check_one::<AutoConsensus>(merged)?;
    check_one::<AutoRefine>(merged)?;
    check_one::<PlateauAction>(merged)?;
    check_one::<RollbackOnFailure>(merged)?;
    check_one::<Autonomy>(merged)?;
    check_one::<UiTheme>(merged)?;
    check_one::<GauntletPreset>(merged)?;
    check_one::<GauntletScope>(merged)?;
    check_one::<SandboxMode>(merged)
}

fn check_one<C: Choice>(merged: &Value) -> Result<(), ConfigError> {
    let Some(v) = get_path(merged, C::KEY) else {
        return Ok(());
    };
    if serde_json::from_value::<C>(v.clone()).is_ok() {
        return Ok(());
    }
    let shown = match v {
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    };
    let words: Vec<String> = C::ALL.iter().map(|c| word(*c)).collect();
    Err(ConfigError::Invalid(format!(
        "{} is {shown}; use one of: {}",
        C::KEY,
        words.join(", ")
    )))
}
