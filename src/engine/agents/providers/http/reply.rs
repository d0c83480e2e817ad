//! Reading a JSON provider's reply, whatever form the server chose: an SSE stream (by
//! content type, or SSE under a plain type), or one JSON document. The protocol itself is a
//! [`Decoder`]; this file owns the bytes, the live lines and the "ended early" rule.
//!
//! Invariant: a reply counts only when the decoder says it is finished (Anthropic's
//! `message_stop`, Responses' `response.completed`, Gemini's `finishReason`, chat
//! completions' `finish_reason` or `[DONE]`); a stream that ends before is a retryable
//! "stream ended early" naming what was missing.

use std::time::Duration;

use serde_json::Value;

use super::{SseEvents, excerpt, read_all};
use crate::engine::agents::providers::{
    ErrorKind, LineSplitter, OutputSink, ProviderError, Reply, Request,
};
use crate::engine::ground::events::{Stream, Usage};

/// Largest non-streamed reply read.
const MAX_BODY_BYTES: usize = 32 << 20;

/// What a decoder learnt of a reply besides its text.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    /// The model the server says answered.
    pub model: Option<String>,
    /// The usage the protocol reported, if it did.
    pub usage: Option<Usage>,
    /// The protocol's final marker arrived.
    pub finished: bool,
}

/// One protocol's reply grammar. `emit` receives reply text fragments in order.
pub trait Decoder: Send {
    /// One SSE event: its `event:` name (may be empty) and its data parsed as JSON.
    fn event(
        &mut self,
        name: &str,
        data: &Value,
        emit: &mut dyn FnMut(&str),
    ) -> Result<(), ProviderError>;

    /// A whole (non-streamed) JSON reply.
    fn whole(&mut self, v: &Value, emit: &mut dyn FnMut(&str)) -> Result<(), ProviderError>;

    /// What the reply said so far besides its text.
    fn facts(&self) -> &Facts;

    /// OpenAI's `data: [DONE]` ended the stream. Only chat completions count it as the final
    /// marker; the others have their own, and some proxies add `[DONE]` after it.
    fn done_sent(&mut self) {}

    /// The final marker, for "stream ended early (no message_stop)".
    fn final_marker(&self) -> &'static str;
}

/// Read a successful reply through `dec` into a [`Reply`]: usage as the protocol reported it
/// (else estimated), the model the server named (else `model`).
pub async fn read_reply(
    resp: reqwest::Response,
    req: &Request,
    label: &str,
    out: &OutputSink,
    dec: &mut dyn Decoder,
    model: &str,
) -> Result<Reply, ProviderError> {
    let text = collect(resp, req.idle_timeout, label, out, dec).await?;
    let facts = dec.facts();
    let usage = (facts.usage.clone()).unwrap_or_else(|| Usage::estimate(&req.prompt, &text));
    let model = (facts.model.clone())
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| model.to_string());
    Ok(Reply {
        text,
        usage,
        model,
        refused: Vec::new(),
    })
}

/// Read a successful reply through `dec`; returns the whole reply text.
async fn collect(
    resp: reqwest::Response,
    idle: Option<Duration>,
    label: &str,
    out: &OutputSink,
    dec: &mut dyn Decoder,
) -> Result<String, ProviderError> {
    let is_sse = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.contains("text/event-stream"));
    if is_sse {
        let events = SseEvents::new(resp.bytes_stream(), idle, label);
        return read_sse(events, label, out, dec).await;
    }
    let bytes = read_all(resp, idle, label, MAX_BODY_BYTES).await?;
    let text = String::from_utf8_lossy(&bytes);
    if let Ok(v) = serde_json::from_str::<Value>(&text) {
        let mut got = Collector::new(out);
        let r = dec.whole(&v, &mut |t| got.push(t));
        got.finish();
        r?;
        return Ok(got.text);
    }
    if looks_like_sse(&text) {
        let once = futures_util::stream::iter([Ok::<_, reqwest::Error>(bytes)]);
        return read_sse(SseEvents::new(once, None, label), label, out, dec).await;
    }
    Err(ProviderError::new(
        ErrorKind::BadReply,
        format!(
            "{label}: reply is neither JSON nor an event stream: {}",
            excerpt(&text)
        ),
    ))
}

/// Reply text so far, with its lines going live to the sink.
struct Collector<'a> {
    text: String,
    splitter: LineSplitter,
    out: &'a OutputSink,
}

impl<'a> Collector<'a> {
    fn new(out: &'a OutputSink) -> Self {
        Collector {
            text: String::new(),
            splitter: LineSplitter::default(),
            out,
        }
    }

    fn push(&mut self, fragment: &str) {
        if !fragment.is_empty() {
            self.text.push_str(fragment);
            self.splitter.push(fragment, self.out, Stream::Model);
        }
    }

    fn finish(&mut self) {
        self.splitter.finish(self.out, Stream::Model);
    }
}

/// Read an SSE reply through `dec`; returns the whole reply text.
pub(crate) async fn read_sse<S, B>(
    mut events: SseEvents<S>,
    label: &str,
    out: &OutputSink,
    dec: &mut dyn Decoder,
) -> Result<String, ProviderError>
where
    S: futures_util::Stream<Item = Result<B, reqwest::Error>>,
    B: AsRef<[u8]>,
{
    let mut got = Collector::new(out);
    let result = loop {
        let ev = match events.next_event().await {
            Ok(Some(ev)) => ev,
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        };
        let data = ev.data.trim();
        // Keep-alive comments arrive as empty data; some proxies add OpenAI's end marker.
        if data.is_empty() {
            continue;
        }
        if data == "[DONE]" {
            dec.done_sent();
            break Ok(());
        }
        let Ok(v) = serde_json::from_str::<Value>(data) else {
            break Err(ProviderError::new(
                ErrorKind::BadReply,
                format!("{label}: event is not JSON: {}", excerpt(data)),
            ));
        };
        if let Err(e) = dec.event(&ev.event, &v, &mut |t| got.push(t)) {
            break Err(e);
        }
    };
    got.finish();
    result?;
    if dec.facts().finished {
        Ok(got.text)
    } else {
        Err(super::ended_early(
            label,
            &format!("no {}", dec.final_marker()),
        ))
    }
}

fn looks_like_sse(text: &str) -> bool {
    let t = text.trim_start();
    t.starts_with("data:") || t.starts_with("event:") || t.starts_with(':')
}
