//! OpenAI chat completions: one `chat.completion` object, or SSE `chat.completion.chunk`s
//! ending in `data: [DONE]`, with a usage chunk when `stream_options.include_usage` is set.

use serde_json::{Value, json};

use super::{ToolCall, pieces, sse};

pub fn text(
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

/// OpenAI's error object (`{"error": {message, type, param, code}}`), shared by chat
/// completions and the Responses API.
pub fn error_json(code: u16, message: &str) -> Value {
    let (kind, short) = match code {
        401 => ("invalid_request_error", Value::from("invalid_api_key")),
        403 => ("permission_error", Value::Null),
        404 => ("invalid_request_error", Value::from("model_not_found")),
        429 => ("rate_limit_error", Value::from("rate_limit_exceeded")),
        400..=499 => ("invalid_request_error", Value::Null),
        _ => ("server_error", Value::from("server_error")),
    };
    json!({"error": {"message": message, "type": kind, "param": null, "code": short}})
}

/// A turn that calls tools: `message.tool_calls` (whole) or `delta.tool_calls` chunks, one per
/// call, and `finish_reason: tool_calls`.
pub fn tools(
    model: &str,
    text: &str,
    calls: &[ToolCall],
    usage: Option<(u64, u64)>,
    stream: bool,
) -> Vec<Vec<u8>> {
    let call = |k: usize, c: &ToolCall| {
        json!({"index": k, "id": format!("call_mock{k:04}"), "type": "function",
               "function": {"name": c.name, "arguments": c.input_text()}})
    };
    let list: Vec<Value> = calls.iter().enumerate().map(|(k, c)| call(k, c)).collect();
    let content = if text.is_empty() {
        Value::Null
    } else {
        json!(text)
    };
    let usage_json = usage
        .map(|(i, o)| json!({"prompt_tokens": i, "completion_tokens": o, "total_tokens": i + o}));
    if !stream {
        let mut v = json!({
            "id": "chatcmpl-mock", "object": "chat.completion", "created": 0, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content,
                                                 "tool_calls": list},
                         "finish_reason": "tool_calls"}],
        });
        if let Some(u) = usage_json {
            v["usage"] = u;
        }
        return vec![v.to_string().into_bytes()];
    }
    let chunk = |delta: Value, finish: Value| {
        sse(&json!({
            "id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": 0,
            "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }))
    };
    let mut frames = vec![chunk(
        json!({"role": "assistant", "content": content}),
        Value::Null,
    )];
    for c in list {
        frames.push(chunk(json!({"tool_calls": [c]}), Value::Null));
    }
    frames.push(chunk(json!({}), json!("tool_calls")));
    if let Some(u) = usage_json {
        frames.push(sse(&json!({
            "id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": 0,
            "model": model, "choices": [], "usage": u,
        })));
    }
    frames.push(b"data: [DONE]\n\n".to_vec());
    frames
}
