//! The OpenAI chat-completions reply grammar: SSE chunks, a whole JSON reply, usage, and
//! error objects inside a 200 reply. The bytes are read by [`http::read_reply`].
//!
//! Invariant: a reply is complete only at `data: [DONE]` or a chunk with a `finish_reason`;
//! a stream that ends before either is a retryable "stream ended early".

use serde_json::{Value, json};

use crate::engine::agents::providers::http::{self, Decoder, Facts};
use crate::engine::agents::providers::{ErrorKind, ProviderError};
use crate::engine::ground::events::Usage;

/// What a chat-completions reply delivered so far.
#[derive(Debug, Default)]
pub struct ChatDecoder {
    label: String,
    facts: Facts,
}

impl ChatDecoder {
    pub fn new(label: &str) -> Self {
        ChatDecoder {
            label: label.to_string(),
            ..Default::default()
        }
    }

    /// The first model a chunk names is the one that answered.
    fn note_model(&mut self, chunk: &Value) {
        if self.facts.model.is_none()
            && let Some(m) = chunk.get("model").and_then(Value::as_str)
        {
            self.facts.model = Some(m.to_string());
        }
    }
}

impl Decoder for ChatDecoder {
    fn event(
        &mut self,
        _name: &str,
        chunk: &Value,
        emit: &mut dyn FnMut(&str),
    ) -> Result<(), ProviderError> {
        if let Some(e) = chunk.get("error").filter(|e| !e.is_null()) {
            return Err(stream_error(&self.label, e));
        }
        self.note_model(chunk);
        if let Some(fragment) = chunk
            .pointer("/choices/0/delta/content")
            .and_then(Value::as_str)
        {
            emit(fragment);
        }
        if chunk
            .pointer("/choices/0/finish_reason")
            .is_some_and(|f| !f.is_null())
        {
            self.facts.finished = true;
        }
        if let Some(u) = chunk.get("usage").and_then(usage_from) {
            self.facts.usage = Some(u);
        }
        Ok(())
    }

    /// A non-streamed chat completion.
    fn whole(&mut self, v: &Value, emit: &mut dyn FnMut(&str)) -> Result<(), ProviderError> {
        if let Some(e) = v.get("error").filter(|e| !e.is_null()) {
            return Err(stream_error(&self.label, e));
        }
        let Some(content) = v.pointer("/choices/0/message").map(|m| m.get("content")) else {
            return Err(ProviderError::new(
                ErrorKind::BadReply,
                format!(
                    "{}: JSON reply without choices[0].message: {}",
                    self.label,
                    http::excerpt(&v.to_string())
                ),
            ));
        };
        // A null content (a tool-call-only answer) is an empty reply, not a protocol error.
        emit(content.and_then(Value::as_str).unwrap_or_default());
        self.note_model(v);
        self.facts.usage = v.get("usage").and_then(usage_from);
        self.facts.finished = true;
        Ok(())
    }

    fn facts(&self) -> &Facts {
        &self.facts
    }

    fn done_sent(&mut self) {
        self.facts.finished = true;
    }

    fn final_marker(&self) -> &'static str {
        "[DONE] and no finish_reason"
    }
}

/// `usage` of a chunk or reply; None when absent or null (chunks before the last carry null).
fn usage_from(u: &Value) -> Option<Usage> {
    let input = u.get("prompt_tokens")?.as_u64()?;
    let output = u.get("completion_tokens")?.as_u64()?;
    let cached = u
        .pointer("/prompt_tokens_details/cached_tokens")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    Some(Usage {
        input_tokens: input,
        output_tokens: output,
        cached_input_tokens: cached,
        estimated: false,
        source: "openai-usage".into(),
        reported_cost_micros: None,
    })
}

/// An error object inside a 200 reply. Rate limits and server errors are worth a retry.
fn stream_error(label: &str, e: &Value) -> ProviderError {
    let said =
        http::json_error_message(&json!({"error": e}).to_string()).unwrap_or_else(|| e.to_string());
    let code = [e.get("type"), e.get("code")]
        .into_iter()
        .flatten()
        .map(|c| c.to_string().to_ascii_lowercase())
        .collect::<String>();
    let kind = if [
        "rate_limit",
        "server_error",
        "overloaded",
        "429",
        "500",
        "503",
    ]
    .iter()
    .any(|w| code.contains(w))
    {
        ErrorKind::Retryable
    } else {
        ErrorKind::Fatal
    };
    ProviderError::new(kind, format!("{label}: {}", http::excerpt(&said)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_with_cached_tokens_and_null_usage() {
        let u = usage_from(&json!({"prompt_tokens": 9, "completion_tokens": 2,
            "prompt_tokens_details": {"cached_tokens": 5}}))
        .unwrap();
        assert_eq!(
            (u.input_tokens, u.output_tokens, u.cached_input_tokens),
            (9, 2, 5)
        );
        assert_eq!(u.source, "openai-usage");
        assert!(usage_from(&Value::Null).is_none());
    }

    #[test]
    fn in_stream_errors_are_classified() {
        let e = stream_error(
            "p",
            &json!({"message": "slow down", "type": "rate_limit_error"}),
        );
        assert_eq!(
            (e.kind, e.message.as_str()),
            (ErrorKind::Retryable, "p: slow down")
        );
        assert_eq!(stream_error("p", &json!("boom")).kind, ErrorKind::Fatal);
    }
}
