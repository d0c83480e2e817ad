//! OpenAI models with an API key (`codex` in mode `api`): the Responses API by default, or
//! chat completions with `api_style: chat`.
//!
//! Responses: `POST {base}/responses` with a Bearer key, the prompt as `input`,
//! `"stream": true`, `"store": false`. Text arrives in `response.output_text.delta` events;
//! the reply is complete at `response.completed` (usage inside it) or `response.incomplete`;
//! `response.failed` and `error` events are classified by their code. Chat style reuses the
//! OpenAI-compatible client with the same key and base. Key: settings, then OPENAI_API_KEY;
//! base URL: settings `endpoint`, then OPENAI_BASE_URL, then https://api.openai.com/v1 (a bare
//! host gets `/v1`).

use serde_json::{Value, json};

use super::apikey::{self, ApiTarget, ApiVendor, Decoder, Vendor};
use super::http::{self, Endpoint, Facts, HttpVendor};
use super::openwebui::OpenAiCompatProvider;
use super::{Availability, ErrorKind, OutputSink, ProviderError, Reply, Request};
use crate::engine::ground::config::{EnvLookup, ProviderSettings};
use crate::engine::ground::events::Usage;

const VENDOR: Vendor = Vendor {
    api: "the OpenAI API",
    key_vars: &["OPENAI_API_KEY"],
    base_var: "OPENAI_BASE_URL",
    default_base: "https://api.openai.com/v1",
    default_model: "gpt-5",
};
pub const USAGE_SOURCE: &str = "openai-responses-usage";

/// The versioned base: as given, with `/v1` added to a bare host and a trailing
/// `/responses` or `/chat/completions` taken off.
fn versioned_base(t: &ApiTarget) -> String {
    let base = t
        .endpoint
        .base
        .trim_end_matches("/responses")
        .trim_end_matches("/chat/completions");
    if t.base_path().is_empty() {
        format!("{base}/v1")
    } else {
        base.to_string()
    }
}

/// OpenAI's Responses API.
#[derive(Debug)]
pub struct ResponsesProvider {
    target: ApiTarget,
    url: String,
}

impl ResponsesProvider {
    /// Built from settings and `env` (the registry passes the process environment).
    pub fn with_env(
        name: &str,
        settings: &ProviderSettings,
        env: EnvLookup<'_>,
    ) -> Result<Self, String> {
        let target = ApiTarget::new(name, settings, env, &VENDOR)?;
        Ok(ResponsesProvider {
            url: format!("{}/responses", versioned_base(&target)),
            target,
        })
    }

    /// Where responses are posted.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl ApiVendor for ResponsesProvider {
    fn target(&self) -> &ApiTarget {
        &self.target
    }

    fn request(&self, req: &Request) -> (reqwest::RequestBuilder, Box<dyn Decoder>) {
        let t = &self.target;
        let body = json!({
            "model": t.endpoint.model,
            "input": req.prompt,
            "stream": t.stream,
            "store": false,
        });
        let rb = t.client.post(&self.url).bearer_auth(t.key()).json(&body);
        (rb, Box::new(ResponsesDecoder::new(&t.label())))
    }
}

/// Chat completions with an OpenAI key: the OpenAI-compatible client, plus the key rules of
/// the API-key providers (no key: unusable, and no request is sent).
#[derive(Debug)]
pub struct OpenAiChatProvider {
    target: ApiTarget,
    inner: OpenAiCompatProvider,
}

impl OpenAiChatProvider {
    /// Built from settings and `env` (the registry passes the process environment).
    pub fn with_env(
        name: &str,
        settings: &ProviderSettings,
        env: EnvLookup<'_>,
    ) -> Result<Self, String> {
        let target = ApiTarget::new(name, settings, env, &VENDOR)?;
        let resolved = ProviderSettings {
            endpoint: Some(versioned_base(&target)),
            model: Some(target.endpoint.model.clone()),
            api_key: Some(target.key().to_string()),
            ..settings.clone()
        };
        let inner = OpenAiCompatProvider::new(name, &resolved)?;
        Ok(OpenAiChatProvider { target, inner })
    }

    /// Where chat completions are posted.
    pub fn chat_url(&self) -> &str {
        self.inner.chat_url()
    }
}

impl HttpVendor for OpenAiChatProvider {
    /// The inner client's: the same name and model, and its versioned base in messages.
    fn endpoint(&self) -> &Endpoint {
        self.inner.endpoint()
    }

    async fn call(&self, req: &Request, out: &OutputSink) -> Result<Reply, ProviderError> {
        self.target.require_key()?;
        self.inner.call(req, out).await
    }

    async fn availability(&self) -> Availability {
        self.target.availability().await
    }
}

/// The Responses reply grammar, streamed or whole.
#[derive(Debug, Default)]
pub struct ResponsesDecoder {
    label: String,
    facts: Facts,
    /// True once a text delta arrived; a stream without any gets its text from the final
    /// response object instead (some proxies send only that).
    had_delta: bool,
}

impl ResponsesDecoder {
    pub fn new(label: &str) -> Self {
        ResponsesDecoder {
            label: label.to_string(),
            ..Default::default()
        }
    }

    /// Take model and usage from a response object; an error there fails the reply.
    fn note_response(&mut self, r: &Value) -> Result<(), ProviderError> {
        if let Some(m) = r.get("model").and_then(Value::as_str) {
            self.facts.model = Some(m.to_string());
        }
        if let Some(u) = r.get("usage").and_then(usage_from) {
            self.facts.usage = Some(u);
        }
        match r.get("error").filter(|e| !e.is_null()) {
            Some(e) => Err(self.error(e)),
            None => Ok(()),
        }
    }

    fn error(&self, e: &Value) -> ProviderError {
        let code = e
            .get("code")
            .or_else(|| e.get("type"))
            .and_then(Value::as_str)
            .unwrap_or("error");
        let message = e.get("message").and_then(Value::as_str).unwrap_or_default();
        apikey::reported_error(&self.label, None, code, message)
    }
}

/// All `output_text` of a response's message items, in order.
fn output_text(r: &Value) -> String {
    let mut text = String::new();
    let items = r
        .get("output")
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    for item in items.filter(|i| i.get("type").and_then(Value::as_str) == Some("message")) {
        let parts = item
            .get("content")
            .and_then(Value::as_array)
            .into_iter()
            .flatten();
        for p in parts.filter(|p| p.get("type").and_then(Value::as_str) == Some("output_text")) {
            text.push_str(p.get("text").and_then(Value::as_str).unwrap_or_default());
        }
    }
    text
}

/// A Responses `usage` object; None when absent or null.
fn usage_from(u: &Value) -> Option<Usage> {
    Some(Usage {
        input_tokens: u.get("input_tokens")?.as_u64()?,
        output_tokens: u.get("output_tokens")?.as_u64()?,
        cached_input_tokens: u
            .pointer("/input_tokens_details/cached_tokens")
            .and_then(Value::as_u64)
            .unwrap_or(0),
        estimated: false,
        source: USAGE_SOURCE.into(),
        reported_cost_micros: None,
    })
}

impl Decoder for ResponsesDecoder {
    fn event(
        &mut self,
        name: &str,
        data: &Value,
        emit: &mut dyn FnMut(&str),
    ) -> Result<(), ProviderError> {
        let kind = data.get("type").and_then(Value::as_str).unwrap_or(name);
        match kind {
            "response.created" | "response.in_progress" => {
                self.note_response(&data["response"])?;
            }
            "response.output_text.delta" => {
                if let Some(d) = data.get("delta").and_then(Value::as_str) {
                    self.had_delta = true;
                    emit(d);
                }
            }
            "response.completed" | "response.incomplete" => {
                let r = &data["response"];
                self.note_response(r)?;
                if !self.had_delta {
                    emit(&output_text(r));
                }
                self.facts.finished = true;
            }
            "response.failed" => {
                let r = &data["response"];
                self.note_response(r)?;
                return Err(ProviderError::new(
                    ErrorKind::Retryable,
                    format!("{}: the response failed without a reason", self.label),
                ));
            }
            "error" => return Err(self.error(data.get("error").unwrap_or(data))),
            // Item and part bookkeeping, reasoning summaries, tool calls: nothing to take.
            _ => {}
        }
        Ok(())
    }

    fn whole(&mut self, v: &Value, emit: &mut dyn FnMut(&str)) -> Result<(), ProviderError> {
        if v.get("output").is_none() {
            if let Some(e) = v.get("error").filter(|e| !e.is_null()) {
                return Err(self.error(e));
            }
            return Err(ProviderError::new(
                ErrorKind::BadReply,
                format!(
                    "{}: JSON reply without output: {}",
                    self.label,
                    http::excerpt(&v.to_string())
                ),
            ));
        }
        self.note_response(v)?;
        emit(&output_text(v));
        self.facts.finished = true;
        Ok(())
    }

    fn facts(&self) -> &Facts {
        &self.facts
    }

    fn final_marker(&self) -> &'static str {
        "response.completed"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_follow_the_base_in_any_form() {
        let url = |base: &str| {
            let s = ProviderSettings {
                endpoint: Some(base.into()),
                ..Default::default()
            };
            ResponsesProvider::with_env("codex", &s, &|_| None)
                .unwrap()
                .url()
                .to_string()
        };
        assert_eq!(url("http://h:1"), "http://h:1/v1/responses");
        assert_eq!(url("http://h:1/v1/"), "http://h:1/v1/responses");
        assert_eq!(url("http://h:1/v1/responses"), "http://h:1/v1/responses");
        assert_eq!(
            url("http://h:1/openai/v1"),
            "http://h:1/openai/v1/responses"
        );
        let env = |k: &str| (k == "OPENAI_BASE_URL").then(|| "http://o:2/v1".to_string());
        let p = ResponsesProvider::with_env("codex", &ProviderSettings::default(), &env).unwrap();
        assert_eq!(p.url(), "http://o:2/v1/responses");
        let chat =
            OpenAiChatProvider::with_env("codex", &ProviderSettings::default(), &env).unwrap();
        assert_eq!(chat.chat_url(), "http://o:2/v1/chat/completions");
    }
}
