//! The conversation with the person: `.clk/state/conversation.jsonl`, newest last.

use std::path::PathBuf;

use serde_json::json;

use crate::engine::store::workspace::{Workspace, append_jsonl};

/// Where the conversation is kept.
pub fn log_path(ws: &Workspace) -> PathBuf {
    ws.state_dir().join("conversation.jsonl")
}

/// Append one message to the conversation. `kind` is `idea` for the message that became the
/// idea (already in every prompt), `request` otherwise.
pub fn record(ws: &Workspace, from: &str, kind: &str, text: &str) -> std::io::Result<()> {
    let at = chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    append_jsonl(
        &log_path(ws),
        &json!({"at": at, "from": from, "kind": kind, "text": crate::engine::ground::redact::redact_text(text)}),
    )
}

/// The newest `n` messages from the person, oldest first.
pub fn recent_requests(ws: &Workspace, n: usize) -> Vec<String> {
    let mut texts: Vec<String> = Vec::new();
    if n > 0 {
        crate::engine::store::tail::newest_first(&log_path(ws), |v| {
            if v["from"] == "user" && v["kind"] != "idea" {
                if let Some(t) = v["text"].as_str() {
                    texts.push(t.to_string());
                }
            }
            texts.len() < n
        });
    }
    texts.reverse();
    texts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_kept_in_order_and_redacted() {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::new(dir.path());
        crate::engine::ground::redact::register("converse-secret-991");
        record(&ws, "user", "idea", "the idea").unwrap();
        record(&ws, "user", "request", "first").unwrap();
        record(&ws, "chief", "request", "noted").unwrap();
        record(&ws, "user", "request", "second with converse-secret-991").unwrap();
        record(&ws, "user", "request", "third").unwrap();
        assert_eq!(
            recent_requests(&ws, 2),
            vec![
                "second with <redacted: 19 chars>".to_string(),
                "third".to_string()
            ]
        );
        assert_eq!(recent_requests(&ws, 10).len(), 3);
    }
}
