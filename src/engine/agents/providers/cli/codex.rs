//! Codex CLI: `codex exec --json`, everything headless set with `-c` flags.
//!
//! Output is JSONL: `thread.started`, `turn.started`, `item.started` / `item.completed`
//! (`agent_message` text, `command_execution`, `file_change`, `reasoning`, and `error` items
//! that are only warnings), then `turn.completed` with the usage, or `error` and
//! `turn.failed` when the model call failed.
//!
//! Codex waits for the network forever when the feature `unbounded_connection_retries` is on and
//! retries requests itself; both are switched off so a dead endpoint fails at once and clk's retry
//! policy decides. With an `endpoint` setting clk defines a model provider of its own (`clk`,
//! Responses API, no retries) instead of the user's configured one. Without one, the user's
//! provider keeps its settings but loses its retries: a custom provider named in the user's
//! config.toml gets `request_max_retries = 0` by flag; OpenAI's built-in provider cannot be
//! changed, so clk defines the same provider under its own name (`clk-openai`: the usual OpenAI
//! login, and the address from `openai_base_url` when set) with no retries. The user's files are
//! only read.

use serde_json::Value;

use super::common::{Exit, Folded, JsonStream, failure, no_reply, num, show_text, text};
use super::refusals::Tools;
use super::{CliProvider, Invocation};
use crate::engine::agents::providers::ProviderError;
use crate::engine::ground::events::{Stream, Usage};

fn set(inv: &mut Invocation, key: &str, toml_value: &str) {
    inv.args.push("-c".into());
    inv.args.push(format!("{key}={toml_value}"));
}

/// A TOML string literal.
fn toml_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

pub(super) fn invocation(p: &CliProvider) -> Invocation {
    let mut inv =
        Invocation::with_args(&["exec", "--json", "--skip-git-repo-check", "--ephemeral"]);
    set(&mut inv, "approval_policy", "\"never\"");
    // With native tools, clk's sandbox is the boundary: codex's own (bubblewrap or
    // Landlock) cannot start inside it ("setting up uid map: Operation not permitted"), and
    // would fail every command and patch.
    let sandbox = if p.settings.native_tools {
        "\"danger-full-access\""
    } else {
        "\"read-only\""
    };
    set(&mut inv, "sandbox_mode", sandbox);
    set(&mut inv, "check_for_update_on_startup", "false");
    set(&mut inv, "features.unbounded_connection_retries", "false");
    if let Some(url) = p.settings.endpoint.as_deref().filter(|u| !u.is_empty()) {
        let url = url.trim_end_matches('/');
        let base = if url.ends_with("/v1") {
            url.to_string()
        } else {
            format!("{url}/v1")
        };
        set(&mut inv, "model_provider", "\"clk\"");
        set(&mut inv, "model_providers.clk.name", "\"clk\"");
        set(&mut inv, "model_providers.clk.base_url", &toml_str(&base));
        set(
            &mut inv,
            "model_providers.clk.env_key",
            "\"OPENAI_API_KEY\"",
        );
        set(&mut inv, "model_providers.clk.wire_api", "\"responses\"");
        set(&mut inv, "model_providers.clk.request_max_retries", "0");
        set(&mut inv, "model_providers.clk.stream_max_retries", "0");
    } else {
        let config = user_config(p).unwrap_or_default();
        no_retries_for_the_users_provider(
            &mut inv,
            top_level_string(&config, "model_provider").as_deref(),
            top_level_string(&config, "openai_base_url"),
        );
    }
    inv.option("-m", p.model_setting());
    inv.home(p.home(), "CODEX_HOME", ".codex");
    if let Some(key) = p.settings.api_key.as_deref().filter(|k| !k.is_empty()) {
        inv.env.insert("OPENAI_API_KEY".into(), key.into());
    }
    inv
}

/// Providers built into codex; their settings cannot be changed by config.
const BUILT_IN: &[&str] = &["openai", "ollama", "lmstudio", "oss", "amazon-bedrock"];

/// Switch off codex's own retries for the provider the user's config picks.
fn no_retries_for_the_users_provider(
    inv: &mut Invocation,
    provider: Option<&str>,
    openai_base: Option<String>,
) {
    match provider.map(str::trim).filter(|p| !p.is_empty()) {
        None | Some("openai") => {
            let key = "model_providers.clk-openai";
            set(inv, "model_provider", "\"clk-openai\"");
            set(inv, &format!("{key}.name"), "\"OpenAI\"");
            set(inv, &format!("{key}.requires_openai_auth"), "true");
            set(inv, &format!("{key}.wire_api"), "\"responses\"");
            if let Some(base) = openai_base {
                set(inv, &format!("{key}.base_url"), &toml_str(base.trim()));
            }
            set(inv, &format!("{key}.request_max_retries"), "0");
            set(inv, &format!("{key}.stream_max_retries"), "0");
        }
        Some(other) if BUILT_IN.contains(&other) => {}
        Some(custom) => {
            let key = format!("model_providers.{}", toml_key(custom));
            set(inv, &format!("{key}.request_max_retries"), "0");
            set(inv, &format!("{key}.stream_max_retries"), "0");
        }
    }
}

/// A TOML key: bare when it can be, else quoted.
fn toml_key(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        s.to_string()
    } else {
        toml_str(s)
    }
}

/// The user's codex config.toml, if any (read, never written).
fn user_config(p: &CliProvider) -> Option<String> {
    let dir = match p.home() {
        Some(home) => home.join(".codex"),
        None => match user_var(p, "CODEX_HOME") {
            Some(d) => d.into(),
            None => std::path::Path::new(&user_var(p, "HOME")?).join(".codex"),
        },
    };
    std::fs::read_to_string(dir.join("config.toml")).ok()
}

/// A variable as the program will see it: the provider's `env`, else clk's environment.
fn user_var(p: &CliProvider, k: &str) -> Option<String> {
    p.settings
        .env
        .get(k)
        .cloned()
        .or_else(|| std::env::var(k).ok())
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// A top-level `key = "value"` of a TOML file (before its first table).
fn top_level_string(toml: &str, key: &str) -> Option<String> {
    for line in toml.lines().map(str::trim) {
        if line.starts_with('[') {
            return None;
        }
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        if k.trim().trim_matches('"') != key {
            continue;
        }
        let v = v.split(" #").next().unwrap_or_default().trim();
        let unquoted = v
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))?;
        return Some(unquoted.to_string());
    }
    None
}

#[derive(Debug, Default)]
pub(crate) struct Parser {
    messages: Vec<String>,
    usage: Option<Usage>,
    error: Option<String>,
    failed: bool,
    tools: Tools,
}

impl JsonStream for Parser {
    fn event(&mut self, v: Value, show: &mut dyn FnMut(Stream, &str)) {
        let item = &v["item"];
        match (text(&v, "type"), text(item, "type")) {
            ("thread.started", _) => show(Stream::Stdout, "codex started"),
            ("item.started", "command_execution") => {
                let line = format!("tool: run {}", text(item, "command"));
                self.tools.call(text(item, "id"), &line);
                show(Stream::Stdout, &line);
            }
            ("item.completed", "agent_message") => {
                let t = text(item, "text");
                show_text(t, show);
                self.messages.push(t.to_string());
            }
            ("item.completed", "command_execution") => {
                let code = item["exit_code"]
                    .as_i64()
                    .map_or("?".to_string(), |c| c.to_string());
                show(
                    Stream::Stdout,
                    &format!("ran: {} (exit {code})", text(item, "command")),
                );
                let (id, output) = (text(item, "id"), text(item, "aggregated_output"));
                if text(item, "status") == "failed" || code != "0" {
                    self.tools.result(id, output, show);
                } else {
                    self.tools.succeeded(id, output, true, show);
                }
            }
            ("item.completed", "file_change") => {
                let mut what = Vec::new();
                for c in item["changes"].as_array().into_iter().flatten() {
                    show(
                        Stream::Stdout,
                        &format!("tool: {} {}", text(c, "kind"), text(c, "path")),
                    );
                    what.push(format!("{} {}", text(c, "kind"), text(c, "path")));
                }
                let id = text(item, "id");
                self.tools.call(id, &what.join(", "));
                // Codex does not say why a patch failed; with its own sandbox off, a write
                // that fails is one clk's sandbox refused.
                if text(item, "status") == "failed" {
                    self.tools.refused_call(id, "the write failed", show);
                }
            }
            ("item.completed", "error") => {
                show(Stream::Stderr, &format!("codex: {}", text(item, "message")))
            }
            ("turn.completed", _) => {
                let u = &v["usage"];
                let total = self.usage.get_or_insert_with(|| Usage {
                    source: "codex-json".into(),
                    ..Usage::default()
                });
                total.input_tokens += num(u, "input_tokens");
                total.cached_input_tokens += num(u, "cached_input_tokens");
                total.output_tokens += num(u, "output_tokens");
            }
            ("error", _) => self.error = Some(text(&v, "message").to_string()),
            ("turn.failed", _) => {
                self.failed = true;
                let m = text(&v["error"], "message");
                if !m.is_empty() {
                    self.error = Some(m.to_string());
                }
            }
            _ => {}
        }
    }

    fn tools(&self) -> &Tools {
        &self.tools
    }

    fn finish(&mut self, exit: &Exit<'_>) -> Result<Folded, ProviderError> {
        if self.failed || (self.usage.is_none() && self.error.is_some()) {
            let m = self
                .error
                .clone()
                .unwrap_or_else(|| "the turn failed".into());
            return Err(failure(&m));
        }
        let Some(usage) = self.usage.take() else {
            return Err(no_reply(exit));
        };
        Ok(Folded {
            text: self.messages.join("\n\n"),
            usage,
            model: String::new(),
            refused: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoint_setting_defines_a_provider_without_retries() {
        let s = crate::engine::ground::config::ProviderSettings {
            kind: "codex".into(),
            endpoint: Some("http://127.0.0.1:9".into()),
            ..Default::default()
        };
        let p = CliProvider::new("codex", super::super::Cli::Codex, &s);
        let args = invocation(&p).args.join(" ");
        assert!(args.contains("model_providers.clk.base_url=\"http://127.0.0.1:9/v1\""));
        assert!(args.contains("model_providers.clk.request_max_retries=0"));
        assert!(args.contains("sandbox_mode=\"read-only\""));
        assert!(!args.contains("clk-openai"), "{args}");
    }

    fn args_with_config(config: Option<&str>) -> String {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(home.path().join(".codex")).unwrap();
        if let Some(c) = config {
            std::fs::write(home.path().join(".codex/config.toml"), c).unwrap();
        }
        let s = crate::engine::ground::config::ProviderSettings {
            kind: "codex".into(),
            home: Some(home.path().display().to_string()),
            ..Default::default()
        };
        let p = CliProvider::new("codex", super::super::Cli::Codex, &s);
        invocation(&p).args.join(" ")
    }

    #[test]
    fn without_an_endpoint_the_users_provider_keeps_no_retries_of_its_own() {
        // No config, or OpenAI's built-in provider: the same provider under clk's name.
        for config in [
            None,
            Some("model = \"gpt-5\"\nmodel_provider = \"openai\"\n"),
        ] {
            let args = args_with_config(config);
            assert!(args.contains("model_provider=\"clk-openai\""), "{args}");
            assert!(args.contains("model_providers.clk-openai.requires_openai_auth=true"));
            assert!(args.contains("model_providers.clk-openai.request_max_retries=0"));
            assert!(args.contains("model_providers.clk-openai.stream_max_retries=0"));
        }
        // A provider of the user's own keeps its settings, minus the retries.
        let args = args_with_config(Some(
            "model_provider = \"azure\" # work\n[model_providers.azure]\nname = \"Azure\"\n",
        ));
        assert!(
            args.contains("model_providers.azure.request_max_retries=0"),
            "{args}"
        );
        assert!(
            args.contains("model_providers.azure.stream_max_retries=0"),
            "{args}"
        );
        assert!(!args.contains("model_provider=\""), "{args}");
        // Another built-in one cannot be changed and is left alone.
        let args = args_with_config(Some("model_provider = \"ollama\"\n"));
        assert!(!args.contains("max_retries"), "{args}");
    }
}
