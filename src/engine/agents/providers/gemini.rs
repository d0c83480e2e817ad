//! Gemini through the Gemini API with an API key (`gemini` in mode `api`).
//!
//! `POST {base}/v1beta/models/{model}:streamGenerateContent?alt=sse` (or `:generateContent`
//! with `"stream": false`) with `x-goog-api-key` and one user turn. Every SSE chunk is a
//! `GenerateContentResponse`: text in `candidates[0].content.parts[].text` (thought parts are
//! skipped), the reply complete at a chunk with `finishReason`, usage in the last
//! `usageMetadata` (output counts thinking tokens too, as they are billed). An `error` object
//! in the stream and a blocked prompt fail the reply. Key: settings, then GEMINI_API_KEY or
//! GOOGLE_API_KEY; base URL: settings `endpoint`, then GOOGLE_GEMINI_BASE_URL, then
//! https://generativelanguage.googleapis.com.

use serde_json::{Value, json};

use super::apikey::{self, ApiTarget, ApiVendor, Decoder, Vendor};
use super::http::{self, Facts};
use super::{ErrorKind, ProviderError, Request};
use crate::engine::ground::config::{EnvLookup, ProviderSettings};
use crate::engine::ground::events::Usage;

const VENDOR: Vendor = Vendor {
    api: "the Gemini API",
    key_vars: &["GEMINI_API_KEY", "GOOGLE_API_KEY"],
    base_var: "GOOGLE_GEMINI_BASE_URL",
    default_base: "https://generativelanguage.googleapis.com",
    default_model: "gemini-2.5-flash",
};
pub const USAGE_SOURCE: &str = "gemini-usage";

/// Gemini's generateContent API.
#[derive(Debug)]
pub struct GeminiProvider {
    target: ApiTarget,
    url: String,
}

impl GeminiProvider {
    /// Built from settings and `env` (the registry passes the process environment).
    pub fn with_env(
        name: &str,
        settings: &ProviderSettings,
        env: EnvLookup<'_>,
    ) -> Result<Self, String> {
        let mut target = ApiTarget::new(name, settings, env, &VENDOR)?;
        // Google's own docs name models both "gemini-x" and "models/gemini-x".
        let ep = &mut target.endpoint;
        ep.model = ep.model.trim_start_matches("models/").to_string();
        let versioned = if ep.base.ends_with("/v1beta") || ep.base.ends_with("/v1") {
            ep.base.clone()
        } else {
            format!("{}/v1beta", ep.base)
        };
        let url = if target.stream {
            format!(
                "{versioned}/models/{}:streamGenerateContent?alt=sse",
                ep.model
            )
        } else {
            format!("{versioned}/models/{}:generateContent", ep.model)
        };
        Ok(GeminiProvider { target, url })
    }

    /// Where requests are posted.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl ApiVendor for GeminiProvider {
    fn target(&self) -> &ApiTarget {
        &self.target
    }

    fn request(&self, req: &Request) -> (reqwest::RequestBuilder, Box<dyn Decoder>) {
        let t = &self.target;
        let body = json!({"contents": [{"role": "user", "parts": [{"text": req.prompt}]}]});
        let rb = t
            .client
            .post(&self.url)
            .header("x-goog-api-key", t.key())
            .json(&body);
        (rb, Box::new(GeminiDecoder::new(&t.label())))
    }
}

/// The GenerateContentResponse grammar, streamed or whole.
#[derive(Debug, Default)]
pub struct GeminiDecoder {
    label: String,
    facts: Facts,
    had_text: bool,
}

impl GeminiDecoder {
    pub fn new(label: &str) -> Self {
        GeminiDecoder {
            label: label.to_string(),
            ..Default::default()
        }
    }

    /// One GenerateContentResponse (an SSE chunk, an array element, or a whole reply).
    fn chunk(&mut self, v: &Value, emit: &mut dyn FnMut(&str)) -> Result<(), ProviderError> {
        if let Some(e) = v.get("error").filter(|e| !e.is_null()) {
            let code = e.get("code").and_then(Value::as_u64);
            let status = e.get("status").and_then(Value::as_str).unwrap_or_default();
            let message = e.get("message").and_then(Value::as_str).unwrap_or_default();
            return Err(apikey::reported_error(&self.label, code, status, message));
        }
        if let Some(reason) = v
            .pointer("/promptFeedback/blockReason")
            .and_then(Value::as_str)
        {
            return Err(ProviderError::new(
                ErrorKind::Fatal,
                format!("{}: the prompt was blocked ({reason})", self.label),
            ));
        }
        if let Some(m) = v.get("modelVersion").and_then(Value::as_str) {
            self.facts.model = Some(m.to_string());
        }
        if let Some(u) = v.get("usageMetadata").and_then(usage_from) {
            self.facts.usage = Some(u);
        }
        let cand = v.pointer("/candidates/0");
        let parts = cand
            .and_then(|c| c.pointer("/content/parts"))
            .and_then(Value::as_array);
        for p in parts.into_iter().flatten() {
            if p.get("thought").and_then(Value::as_bool) == Some(true) {
                continue;
            }
            if let Some(t) = p.get("text").and_then(Value::as_str) {
                self.had_text |= !t.is_empty();
                emit(t);
            }
        }
        if let Some(r) = cand
            .and_then(|c| c.get("finishReason"))
            .and_then(Value::as_str)
        {
            // A safety stop with nothing said is a refusal, not an empty answer.
            if !self.had_text && !matches!(r, "STOP" | "MAX_TOKENS" | "FINISH_REASON_UNSPECIFIED") {
                return Err(ProviderError::new(
                    ErrorKind::Fatal,
                    format!("{}: the model stopped without an answer ({r})", self.label),
                ));
            }
            self.facts.finished = true;
        }
        Ok(())
    }
}

/// `usageMetadata`; None without the two main counts.
fn usage_from(u: &Value) -> Option<Usage> {
    let n = |k: &str| u.get(k).and_then(Value::as_u64);
    let input = n("promptTokenCount")?;
    let output = n("candidatesTokenCount").unwrap_or(0) + n("thoughtsTokenCount").unwrap_or(0);
    if n("candidatesTokenCount").is_none() && n("totalTokenCount").is_none() {
        return None;
    }
    Some(Usage {
        input_tokens: input,
        output_tokens: output,
        cached_input_tokens: n("cachedContentTokenCount").unwrap_or(0),
        estimated: false,
        source: USAGE_SOURCE.into(),
        reported_cost_micros: None,
    })
}

impl Decoder for GeminiDecoder {
    fn event(
        &mut self,
        _name: &str,
        data: &Value,
        emit: &mut dyn FnMut(&str),
    ) -> Result<(), ProviderError> {
        self.chunk(data, emit)
    }

    fn whole(&mut self, v: &Value, emit: &mut dyn FnMut(&str)) -> Result<(), ProviderError> {
        // streamGenerateContent without alt=sse answers one JSON array of chunks.
        let chunks: Vec<&Value> = match v.as_array() {
            Some(a) => a.iter().collect(),
            None => vec![v],
        };
        for c in chunks {
            if c.get("candidates").is_none()
                && c.get("error").is_none()
                && c.get("promptFeedback").is_none()
            {
                return Err(ProviderError::new(
                    ErrorKind::BadReply,
                    format!(
                        "{}: JSON reply without candidates: {}",
                        self.label,
                        http::excerpt(&c.to_string())
                    ),
                ));
            }
            self.chunk(c, emit)?;
        }
        // A whole reply is complete by construction, even if a proxy dropped finishReason.
        self.facts.finished = true;
        Ok(())
    }

    fn facts(&self) -> &Facts {
        &self.facts
    }

    fn final_marker(&self) -> &'static str {
        "finishReason"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_follow_base_model_and_stream_settings() {
        let s = |base: &str, model: &str, stream: bool| {
            let mut s = ProviderSettings {
                endpoint: Some(base.into()),
                model: Some(model.into()),
                ..Default::default()
            };
            s.stream = Some(stream);
            GeminiProvider::with_env("gemini", &s, &|_| None)
                .unwrap()
                .url()
                .to_string()
        };
        assert_eq!(
            s("http://h", "g-1", true),
            "http://h/v1beta/models/g-1:streamGenerateContent?alt=sse"
        );
        assert_eq!(
            s("http://h/v1beta/", "models/g-1", false),
            "http://h/v1beta/models/g-1:generateContent"
        );
    }
}
