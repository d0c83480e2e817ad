//! Gemini `generateContent` and `streamGenerateContent`: `GenerateContentResponse` objects
//! (`candidates[0].content.parts[].text`, role `model`, `finishReason: STOP` on the last,
//! `usageMetadata` with `promptTokenCount`, `candidatesTokenCount`, `totalTokenCount`), whole,
//! as SSE `data:` chunks (with `alt=sse`, CRLF-delimited like Google's servers), or as one
//! JSON array written element by element.

use serde_json::{Value, json};

use super::{Protocol, ToolCall, pieces};

fn chunk(model: &str, text: &str, last: bool, usage: Option<(u64, u64)>) -> Value {
    let mut cand = json!({"content": {"parts": [{"text": text}], "role": "model"}, "index": 0});
    if last {
        cand["finishReason"] = json!("STOP");
    }
    let mut v = json!({"candidates": [cand], "modelVersion": model,
                       "responseId": "mock-response-0001"});
    if let (true, Some((i, o))) = (last, usage) {
        v["usageMetadata"] = json!({"promptTokenCount": i, "candidatesTokenCount": o,
            "totalTokenCount": i + o,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": i}]});
    }
    v
}

pub fn text(
    protocol: Protocol,
    model: &str,
    text: &str,
    usage: Option<(u64, u64)>,
    chunk_size: usize,
) -> Vec<Vec<u8>> {
    let parts = pieces(text, chunk_size);
    let n = parts.len();
    let chunks = parts
        .iter()
        .enumerate()
        .map(|(k, p)| chunk(model, p, k + 1 == n, usage));
    match protocol {
        Protocol::GeminiStreamSse => chunks
            .map(|c| format!("data: {c}\r\n\r\n").into_bytes())
            .collect(),
        Protocol::GeminiStreamArray => {
            let mut frames: Vec<Vec<u8>> = chunks
                .enumerate()
                .map(|(k, c)| {
                    let lead = if k == 0 { "[" } else { ",\r\n" };
                    format!("{lead}{c}").into_bytes()
                })
                .collect();
            frames.push(b"]".to_vec());
            frames
        }
        Protocol::GeminiGenerate
        | Protocol::OllamaChat
        | Protocol::OllamaGenerate
        | Protocol::OpenAiChat
        | Protocol::AnthropicMessages
        | Protocol::OpenAiResponses => {
            vec![chunk(model, text, true, usage).to_string().into_bytes()]
        }
    }
}

/// Google's status name for an HTTP status.
fn status_name(code: u16) -> &'static str {
    match code {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        429 => "RESOURCE_EXHAUSTED",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        402 | 405..=499 => "FAILED_PRECONDITION",
        _ => "INTERNAL",
    }
}

/// `{"error": {"code": …, "message": …, "status": …}}`.
pub fn error_json(code: u16, message: &str) -> Value {
    json!({"error": {"code": code, "message": message, "status": status_name(code)}})
}

/// A failure after the headers: an error object in place of the next chunk.
pub fn error_frame(protocol: Protocol, code: u16, message: &str) -> Vec<u8> {
    let v = error_json(code, message);
    match protocol {
        Protocol::GeminiStreamArray => format!(",\r\n{v}]").into_bytes(),
        Protocol::GeminiStreamSse
        | Protocol::GeminiGenerate
        | Protocol::OllamaChat
        | Protocol::OllamaGenerate
        | Protocol::OpenAiChat
        | Protocol::AnthropicMessages
        | Protocol::OpenAiResponses => format!("data: {v}\r\n\r\n").into_bytes(),
    }
}

/// A turn that calls tools: one candidate whose parts are the text (if any) and one
/// `functionCall` per call, `finishReason: STOP`, in one chunk.
pub fn tools(
    protocol: Protocol,
    model: &str,
    text: &str,
    calls: &[ToolCall],
    usage: Option<(u64, u64)>,
) -> Vec<Vec<u8>> {
    let mut parts = Vec::new();
    if !text.is_empty() {
        parts.push(json!({"text": text}));
    }
    for c in calls {
        parts.push(json!({"functionCall": {"name": c.name, "args": c.input}}));
    }
    let (i, o) = usage.unwrap_or((1, 1));
    let v = json!({"candidates": [{"content": {"parts": parts, "role": "model"},
                                   "finishReason": "STOP", "index": 0}],
                   "modelVersion": model, "responseId": "mock-response-0002",
                   "usageMetadata": {"promptTokenCount": i, "candidatesTokenCount": o,
                                     "totalTokenCount": i + o}});
    match protocol {
        Protocol::GeminiStreamSse => vec![format!("data: {v}\r\n\r\n").into_bytes()],
        Protocol::GeminiStreamArray => vec![format!("[{v}]").into_bytes()],
        Protocol::GeminiGenerate
        | Protocol::OllamaChat
        | Protocol::OllamaGenerate
        | Protocol::OpenAiChat
        | Protocol::AnthropicMessages
        | Protocol::OpenAiResponses => vec![v.to_string().into_bytes()],
    }
}
