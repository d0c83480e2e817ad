//! Gemini CLI: `gemini --skip-trust -o stream-json --prompt=...`.
//!
//! Output is JSONL: `init` (model), `message` (the user's, then the assistant's text as
//! `delta` pieces), `tool_use` / `tool_result`, `error` (warnings and errors), and one final
//! `result` with `status`, an `error` when it failed, and `stats` with the token counts.
//!
//! Headless needs: `--skip-trust` (else it exits 55 outside a trusted folder),
//! `GEMINI_CLI_NO_RELAUNCH` (it would restart itself in a child process, a second or two
//! more per call), and at most one attempt per call (it retries ten times over minutes). That
//! last one is only a setting, so clk writes two files of its own and points gemini at them
//! by environment; the user's files are never edited:
//! - a system-defaults file (`GEMINI_CLI_SYSTEM_DEFAULTS_PATH`, ranked below the user's
//!   settings) for what the user may change: update checks, the key login;
//! - a system-settings file (`GEMINI_CLI_SYSTEM_SETTINGS_PATH`, ranked above them): the
//!   system settings gemini would have read, with `general.maxAttempts` 1 laid over, so a
//!   `maxAttempts` in the user's settings cannot bring gemini's own retries back.
//!
//! Gemini ignores such files when any folder above them is writable by others (e.g. under
//! /tmp), so they live in clk's cache.

use std::path::PathBuf;

use serde_json::Value;

use super::common::{Exit, Folded, JsonStream, Pending, failure, no_reply, num, text};
use super::refusals::Tools;
use super::{CliProvider, Invocation};
use crate::engine::agents::providers::ProviderError;
use crate::engine::ground::events::{Stream, Usage};

/// Where clk keeps files of its own for a user: `$XDG_CACHE_HOME/clk` or `~/.cache/clk`.
fn cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("clk"))
}

/// Write `body` to `name` in clk's cache unless it already holds it; its path.
fn cached_file(name: &str, body: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let dir = cache_dir()?;
    let path = dir.join(name);
    if std::fs::read_to_string(&path).ok().as_deref() != Some(body) {
        std::fs::create_dir_all(&dir).ok()?;
        let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
        crate::engine::store::workspace::write_atomic(&path, body.as_bytes()).ok()?;
    }
    Some(path)
}

/// Where gemini reads system settings when clk does not say: `current` (the user's
/// `GEMINI_CLI_SYSTEM_SETTINGS_PATH`) or the system's own file.
const SYSTEM_SETTINGS: &str = "/etc/gemini-cli/settings.json";

/// The system settings gemini would read, with one attempt per call laid over, written to
/// clk's cache; None (gemini keeps its own) when that file exists but is not plain JSON.
fn system_settings_file(current: Option<String>) -> Option<PathBuf> {
    use std::hash::{Hash, Hasher};
    let source = current.unwrap_or_else(|| SYSTEM_SETTINGS.to_string());
    let mut doc = match std::fs::read_to_string(&source) {
        Ok(text) => serde_json::from_str::<Value>(&text)
            .ok()
            .filter(Value::is_object)?,
        Err(_) => serde_json::json!({}),
    };
    if !doc["general"].is_object() {
        doc["general"] = serde_json::json!({});
    }
    doc["general"]["maxAttempts"] = 1.into();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    source.hash(&mut h);
    cached_file(
        &format!("gemini-system-settings-{:016x}.json", h.finish()),
        &doc.to_string(),
    )
}

/// Write (once) the system-defaults file and return its path.
fn defaults_file(api_key_auth: bool) -> Option<PathBuf> {
    let name = if api_key_auth {
        "gemini-defaults-apikey.json"
    } else {
        "gemini-defaults.json"
    };
    let mut doc = serde_json::json!({"general": {"maxAttempts": 1, "enableAutoUpdate": false,
        "enableAutoUpdateNotification": false}});
    if api_key_auth {
        doc["security"] = serde_json::json!({"auth": {"selectedType": "gemini-api-key"}});
    }
    cached_file(name, &doc.to_string())
}

pub(super) fn invocation(p: &CliProvider) -> Invocation {
    let mut inv = Invocation::with_args(&["--skip-trust", "-o", "stream-json"]);
    inv.option("-m", p.model_setting());
    if p.settings.native_tools {
        // `auto_edit` leaves out the shell tool in headless mode; `yolo` runs every tool
        // without asking, inside clk's sandbox.
        inv.option("--approval-mode", "yolo");
    }
    inv.env
        .insert("GEMINI_CLI_NO_RELAUNCH".into(), "true".into());
    let key = p.settings.api_key.as_deref().filter(|k| !k.is_empty());
    if !p.user_set("GEMINI_CLI_SYSTEM_DEFAULTS_PATH") {
        let api_key_auth = key.is_some() || p.user_set("GEMINI_API_KEY");
        if let Some(path) = defaults_file(api_key_auth) {
            inv.env.insert(
                "GEMINI_CLI_SYSTEM_DEFAULTS_PATH".into(),
                path.display().to_string(),
            );
        }
    }
    let current = p
        .settings
        .env
        .get("GEMINI_CLI_SYSTEM_SETTINGS_PATH")
        .cloned();
    let current = current.or_else(|| std::env::var("GEMINI_CLI_SYSTEM_SETTINGS_PATH").ok());
    if let Some(path) = system_settings_file(current.filter(|c| !c.trim().is_empty())) {
        inv.env.insert(
            "GEMINI_CLI_SYSTEM_SETTINGS_PATH".into(),
            path.display().to_string(),
        );
    }
    inv.home(p.home(), "GEMINI_CLI_HOME", "");
    if let Some(url) = p.settings.endpoint.as_deref().filter(|u| !u.is_empty()) {
        inv.env.insert(
            "GOOGLE_GEMINI_BASE_URL".into(),
            url.trim_end_matches('/').into(),
        );
    }
    if let Some(key) = key {
        inv.env.insert("GEMINI_API_KEY".into(), key.into());
    }
    inv
}

#[derive(Debug, Default)]
pub(crate) struct Parser {
    model: String,
    reply: String,
    /// Streamed text not yet shown because its line is not complete.
    pending: Pending,
    errors: Vec<String>,
    result: Option<serde_json::Value>,
    tools: Tools,
}

impl JsonStream for Parser {
    fn event(&mut self, v: Value, show: &mut dyn FnMut(Stream, &str)) {
        match text(&v, "type") {
            "init" => {
                self.model = text(&v, "model").to_string();
                show(
                    Stream::Stdout,
                    &format!("gemini started (model {})", self.model),
                );
            }
            "message" if text(&v, "role") == "assistant" => {
                let piece = text(&v, "content");
                self.reply.push_str(piece);
                self.pending.push(piece, show);
            }
            "tool_use" => {
                self.pending.flush(show);
                let line = super::common::tool_line(text(&v, "tool_name"), &v["parameters"]);
                self.tools.call(text(&v, "tool_id"), &line);
                show(Stream::Stdout, &line);
            }
            // A shell command gemini blocks itself still reports success, saying "Blocked: …".
            "tool_result"
                if text(&v, "status") == "error" || text(&v, "output").starts_with("Blocked") =>
            {
                let body = format!("{}\n{}", text(&v["error"], "message"), text(&v, "output"));
                self.tools.result(text(&v, "tool_id"), &body, show);
            }
            // A shell command that failed also reports success, without its exit code: the
            // sandbox's refusal is told by the system's own error at the end of a line.
            "tool_result" => {
                let (id, output) = (text(&v, "tool_id"), text(&v, "output"));
                self.tools.succeeded(id, output, false, show);
            }
            "error" => {
                let m = text(&v, "message");
                show(Stream::Stderr, &format!("gemini: {m}"));
                if text(&v, "severity") == "error" {
                    self.errors.push(m.to_string());
                }
            }
            "result" => {
                self.pending.flush(show);
                self.result = Some(v);
            }
            _ => {}
        }
    }

    fn tools(&self) -> &Tools {
        &self.tools
    }

    fn finish(&mut self, exit: &Exit<'_>) -> Result<Folded, ProviderError> {
        let Some(r) = self.result.take() else {
            if let Some(e) = self.errors.last() {
                return Err(failure(e));
            }
            return Err(no_reply(exit));
        };
        if text(&r, "status") != "success" {
            let m = text(&r["error"], "message");
            let m = if m.is_empty() {
                self.errors
                    .last()
                    .cloned()
                    .unwrap_or_else(|| "the call failed".into())
            } else {
                m.to_string()
            };
            return Err(failure(&m));
        }
        let s = &r["stats"];
        Ok(Folded {
            text: std::mem::take(&mut self.reply),
            usage: Usage {
                input_tokens: num(s, "input_tokens"),
                output_tokens: num(s, "output_tokens"),
                cached_input_tokens: num(s, "cached"),
                estimated: false,
                source: "gemini-json".into(),
                reported_cost_micros: None,
            },
            model: std::mem::take(&mut self.model),
            refused: Vec::new(),
        })
    }
}
