//! The mock model server's Anthropic, Responses and Gemini protocols, read as raw HTTP: the
//! event names and shapes the real services send, usage in each protocol's own fields, status
//! errors and in-stream errors in each protocol's own JSON, keys checked the protocol's way.
//! The real claude, codex and gemini programs parse these replies, so the shapes matter.

use crate::support;

use std::time::Duration;

use serde_json::{Value, json};
use support::mock_server::{MockServer, Reply, Script};

const TEXT: &str = "héllo\nworld ✓";

fn client() -> reqwest::Client {
    clk::engine::agents::providers::http::client(Duration::from_secs(2)).unwrap()
}

/// POST `body` to `path` and return (status, content type, body text).
async fn post(mock: &MockServer, path: &str, body: Value) -> (u16, String, String) {
    let resp = client()
        .post(format!("{}{path}", mock.url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let ct = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, ct, resp.text().await.unwrap())
}

/// (event name, data) of every SSE event in `text` (blank-line separated, CRLF allowed).
fn sse_events(text: &str) -> Vec<(String, Value)> {
    let text = text.replace("\r\n", "\n");
    text.split("\n\n")
        .filter(|b| !b.trim().is_empty())
        .map(|block| {
            let mut name = String::new();
            let mut data = String::new();
            for line in block.lines() {
                if let Some(n) = line.strip_prefix("event: ") {
                    name = n.to_string();
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data.push_str(d);
                }
            }
            (name, serde_json::from_str(&data).expect("data is JSON"))
        })
        .collect()
}

#[tokio::test]
async fn anthropic_streams_the_real_event_sequence_with_usage() {
    let mock = MockServer::start(Script::new(vec![Reply::chunked(TEXT, 3, Some((12, 5)))]));
    let body = json!({"model": "claude-x", "max_tokens": 100, "stream": true,
                      "messages": [{"role": "user", "content": "hi"}]});
    let (status, ct, text) = post(&mock, "/v1/messages?beta=true", body).await;
    assert_eq!((status, ct.as_str()), (200, "text/event-stream"));
    let events = sse_events(&text);
    for (name, data) in &events {
        assert_eq!(data["type"], name.as_str(), "event name matches its type");
    }
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        &names[..3],
        ["message_start", "content_block_start", "ping"]
    );
    assert_eq!(
        &names[names.len() - 3..],
        ["content_block_stop", "message_delta", "message_stop"]
    );
    let start = &events[0].1["message"];
    assert_eq!(start["role"], "assistant");
    assert_eq!(start["model"], "claude-x");
    assert_eq!(start["type"], "message");
    assert!(start["id"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(start["usage"]["input_tokens"], 12);
    let joined: String = events
        .iter()
        .filter(|(n, _)| n == "content_block_delta")
        .map(|(_, d)| {
            assert_eq!(d["delta"]["type"], "text_delta");
            d["delta"]["text"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(joined, TEXT);
    let delta = &events[names.len() - 2].1;
    assert_eq!(delta["delta"]["stop_reason"], "end_turn");
    assert_eq!(delta["usage"]["output_tokens"], 5);
    let req = &mock.model_requests()[0];
    assert_eq!(
        (req.path.as_str(), req.query.as_str()),
        ("/v1/messages", "beta=true")
    );
}

#[tokio::test]
async fn anthropic_whole_replies_and_errors_have_their_own_shape() {
    let mock = MockServer::start(Script::new(vec![
        Reply::text_usage(TEXT, 3, 4),
        Reply::status(429, "slow down"),
    ]));
    let body = json!({"model": "claude-x", "max_tokens": 10, "messages": []});
    let (status, ct, text) = post(&mock, "/v1/messages", body.clone()).await;
    assert_eq!((status, ct.as_str()), (200, "application/json"));
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["content"][0], json!({"type": "text", "text": TEXT}));
    assert_eq!(v["stop_reason"], "end_turn");
    assert_eq!(
        (
            v["usage"]["input_tokens"].clone(),
            v["usage"]["output_tokens"].clone()
        ),
        (json!(3), json!(4))
    );
    let (status, _, text) = post(&mock, "/v1/messages", body).await;
    assert_eq!(status, 429);
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["type"], "error");
    assert_eq!(v["error"]["type"], "rate_limit_error");
    assert_eq!(v["error"]["message"], "slow down");
}

#[tokio::test]
async fn responses_stream_the_real_event_sequence_with_usage() {
    let mock = MockServer::start(Script::new(vec![Reply::chunked(TEXT, 4, Some((20, 7)))]));
    let body = json!({"model": "gpt-x", "stream": true, "input": "hi"});
    let (status, ct, text) = post(&mock, "/v1/responses", body).await;
    assert_eq!((status, ct.as_str()), (200, "text/event-stream"));
    let events = sse_events(&text);
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names[0], "response.created");
    assert!(names.contains(&"response.output_item.added"));
    assert_eq!(
        &names[names.len() - 4..],
        [
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.completed"
        ]
    );
    for (k, (name, data)) in events.iter().enumerate() {
        assert_eq!(data["type"], name.as_str());
        assert_eq!(data["sequence_number"], k as u64);
    }
    let joined: String = events
        .iter()
        .filter(|(n, _)| n == "response.output_text.delta")
        .map(|(_, d)| d["delta"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(joined, TEXT);
    let item = &events[names.len() - 2].1["item"];
    assert_eq!(item["role"], "assistant");
    assert_eq!(item["content"][0]["type"], "output_text");
    assert_eq!(item["content"][0]["text"], TEXT);
    let done = &events.last().unwrap().1["response"];
    assert_eq!(done["status"], "completed");
    assert_eq!(done["model"], "gpt-x");
    assert_eq!(done["usage"]["input_tokens"], 20);
    assert_eq!(done["usage"]["output_tokens"], 7);
    assert_eq!(done["usage"]["total_tokens"], 27);
}

#[tokio::test]
async fn responses_whole_and_failed_mid_stream() {
    let mock = MockServer::start(Script::new(vec![
        Reply::text_usage(TEXT, 1, 2),
        Reply::fail_mid_stream(TEXT, 500, "the model crashed"),
    ]));
    let (_, _, text) = post(&mock, "/v1/responses", json!({"model": "m"})).await;
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["object"], "response");
    assert_eq!(v["output"][0]["content"][0]["text"], TEXT);
    assert_eq!(v["usage"]["output_tokens"], 2);
    let (status, _, text) = post(
        &mock,
        "/v1/responses",
        json!({"model": "m", "stream": true}),
    )
    .await;
    assert_eq!(status, 200);
    let events = sse_events(&text);
    let (name, data) = events.last().unwrap();
    assert_eq!(name, "response.failed");
    assert_eq!(data["response"]["error"]["message"], "the model crashed");
    assert!(
        events
            .iter()
            .any(|(n, _)| n == "response.output_text.delta")
    );
}

#[tokio::test]
async fn gemini_streams_sse_and_json_arrays_and_answers_whole() {
    let mock = MockServer::start(
        Script::new(vec![
            Reply::chunked(TEXT, 5, Some((9, 3))),
            Reply::chunked(TEXT, 5, Some((9, 3))),
            Reply::text_usage(TEXT, 9, 3),
        ])
        .models(&["gemini-x"]),
    );
    let body = json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]});
    let text_of = |v: &Value| {
        v["candidates"][0]["content"]["parts"][0]["text"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let path = "/v1beta/models/gemini-x:streamGenerateContent?alt=sse";
    let (status, ct, text) = post(&mock, path, body.clone()).await;
    assert_eq!((status, ct.as_str()), (200, "text/event-stream"));
    assert!(text.contains("\r\n\r\n"), "Google frames SSE with CRLF");
    let chunks: Vec<Value> = sse_events(&text).into_iter().map(|(_, d)| d).collect();
    assert_eq!(chunks.iter().map(text_of).collect::<String>(), TEXT);
    let last = chunks.last().unwrap();
    assert_eq!(last["candidates"][0]["finishReason"], "STOP");
    assert_eq!(last["candidates"][0]["content"]["role"], "model");
    assert_eq!(last["modelVersion"], "gemini-x");
    assert_eq!(last["usageMetadata"]["promptTokenCount"], 9);
    assert_eq!(last["usageMetadata"]["candidatesTokenCount"], 3);
    assert_eq!(last["usageMetadata"]["totalTokenCount"], 12);

    let path = "/v1beta/models/gemini-x:streamGenerateContent";
    let (_, ct, text) = post(&mock, path, body.clone()).await;
    assert_eq!(ct, "application/json");
    let arr: Vec<Value> = serde_json::from_str(&text).unwrap();
    assert_eq!(arr.iter().map(text_of).collect::<String>(), TEXT);

    let path = "/v1beta/models/gemini-x:generateContent";
    let (_, _, text) = post(&mock, path, body).await;
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(text_of(&v), TEXT);
    assert_eq!(v["usageMetadata"]["candidatesTokenCount"], 3);

    let listed: Value = client()
        .get(format!("{}/v1beta/models", mock.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["models"][0]["name"], "models/gemini-x");
}

#[tokio::test]
async fn keys_are_checked_the_way_each_protocol_sends_them() {
    let mock = MockServer::start(
        Script::new(vec![])
            .api_key("k-123456")
            .fallback(support::mock_server::Fallback::Reply(Reply::text("ok"))),
    );
    let c = client();
    let send = |rb: reqwest::RequestBuilder| async move {
        let r = rb.json(&json!({"model": "m"})).send().await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    };
    let url = mock.url();
    let ok = [
        c.post(format!("{url}/v1/messages"))
            .header("x-api-key", "k-123456"),
        c.post(format!("{url}/v1/responses"))
            .bearer_auth("k-123456"),
        c.post(format!("{url}/v1beta/models/g:generateContent"))
            .header("x-goog-api-key", "k-123456"),
        c.post(format!(
            "{url}/v1beta/models/g:generateContent?key=k-123456"
        )),
    ];
    for rb in ok {
        assert_eq!(send(rb).await.0, 200);
    }
    let (status, body) = send(
        c.post(format!("{url}/v1/messages"))
            .header("x-api-key", "no"),
    )
    .await;
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (status, v["error"]["type"].as_str()),
        (401, Some("authentication_error"))
    );
    let (status, body) = send(c.post(format!("{url}/v1beta/models/g:generateContent"))).await;
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (status, v["error"]["status"].as_str()),
        (401, Some("UNAUTHENTICATED"))
    );
}

#[tokio::test]
async fn anthropic_and_gemini_fail_inside_the_stream() {
    let mock = MockServer::start(Script::new(vec![
        Reply::fail_mid_stream(TEXT, 529, "Overloaded"),
        Reply::fail_mid_stream(TEXT, 503, "try later"),
    ]));
    let body = json!({"model": "c", "stream": true, "messages": []});
    let (_, _, text) = post(&mock, "/v1/messages", body).await;
    let events = sse_events(&text);
    assert!(events.iter().any(|(n, _)| n == "content_block_delta"));
    let (name, data) = events.last().unwrap();
    assert_eq!(name, "error");
    assert_eq!(data["error"]["type"], "overloaded_error");
    let path = "/v1beta/models/g:streamGenerateContent?alt=sse";
    let (_, _, text) = post(&mock, path, json!({})).await;
    let last = sse_events(&text).pop().unwrap().1;
    assert_eq!(last["error"]["status"], "UNAVAILABLE");
    assert_eq!(last["error"]["message"], "try later");
}

#[test]
fn protocols_are_known_by_path_and_query() {
    use support::mock_server::Protocol;
    let p = |m, path, q| Protocol::from_request(m, path, q);
    assert_eq!(
        p("POST", "/v1/messages", "beta=true"),
        Some(Protocol::AnthropicMessages)
    );
    assert_eq!(
        p("POST", "/v1/responses", ""),
        Some(Protocol::OpenAiResponses)
    );
    assert_eq!(
        p(
            "POST",
            "/v1beta/models/g-1:streamGenerateContent",
            "alt=sse"
        ),
        Some(Protocol::GeminiStreamSse)
    );
    assert_eq!(
        p("POST", "/v1beta/models/g-1:streamGenerateContent", ""),
        Some(Protocol::GeminiStreamArray)
    );
    assert_eq!(
        p("POST", "/v1beta/models/g-1:generateContent", ""),
        Some(Protocol::GeminiGenerate)
    );
    assert_eq!(p("POST", "/v1beta/models/g-1:countTokens", ""), None);
    assert_eq!(p("GET", "/v1/messages", ""), None);
}
