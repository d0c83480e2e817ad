//! The Ollama provider: `POST /api/chat` with a streamed NDJSON reply.
//!
//! Each chunk's `message.content` goes through a [`LineSplitter`] to the live output as it
//! arrives; the reply is complete only when a chunk says `"done": true` (a stream that ends
//! before that is a retryable "stream ended early", never a silent partial reply). Usage comes
//! from the final chunk's `prompt_eval_count`/`eval_count`, or is estimated when absent.

use std::time::Duration;

use serde_json::{Value, json};

use super::http::{self, Endpoint, HttpVendor};
use super::{Availability, ErrorKind, LineSplitter, OutputSink, ProviderError, Reply, Request};
use crate::engine::ground::config::ProviderSettings;
use crate::engine::ground::events::{Stream, Usage};

const DEFAULT_ENDPOINT: &str = "http://localhost:11434";
const DEFAULT_MODEL: &str = "llama3.1";
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const HINT: &str = "is `ollama serve` running?";

/// A local or remote Ollama server.
#[derive(Debug)]
pub struct OllamaProvider {
    endpoint: Endpoint,
    client: reqwest::Client,
}

impl OllamaProvider {
    pub fn new(name: &str, settings: &ProviderSettings) -> Result<Self, String> {
        let endpoint = http::endpoint_setting(name, settings, DEFAULT_ENDPOINT)?;
        let model = http::model_setting(name, settings, DEFAULT_MODEL)?;
        let client = http::client(CONNECT_TIMEOUT).map_err(|e| format!("{name}: {e}"))?;
        Ok(OllamaProvider {
            endpoint: Endpoint {
                name: name.to_string(),
                model,
                base: endpoint,
            },
            client,
        })
    }
}

impl HttpVendor for OllamaProvider {
    fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    async fn call(&self, req: &Request, out: &OutputSink) -> Result<Reply, ProviderError> {
        let Endpoint { model, base, .. } = &self.endpoint;
        let label = self.endpoint.label();
        let body = json!({
            "model": model,
            "messages": [{"role": "user", "content": req.prompt}],
            "stream": true,
        });
        let rb = self.client.post(format!("{base}/api/chat")).json(&body);
        let pull = format!("run `ollama pull {model}`");
        let hints = http::Hints {
            unreachable: HINT,
            refused_key: "",
            missing_model: &pull,
        };
        let resp = http::send(req, &label, rb, &hints).await?;

        let mut lines = http::NdjsonLines::new(resp.bytes_stream(), req.idle_timeout, &label);
        let mut splitter = LineSplitter::default();
        let mut text = String::new();
        let mut answered_by = String::new();
        let mut chunks = 0usize;
        while let Some(line) = lines.next_line().await? {
            let Ok(chunk) = serde_json::from_str::<Value>(&line) else {
                splitter.finish(out, Stream::Model);
                // An unfinished last line after good ones is a cut, not a foreign protocol.
                if chunks > 0 && lines.ended() {
                    return Err(http::ended_early(&label, "cut inside a line"));
                }
                return Err(ProviderError::new(
                    ErrorKind::BadReply,
                    format!(
                        "{label}: reply is not Ollama NDJSON: {}",
                        http::excerpt(&line)
                    ),
                ));
            };
            chunks += 1;
            if let Some(e) = chunk.get("error") {
                return Err(stream_error(&label, e));
            }
            if answered_by.is_empty()
                && let Some(m) = chunk.get("model").and_then(Value::as_str)
            {
                answered_by = m.to_string();
            }
            let fragment = chunk
                .pointer("/message/content")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if !fragment.is_empty() {
                text.push_str(fragment);
                splitter.push(fragment, out, Stream::Model);
            }
            if chunk.get("done").and_then(Value::as_bool) == Some(true) {
                splitter.finish(out, Stream::Model);
                let usage = usage_from(&chunk, &req.prompt, &text);
                if answered_by.is_empty() {
                    answered_by = model.clone();
                }
                return Ok(Reply {
                    text,
                    usage,
                    model: answered_by,
                    refused: Vec::new(),
                });
            }
        }
        // Show what did arrive, but fail: a partial reply must not pass as a whole one.
        splitter.finish(out, Stream::Model);
        Err(http::ended_early(&label, "no chunk with \"done\": true"))
    }

    async fn availability(&self) -> Availability {
        let Endpoint { model, base, .. } = &self.endpoint;
        let label = self.endpoint.label();
        let get = self.client.get(format!("{base}/api/tags"));
        let (status, text) = match http::probe(&label, base, get, "/api/tags", HINT).await {
            Ok(answer) => answer,
            Err(why) => return Availability::no(why),
        };
        if !(200..300).contains(&status) {
            return Availability::no(http::status_error(&label, status, &text).message);
        }
        let Ok(tags) = serde_json::from_str::<Value>(&text) else {
            return Availability::no(format!(
                "{label}: /api/tags is not JSON; is this an Ollama server?"
            ));
        };
        if has_model(&tags, model) {
            Availability::ok()
        } else {
            Availability::no(format!(
                "{label}: model {model} is not pulled; run `ollama pull {model}`"
            ))
        }
    }
}

/// An `{"error": …}` object inside a 200 stream.
fn stream_error(label: &str, e: &Value) -> ProviderError {
    let said = e
        .as_str()
        .map(str::to_string)
        .or_else(|| e.get("message").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(|| e.to_string());
    let lower = said.to_ascii_lowercase();
    let kind = if lower.contains("not found") {
        ErrorKind::NotFound
    } else {
        ErrorKind::Fatal
    };
    ProviderError::new(kind, format!("{label}: {}", http::excerpt(&said)))
}

/// Usage from the final chunk; counts Ollama leaves out (it omits `prompt_eval_count` when
/// the whole prompt came from its cache) are estimated and the result marked so.
fn usage_from(done: &Value, prompt: &str, reply: &str) -> Usage {
    let input = done.get("prompt_eval_count").and_then(Value::as_u64);
    let output = done.get("eval_count").and_then(Value::as_u64);
    let est = Usage::estimate(prompt, reply);
    match (input, output) {
        (Some(i), Some(o)) => Usage {
            input_tokens: i,
            output_tokens: o,
            cached_input_tokens: 0,
            estimated: false,
            source: "ollama".into(),
            reported_cost_micros: None,
        },
        (None, None) => est,
        (i, o) => Usage {
            input_tokens: i.unwrap_or(est.input_tokens),
            output_tokens: o.unwrap_or(est.output_tokens),
            cached_input_tokens: 0,
            estimated: true,
            source: "ollama+estimate".into(),
            reported_cost_micros: None,
        },
    }
}

/// Whether `/api/tags` lists the model; `llama3.1` means `llama3.1:latest`.
fn has_model(tags: &Value, model: &str) -> bool {
    let Some(list) = tags.get("models").and_then(Value::as_array) else {
        return false;
    };
    let want_latest = (!model.contains(':')).then(|| format!("{model}:latest"));
    list.iter()
        .flat_map(|m| ["name", "model"].map(|k| m.get(k).and_then(Value::as_str)))
        .flatten()
        .any(|n| n == model || Some(n) == want_latest.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_an_empty_model() {
        let p = OllamaProvider::new("ollama", &ProviderSettings::default()).unwrap();
        assert_eq!(p.endpoint().base, DEFAULT_ENDPOINT);
        assert_eq!(p.endpoint().model, DEFAULT_MODEL);
        let s = ProviderSettings {
            endpoint: Some("127.0.0.1:9/".into()),
            model: Some(" ".into()),
            ..Default::default()
        };
        let e = OllamaProvider::new("my-llama", &s).unwrap_err();
        assert!(e.contains("CLK_MY_LLAMA_MODEL"), "{e}");
    }

    #[test]
    fn tags_match_with_and_without_latest() {
        let tags = json!({"models": [{"name": "llama3.1:latest"}, {"model": "qwen3:8b"}]});
        assert!(has_model(&tags, "llama3.1"));
        assert!(has_model(&tags, "llama3.1:latest"));
        assert!(has_model(&tags, "qwen3:8b"));
        assert!(!has_model(&tags, "qwen3"));
        assert!(!has_model(&json!({"nope": 1}), "x"));
    }

    #[test]
    fn usage_is_reported_partly_estimated_or_estimated() {
        let u = usage_from(&json!({"prompt_eval_count": 3, "eval_count": 4}), "p", "r");
        assert_eq!(
            (u.input_tokens, u.output_tokens, u.estimated),
            (3, 4, false)
        );
        let u = usage_from(&json!({"eval_count": 4}), "12345678", "r");
        assert_eq!((u.input_tokens, u.output_tokens, u.estimated), (2, 4, true));
        assert!(usage_from(&json!({}), "p", "r").estimated);
    }
}
