//! `.clk/config/agents.json`: the roster.
//!
//! Baseline agents (chief, engineer, qa, ralph, critic) are seeded at init and cannot be
//! removed; the chief adds dynamic specialists later. An agent may pin a provider.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Agents every project has. `engineer` is seeded so it is never re-invented under an alias.
pub const BASELINE: &[(&str, &str)] = &[
    (
        "chief",
        "decomposes objectives, casts the team, writes workflows, supervises",
    ),
    (
        "engineer",
        "implements the smallest working slice, with tests",
    ),
    ("qa", "tests and audits changes; says PASS or FAIL"),
    (
        "ralph",
        "picks one measurable improvement per iteration; runs research loops",
    ),
    (
        "critic",
        "reviews a piece of work and says accept or revise",
    ),
];

/// One roster entry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AgentSpec {
    /// Prompt file name under `.clk/prompts/`.
    pub prompt: String,
    /// Provider pin; None uses the project's active provider.
    pub provider: Option<String>,
    pub role: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub capabilities: Vec<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub dynamic: bool,
}

/// The whole agents.json.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentsFile {
    pub agents: BTreeMap<String, AgentSpec>,
}

impl Default for AgentsFile {
    fn default() -> Self {
        let agents = BASELINE
            .iter()
            .map(|(name, role)| {
                (
                    name.to_string(),
                    AgentSpec {
                        prompt: format!("{name}.md"),
                        provider: None,
                        role: role.to_string(),
                        capabilities: Vec::new(),
                        dynamic: false,
                    },
                )
            })
            .collect();
        AgentsFile { agents }
    }
}

impl AgentsFile {
    /// The spec for `name`: the roster entry, or a plain one using `<name>.md`.
    pub fn spec(&self, name: &str) -> AgentSpec {
        self.agents.get(name).cloned().unwrap_or_else(|| AgentSpec {
            prompt: format!("{name}.md"),
            ..Default::default()
        })
    }

    pub fn is_baseline(name: &str) -> bool {
        BASELINE.iter().any(|(n, _)| *n == name)
    }
}
