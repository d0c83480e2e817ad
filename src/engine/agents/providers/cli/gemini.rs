//! Gemini CLI: `gemini --skip-trust -o stream-json --prompt=...`.
//!
//! Output is JSONL: `init` (model), `message` (the user's, then the assistant's text as
//! `delta` pieces), `tool_use` / `tool_result`, `error` (warnings and errors), and one final
//! `result` with `status`, an `error` when it failed, and `stats` with the token counts.
//!
//! Headless needs: `--skip-trust` (else it exits 55 outside a trusted folder),
//! `GEMINI_CLI_NO_RELAUNCH` (it would restart itself in a child process, a second or two
//! more per call), and at most one attempt per call (it retries ten times over minutes). That
//! last one is only a setting, so clk writes a system-defaults file of its own and points
//! `GEMINI_CLI_SYSTEM_DEFAULTS_PATH` at it: defaults rank below the user's settings, so the
//! user's own file is neither edited nor overruled. Gemini ignores such a file when any
//! folder above it is writable by others (e.g. under /tmp), so it lives in clk's cache.

use std::path::PathBuf;

use serde_json::Value;

use super::common::{Exit, Folded, JsonStream, Pending, failure, no_reply, num, text};
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

/// Write (once) the system-defaults file and return its path.
fn defaults_file(api_key_auth: bool) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let dir = cache_dir()?;
    let name = if api_key_auth {
        "gemini-defaults-apikey.json"
    } else {
        "gemini-defaults.json"
    };
    let path = dir.join(name);
    let mut doc = serde_json::json!({"general": {"maxAttempts": 1, "enableAutoUpdate": false,
        "enableAutoUpdateNotification": false}});
    if api_key_auth {
        doc["security"] = serde_json::json!({"auth": {"selectedType": "gemini-api-key"}});
    }
    let body = doc.to_string();
    if std::fs::read_to_string(&path).ok().as_deref() != Some(body.as_str()) {
        std::fs::create_dir_all(&dir).ok()?;
        let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
        crate::engine::store::workspace::write_atomic(&path, body.as_bytes()).ok()?;
    }
    Some(path)
}

pub(super) fn invocation(p: &CliProvider) -> Invocation {
    let mut inv = Invocation::with_args(&["--skip-trust", "-o", "stream-json"]);
    inv.option("-m", p.model_setting());
    if p.settings.native_tools {
        inv.option("--approval-mode", "auto_edit");
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
                show(
                    Stream::Stdout,
                    &super::common::tool_line(text(&v, "tool_name"), &v["parameters"]),
                );
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
        })
    }
}
