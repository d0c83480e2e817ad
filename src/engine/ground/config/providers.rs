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
    /// Vendor APIs: ask for a streamed reply (default true); `false` for a proxy that cannot
    /// stream.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    /// claude in api mode: the output limit of each reply (default 8192).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u64>,
    /// claude in api mode: the `anthropic-version` header (default 2023-06-01).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// Fields this version does not know, kept as they were.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

impl ProviderSettings {
    /// One value of every field, so the list of settable fields and the type of each come
    /// from this type alone. Written without `..Default::default()`: a new field does not
    /// compile until it is listed here.
    pub fn every_field() -> ProviderSettings {
        let price = ModelPrice {
            input_per_mtok: 0.0,
            output_per_mtok: 0.0,
            cached_input_per_mtok: Some(0.0),
        };
        ProviderSettings {
            kind: "shell".into(),
            description: "text".into(),
            command: Some(String::new()),
            args: vec![String::new()],
            env: BTreeMap::from([(String::new(), String::new())]),
            endpoint: Some(String::new()),
            model: Some(String::new()),
            api_key: Some(String::new()),
            timeout_s: Some(1),
            home: Some(String::new()),
            native_tools: true,
            key_type: Some(String::new()),
            price: Some(price.clone()),
            prices: BTreeMap::from([(String::new(), price)]),
            mode: Some(String::new()),
            api_style: Some(String::new()),
            stream: Some(true),
            max_tokens: Some(1),
            api_version: Some(String::new()),
            extra: BTreeMap::new(),
        }
    }

    /// Every field a provider has, as written in providers.json, with a sample value of its
    /// type (text, true/false, number, list, or a block for `env`, `price` and `prices`).
    pub fn fields() -> Vec<(String, serde_json::Value)> {
        match crate::engine::ground::fixed::json(&Self::every_field()) {
            serde_json::Value::Object(map) => map.into_iter().collect(),
            _ => Vec::new(),
        }
    }
}

/// The figures of a price, as `price.PART` or `prices.MODEL.PART`.
pub const PRICE_PARTS: &[&str] = &["input_per_mtok", "output_per_mtok", "cached_input_per_mtok"];

impl ProviderSettings {
    /// What `clk configure --set providers.NAME.…` accepts, for help and errors.
    pub fn settable() -> Vec<String> {
        Self::fields()
            .into_iter()
            .map(|(f, like)| match f.as_str() {
                "env" => "env.VAR".to_string(),
                "price" => format!("price.{{{}}}", PRICE_PARTS.join(",")),
                "prices" => "prices.MODEL.…".to_string(),
                _ if like.is_object() => format!("{f}.…"),
                _ => f,
            })
            .collect()
    }
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

impl ProvidersFile {
    /// The file's contents over the built-in defaults, then environment overrides.
    /// A provider named in the file replaces that provider's defaults field by field.
    /// `CLK_<NAME>_<FIELD>` may set any field that holds one value (text, number, true/false).
    pub fn from_json_with_env(
        project: Option<&serde_json::Value>,
        env: EnvLookup<'_>,
    ) -> Result<ProvidersFile, ConfigError> {
        Self::from_layers(&[project], env)
    }

    /// The built-in providers, then each layer (the user's providers.json, then the
    /// project's) merged over them field by field, then the `CLK_<NAME>_<FIELD>` overrides.
    pub fn from_layers(
        layers: &[Option<&serde_json::Value>],
        env: EnvLookup<'_>,
    ) -> Result<ProvidersFile, ConfigError> {
        let mut value = crate::engine::ground::fixed::json(&ProvidersFile::default());
        for layer in layers.iter().flatten() {
            super::keys::merge_deep(&mut value, layer);
        }
        let scalar_fields: Vec<(String, serde_json::Value)> = ProviderSettings::fields()
            .into_iter()
            .filter(|(f, like)| f != "type" && !like.is_object() && !like.is_array())
            .collect();
        if let Some(providers) = value
            .get_mut("providers")
            .and_then(serde_json::Value::as_object_mut)
        {
            for (name, settings) in providers.iter_mut() {
                let prefix = format!("CLK_{}_", name.to_ascii_uppercase().replace('-', "_"));
                for (field, like) in &scalar_fields {
                    let var = format!("{prefix}{}", field.to_ascii_uppercase());
                    if let Some(v) = env(&var) {
                        let v = super::keys::coerce(&v, like)
                            .map_err(|why| ConfigError::Invalid(format!("{var}={v:?}: {why}")))?;
                        if let Some(map) = settings.as_object_mut() {
                            map.insert(field.clone(), v);
                        }
                    }
                }
            }
        }
        let mut file: ProvidersFile = serde_json::from_value(value)
            .map_err(|e| ConfigError::Invalid(format!("providers.json: {e}")))?;
        for (name, settings) in file.providers.iter_mut() {
            if settings.kind.is_empty() {
                settings.kind = name.clone();
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
                // A provider without a type takes its name as one: a new provider's first
                // setting lands here, and the fix is to give it a type.
                return Err(ConfigError::Invalid(if &s.kind == name {
                    format!(
                        "provider {name:?} has no type; set providers.{name}.type to one of: {} \
                         (e.g. --set providers.{name}.type=claude)",
                        KNOWN_KINDS.join(", ")
                    )
                } else {
                    format!(
                        "provider {name:?} has type {:?}; this build runs: {}",
                        s.kind,
                        KNOWN_KINDS.join(", ")
                    )
                }));
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
            for (field, n) in [("timeout_s", s.timeout_s), ("max_tokens", s.max_tokens)] {
                if n == Some(0) {
                    return Err(ConfigError::Invalid(format!(
                        "provider {name}: {field} must be at least 1"
                    )));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
