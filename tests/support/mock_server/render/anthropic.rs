//! Anthropic Messages: one `message` object, or named SSE events `message_start`,
//! `content_block_start`, `ping`, `content_block_delta` (`text_delta`) …, `content_block_stop`,
//! `message_delta` (stop reason and usage), `message_stop`. Usage is always reported, as the
//! real API does: `input_tokens` in `message_start`, the final counts in `message_delta`.

use serde_json::{Value, json};

use super::{ToolCall, named, pieces};

const MESSAGE_ID: &str = "msg_01MockMockMockMockMock";

pub fn text(
    model: &str,
    text: &str,
    (input, output): (u64, u64),
    chunk_size: usize,
    stream: bool,
) -> Vec<Vec<u8>> {
    let usage = |output: u64| {
        json!({"input_tokens": input, "cache_creation_input_tokens": 0,
               "cache_read_input_tokens": 0, "output_tokens": output,
               "service_tier": "standard"})
    };
    if !stream {
        let v = json!({
            "id": MESSAGE_ID, "type": "message", "role": "assistant", "model": model,
            "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn", "stop_sequence": null, "usage": usage(output),
        });
        return vec![v.to_string().into_bytes()];
    }
    let mut frames = vec![
        named(&json!({"type": "message_start", "message": {
            "id": MESSAGE_ID, "type": "message", "role": "assistant", "model": model,
            "content": [], "stop_reason": null, "stop_sequence": null, "usage": usage(1),
        }})),
        named(&json!({"type": "content_block_start", "index": 0,
                      "content_block": {"type": "text", "text": ""}})),
        named(&json!({"type": "ping"})),
    ];
    for p in pieces(text, chunk_size) {
        frames.push(named(&json!({"type": "content_block_delta", "index": 0,
                                  "delta": {"type": "text_delta", "text": p}})));
    }
    frames.push(named(&json!({"type": "content_block_stop", "index": 0})));
    frames.push(named(&json!({"type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": null},
        "usage": {"input_tokens": input, "cache_creation_input_tokens": 0,
                  "cache_read_input_tokens": 0, "output_tokens": output}})));
    frames.push(named(&json!({"type": "message_stop"})));
    frames
}

/// Anthropic's error type for an HTTP status.
fn error_type(code: u16) -> &'static str {
    match code {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        400..=499 => "invalid_request_error",
        529 => "overloaded_error",
        _ => "api_error",
    }
}

/// `{"type": "error", "error": {"type": …, "message": …}}`.
pub fn error_json(code: u16, message: &str) -> Value {
    json!({"type": "error", "error": {"type": error_type(code), "message": message},
           "request_id": "req_mock"})
}

/// The `error` event a stream carries when it fails after the headers.
pub fn error_frame(code: u16, message: &str) -> Vec<u8> {
    named(&json!({"type": "error", "error": {"type": error_type(code), "message": message}}))
}

/// A turn that calls tools: an optional text block, then one `tool_use` block per call whose
/// input streams as `input_json_delta`, and `stop_reason: tool_use`.
pub fn tools(
    model: &str,
    text: &str,
    calls: &[ToolCall],
    (input, output): (u64, u64),
    stream: bool,
) -> Vec<Vec<u8>> {
    let id = |k: usize| format!("toolu_mock{k:04}");
    let usage = json!({"input_tokens": input, "cache_creation_input_tokens": 0,
                       "cache_read_input_tokens": 0, "output_tokens": output});
    let mut blocks = Vec::new();
    if !text.is_empty() {
        blocks.push(json!({"type": "text", "text": text}));
    }
    for (k, c) in calls.iter().enumerate() {
        blocks.push(json!({"type": "tool_use", "id": id(k), "name": c.name, "input": c.input}));
    }
    if !stream {
        let v = json!({
            "id": MESSAGE_ID, "type": "message", "role": "assistant", "model": model,
            "content": blocks, "stop_reason": "tool_use", "stop_sequence": null,
            "usage": usage,
        });
        return vec![v.to_string().into_bytes()];
    }
    let mut frames = vec![named(&json!({"type": "message_start", "message": {
        "id": MESSAGE_ID, "type": "message", "role": "assistant", "model": model,
        "content": [], "stop_reason": null, "stop_sequence": null,
        "usage": {"input_tokens": input, "output_tokens": 1},
    }}))];
    for (index, b) in blocks.iter().enumerate() {
        if b["type"] == "text" {
            frames.push(named(
                &json!({"type": "content_block_start", "index": index,
                                      "content_block": {"type": "text", "text": ""}}),
            ));
            frames.push(named(
                &json!({"type": "content_block_delta", "index": index,
                                      "delta": {"type": "text_delta", "text": text}}),
            ));
        } else {
            frames.push(named(
                &json!({"type": "content_block_start", "index": index,
                "content_block": {"type": "tool_use", "id": b["id"], "name": b["name"],
                                  "input": {}}}),
            ));
            frames.push(named(
                &json!({"type": "content_block_delta", "index": index,
                "delta": {"type": "input_json_delta", "partial_json": b["input"].to_string()}}),
            ));
        }
        frames.push(named(
            &json!({"type": "content_block_stop", "index": index}),
        ));
    }
    frames.push(named(&json!({"type": "message_delta",
        "delta": {"stop_reason": "tool_use", "stop_sequence": null}, "usage": usage})));
    frames.push(named(&json!({"type": "message_stop"})));
    frames
}
