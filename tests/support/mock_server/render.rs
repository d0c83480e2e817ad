//! How the mock server writes a scripted reply in each model protocol.
//!
//! [`Protocol::from_request`] names the protocol of a model call from its method, path and
//! query; [`text`] turns (call, text, usage, chunk size) into the exact byte frames a real
//! server would send, [`error_body`] gives a status error in the protocol's own JSON shape, and
//! [`fail_mid_stream`] an error that arrives after some text. Each protocol lives in its own
//! file under `render/`; the server itself knows none of them. To add a protocol, add a
//! [`Protocol`] variant, its paths, its streaming default and content type, and one module.
//!
//! Shapes follow the real services closely (ids, `type` fields, `model`, stop reasons, roles,
//! usage field names) because the real claude, codex and gemini programs parse them.

mod anthropic;
mod chat;
mod gemini;
mod ollama;
mod responses;

use serde_json::{Value, json};

use super::ToolCall;

/// A model-call protocol, known from the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `POST /api/chat`: NDJSON stream unless `"stream": false`.
    OllamaChat,
    /// `POST /api/generate`: like chat, with `response` instead of `message.content`.
    OllamaGenerate,
    /// `POST /v1/chat/completions`, `/api/chat/completions`, `/chat/completions`: one JSON
    /// object unless `"stream": true`, then SSE ending in `data: [DONE]`.
    OpenAiChat,
    /// `POST /v1/messages` (any query, e.g. `?beta=true`): one JSON message unless
    /// `"stream": true`, then named SSE events from `message_start` to `message_stop`.
    AnthropicMessages,
    /// `POST /v1/responses` or `/responses`: one response object unless `"stream": true`,
    /// then named SSE events from `response.created` to `response.completed`.
    OpenAiResponses,
    /// `POST /v1beta/models/{m}:generateContent`: one JSON object.
    GeminiGenerate,
    /// `POST /v1beta/models/{m}:streamGenerateContent?alt=sse`: SSE `data:` chunks.
    GeminiStreamSse,
    /// `:streamGenerateContent` without `alt=sse`: a JSON array written element by element.
    GeminiStreamArray,
}

impl Protocol {
    /// The protocol of a model call, or None for any other request.
    pub fn from_request(method: &str, path: &str, query: &str) -> Option<Protocol> {
        if method != "POST" {
            return None;
        }
        match path {
            "/api/chat" => return Some(Protocol::OllamaChat),
            "/api/generate" => return Some(Protocol::OllamaGenerate),
            "/v1/chat/completions" | "/api/chat/completions" | "/chat/completions" => {
                return Some(Protocol::OpenAiChat);
            }
            "/v1/messages" => return Some(Protocol::AnthropicMessages),
            "/v1/responses" | "/responses" => return Some(Protocol::OpenAiResponses),
            _ => {}
        }
        gemini_model(path)?;
        let sse = query.split('&').any(|kv| kv == "alt=sse");
        if path.ends_with(":generateContent") {
            Some(Protocol::GeminiGenerate)
        } else if path.ends_with(":streamGenerateContent") && sse {
            Some(Protocol::GeminiStreamSse)
        } else if path.ends_with(":streamGenerateContent") {
            Some(Protocol::GeminiStreamArray)
        } else {
            None
        }
    }

    /// Whether the request asked for a streamed reply, with each protocol's default.
    pub fn wants_stream(self, body: Option<&Value>) -> bool {
        let asked = body.and_then(|b| b.get("stream")).and_then(Value::as_bool);
        match self {
            Protocol::OllamaChat | Protocol::OllamaGenerate => asked.unwrap_or(true),
            Protocol::OpenAiChat | Protocol::AnthropicMessages | Protocol::OpenAiResponses => {
                asked.unwrap_or(false)
            }
            Protocol::GeminiGenerate => false,
            Protocol::GeminiStreamSse | Protocol::GeminiStreamArray => true,
        }
    }

    /// The content type of this protocol's reply.
    pub fn content_type(self, stream: bool) -> &'static str {
        match (self, stream) {
            (Protocol::OllamaChat | Protocol::OllamaGenerate, true) => "application/x-ndjson",
            (
                Protocol::OpenAiChat
                | Protocol::AnthropicMessages
                | Protocol::OpenAiResponses
                | Protocol::GeminiStreamSse,
                true,
            ) => "text/event-stream",
            (Protocol::GeminiGenerate | Protocol::GeminiStreamArray, true) => "application/json",
            (_, false) => "application/json",
        }
    }

    /// True for the protocols whose errors the mock wraps in their own JSON shape when a
    /// script gives a plain message (the older ones answer exactly what the script says).
    pub fn wraps_errors(self) -> bool {
        match self {
            Protocol::OllamaChat | Protocol::OllamaGenerate | Protocol::OpenAiChat => false,
            Protocol::AnthropicMessages
            | Protocol::OpenAiResponses
            | Protocol::GeminiGenerate
            | Protocol::GeminiStreamSse
            | Protocol::GeminiStreamArray => true,
        }
    }
}

/// `{m}` of `/v1beta/models/{m}:method` (also `/v1/…`), when the path has that form.
pub fn gemini_model(path: &str) -> Option<&str> {
    let rest = path
        .strip_prefix("/v1beta/models/")
        .or_else(|| path.strip_prefix("/v1/models/"))?;
    let (model, _method) = rest.split_once(':')?;
    (!model.is_empty() && !model.contains('/')).then_some(model)
}

/// One model call as the renderers need it.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    pub protocol: Protocol,
    pub body: Option<&'a Value>,
    pub path: &'a str,
}

impl Call<'_> {
    /// The model asked for: Gemini names it in the path, the others in the body.
    pub fn model(&self) -> String {
        if let Some(m) = gemini_model(self.path) {
            return m.to_string();
        }
        self.body
            .and_then(|b| b.get("model"))
            .and_then(Value::as_str)
            .unwrap_or("mock-model")
            .to_string()
    }

    fn stream(&self) -> bool {
        self.protocol.wants_stream(self.body)
    }

    /// A rough prompt size in tokens (request body chars / 4), for protocols that always
    /// report usage when the script gave none.
    fn prompt_tokens(&self) -> u64 {
        self.body
            .map(|b| b.to_string().chars().count().div_ceil(4) as u64)
            .unwrap_or(0)
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

/// Render `text` for `call`, as the request asked (streamed or whole).
pub fn text(call: &Call, text: &str, usage: Option<(u64, u64)>, chunk_size: usize) -> Rendered {
    let stream = call.stream();
    let model = call.model();
    let frames = match call.protocol {
        Protocol::OllamaChat => ollama::text(&model, text, usage, chunk_size, stream, true),
        Protocol::OllamaGenerate => ollama::text(&model, text, usage, chunk_size, stream, false),
        Protocol::OpenAiChat => {
            let include_usage = call
                .body
                .and_then(|b| b.pointer("/stream_options/include_usage"))
                .and_then(Value::as_bool)
                .unwrap_or(false);
            chat::text(&model, text, usage, chunk_size, stream, include_usage)
        }
        Protocol::AnthropicMessages => {
            let usage = usage.unwrap_or((call.prompt_tokens(), count_tokens(text)));
            anthropic::text(&model, text, usage, chunk_size, stream)
        }
        Protocol::OpenAiResponses => responses::text(&model, text, usage, chunk_size, stream),
        Protocol::GeminiGenerate | Protocol::GeminiStreamSse | Protocol::GeminiStreamArray => {
            gemini::text(call.protocol, &model, text, usage, chunk_size)
        }
    };
    Rendered {
        stream,
        content_type: call.protocol.content_type(stream),
        frames,
    }
}

/// Render a turn of tool `calls` (after an optional `text`) for `call`. Ollama has no tool
/// calls in this mock: it gets the text alone.
pub fn tools(call: &Call, text: &str, calls: &[ToolCall]) -> Rendered {
    let stream = call.stream();
    let model = call.model();
    let usage = (call.prompt_tokens(), 10);
    let frames = match call.protocol {
        Protocol::OllamaChat | Protocol::OllamaGenerate => {
            return self::text(call, text, Some(usage), 0);
        }
        Protocol::OpenAiChat => chat::tools(&model, text, calls, Some(usage), stream),
        Protocol::AnthropicMessages => anthropic::tools(&model, text, calls, usage, stream),
        Protocol::OpenAiResponses => responses::tools(&model, text, calls, Some(usage), stream),
        Protocol::GeminiGenerate | Protocol::GeminiStreamSse | Protocol::GeminiStreamArray => {
            gemini::tools(call.protocol, &model, text, calls, Some(usage))
        }
    };
    Rendered {
        stream,
        content_type: call.protocol.content_type(stream),
        frames,
    }
}

/// Start `text` as a stream, then fail inside it the way `call`'s protocol reports errors
/// that happen after the headers (an `error` event, a failed response, an error chunk).
/// `code` picks the error's type (429 rate limit, 529 overloaded, 500 server error, ...).
pub fn fail_mid_stream(call: &Call, text: &str, code: u16, message: &str) -> Rendered {
    let mut r = self::text(call, text, Some((1, 1)), 4);
    let model = call.model();
    let p = call.protocol;
    let (keep, error) = match p {
        Protocol::OllamaChat | Protocol::OllamaGenerate => (1, ollama::error_frame(message)),
        Protocol::OpenAiChat => (2, sse(&chat::error_json(code, message))),
        Protocol::AnthropicMessages => (4, anthropic::error_frame(code, message)),
        Protocol::OpenAiResponses => (5, responses::failed_frame(&model, code, message)),
        Protocol::GeminiGenerate | Protocol::GeminiStreamSse | Protocol::GeminiStreamArray => {
            (1, gemini::error_frame(p, code, message))
        }
    };
    if !r.stream {
        // A whole reply cannot fail half way; answer with the protocol's error body instead.
        return Rendered {
            stream: false,
            content_type: "application/json",
            frames: vec![error_body(p, code, message).into_bytes()],
        };
    }
    r.frames.truncate(keep.min(r.frames.len()));
    r.frames.push(error);
    r
}

/// A status error's body in `protocol`'s own JSON shape.
pub fn error_body(protocol: Protocol, code: u16, message: &str) -> String {
    let v = match protocol {
        Protocol::OllamaChat | Protocol::OllamaGenerate => json!({"error": message}),
        Protocol::OpenAiChat | Protocol::OpenAiResponses => chat::error_json(code, message),
        Protocol::AnthropicMessages => anthropic::error_json(code, message),
        Protocol::GeminiGenerate | Protocol::GeminiStreamSse | Protocol::GeminiStreamArray => {
            gemini::error_json(code, message)
        }
    };
    v.to_string()
}

/// `text` in pieces of `size` characters (0: one piece). Never splits a character.
pub fn pieces(text: &str, size: usize) -> Vec<String> {
    if size == 0 || text.is_empty() {
        return vec![text.to_string()];
    }
    let chars: Vec<char> = text.chars().collect();
    chars.chunks(size).map(|c| c.iter().collect()).collect()
}

/// A made-up token count for text (chars / 4, at least 1 for non-empty text).
fn count_tokens(text: &str) -> u64 {
    text.chars().count().div_ceil(4) as u64
}

/// One NDJSON line.
fn line(v: &Value) -> Vec<u8> {
    let mut s = v.to_string();
    s.push('\n');
    s.into_bytes()
}

/// One unnamed SSE event.
fn sse(v: &Value) -> Vec<u8> {
    format!("data: {v}\n\n").into_bytes()
}

/// One named SSE event whose name is the data's `type`, as Anthropic and OpenAI send them.
fn named(v: &Value) -> Vec<u8> {
    let name = v.get("type").and_then(Value::as_str).unwrap_or("message");
    format!("event: {name}\ndata: {v}\n\n").into_bytes()
}
