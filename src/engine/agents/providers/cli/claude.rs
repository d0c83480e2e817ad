//! Claude Code: `claude -p --output-format stream-json --verbose`.
//!
//! Output is JSONL: a `system` line (model, tools), `stream_event` lines (the API's own stream,
//! from `--include-partial-messages`, for text as it arrives), `assistant` lines (whole
//! messages: text and tool calls),
//! `user` lines (tool results) and one final `result` line with the reply (`result`), the
//! usage, and `is_error`. An API failure still exits 0 or 1 with a `result` line whose text
//! says what went wrong (`API Error: 401 ...`), so the result line decides, not the exit code.

use serde_json::Value;

use super::common::{
    Exit, Folded, JsonStream, Pending, failure, no_reply, num, show_text, text, tool_line,
};
use super::refusals::{Tools, result_text};
use super::{CliProvider, Invocation};
use crate::engine::agents::providers::{ErrorKind, ProviderError};
use crate::engine::ground::events::{Stream, Usage};

pub(super) fn invocation(p: &CliProvider) -> Invocation {
    let mut inv = Invocation::with_args(&[
        "-p",
        "--output-format",
        "stream-json",
        "--verbose",
        "--include-partial-messages",
    ]);
    inv.option("--model", p.model_setting());
    if p.settings.native_tools {
        // clk's sandbox and its checks after the call are the boundary, not Claude Code's
        // prompts: `acceptEdits` still asks before a shell command with several parts and
        // before any edit below a `.git` folder (a run's worktree lives under `.git/clk/`),
        // and in `-p` mode an unanswered question is a refusal. Skipping permissions is
        // refused as root unless IS_SANDBOX=1 says the machine is a sandbox, which it is
        // (exactly "1": a user's IS_SANDBOX=yes does not count; the provider's `env` still
        // wins, being laid over this).
        inv.option("--permission-mode", "bypassPermissions");
        inv.env.insert("IS_SANDBOX".into(), "1".into());
    }
    // Claude Code retries a failing endpoint ten times over minutes; clk retries instead.
    if !p.user_set("CLAUDE_CODE_MAX_RETRIES") {
        inv.env.insert("CLAUDE_CODE_MAX_RETRIES".into(), "0".into());
    }
    inv.env.insert("DISABLE_AUTOUPDATER".into(), "1".into());
    inv.home(p.home(), "CLAUDE_CONFIG_DIR", ".claude");
    if let Some(url) = p.settings.endpoint.as_deref().filter(|u| !u.is_empty()) {
        inv.env.insert("ANTHROPIC_BASE_URL".into(), url.into());
    }
    if let Some(key) = p.settings.api_key.as_deref().filter(|k| !k.is_empty()) {
        inv.env.insert("ANTHROPIC_API_KEY".into(), key.into());
    }
    inv
}

#[derive(Debug, Default)]
pub(crate) struct Parser {
    model: String,
    result: Option<Value>,
    /// Streamed text whose line is not complete yet.
    pending: Pending,
    /// The current message's text was shown from its deltas; its whole copy in the
    /// `assistant` line is not shown again.
    streamed: bool,
    tools: Tools,
}

impl Parser {
    /// `--include-partial-messages`: the API's own stream events, for text as it arrives.
    fn stream_event(&mut self, e: &Value, show: &mut dyn FnMut(Stream, &str)) {
        match text(e, "type") {
            "message_start" => self.streamed = false,
            "content_block_delta" if text(&e["delta"], "type") == "text_delta" => {
                self.streamed = true;
                self.pending.push(text(&e["delta"], "text"), show);
            }
            "content_block_stop" | "message_stop" => self.pending.flush(show),
            _ => {}
        }
    }
}

impl JsonStream for Parser {
    fn event(&mut self, v: Value, show: &mut dyn FnMut(Stream, &str)) {
        match text(&v, "type") {
            "system" if text(&v, "subtype") == "init" => {
                self.model = text(&v, "model").to_string();
                show(
                    Stream::Stdout,
                    &format!("claude started (model {})", text(&v, "model")),
                );
            }
            "stream_event" => self.stream_event(&v["event"], show),
            "assistant" => {
                self.pending.flush(show);
                let msg = &v["message"];
                let model = text(msg, "model");
                if !model.is_empty() && !model.starts_with('<') {
                    self.model = model.to_string();
                }
                for block in msg["content"].as_array().into_iter().flatten() {
                    match text(block, "type") {
                        "text" if !self.streamed => show_text(text(block, "text"), show),
                        "tool_use" => {
                            let line = tool_line(text(block, "name"), &block["input"]);
                            self.tools.call(text(block, "id"), &line);
                            show(Stream::Stdout, &line);
                        }
                        _ => {}
                    }
                }
            }
            // Tool results come back as the user's turn: an error may be a refusal, and a
            // command that ran may still have had a part refused.
            "user" => {
                for block in v["message"]["content"].as_array().into_iter().flatten() {
                    if text(block, "type") != "tool_result" {
                        continue;
                    }
                    let (id, body) = (text(block, "tool_use_id"), result_text(&block["content"]));
                    if block["is_error"] == true {
                        self.tools.result(id, &body, show);
                    } else {
                        self.tools.succeeded(id, &body, true, show);
                    }
                }
            }
            "result" => {
                self.pending.flush(show);
                for d in v["permission_denials"].as_array().into_iter().flatten() {
                    let line = tool_line(text(d, "tool_name"), &d["tool_input"]);
                    self.tools.denied(&line, show);
                }
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
            return Err(no_reply(exit));
        };
        let reply = text(&r, "result").to_string();
        if r["is_error"].as_bool().unwrap_or(false) {
            let what = if reply.is_empty() {
                format!("failed ({})", text(&r, "subtype"))
            } else {
                reply
            };
            let mut err = failure(&what);
            if let Some(status) = r["api_error_status"].as_u64() {
                err.kind = match status {
                    401 | 403 => ErrorKind::Auth,
                    429 | 500..=599 => ErrorKind::Retryable,
                    404 => ErrorKind::NotFound,
                    _ => err.kind,
                };
            }
            return Err(err);
        }
        let u = &r["usage"];
        let cache_read = num(u, "cache_read_input_tokens");
        let usage = Usage {
            input_tokens: num(u, "input_tokens")
                + num(u, "cache_creation_input_tokens")
                + cache_read,
            output_tokens: num(u, "output_tokens"),
            cached_input_tokens: cache_read,
            estimated: false,
            source: "claude-json".into(),
            reported_cost_micros: r["total_cost_usd"]
                .as_f64()
                .and_then(crate::engine::ground::pricing::usd_to_micros),
        };
        Ok(Folded {
            text: reply,
            usage,
            model: std::mem::take(&mut self.model),
            refused: Vec::new(),
        })
    }
}
