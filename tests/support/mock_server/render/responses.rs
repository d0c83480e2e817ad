//! The OpenAI Responses API: one `response` object, or named SSE events `response.created`,
//! `response.in_progress`, `response.output_item.added`, `response.content_part.added`,
//! `response.output_text.delta` …, `response.output_text.done`, `response.content_part.done`,
//! `response.output_item.done`, `response.completed` (with usage). Every event carries a
//! `sequence_number`, as the real API's do.

use serde_json::{Value, json};

use super::{ToolCall, named, pieces};

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

/// Named events numbered by `sequence_number` in the order they are pushed, opening with
/// `response.created` and `response.in_progress`.
struct Events {
    seq: u64,
    frames: Vec<Vec<u8>>,
}

impl Events {
    fn open(model: &str) -> Events {
        let mut e = Events {
            seq: 0,
            frames: Vec::new(),
        };
        let pending = response(model, "in_progress", json!([]), Value::Null);
        e.push(json!({"type": "response.created", "response": pending}));
        e.push(json!({"type": "response.in_progress", "response": pending}));
        e
    }

    fn push(&mut self, mut v: Value) {
        v["sequence_number"] = json!(self.seq);
        self.seq += 1;
        self.frames.push(named(&v));
    }
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
    let mut events = Events::open(model);
    let mut push = |v: Value| events.push(v);
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
    events.frames
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

/// One output item for a tool call: `function_call` with JSON `arguments`, or
/// `custom_tool_call` with a plain-text `input`.
fn call_item(k: usize, c: &ToolCall, status: &str, done: bool) -> Value {
    let (id, call_id) = (format!("fc_mock{k:04}"), format!("call_mock{k:04}"));
    let body = if done { c.input_text() } else { String::new() };
    if c.custom {
        json!({"id": id, "type": "custom_tool_call", "status": status, "call_id": call_id,
               "name": c.name, "input": body})
    } else {
        json!({"id": id, "type": "function_call", "status": status, "call_id": call_id,
               "name": c.name, "arguments": body})
    }
}

/// A turn that calls tools: an optional message item, then one item per call, their
/// arguments streamed as `response.function_call_arguments.*` (or
/// `response.custom_tool_call_input.*` for a custom tool).
pub fn tools(
    model: &str,
    text: &str,
    calls: &[ToolCall],
    usage: Option<(u64, u64)>,
    stream: bool,
) -> Vec<Vec<u8>> {
    let mut done_items = Vec::new();
    if !text.is_empty() {
        done_items.push(item("completed", json!([part(text)])));
    }
    let first_call = done_items.len();
    for (k, c) in calls.iter().enumerate() {
        done_items.push(call_item(k, c, "completed", true));
    }
    let usage = usage_json(Some(usage.unwrap_or((1, 1))));
    if !stream {
        let v = response(model, "completed", json!(done_items), usage);
        return vec![v.to_string().into_bytes()];
    }
    let mut events = Events::open(model);
    let mut push = |v: Value| events.push(v);
    for (index, done) in done_items.iter().enumerate() {
        if index < first_call {
            push(
                json!({"type": "response.output_item.added", "output_index": index,
                        "item": item("in_progress", json!([]))}),
            );
            push(
                json!({"type": "response.output_text.delta", "item_id": ITEM_ID,
                        "output_index": index, "content_index": 0, "delta": text,
                        "logprobs": []}),
            );
            push(
                json!({"type": "response.output_text.done", "item_id": ITEM_ID,
                        "output_index": index, "content_index": 0, "text": text,
                        "logprobs": []}),
            );
        } else {
            let k = index - first_call;
            let c = &calls[k];
            push(
                json!({"type": "response.output_item.added", "output_index": index,
                        "item": call_item(k, c, "in_progress", false)}),
            );
            let (delta, finished, key) = if c.custom {
                (
                    "response.custom_tool_call_input.delta",
                    "response.custom_tool_call_input.done",
                    "input",
                )
            } else {
                (
                    "response.function_call_arguments.delta",
                    "response.function_call_arguments.done",
                    "arguments",
                )
            };
            let body = c.input_text();
            push(
                json!({"type": delta, "item_id": done["id"], "output_index": index,
                        "delta": body}),
            );
            let mut fin = json!({"type": finished, "item_id": done["id"],
                                 "output_index": index});
            fin[key] = json!(body);
            push(fin);
        }
        push(
            json!({"type": "response.output_item.done", "output_index": index,
                    "item": done}),
        );
    }
    push(json!({"type": "response.completed",
                "response": response(model, "completed", json!(done_items), usage)}));
    events.frames
}
