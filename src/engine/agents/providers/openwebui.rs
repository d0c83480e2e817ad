//! The OpenAI-compatible provider: chat completions on Open WebUI, vLLM, llama.cpp, LM Studio.
//!
//! The request asks for an SSE stream with a usage chunk. `choices[0].delta.content` fragments
//! go through a [`LineSplitter`](super::LineSplitter) to the live output; the reply is complete
//! at `data: [DONE]` or a `finish_reason`, and a stream that ends before either is a retryable
//! "stream ended early". A server that answers with one JSON object instead is read as such.
//!
//! Where to post: `extra.path` from providers.json when set; otherwise `/chat/completions`
//! under an endpoint ending in `/v1` or `/api` (Open WebUI serves `/api/chat/completions`), and
//! `/v1/chat/completions` under any other endpoint. The key is sent only when non-empty.

use std::time::Duration;

use serde_json::{Value, json};

use super::http::{self, Endpoint, HttpVendor};
use super::{Availability, OutputSink, ProviderError, Reply, Request};
use crate::engine::ground::config::ProviderSettings;

pub(super) mod wire;

const DEFAULT_ENDPOINT: &str = "http://localhost:8080";
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const HINT: &str = "is the server running at that address?";

/// Any server that speaks OpenAI chat completions.
pub struct OpenAiCompatProvider {
    endpoint: Endpoint,
    chat_url: String,
    models_url: String,
    api_key: String,
    env: String,
    client: reqwest::Client,
}

// By hand, so the key never reaches a log through `{:?}`.
impl std::fmt::Debug for OpenAiCompatProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiCompatProvider")
            .field("name", &self.endpoint.name)
            .field("chat_url", &self.chat_url)
            .field("model", &self.endpoint.model)
            .field(
                "api_key",
                &if self.api_key.is_empty() {
                    "none"
                } else {
                    "set"
                },
            )
            .finish_non_exhaustive()
    }
}

impl OpenAiCompatProvider {
    pub fn new(name: &str, settings: &ProviderSettings) -> Result<Self, String> {
        let env = super::env_name(name);
        let endpoint = http::endpoint_setting(name, settings, DEFAULT_ENDPOINT)?;
        let model = http::model_setting(name, settings, "")?;
        let path = settings.extra.get("path").and_then(Value::as_str);
        let (chat_url, models_url) = urls(&endpoint, path);
        let api_key = settings.api_key.as_deref().unwrap_or_default().trim();
        crate::engine::ground::redact::register(api_key);
        let client = http::client(CONNECT_TIMEOUT).map_err(|e| format!("{name}: {e}"))?;
        Ok(OpenAiCompatProvider {
            endpoint: Endpoint {
                name: name.to_string(),
                model,
                base: endpoint,
            },
            chat_url,
            models_url,
            api_key: api_key.to_string(),
            env,
            client,
        })
    }

    /// Where chat completions are posted.
    pub fn chat_url(&self) -> &str {
        &self.chat_url
    }

    /// Where `check` lists the served models.
    pub fn models_url(&self) -> &str {
        &self.models_url
    }

    fn authorized(&self, rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        if self.api_key.is_empty() {
            rb
        } else {
            rb.bearer_auth(&self.api_key)
        }
    }
}

impl HttpVendor for OpenAiCompatProvider {
    fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    async fn call(&self, req: &Request, out: &OutputSink) -> Result<Reply, ProviderError> {
        let label = self.endpoint.label();
        let body = json!({
            "model": self.endpoint.model,
            "messages": [{"role": "user", "content": req.prompt}],
            "stream": true,
            "stream_options": {"include_usage": true},
        });
        let rb = self
            .authorized(self.client.post(&self.chat_url))
            .json(&body);
        let refused_key = format!("check CLK_{}_API_KEY", self.env);
        let hints = http::Hints {
            unreachable: HINT,
            refused_key: &refused_key,
            missing_model: "",
        };
        let resp = http::send(req, &label, rb, &hints).await?;
        let mut dec = wire::ChatDecoder::new(&label);
        http::read_reply(resp, req, &label, out, &mut dec, &self.endpoint.model).await
    }

    async fn availability(&self) -> Availability {
        let Endpoint { model, base, .. } = &self.endpoint;
        let label = self.endpoint.label();
        let get = self.authorized(self.client.get(&self.models_url));
        let (status, text) = match http::probe(&label, base, get, &self.models_url, HINT).await {
            Ok(answer) => answer,
            Err(why) => return Availability::no(why),
        };
        if status == 401 || status == 403 {
            return Availability::no(format!(
                "{label}: key rejected: set CLK_{}_API_KEY",
                self.env
            ));
        }
        if !(200..300).contains(&status) {
            return Availability::no(http::status_error(&label, status, &text).message);
        }
        let ids: Vec<String> = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v.get("data").and_then(Value::as_array).cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(|m| m.get("id").and_then(Value::as_str).map(str::to_string))
            .collect();
        if ids.contains(model) {
            return Availability::ok();
        }
        // Servers that route or alias models (LiteLLM, Open WebUI pipes) answer for names they
        // do not list: an unlisted model is a caution, not a failure.
        let mut shown: Vec<&str> = ids.iter().take(5).map(String::as_str).collect();
        if ids.len() > shown.len() {
            shown.push("…");
        }
        let lists = if shown.is_empty() {
            "no models".to_string()
        } else {
            shown.join(", ")
        };
        Availability {
            usable: true,
            reason: format!(
                "{label}: model {model} is not in the server's list (it lists: {lists}); it may \
                 still work"
            ),
        }
    }
}

/// The chat-completions and models URLs for an endpoint and an optional configured path.
pub fn urls(endpoint: &str, path: Option<&str>) -> (String, String) {
    match path.map(str::trim).filter(|p| !p.is_empty()) {
        Some(p) => {
            let chat = format!("{endpoint}/{}", p.trim_start_matches('/'));
            let base = chat
                .strip_suffix("/chat/completions")
                .map(str::to_string)
                .unwrap_or_else(|| format!("{endpoint}/v1"));
            (chat, format!("{base}/models"))
        }
        None if endpoint.ends_with("/v1") || endpoint.ends_with("/api") => (
            format!("{endpoint}/chat/completions"),
            format!("{endpoint}/models"),
        ),
        None => (
            format!("{endpoint}/v1/chat/completions"),
            format!("{endpoint}/v1/models"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_follow_the_endpoint_and_path() {
        let u = |e: &str, p: Option<&str>| urls(e, p);
        assert_eq!(u("http://h", None).0, "http://h/v1/chat/completions");
        assert_eq!(u("http://h", None).1, "http://h/v1/models");
        assert_eq!(u("http://h/api", None).0, "http://h/api/chat/completions");
        assert_eq!(u("http://h/api", None).1, "http://h/api/models");
        assert_eq!(u("http://h/v1", None).0, "http://h/v1/chat/completions");
        assert_eq!(
            u("http://h", Some("api/chat/completions")),
            (
                "http://h/api/chat/completions".into(),
                "http://h/api/models".into()
            )
        );
        assert_eq!(u("http://h", Some("/x/y")).1, "http://h/v1/models");
    }

    #[test]
    fn an_empty_model_names_the_variable() {
        let e = OpenAiCompatProvider::new("openwebui", &ProviderSettings::default()).unwrap_err();
        assert!(e.contains("CLK_OPENWEBUI_MODEL"), "{e}");
    }
}
