//! Ollama's `/api/chat` and `/api/generate`: NDJSON lines, the last one `done: true` with
//! `prompt_eval_count` and `eval_count`.

use serde_json::{Value, json};

use super::{line, pieces};

pub fn text(
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
        .map(|p| line(&with(content(p), false)))
        .collect();
    frames.push(line(&with(content(""), true)));
    frames
}

/// Ollama reports a failure inside a stream as one `{"error": …}` line.
pub fn error_frame(message: &str) -> Vec<u8> {
    line(&json!({"error": message}))
}
