//! What the providers send: body, path and key; and a whole (non-streamed) JSON reply.

use super::*;

#[tokio::test]
async fn requests_carry_model_prompt_and_a_key_only_when_set() {
    let mock = MockServer::start(Script::new(vec![
        Mock::text("ok"),
        Mock::text("ok"),
        Mock::text("ok"),
    ]));
    let req = request(10_000);
    run_req(provider(Kind::Ollama, &mock.url()).as_ref(), &req)
        .await
        .0
        .unwrap();
    run_req(provider(Kind::OpenAi, &mock.url()).as_ref(), &req)
        .await
        .0
        .unwrap();
    let keyed = OpenAiCompatProvider::new(
        "openwebui",
        &settings(&mock.url(), "gpt-mock", Some("test-key-0123456789")),
    )
    .unwrap();
    run_req(&keyed, &req).await.0.unwrap();

    let calls = mock.model_requests();
    assert_eq!(calls.len(), 3);
    let (ol, oa, oak) = (&calls[0], &calls[1], &calls[2]);
    assert_eq!(
        (ol.method.as_str(), ol.path.as_str()),
        ("POST", "/api/chat")
    );
    let b = ol.json.as_ref().unwrap();
    assert_eq!(b["model"], "llama3.1");
    assert_eq!(b["messages"][0]["content"], PROMPT);
    assert_eq!(b["stream"], true);
    assert_eq!(ol.header("authorization"), None);

    assert_eq!(oa.path, "/v1/chat/completions");
    let b = oa.json.as_ref().unwrap();
    assert_eq!(b["model"], "gpt-mock");
    assert_eq!(b["messages"][0]["role"], "user");
    assert_eq!(b["messages"][0]["content"], PROMPT);
    assert_eq!(b["stream_options"]["include_usage"], true);
    assert_eq!(oa.header("authorization"), None);
    assert_eq!(
        oak.header("authorization"),
        Some("Bearer test-key-0123456789")
    );
}

#[tokio::test]
async fn openai_paths_follow_the_endpoint_and_the_path_setting() {
    let mock = MockServer::start(Script::new(vec![Mock::text("a"), Mock::text("b")]));
    let req = request(10_000);
    let api = provider(Kind::OpenAi, &format!("{}/api/", mock.url()));
    run_req(api.as_ref(), &req).await.0.unwrap();
    let mut s = settings(&mock.url(), "gpt-mock", None);
    s.extra.insert("path".into(), "chat/completions".into());
    let custom = OpenAiCompatProvider::new("openwebui", &s).unwrap();
    run_req(&custom, &req).await.0.unwrap();
    let paths: Vec<String> = mock.model_requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/api/chat/completions", "/chat/completions"]);
}

#[tokio::test]
async fn openai_reads_a_whole_json_reply_with_cached_tokens() {
    let body = serde_json::json!({
        "model": "gpt-mock-0601",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": TEXT}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 40, "completion_tokens": 9, "prompt_tokens_details": {"cached_tokens": 32}},
    });
    let (out, lines, _mock) = run(
        Kind::OpenAi,
        Script::new(vec![Mock::raw(200, "application/json", &body.to_string())]),
    )
    .await;
    let reply = out.unwrap();
    assert_eq!(reply.text, TEXT);
    assert_eq!(lines, expected_lines());
    assert_eq!(reply.model, "gpt-mock-0601");
    let u = reply.usage;
    assert_eq!(
        (
            u.input_tokens,
            u.output_tokens,
            u.cached_input_tokens,
            u.estimated
        ),
        (40, 9, 32, false)
    );
}

#[tokio::test]
async fn the_mock_also_answers_whole_replies_and_side_endpoints() {
    let mock = MockServer::start(
        Script::new(vec![
            Mock::delay(80, Mock::text_usage("one", 1, 2)),
            Mock::text("two"),
        ])
        .version("9.9.9"),
    );
    let client = clk::engine::agents::providers::http::client(Duration::from_secs(2)).unwrap();
    let post = |path: &str, body: serde_json::Value| {
        client
            .post(format!("{}{path}", mock.url()))
            .json(&body)
            .send()
    };
    let t = Instant::now();
    let v: serde_json::Value = post(
        "/api/generate",
        serde_json::json!({"model": "m", "stream": false}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert!(t.elapsed() >= Duration::from_millis(80));
    assert_eq!(
        (v["response"].as_str(), v["done"].as_bool()),
        (Some("one"), Some(true))
    );
    assert_eq!(v["eval_count"], 2);
    let v: serde_json::Value = post("/v1/chat/completions", serde_json::json!({"model": "m"}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], "two");
    let v: serde_json::Value = client
        .get(format!("{}/api/version", mock.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["version"], "9.9.9");
    let st = post("/v1/chat/completions", serde_json::json!({}))
        .await
        .unwrap()
        .status();
    assert_eq!(
        st.as_u16(),
        500,
        "the default fallback once the script is used up"
    );
    assert_eq!(mock.model_calls(), 3);
    assert_eq!(mock.requests().len(), 4);
}
