//! Which answer a request gets: the key check, the next scripted reply for a model call, and
//! the side endpoints (model listings, version) answered from the script's settings.

use serde_json::{Value, json};

use super::http1::Plan;
use super::render::{self, Protocol};
use super::{Fallback, Recorded, Reply, State};

pub(super) fn decide(st: &mut State, rec: &Recorded) -> Plan {
    let plan = |reply| Plan {
        reply,
        protocol: rec.protocol,
        path: rec.path.clone(),
        body: rec.json.clone(),
        framing: st.script.framing,
        write_size: st.script.write_size,
    };
    if let Some(key) = &st.script.api_key
        && !has_key(rec, key)
    {
        let body = match rec.protocol {
            Some(p) if p.wraps_errors() => render::error_body(p, 401, "invalid api key"),
            Some(_) | None => {
                json!({"error": {"message": "invalid api key", "type": "invalid_request_error"}})
                    .to_string()
            }
        };
        return plan(Reply::status(401, &body));
    }
    if rec.protocol.is_some() {
        let reply = match st.script.replies.pop_front() {
            Some(r) => {
                st.last = Some(r.clone());
                r
            }
            None => match &st.script.fallback {
                Fallback::Reply(r) => r.clone(),
                Fallback::RepeatLast => st
                    .last
                    .clone()
                    .unwrap_or_else(|| Reply::status(500, r#"{"error":"mock script empty"}"#)),
            },
        };
        return plan(reply);
    }
    let json_ok = |v: Value| Reply::raw(200, "application/json", &v.to_string());
    let models = &st.script.models;
    let reply = match (rec.method.as_str(), rec.path.as_str()) {
        ("GET", "/api/tags") => json_ok(json!({"models": models.iter()
            .map(|m| json!({"name": m, "model": m, "size": 1})).collect::<Vec<_>>()})),
        ("GET", "/api/version") => json_ok(json!({"version": st.script.version})),
        // One listing that reads as OpenAI's (`object`, `owned_by`) and Anthropic's (`type`,
        // `display_name`, paging fields) alike: both clients ignore the other's fields.
        ("GET", "/v1/models" | "/api/models" | "/models") => json_ok(json!({"object": "list",
            "data": models.iter().map(|m| json!({"id": m, "object": "model", "created": 0,
                "owned_by": "mock", "type": "model", "display_name": m,
                "created_at": "2025-01-01T00:00:00Z"})).collect::<Vec<_>>(),
            "has_more": false, "first_id": models.first(), "last_id": models.last()})),
        ("GET", "/v1beta/models") => json_ok(json!({"models": models.iter()
            .map(|m| gemini_model_json(m)).collect::<Vec<_>>()})),
        ("GET", path) if path.starts_with("/v1beta/models/") => {
            let name = &path["/v1beta/models/".len()..];
            if models.iter().any(|m| m == name) {
                json_ok(gemini_model_json(name))
            } else {
                let body = render::error_body(
                    Protocol::GeminiGenerate,
                    404,
                    &format!("models/{name} is not found"),
                );
                Reply::status(404, &body)
            }
        }
        _ => Reply::status(404, r#"{"error":"no such endpoint on the mock server"}"#),
    };
    plan(reply)
}

/// Whether the request carries `key` in any of the ways the protocols send keys.
fn has_key(rec: &Recorded, key: &str) -> bool {
    rec.header("authorization") == Some(format!("Bearer {key}").as_str())
        || rec.header("x-api-key") == Some(key)
        || rec.header("x-goog-api-key") == Some(key)
        || rec.query.split('&').any(|kv| kv == format!("key={key}"))
}

/// One entry of Gemini's `GET /v1beta/models`.
fn gemini_model_json(name: &str) -> Value {
    json!({"name": format!("models/{name}"), "version": "001", "displayName": name,
           "inputTokenLimit": 1_048_576, "outputTokenLimit": 65_536,
           "supportedGenerationMethods": ["generateContent", "streamGenerateContent",
                                          "countTokens"]})
}
