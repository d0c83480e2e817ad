//! The tool results a program posts back after a scripted tool-call turn, read from its
//! request in any of the protocols: Anthropic `tool_result` blocks, Responses
//! `function_call_output` / `custom_tool_call_output` items, Gemini `functionResponse` parts and
//! chat `tool` messages.

use serde_json::Value;

/// Every tool result in a request body, oldest first.
pub fn results(body: &Value) -> Vec<String> {
    let mut out = Vec::new();
    // Anthropic Messages and OpenAI chat: `messages`.
    for m in body["messages"].as_array().into_iter().flatten() {
        if m["role"] == "tool" {
            out.push(flat(&m["content"]));
        }
        for block in m["content"].as_array().into_iter().flatten() {
            if block["type"] == "tool_result" {
                out.push(flat(&block["content"]));
            }
        }
    }
    // Responses API: `input` items.
    for item in body["input"].as_array().into_iter().flatten() {
        let kind = item["type"].as_str().unwrap_or("");
        if kind == "function_call_output" || kind == "custom_tool_call_output" {
            out.push(flat(&item["output"]));
        }
    }
    // Gemini: `contents[].parts[].functionResponse`.
    for c in body["contents"].as_array().into_iter().flatten() {
        for part in c["parts"].as_array().into_iter().flatten() {
            let r = &part["functionResponse"]["response"];
            if !r.is_null() {
                out.push(flat(r));
            }
        }
    }
    out
}

/// A result's text: a string as is, text blocks joined, `output`/`error` fields, else JSON.
fn flat(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .map(|p| match p.get("text").and_then(Value::as_str) {
                Some(t) => t.to_string(),
                None => flat(p),
            })
            .collect::<Vec<_>>()
            .join("\n"),
        Value::Object(o) => match (o.get("output"), o.get("error"), o.get("content")) {
            (Some(x), _, _) | (None, Some(x), _) | (None, None, Some(x)) => flat(x),
            (None, None, None) => v.to_string(),
        },
        Value::Null => String::new(),
        other => other.to_string(),
    }
}
