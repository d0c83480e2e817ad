//! The mock model server's scripted tool calls, read as raw HTTP: each protocol's shape
//! (Anthropic `tool_use` blocks with streamed JSON input, Responses function and custom calls,
//! Gemini `functionCall` parts, chat `tool_calls`), the next turn answering the tool results,
//! and the results recorded as the program posted them. The real CLIs read these in
//! `native_clis.rs`; this checks the protocols no CLI there speaks (chat) and the recording.

use crate::support;

use std::time::Duration;

use serde_json::{Value, json};
use support::mock_server::{MockServer, Reply, Script, ToolCall};

async fn post(mock: &MockServer, path: &str, body: Value) -> String {
    let client = clk::engine::agents::providers::http::client(Duration::from_secs(2)).unwrap();
    let resp = client
        .post(format!("{}{path}", mock.url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    resp.text().await.unwrap()
}

/// The JSON data of every `data:` line, `[DONE]` left out.
fn data(text: &str) -> Vec<Value> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("data: "))
        .filter(|d| *d != "[DONE]")
        .map(|d| serde_json::from_str(d).unwrap())
        .collect()
}

fn write_call() -> ToolCall {
    ToolCall::function("write", json!({"path": "a.txt", "content": "hi"}))
}

#[tokio::test]
async fn chat_tool_calls_whole_and_streamed_then_the_next_turn() {
    let mock = MockServer::start(Script::new(vec![
        Reply::tools(vec![write_call()]),
        Reply::tools(vec![write_call()]),
        Reply::text("done"),
    ]));
    let ask = json!({"model": "m", "messages": [{"role": "user", "content": "go"}]});
    let whole: Value =
        serde_json::from_str(&post(&mock, "/v1/chat/completions", ask).await).unwrap();
    let choice = &whole["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    let call = &choice["message"]["tool_calls"][0];
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "write");
    let args: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args, json!({"path": "a.txt", "content": "hi"}));

    let streamed = json!({"model": "m", "stream": true,
                          "messages": [{"role": "user", "content": "go"}]});
    let chunks = data(&post(&mock, "/v1/chat/completions", streamed).await);
    let delta_call = chunks
        .iter()
        .find_map(|c| c["choices"][0]["delta"]["tool_calls"].get(0))
        .expect("a tool_calls delta");
    assert_eq!(delta_call["function"]["name"], "write");
    assert_eq!(
        chunks
            .iter()
            .rev()
            .find_map(|c| c["choices"][0]["finish_reason"].as_str()),
        Some("tool_calls")
    );

    // The program answers with the tool's result; the mock records it and takes the next turn.
    let result = json!({"model": "m", "messages": [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": null, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": call["id"], "content": "wrote a.txt"}]});
    let last: Value =
        serde_json::from_str(&post(&mock, "/v1/chat/completions", result).await).unwrap();
    assert_eq!(last["choices"][0]["message"]["content"], "done");
    assert_eq!(mock.last_tool_results(), vec!["wrote a.txt"]);
}

#[tokio::test]
async fn anthropic_tool_use_streams_its_input_as_json_deltas() {
    let mock = MockServer::start(Script::new(vec![Reply::Tools {
        text: "writing".into(),
        calls: vec![write_call()],
    }]));
    let body = json!({"model": "c", "max_tokens": 10, "stream": true,
                      "messages": [{"role": "user", "content": "go"}]});
    let events = data(&post(&mock, "/v1/messages", body).await);
    let start = events
        .iter()
        .find(|e| e["type"] == "content_block_start" && e["content_block"]["type"] == "tool_use")
        .expect("a tool_use block");
    assert_eq!(start["index"], 1, "the text block comes first");
    assert_eq!(start["content_block"]["name"], "write");
    let partial = events
        .iter()
        .find_map(|e| e["delta"]["partial_json"].as_str())
        .unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(partial).unwrap(),
        json!({"path": "a.txt", "content": "hi"})
    );
    let stop = events
        .iter()
        .find(|e| e["type"] == "message_delta")
        .unwrap();
    assert_eq!(stop["delta"]["stop_reason"], "tool_use");
}

#[tokio::test]
async fn responses_carry_function_and_custom_calls() {
    let patch = "*** Begin Patch\n*** Add File: a.txt\n+hi\n*** End Patch\n";
    let mock = MockServer::start(Script::new(vec![Reply::tools(vec![
        write_call(),
        ToolCall::custom("apply_patch", patch),
    ])]));
    let body = json!({"model": "g", "stream": true, "input": "go"});
    let events = data(&post(&mock, "/v1/responses", body).await);
    let done: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "response.output_item.done")
        .map(|e| &e["item"])
        .collect();
    assert_eq!(done[0]["type"], "function_call");
    assert_eq!(done[0]["name"], "write");
    assert_eq!(done[1]["type"], "custom_tool_call");
    assert_eq!(done[1]["input"], patch);
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "response.custom_tool_call_input.done")
    );
    let completed = events.last().unwrap();
    assert_eq!(completed["type"], "response.completed");
    assert_eq!(completed["response"]["output"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn gemini_function_calls_and_every_protocols_results_are_recorded() {
    let mock = MockServer::start(
        Script::new(vec![Reply::tools(vec![write_call()])])
            .fallback(support::mock_server::Fallback::Reply(Reply::text("ok"))),
    );
    let body = json!({"contents": [{"role": "user", "parts": [{"text": "go"}]}]});
    let chunks = data(
        &post(
            &mock,
            "/v1beta/models/gm:streamGenerateContent?alt=sse",
            body,
        )
        .await,
    );
    let part = &chunks[0]["candidates"][0]["content"]["parts"][0]["functionCall"];
    assert_eq!(part["name"], "write");
    assert_eq!(part["args"]["path"], "a.txt");

    let gemini = json!({"contents": [{"role": "user", "parts": [
        {"functionResponse": {"name": "write", "response": {"output": "wrote a.txt"}}}]}]});
    post(&mock, "/v1beta/models/gm:generateContent", gemini).await;
    assert_eq!(mock.last_tool_results(), vec!["wrote a.txt"]);
    let anthropic = json!({"model": "c", "max_tokens": 5, "messages": [{"role": "user",
        "content": [{"type": "tool_result", "tool_use_id": "t1",
                     "content": [{"type": "text", "text": "EROFS: read-only"}]}]}]});
    post(&mock, "/v1/messages", anthropic).await;
    assert_eq!(mock.last_tool_results(), vec!["EROFS: read-only"]);
    let responses = json!({"model": "g", "input": [
        {"type": "function_call_output", "call_id": "c1", "output": "one"},
        {"type": "custom_tool_call_output", "call_id": "c2", "output": "two"}]});
    post(&mock, "/v1/responses", responses).await;
    assert_eq!(mock.last_tool_results(), vec!["one", "two"]);
    assert_eq!(mock.tools_sent().len(), 1);
    assert_eq!(mock.tools_sent()[0].1, vec!["write"]);
}
