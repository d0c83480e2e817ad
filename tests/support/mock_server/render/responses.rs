//! The OpenAI Responses API: one `response` object, or named SSE events `response.created`,
//! `response.in_progress`, `response.output_item.added`, `response.content_part.added`,
//! `response.output_text.delta` …, `response.output_text.done`, `response.content_part.done`,
//! `response.output_item.done`, `response.completed` (with usage). Every event carries a
//! `sequence_number`, as the real API's do.

use serde_json::{Value, json};

use super::{named, pieces};

const RESPONSE_ID: &str = "resp_mock0001";
const ITEM_ID: &str = "msg_mock0001";

fn response(model: &str, status: &str, output: Value, usage: Value) -> Value {
    json!({
        "id": RESPONSE_ID, "object": "response", "created_at": 1_700_000_000,
        "status": status, "error": null, "incomplete_details": null,
        "instructions": null, "max_output_tokens": null, "model": model,
        "output": output, "parallel_tool_calls": true, "previous_response_id": null,
        "reasoning": {"effort": null, "summary": null}, "store": false,
        "temperature": 1.0, "text": {"format": {"type": "text"}}, "tool_choice": "auto",
        "tools": [], "top_p": 1.0, "truncation": "disabled", "usage": usage,
        "user": null, "metadata": {},
    })
}

fn usage_json(usage: Option<(u64, u64)>) -> Value {
    match usage {
        Some((i, o)) => json!({
            "input_tokens": i, "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": o, "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": i + o,
        }),
        None => Value::Null,
    }
}

fn part(text: &str) -> Value {
    json!({"type": "output_text", "text": text, "annotations": []})
}

fn item(status: &str, content: Value) -> Value {
    json!({"id": ITEM_ID, "type": "message", "status": status, "role": "assistant",
           "content": content})
}

pub fn text(
    model: &str,
    text: &str,
    usage: Option<(u64, u64)>,
    chunk_size: usize,
    stream: bool,
) -> Vec<Vec<u8>> {
    let done_item = item("completed", json!([part(text)]));
    if !stream {
        let v = response(model, "completed", json!([done_item]), usage_json(usage));
        return vec![v.to_string().into_bytes()];
    }
    let mut seq = 0u64;
    let mut frames = Vec::new();
    let mut push = |mut v: Value| {
        v["sequence_number"] = json!(seq);
        seq += 1;
        frames.push(named(&v));
    };
    let pending = response(model, "in_progress", json!([]), Value::Null);
    push(json!({"type": "response.created", "response": pending}));
    push(json!({"type": "response.in_progress", "response": pending}));
    push(
        json!({"type": "response.output_item.added", "output_index": 0,
                "item": item("in_progress", json!([]))}),
    );
    let at = |v: Value| {
        let mut v = v;
        v["item_id"] = json!(ITEM_ID);
        v["output_index"] = json!(0);
        v["content_index"] = json!(0);
        v
    };
    push(at(
        json!({"type": "response.content_part.added", "part": part("")}),
    ));
    for p in pieces(text, chunk_size) {
        push(at(
            json!({"type": "response.output_text.delta", "delta": p, "logprobs": []}),
        ));
    }
    push(at(
        json!({"type": "response.output_text.done", "text": text, "logprobs": []}),
    ));
    push(at(
        json!({"type": "response.content_part.done", "part": part(text)}),
    ));
    push(
        json!({"type": "response.output_item.done", "output_index": 0,
                "item": done_item}),
    );
    push(json!({"type": "response.completed",
                "response": response(model, "completed", json!([done_item]), usage_json(usage))}));
    frames
}

/// The `response.failed` event a stream ends with when the model fails after the headers.
pub fn failed_frame(model: &str, code: u16, message: &str) -> Vec<u8> {
    let short = match code {
        429 => "rate_limit_exceeded",
        400..=499 => "invalid_prompt",
        _ => "server_error",
    };
    let mut r = response(model, "failed", json!([]), Value::Null);
    r["error"] = json!({"code": short, "message": message});
    named(&json!({"type": "response.failed", "sequence_number": 99, "response": r}))
}
