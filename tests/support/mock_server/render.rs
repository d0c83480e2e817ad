//! How the mock server writes a scripted text reply in each model protocol.
//!
//! One function per protocol turns (request body, text, usage, chunk size) into the exact byte
//! frames a real server would send: NDJSON lines for Ollama, SSE events for OpenAI chat. To add
//! a protocol (Anthropic Messages, OpenAI Responses, Gemini), add a [`Protocol`] variant, its
//! paths in [`Protocol::from_request`], its streaming default in [`Protocol::wants_stream`], and
//! one render function called from [`text`]; the server itself needs no change.

use serde_json::{Value, json};

/// A model-call protocol, known from the request path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `POST /api/chat`: NDJSON stream unless `"stream": false`.
    OllamaChat,
    /// `POST /api/generate`: like chat, with `response` instead of `message.content`.
    OllamaGenerate,
    /// `POST /v1/chat/completions`, `/api/chat/completions`, `/chat/completions`: one JSON
    /// object unless `"stream": true`, then SSE ending in `data: [DONE]`.
    OpenAiChat,
}

impl Protocol {
    /// The protocol of a model call, or None for any other request.
    pub fn from_request(method: &str, path: &str) -> Option<Protocol> {
        if method != "POST" {
            return None;
        }
        match path {
            "/api/chat" => Some(Protocol::OllamaChat),
            "/api/generate" => Some(Protocol::OllamaGenerate),
            "/v1/chat/completions" | "/api/chat/completions" | "/chat/completions" => {
                Some(Protocol::OpenAiChat)
            }
            _ => None,
        }
    }

    /// Whether the request asked for a streamed reply, with each protocol's default.
    pub fn wants_stream(self, body: Option<&Value>) -> bool {
        let asked = body.and_then(|b| b.get("stream")).and_then(Value::as_bool);
        match self {
            Protocol::OllamaChat | Protocol::OllamaGenerate => asked.unwrap_or(true),
            Protocol::OpenAiChat => asked.unwrap_or(false),
        }
    }

    /// The content type of this protocol's reply.
    pub fn content_type(self, stream: bool) -> &'static str {
        match (self, stream) {
            (Protocol::OllamaChat | Protocol::OllamaGenerate, true) => "application/x-ndjson",
            (Protocol::OpenAiChat, true) => "text/event-stream",
            (_, false) => "application/json",
        }
    }
}

/// A reply ready to write: whether it streams, its type, and its frames in order (a streamed
/// reply writes each frame separately; a whole one is the concatenation).
#[derive(Debug, Clone)]
pub struct Rendered {
    pub stream: bool,
    pub content_type: &'static str,
    pub frames: Vec<Vec<u8>>,
}

/// Render `text` in `protocol`, as the request asked (streamed or whole).
pub fn text(
    protocol: Protocol,
    body: Option<&Value>,
    text: &str,
    usage: Option<(u64, u64)>,
    chunk_size: usize,
) -> Rendered {
    let stream = protocol.wants_stream(body);
    let model = body
        .and_then(|b| b.get("model"))
        .and_then(Value::as_str)
        .unwrap_or("mock-model");
    let frames = match protocol {
        Protocol::OllamaChat => ollama(model, text, usage, chunk_size, stream, true),
        Protocol::OllamaGenerate => ollama(model, text, usage, chunk_size, stream, false),
        Protocol::OpenAiChat => {
            let include_usage = body
                .and_then(|b| b.pointer("/stream_options/include_usage"))
                .and_then(Value::as_bool)
                .unwrap_or(false);
            openai_chat(model, text, usage, chunk_size, stream, include_usage)
        }
    };
    Rendered {
        stream,
        content_type: protocol.content_type(stream),
        frames,
    }
}

/// `text` in pieces of `size` characters (0: one piece). Never splits a character.
pub fn pieces(text: &str, size: usize) -> Vec<String> {
    if size == 0 || text.is_empty() {
        return vec![text.to_string()];
    }
    let chars: Vec<char> = text.chars().collect();
    chars.chunks(size).map(|c| c.iter().collect()).collect()
}

fn line(v: Value) -> Vec<u8> {
    let mut s = v.to_string();
    s.push('\n');
    s.into_bytes()
}

fn sse(v: &Value) -> Vec<u8> {
    format!("data: {v}\n\n").into_bytes()
}

fn ollama(
    model: &str,
    text: &str,
    usage: Option<(u64, u64)>,
    chunk_size: usize,
    stream: bool,
    chat: bool,
) -> Vec<Vec<u8>> {
    let content = |t: &str| {
        if chat {
            json!({"message": {"role": "assistant", "content": t}})
        } else {
            json!({"response": t})
        }
    };
    let with = |mut v: Value, done: bool| {
        v["model"] = json!(model);
        v["created_at"] = json!("2025-01-01T00:00:00Z");
        v["done"] = json!(done);
        if done {
            v["done_reason"] = json!("stop");
            if let Some((i, o)) = usage {
                v["prompt_eval_count"] = json!(i);
                v["eval_count"] = json!(o);
            }
        }
        v
    };
    if !stream {
        return vec![with(content(text), true).to_string().into_bytes()];
    }
    let mut frames: Vec<Vec<u8>> = pieces(text, chunk_size)
        .iter()
        .map(|p| line(with(content(p), false)))
        .collect();
    frames.push(line(with(content(""), true)));
    frames
}

fn openai_chat(
    model: &str,
    text: &str,
    usage: Option<(u64, u64)>,
    chunk_size: usize,
    stream: bool,
    include_usage: bool,
) -> Vec<Vec<u8>> {
    let usage_json = usage
        .map(|(i, o)| json!({"prompt_tokens": i, "completion_tokens": o, "total_tokens": i + o}));
    if !stream {
        let mut v = json!({
            "id": "chatcmpl-mock", "object": "chat.completion", "created": 0, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                         "finish_reason": "stop"}],
        });
        if let Some(u) = usage_json {
            v["usage"] = u;
        }
        return vec![v.to_string().into_bytes()];
    }
    let chunk = |delta: Value, finish: Value| {
        let mut v = json!({
            "id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": 0,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        });
        if include_usage {
            // Real servers send `"usage": null` on every chunk but the last when asked.
            v["usage"] = Value::Null;
        }
        v
    };
    let mut frames = vec![sse(&chunk(
        json!({"role": "assistant", "content": ""}),
        Value::Null,
    ))];
    for p in pieces(text, chunk_size) {
        frames.push(sse(&chunk(json!({"content": p}), Value::Null)));
    }
    frames.push(sse(&chunk(json!({}), json!("stop"))));
    if let (true, Some(u)) = (include_usage, usage_json) {
        frames.push(sse(&json!({
            "id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": 0,
            "model": model, "choices": [], "usage": u,
        })));
    }
    frames.push(b"data: [DONE]\n\n".to_vec());
    frames
}
