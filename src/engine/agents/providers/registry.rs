//! Which provider serves a dispatch, and building it from its settings.
//!
//! Choice: the agent's pin in agents.json, else providers.json's `active` (which
//! `CLK_PROVIDER` overrides). A name that is not configured is an error that lists the
//! configured ones; it never silently falls back to another provider.

use std::sync::Arc;

use super::Provider;
use super::anthropic::AnthropicProvider;
use super::cli::{Cli, CliProvider};
use super::gemini::GeminiProvider;
use super::ollama::OllamaProvider;
use super::openwebui::OpenAiCompatProvider;
use super::responses::{OpenAiChatProvider, ResponsesProvider};
use super::shell::ShellProvider;
use crate::engine::ground::config::{ApiStyle, ConfigError, Mode, ProviderSettings};
use crate::engine::store::workspace::Project;

/// The provider name for `agent`.
pub fn choose(project: &Project, agent: &str) -> String {
    project
        .agents
        .agents
        .get(agent)
        .and_then(|a| a.provider.clone())
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| project.providers.active.clone())
}

/// Build provider `name` from its settings.
pub fn build(name: &str, settings: &ProviderSettings) -> Result<Arc<dyn Provider>, ConfigError> {
    let bad = |e| invalid(name, e);
    Ok(match settings.kind.as_str() {
        "shell" => Arc::new(ShellProvider::new(name, settings)),
        "ollama" => Arc::new(OllamaProvider::new(name, settings).map_err(bad)?),
        "openwebui" => Arc::new(OpenAiCompatProvider::new(name, settings).map_err(bad)?),
        "claude" | "codex" | "gemini" | "pi" => match settings.mode(name)? {
            Mode::Api => api_mode(name, settings)?,
            Mode::Cli => {
                let cli = Cli::from_kind(&settings.kind).ok_or_else(|| {
                    ConfigError::Invalid(format!(
                        "provider {name}: {:?} is not an agent CLI",
                        settings.kind
                    ))
                })?;
                Arc::new(CliProvider::new(name, cli, settings))
            }
        },
        other => {
            return Err(ConfigError::Invalid(format!(
                "provider {name} has type {other:?}; this build runs: {}",
                crate::engine::ground::config::providers::KNOWN_KINDS.join(", ")
            )));
        }
    })
}

/// A provider's own complaint, naming the provider unless it already does.
fn invalid(name: &str, e: String) -> ConfigError {
    ConfigError::Invalid(if e.starts_with(name) {
        e
    } else {
        format!("provider {name}: {e}")
    })
}

/// The API-key client for a vendor provider in api mode.
fn api_mode(name: &str, settings: &ProviderSettings) -> Result<Arc<dyn Provider>, ConfigError> {
    let bad = |e| invalid(name, e);
    let env = &crate::engine::ground::config::process_env;
    Ok(match settings.kind.as_str() {
        "claude" => Arc::new(AnthropicProvider::with_env(name, settings, env).map_err(bad)?),
        "codex" => match settings.api_style(name)? {
            ApiStyle::Responses => {
                Arc::new(ResponsesProvider::with_env(name, settings, env).map_err(bad)?)
            }
            ApiStyle::Chat => {
                Arc::new(OpenAiChatProvider::with_env(name, settings, env).map_err(bad)?)
            }
        },
        "gemini" => Arc::new(GeminiProvider::with_env(name, settings, env).map_err(bad)?),
        other => {
            return Err(ConfigError::Invalid(format!(
                "provider {name}: type {other} has no api mode; it only runs its own program \
                 (mode cli); for api mode use claude, codex or gemini"
            )));
        }
    })
}

/// Whether provider `name` can be used now, answered within `limit` (a provider that does not
/// answer in time counts as not usable). No model call.
pub async fn availability(
    name: &str,
    settings: &ProviderSettings,
    limit: std::time::Duration,
) -> super::Availability {
    match build(name, settings) {
        Ok(p) => tokio::time::timeout(limit, p.check())
            .await
            .unwrap_or_else(|_| {
                super::Availability::no(format!("no answer within {:.1} s", limit.as_secs_f64()))
            }),
        Err(e) => super::Availability::no(e.to_string()),
    }
}

/// Build the provider that serves `agent` in `project`.
pub fn for_agent(project: &Project, agent: &str) -> Result<Arc<dyn Provider>, ConfigError> {
    let name = choose(project, agent);
    let settings = project.providers.get(&name)?;
    build(&name, settings)
}

/// True when `agent`'s provider answers with a fixed text (the shell provider without a
/// command): asking it again, or several times, cannot change the answer.
pub fn fixed_replies(project: &Project, agent: &str) -> bool {
    let name = choose(project, agent);
    project.providers.get(&name).is_ok_and(|s| {
        s.kind == "shell" && s.command.as_deref().is_none_or(|c| c.trim().is_empty())
    })
}
