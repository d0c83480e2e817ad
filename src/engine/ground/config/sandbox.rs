//! The `sandbox` block of clk.config.json: how commands clk starts for agents are confined.
//!
//! `"sandbox": "off"` (a bare word) is read as `{"mode": "off"}`, so the short form a person
//! would write works; every other key keeps its default.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `sandbox.mode`: which OS sandbox runs agents' commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SandboxMode {
    /// Bubblewrap when it works, else Landlock; commands are refused when neither does.
    #[default]
    Auto,
    /// Only bubblewrap.
    Bubblewrap,
    /// Only Landlock.
    Landlock,
    /// No sandbox: commands run as they are (the environment allow-list still applies).
    Off,
}

/// How agents' commands, validation, tests and CLI providers are confined.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SandboxConfig {
    pub mode: SandboxMode,
    /// Commands may use the network (installs need it); false gives them none, not even
    /// loopback.
    pub network: bool,
    /// Most processes one command may run at once (0: no limit).
    pub max_processes: u32,
    /// Most address space each process of a command may map, in MiB (0: no limit).
    pub max_memory_mb: u64,
    /// More folders commands may write to, besides the project and a private /tmp (caches
    /// such as `~/.cargo/registry` or `~/.npm` when installs must work); `~/` is the home
    /// folder. Folders that do not exist are left out.
    pub writable: Vec<String>,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            mode: SandboxMode::Auto,
            network: true,
            max_processes: 1024,
            max_memory_mb: 16 * 1024,
            writable: Vec::new(),
        }
    }
}

/// Rewrite a user's `"sandbox": "<word>"` as `"sandbox": {"mode": "<word>"}`.
pub fn expand_short_form(user: &mut Value) {
    if let Some(slot) = user.as_object_mut().and_then(|m| m.get_mut("sandbox")) {
        if let Value::String(word) = slot {
            *slot = serde_json::json!({ "mode": word.clone() });
        }
    }
}
