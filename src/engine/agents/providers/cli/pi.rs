//! pi (pi-coding-agent): `pi -p --mode json --no-session`.
//!
//! Output is JSONL: `session`, `agent_start`, `turn_start`, `message_start` /
//! `message_update` (text deltas in `assistantMessageEvent`) / `message_end` (the whole
//! message with its `usage` and `stopReason`), `tool_execution_start` / `_end`, `turn_end`,
//! `agent_end`. In JSON mode pi exits 0 even when the model call failed: the failure is an
//! assistant `message_end` with `stopReason: "error"` and an `errorMessage`.
//!
//! pi's provider and key come from `key_type` (its provider name, e.g. `openrouter`) and
//! `api_key`, which goes to the variable `<KEY_TYPE>_API_KEY`, never to the argument list.
//! Without `native_tools` pi gets only its read-only tools; its changes are checked after
//! every call all the same, since the allow-list is pi's promise, not clk's.

use serde_json::Value;

use super::common::{Exit, Folded, JsonStream, Pending, failure, no_reply, num, text};
use super::refusals::{Tools, result_text};
use super::{CliProvider, Invocation};
use crate::engine::agents::providers::ProviderError;
use crate::engine::ground::events::{Stream, Usage};

/// The tools pi keeps without `native_tools`: none of them writes.
pub(super) const READ_ONLY_TOOLS: &str = "read,grep,find,ls";

/// `openrouter` → `OPENROUTER_API_KEY`.
pub(super) fn key_var(key_type: &str) -> String {
    let clean: String = key_type
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("{clean}_API_KEY")
}

pub(super) fn key_type(p: &CliProvider) -> Option<&str> {
    p.settings
        .key_type
        .as_deref()
        .map(str::trim)
        .filter(|k| !k.is_empty())
}

pub(super) fn invocation(p: &CliProvider) -> Invocation {
    let mut inv = Invocation::with_args(&["-p", "--mode", "json", "--no-session"]);
    if let Some(kt) = key_type(p) {
        inv.option("--provider", kt);
        if let Some(key) = p.settings.api_key.as_deref().filter(|k| !k.is_empty()) {
            inv.env.insert(key_var(kt), key.into());
        }
    }
    inv.option("--model", p.model_setting());
    if !p.settings.native_tools {
        inv.option("--tools", READ_ONLY_TOOLS);
    }
    inv.env.insert("PI_OFFLINE".into(), "1".into());
    inv.home(p.home(), "PI_CODING_AGENT_DIR", ".pi/agent");
    inv
}

#[derive(Debug, Default)]
pub(crate) struct Parser {
    model: String,
    messages: Vec<String>,
    usage: Option<Usage>,
    error: Option<String>,
    pending: Pending,
    tools: Tools,
}

impl Parser {
    fn message_end(&mut self, m: &serde_json::Value) {
        if text(m, "role") != "assistant" {
            return;
        }
        let model = text(m, "model");
        if !model.is_empty() {
            self.model = model.to_string();
        }
        if text(m, "stopReason") == "error" || text(m, "stopReason") == "aborted" {
            let e = text(m, "errorMessage");
            self.error = Some(if e.is_empty() {
                format!("the call ended with {}", text(m, "stopReason"))
            } else {
                e.to_string()
            });
        }
        let body: String = m["content"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|b| text(b, "type") == "text")
            .map(|b| text(b, "text"))
            .collect();
        if !body.is_empty() {
            self.messages.push(body);
        }
        let u = &m["usage"];
        let total = self.usage.get_or_insert_with(|| Usage {
            source: "pi-json".into(),
            ..Usage::default()
        });
        let cache_read = num(u, "cacheRead");
        total.input_tokens += num(u, "input") + cache_read + num(u, "cacheWrite");
        total.cached_input_tokens += cache_read;
        total.output_tokens += num(u, "output");
        // pi reports 0 for models it has no price for; that is "unknown", not "free".
        if let Some(micros) = u["cost"]["total"]
            .as_f64()
            .and_then(crate::engine::ground::pricing::usd_to_micros)
            .filter(|m| *m > 0)
        {
            *total.reported_cost_micros.get_or_insert(0) += micros;
        }
    }
}

impl JsonStream for Parser {
    fn event(&mut self, v: Value, show: &mut dyn FnMut(Stream, &str)) {
        match text(&v, "type") {
            "agent_start" => show(Stream::Stdout, "pi started"),
            "message_update" => {
                let e = &v["assistantMessageEvent"];
                if text(e, "type") == "text_delta" {
                    self.pending.push(text(e, "delta"), show);
                }
            }
            "message_end" => {
                self.pending.flush(show);
                self.message_end(&v["message"]);
            }
            "tool_execution_start" => {
                self.pending.flush(show);
                let line = super::common::tool_line(text(&v, "toolName"), &v["args"]);
                self.tools.call(text(&v, "toolCallId"), &line);
                show(Stream::Stdout, &line);
            }
            "tool_execution_end" => {
                let body = result_text(&v["result"]["content"]);
                if v["isError"] == true {
                    self.tools.result(text(&v, "toolCallId"), &body, show);
                } else {
                    self.tools
                        .succeeded(text(&v, "toolCallId"), &body, true, show);
                }
            }
            _ => {}
        }
    }

    fn tools(&self) -> &Tools {
        &self.tools
    }

    fn finish(&mut self, exit: &Exit<'_>) -> Result<Folded, ProviderError> {
        if let Some(e) = self.error.take() {
            return Err(failure(&e));
        }
        let Some(usage) = self.usage.take() else {
            return Err(no_reply(exit));
        };
        if exit.code != Some(0) {
            return Err(no_reply(exit));
        }
        Ok(Folded {
            text: self.messages.join("\n\n"),
            usage,
            model: std::mem::take(&mut self.model),
            refused: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_go_to_the_key_types_variable() {
        assert_eq!(key_var("openrouter"), "OPENROUTER_API_KEY");
        assert_eq!(key_var("google-vertex"), "GOOGLE_VERTEX_API_KEY");
        let s = crate::engine::ground::config::ProviderSettings {
            kind: "pi".into(),
            key_type: Some("local".into()),
            api_key: Some("sk-pi-secret-value".into()),
            model: Some("test-model".into()),
            ..Default::default()
        };
        let p = CliProvider::new("pi", super::super::Cli::Pi, &s);
        let inv = invocation(&p);
        assert_eq!(inv.env["LOCAL_API_KEY"], "sk-pi-secret-value");
        assert!(!inv.args.iter().any(|a| a.contains("sk-pi-secret")));
        assert!(inv.args.windows(2).any(|w| w == ["--provider", "local"]));
        assert!(
            inv.args
                .windows(2)
                .any(|w| w == ["--tools", READ_ONLY_TOOLS])
        );
    }
}
