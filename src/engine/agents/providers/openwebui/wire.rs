//! The OpenAI chat-completions wire format: SSE chunks, a whole JSON reply, usage, and error
//! objects inside a 200 reply.
//!
//! Invariant: a reply is complete only at `data: [DONE]` or a chunk with a `finish_reason`;
//! a stream that ends before either is a retryable "stream ended early".

use std::time::Duration;

use serde_json::{Value, json};

use crate::engine::agents::providers::http::{self, SseEvents};
use crate::engine::agents::providers::{ErrorKind, LineSplitter, OutputSink, ProviderError};
use crate::engine::ground::events::{Stream, Usage};

/// Largest non-streamed reply read; a chat completion is far smaller.
const MAX_BODY_BYTES: usize = 32 << 20;

/// Read a successful reply, whichever form the server chose.
pub async fn collect(
    resp: reqwest::Response,
    idle: Option<Duration>,
    label: &str,
    out: &OutputSink,
) -> Result<Collected, ProviderError> {
    let is_sse = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.contains("text/event-stream"));
    let mut got = Collected::default();
    if is_sse {
        let events = SseEvents::new(resp.bytes_stream(), idle, label);
        read_sse(events, label, out, &mut got).await?;
    } else {
        let bytes = http::read_all(resp, idle, label, MAX_BODY_BYTES).await?;
        let text = String::from_utf8_lossy(&bytes);
        if let Ok(v) = serde_json::from_str::<Value>(&text) {
            read_whole(&v, label, out, &mut got)?;
        } else if looks_like_sse(&text) {
            // Some servers stream SSE under a plain content type.
            let once = futures_util::stream::iter([Ok::<_, reqwest::Error>(bytes)]);
            let events = SseEvents::new(once, None, label);
            read_sse(events, label, out, &mut got).await?;
        } else {
            return Err(ProviderError::new(
                ErrorKind::BadReply,
                format!(
                    "{label}: reply is neither JSON nor an event stream: {}",
                    http::excerpt(&text)
                ),
            ));
        }
    }
    Ok(got)
}

/// What a reply delivered so far.
#[derive(Debug, Default)]
pub struct Collected {
    pub text: String,
    pub model: String,
    pub usage: Option<Usage>,
}

impl Collected {
    fn note_model(&mut self, chunk: &Value) {
        if self.model.is_empty()
            && let Some(m) = chunk.get("model").and_then(Value::as_str)
        {
            self.model = m.to_string();
        }
    }
}

/// Collect an SSE chat-completions stream.
async fn read_sse<S, B>(
    mut events: SseEvents<S>,
    label: &str,
    out: &OutputSink,
    got: &mut Collected,
) -> Result<(), ProviderError>
where
    S: futures_util::Stream<Item = Result<B, reqwest::Error>>,
    B: AsRef<[u8]>,
{
    let mut splitter = LineSplitter::default();
    let mut finished = false;
    while let Some(ev) = events.next_event().await? {
        let data = ev.data.trim();
        if data.is_empty() {
            continue;
        }
        if data == "[DONE]" {
            finished = true;
            break;
        }
        let chunk: Value = serde_json::from_str(data).map_err(|_| {
            ProviderError::new(
                ErrorKind::BadReply,
                format!("{label}: event is not JSON: {}", http::excerpt(data)),
            )
        })?;
        if let Some(e) = chunk.get("error").filter(|e| !e.is_null()) {
            splitter.finish(out, Stream::Model);
            return Err(stream_error(label, e));
        }
        got.note_model(&chunk);
        if let Some(fragment) = chunk
            .pointer("/choices/0/delta/content")
            .and_then(Value::as_str)
            && !fragment.is_empty()
        {
            got.text.push_str(fragment);
            splitter.push(fragment, out, Stream::Model);
        }
        if chunk
            .pointer("/choices/0/finish_reason")
            .is_some_and(|f| !f.is_null())
        {
            finished = true;
        }
        if let Some(u) = chunk.get("usage").and_then(usage_from) {
            got.usage = Some(u);
        }
    }
    splitter.finish(out, Stream::Model);
    if finished {
        Ok(())
    } else {
        Err(http::ended_early(label, "no [DONE] and no finish_reason"))
    }
}

/// A non-streamed chat completion.
fn read_whole(
    v: &Value,
    label: &str,
    out: &OutputSink,
    got: &mut Collected,
) -> Result<(), ProviderError> {
    if let Some(e) = v.get("error").filter(|e| !e.is_null()) {
        return Err(stream_error(label, e));
    }
    let Some(content) = v.pointer("/choices/0/message").map(|m| m.get("content")) else {
        return Err(ProviderError::new(
            ErrorKind::BadReply,
            format!(
                "{label}: JSON reply without choices[0].message: {}",
                http::excerpt(&v.to_string())
            ),
        ));
    };
    // A null content (a tool-call-only answer) is an empty reply, not a protocol error.
    got.text = content
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    got.note_model(v);
    got.usage = v.get("usage").and_then(usage_from);
    let mut splitter = LineSplitter::default();
    splitter.push(&got.text, out, Stream::Model);
    splitter.finish(out, Stream::Model);
    Ok(())
}

fn looks_like_sse(text: &str) -> bool {
    let t = text.trim_start();
    t.starts_with("data:") || t.starts_with("event:") || t.starts_with(':')
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
