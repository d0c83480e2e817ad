//! Claude through the Anthropic Messages API with an API key (`claude` in mode `api`).
//!
//! `POST {base}/v1/messages` with `x-api-key` and `anthropic-version`, one user message, and
//! `"stream": true`. Text arrives in `content_block_delta` events of type `text_delta`; usage
//! is `message_start.message.usage` updated by `message_delta.usage`; the reply is complete at
//! `message_stop`. An `error` event inside the stream (e.g. `overloaded_error`) is classified
//! like the HTTP status it stands for. Key: settings, then ANTHROPIC_API_KEY; base URL:
//! settings `endpoint`, then ANTHROPIC_BASE_URL, then https://api.anthropic.com.

use serde_json::{Value, json};

use super::apikey::{self, ApiTarget, ApiVendor, Decoder, Vendor};
use super::http::{self, Facts};
use super::{ProviderError, Request};
use crate::engine::ground::config::{EnvLookup, ProviderSettings};
use crate::engine::ground::events::Usage;

const VENDOR: Vendor = Vendor {
    api: "the Anthropic API",
    key_vars: &["ANTHROPIC_API_KEY"],
    base_var: "ANTHROPIC_BASE_URL",
    default_base: "https://api.anthropic.com",
    default_model: "claude-sonnet-4-5",
};
const DEFAULT_VERSION: &str = "2023-06-01";
/// Replies carry whole files in ACTION blocks; 4096 tokens cuts many of them short.
const DEFAULT_MAX_TOKENS: u64 = 16_000;
pub const USAGE_SOURCE: &str = "anthropic-usage";

/// Claude over the Messages API.
#[derive(Debug)]
pub struct AnthropicProvider {
    target: ApiTarget,
    url: String,
    version: String,
    max_tokens: u64,
}

impl AnthropicProvider {
    /// Built from settings and `env` (the registry passes the process environment).
    pub fn with_env(
        name: &str,
        settings: &ProviderSettings,
        env: EnvLookup<'_>,
    ) -> Result<Self, String> {
        let target = ApiTarget::new(name, settings, env, &VENDOR)?;
        // The base may be given as the host, …/v1 or the full …/v1/messages.
        let root = target
            .endpoint
            .base
            .trim_end_matches("/messages")
            .trim_end_matches("/v1")
            .to_string();
        let version = settings
            .api_version
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .unwrap_or(DEFAULT_VERSION)
            .to_string();
        let max_tokens = match settings.max_tokens {
            None => DEFAULT_MAX_TOKENS,
            Some(0) => {
                return Err(format!(
                    "{name}: \"max_tokens\" is 0; use a whole number above 0"
                ));
            }
            Some(n) => n,
        };
        Ok(AnthropicProvider {
            url: format!("{root}/v1/messages"),
            target,
            version,
            max_tokens,
        })
    }

    /// Where messages are posted.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl ApiVendor for AnthropicProvider {
    fn target(&self) -> &ApiTarget {
        &self.target
    }

    fn request(&self, req: &Request) -> (reqwest::RequestBuilder, Box<dyn Decoder>) {
        let t = &self.target;
        let body = json!({
            "model": t.endpoint.model,
            "max_tokens": self.max_tokens,
            "messages": [{"role": "user", "content": req.prompt}],
            "stream": t.stream,
        });
        let rb = t
            .client
            .post(&self.url)
            .header("x-api-key", t.key())
            .header("anthropic-version", &self.version)
            .json(&body);
        let dec = Box::new(MessagesDecoder::new(&t.label()));
        (rb, dec)
    }
}

/// The Messages reply grammar, streamed or whole.
#[derive(Debug, Default)]
pub struct MessagesDecoder {
    label: String,
    facts: Facts,
    input: Option<u64>,
    cache_read: u64,
    cache_write: u64,
    output: Option<u64>,
}

impl MessagesDecoder {
    pub fn new(label: &str) -> Self {
        MessagesDecoder {
            label: label.to_string(),
            ..Default::default()
        }
    }

    /// Fold a `usage` object; later counts replace earlier ones (they are cumulative).
    fn note_usage(&mut self, u: &Value) {
        let n = |k: &str| u.get(k).and_then(Value::as_u64);
        if let Some(i) = n("input_tokens") {
            self.input = Some(i);
        }
        if let Some(c) = n("cache_read_input_tokens") {
            self.cache_read = c;
        }
        if let Some(c) = n("cache_creation_input_tokens") {
            self.cache_write = c;
        }
        if let Some(o) = n("output_tokens") {
            self.output = Some(o);
        }
        self.facts.usage = self.counted();
    }

    /// The usage once both main counts arrived. Anthropic counts cached input apart; clk's
    /// input total includes it.
    fn counted(&self) -> Option<Usage> {
        let (input, output) = (self.input?, self.output?);
        Some(Usage {
            input_tokens: input + self.cache_read + self.cache_write,
            output_tokens: output,
            cached_input_tokens: self.cache_read,
            estimated: false,
            source: USAGE_SOURCE.into(),
            reported_cost_micros: None,
        })
    }

    fn error(&self, e: &Value) -> ProviderError {
        let kind = e.get("type").and_then(Value::as_str).unwrap_or("error");
        let message = e.get("message").and_then(Value::as_str).unwrap_or_default();
        apikey::reported_error(&self.label, None, kind, message)
    }
}

impl Decoder for MessagesDecoder {
    fn event(
        &mut self,
        name: &str,
        data: &Value,
        emit: &mut dyn FnMut(&str),
    ) -> Result<(), ProviderError> {
        // The data's own `type` is authoritative; the event name is only a fallback.
        let kind = data.get("type").and_then(Value::as_str).unwrap_or(name);
        match kind {
            "message_start" => {
                let m = &data["message"];
                self.facts.model = m.get("model").and_then(Value::as_str).map(str::to_string);
                if let Some(u) = m.get("usage") {
                    self.note_usage(u);
                }
            }
            "content_block_delta" => {
                let delta = &data["delta"];
                if delta.get("type").and_then(Value::as_str) == Some("text_delta")
                    && let Some(t) = delta.get("text").and_then(Value::as_str)
                {
                    emit(t);
                }
            }
            "message_delta" => {
                if let Some(u) = data.get("usage") {
                    self.note_usage(u);
                }
            }
            "message_stop" => self.facts.finished = true,
            "error" => return Err(self.error(data.get("error").unwrap_or(data))),
            // ping, content_block_start/stop, thinking deltas: nothing to take.
            _ => {}
        }
        Ok(())
    }

    fn whole(&mut self, v: &Value, emit: &mut dyn FnMut(&str)) -> Result<(), ProviderError> {
        if v.get("type").and_then(Value::as_str) == Some("error") {
            return Err(self.error(v.get("error").unwrap_or(v)));
        }
        let Some(content) = v.get("content").and_then(Value::as_array) else {
            return Err(ProviderError::new(
                super::ErrorKind::BadReply,
                format!(
                    "{}: JSON reply without content: {}",
                    self.label,
                    http::excerpt(&v.to_string())
                ),
            ));
        };
        for block in content {
            if block.get("type").and_then(Value::as_str) == Some("text")
                && let Some(t) = block.get("text").and_then(Value::as_str)
            {
                emit(t);
            }
        }
        self.facts.model = v.get("model").and_then(Value::as_str).map(str::to_string);
        if let Some(u) = v.get("usage") {
            self.note_usage(u);
        }
        self.facts.finished = true;
        Ok(())
    }

    fn facts(&self) -> &Facts {
        &self.facts
    }

    fn final_marker(&self) -> &'static str {
        "message_stop"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_follows_the_base_in_any_form() {
        for base in ["http://h:1", "http://h:1/v1", "http://h:1/v1/messages/"] {
            let s = ProviderSettings {
                endpoint: Some(base.into()),
                ..Default::default()
            };
            let p = AnthropicProvider::with_env("claude", &s, &|_| None).unwrap();
            assert_eq!(p.url(), "http://h:1/v1/messages", "{base}");
        }
    }
}
