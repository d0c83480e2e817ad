//! `.clk/config/providers.json`: which providers exist, their settings, and the active one.
//!
//! Settings come from the file, then the environment wins: `CLK_PROVIDER` picks the active
//! provider, and `CLK_<NAME>_<FIELD>` sets a field of provider NAME (`CLK_OLLAMA_ENDPOINT`,
//! `CLK_OPENWEBUI_API_KEY`, …). Unknown fields in the file are kept on rewrite.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::error::{ConfigError, EnvLookup};
use crate::engine::ground::usage::ModelPrice;

/// One provider's settings. Which fields matter depends on `kind`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProviderSettings {
    /// Implementation: shell, ollama, openwebui.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Program to run (shell: a command line that reads the prompt on stdin).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// Extra environment variables for the provider's process.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// A key stored in the file. Prefer the environment; this is redacted everywhere it could show.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    /// Overrides clk.config.json's provider_timeout_s for this provider.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_s: Option<u64>,
    /// Agent CLIs: run the program with this folder as its HOME and config folder instead of
    /// the user's own (a separate login, or a test's fixture).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub home: Option<String>,
    /// Agent CLIs: let the program edit files with its own tools. Every change is checked
    /// after the fact against the same rules as ACTION blocks. Off by default.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub native_tools: bool,
    /// pi: its provider name (`openrouter`, `anthropic`, ...); the key goes to
    /// `<KEY_TYPE>_API_KEY`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_type: Option<String>,
    /// What every model of this provider costs (USD per million tokens); beats the built-in
    /// table and a provider's own reported cost. `{"input_per_mtok": 0, "output_per_mtok": 0}`
    /// marks a subscription or free plan.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price: Option<ModelPrice>,
    /// Prices per model name (the longest matching prefix wins); beat `price`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub prices: BTreeMap<String, ModelPrice>,
    /// claude, codex, gemini: `cli` (run the vendor's program, the default) or `api` (call the
    /// vendor's HTTP API with a key). See [`ProviderSettings::mode`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// codex in api mode: `responses` (the Responses API, the default) or `chat` (chat
    /// completions). See [`ProviderSettings::api_style`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_style: Option<String>,
    /// Fields this version does not know, kept as they were.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// The provider kinds this build can run.
pub const KNOWN_KINDS: &[&str] = &[
    "shell",
    "ollama",
    "openwebui",
    "claude",
    "codex",
    "gemini",
    "pi",
];

/// How a vendor provider (claude, codex, gemini, pi) reaches its model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Run the vendor's own program (its login, its tools).
    Cli,
    /// Call the vendor's HTTP API directly with an API key.
    Api,
}

/// Which OpenAI API a codex provider in api mode speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiStyle {
    /// `POST /responses`, the API codex itself uses.
    Responses,
    /// `POST /chat/completions`, for servers that only speak chat completions.
    Chat,
}

impl ProviderSettings {
    /// The `mode` setting; empty or absent means `cli`.
    pub fn mode(&self, name: &str) -> Result<Mode, ConfigError> {
        match self.mode.as_deref().map(str::trim).unwrap_or_default() {
            "" | "cli" => Ok(Mode::Cli),
            "api" => Ok(Mode::Api),
            other => Err(ConfigError::Invalid(format!(
                "provider {name}: mode {other:?} is not known; use \"cli\" or \"api\""
            ))),
        }
    }

    /// The `api_style` setting; empty or absent means `responses`.
    pub fn api_style(&self, name: &str) -> Result<ApiStyle, ConfigError> {
        match self.api_style.as_deref().map(str::trim).unwrap_or_default() {
            "" | "responses" => Ok(ApiStyle::Responses),
            "chat" => Ok(ApiStyle::Chat),
            other => Err(ConfigError::Invalid(format!(
                "provider {name}: api_style {other:?} is not known; use \"responses\" or \"chat\""
            ))),
        }
    }
}

/// The whole providers.json.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProvidersFile {
    pub active: String,
    pub providers: BTreeMap<String, ProviderSettings>,
}

impl Default for ProvidersFile {
    fn default() -> Self {
        let mut providers = BTreeMap::new();
        providers.insert(
            "shell".to_string(),
            ProviderSettings {
                kind: "shell".into(),
                description: "Built in, free, no account. Without a command it answers with a \
                              fixed protocol reply; with `command` it pipes each prompt to that \
                              program and uses its output."
                    .into(),
                ..Default::default()
            },
        );
        providers.insert(
            "ollama".to_string(),
            ProviderSettings {
                kind: "ollama".into(),
                description: "A local Ollama server.".into(),
                endpoint: Some("http://localhost:11434".into()),
                model: Some("llama3.1".into()),
                ..Default::default()
            },
        );
        providers.insert(
            "openwebui".to_string(),
            ProviderSettings {
                kind: "openwebui".into(),
                description: "Any OpenAI-compatible chat completions server (Open WebUI, \
                              vLLM, llama.cpp, LM Studio)."
                    .into(),
                // Open WebUI serves chat completions under /api.
                endpoint: Some("http://localhost:8080/api".into()),
                model: Some(String::new()),
                api_key: Some(String::new()),
                ..Default::default()
            },
        );
        let vendor = |kind: &str, description: &str| ProviderSettings {
            kind: kind.into(),
            description: description.into(),
            ..Default::default()
        };
        providers.insert(
            "claude".to_string(),
            vendor(
                "claude",
                "Anthropic's Claude. Mode cli runs the `claude` program (Claude Code) with its \
                 own login; mode api calls the Messages API with ANTHROPIC_API_KEY.",
            ),
        );
        providers.insert(
            "codex".to_string(),
            vendor(
                "codex",
                "OpenAI. Mode cli runs the `codex` program with its own login; mode api calls \
                 the Responses API (or chat completions with api_style chat) with \
                 OPENAI_API_KEY.",
            ),
        );
        providers.insert(
            "gemini".to_string(),
            vendor(
                "gemini",
                "Google Gemini. Mode cli runs the `gemini` program with its own login; mode api \
                 calls the Gemini API with GEMINI_API_KEY or GOOGLE_API_KEY.",
            ),
        );
        providers.insert(
            "pi".to_string(),
            vendor(
                "pi",
                "The pi coding agent, run as the `pi` program with its own model settings \
                 (cli mode only).",
            ),
        );
        ProvidersFile {
            active: "shell".into(),
            providers,
        }
    }
}

/// The password of a `scheme://user:password@host` URL.
fn url_password(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let userinfo = rest.split(['/', '?', '#']).next()?.rsplit_once('@')?.0;
    userinfo
        .split_once(':')
        .map(|(_, p)| p)
        .filter(|p| !p.is_empty())
}

/// Fields of a provider that `CLK_<NAME>_<FIELD>` may set.
const ENV_FIELDS: &[&str] = &[
    "endpoint",
    "model",
    "api_key",
    "command",
    "timeout_s",
    "key_type",
    "mode",
    "api_style",
];

impl ProvidersFile {
    /// The file's contents over the built-in defaults, then environment overrides.
    /// A provider named in the file replaces that provider's defaults field by field.
    pub fn from_json_with_env(
        user: Option<&serde_json::Value>,
        env: EnvLookup<'_>,
    ) -> Result<ProvidersFile, ConfigError> {
        let mut value = crate::engine::ground::fixed::json(&ProvidersFile::default());
        if let Some(user) = user {
            super::keys::merge_deep(&mut value, user);
        }
        let mut file: ProvidersFile = serde_json::from_value(value)
            .map_err(|e| ConfigError::Invalid(format!("providers.json: {e}")))?;
        for (name, settings) in file.providers.iter_mut() {
            if settings.kind.is_empty() {
                settings.kind = name.clone();
            }
            let prefix = format!("CLK_{}_", name.to_ascii_uppercase().replace('-', "_"));
            for field in ENV_FIELDS {
                let var = format!("{prefix}{}", field.to_ascii_uppercase());
                if let Some(v) = env(&var) {
                    match *field {
                        "endpoint" => settings.endpoint = Some(v),
                        "model" => settings.model = Some(v),
                        "api_key" => settings.api_key = Some(v),
                        "command" => settings.command = Some(v),
                        "key_type" => settings.key_type = Some(v),
                        "mode" => settings.mode = Some(v),
                        "api_style" => settings.api_style = Some(v),
                        "timeout_s" => {
                            let n = v.trim().parse::<u64>().ok().filter(|n| *n > 0).ok_or_else(
                                || {
                                    ConfigError::Invalid(format!(
                                        "{var}={v:?}: takes a whole number of seconds, at least 1"
                                    ))
                                },
                            )?;
                            settings.timeout_s = Some(n);
                        }
                        other => unreachable!("ENV_FIELDS lists {other} without a setter"),
                    }
                }
            }
            if let Some(key) = settings.api_key.as_deref() {
                crate::engine::ground::redact::register(key);
            }
            for (var, value) in &settings.env {
                if crate::engine::ground::redact::is_secret_name(var) {
                    crate::engine::ground::redact::register(value);
                }
            }
            if let Some(pass) = settings.endpoint.as_deref().and_then(url_password) {
                crate::engine::ground::redact::register(pass);
            }
        }
        if let Some(active) = env("CLK_PROVIDER") {
            file.active = active;
        }
        Ok(file)
    }
    /// Settings for `name`, or a clear error listing what exists.
    pub fn get(&self, name: &str) -> Result<&ProviderSettings, ConfigError> {
        self.providers.get(name).ok_or_else(|| {
            let names: Vec<&str> = self.providers.keys().map(String::as_str).collect();
            ConfigError::Invalid(format!(
                "unknown provider {name:?}; known providers: {}",
                names.join(", ")
            ))
        })
    }

    /// Check that the active provider exists and every provider has a kind this build runs.
    pub fn check(&self) -> Result<(), ConfigError> {
        self.get(&self.active)?;
        for (name, s) in &self.providers {
            if !KNOWN_KINDS.contains(&s.kind.as_str()) {
                return Err(ConfigError::Invalid(format!(
                    "provider {name:?} has type {:?}; this build runs: {}",
                    s.kind,
                    KNOWN_KINDS.join(", ")
                )));
            }
            let priced = s.price.iter().map(|p| ("price".to_string(), p));
            let per_model = s.prices.iter().map(|(m, p)| (format!("prices.{m}"), p));
            for (key, p) in priced.chain(per_model) {
                p.to_price().map_err(|e| {
                    ConfigError::Invalid(format!("providers.json: providers.{name}.{key}: {e}"))
                })?;
            }
            s.mode(name)?;
            s.api_style(name)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_overrides_endpoint_and_active() {
        let env = |k: &str| match k {
            "CLK_PROVIDER" => Some("ollama".to_string()),
            "CLK_OLLAMA_ENDPOINT" => Some("http://127.0.0.1:9".to_string()),
            _ => None,
        };
        let f = ProvidersFile::from_json_with_env(None, &env).unwrap();
        assert_eq!(f.active, "ollama");
        assert_eq!(
            f.providers["ollama"].endpoint.as_deref(),
            Some("http://127.0.0.1:9")
        );
        assert_eq!(f.providers["ollama"].model.as_deref(), Some("llama3.1"));
    }

    #[test]
    fn url_passwords_and_secret_env_values_are_redacted() {
        assert_eq!(url_password("http://bob:pa55word@h:1/x"), Some("pa55word"));
        assert_eq!(url_password("http://h:1/x@y"), None);
        let user = serde_json::json!({"providers": {"ollama": {
            "endpoint": "http://bob:s3cr3t-pass@127.0.0.1:1",
            "env": {"MY_TOKEN": "tok-abcdef-123", "PLAIN": "visible-value"}}}});
        ProvidersFile::from_json_with_env(Some(&user), &|_| None).unwrap();
        let out =
            crate::engine::ground::redact::redact_text("s3cr3t-pass tok-abcdef-123 visible-value");
        assert_eq!(
            out,
            "<redacted: 11 chars> <redacted: 14 chars> visible-value"
        );
    }

    #[test]
    fn a_partial_provider_block_keeps_its_defaults() {
        let user = serde_json::json!({"providers": {"ollama": {"model": "qwen3"}}});
        let f = ProvidersFile::from_json_with_env(Some(&user), &|_| None).unwrap();
        assert_eq!(f.providers["ollama"].model.as_deref(), Some("qwen3"));
        assert_eq!(f.providers["ollama"].kind, "ollama");
        assert!(f.providers["ollama"].endpoint.is_some());
    }

    #[test]
    fn vendor_providers_default_to_cli_mode_and_env_sets_mode_and_style() {
        let f = ProvidersFile::from_json_with_env(None, &|_| None).unwrap();
        for name in ["claude", "codex", "gemini", "pi"] {
            let s = &f.providers[name];
            assert_eq!(s.kind, name);
            assert_eq!(s.mode(name).unwrap(), Mode::Cli);
            assert!(!s.description.is_empty());
        }
        f.check().unwrap();
        let env = |k: &str| match k {
            "CLK_CODEX_MODE" => Some("api".to_string()),
            "CLK_CODEX_API_STYLE" => Some("chat".to_string()),
            "CLK_CLAUDE_MODE" => Some("web".to_string()),
            _ => None,
        };
        let f = ProvidersFile::from_json_with_env(None, &env).unwrap();
        let codex = &f.providers["codex"];
        assert_eq!(codex.mode("codex").unwrap(), Mode::Api);
        assert_eq!(codex.api_style("codex").unwrap(), ApiStyle::Chat);
        let e = f.check().unwrap_err().to_string();
        assert!(e.contains("mode \"web\"") && e.contains("\"api\""), "{e}");
    }

    #[test]
    fn unknown_active_provider_is_a_clear_error() {
        let env = |k: &str| (k == "CLK_PROVIDER").then(|| "nope".to_string());
        let f = ProvidersFile::from_json_with_env(None, &env).unwrap();
        let e = f.check().unwrap_err().to_string();
        assert!(e.contains("unknown provider \"nope\""), "{e}");
        assert!(e.contains("shell"), "{e}");
    }
}
