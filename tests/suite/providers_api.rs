//! The API-key providers (Anthropic Messages, OpenAI Responses and chat style, Gemini)
//! against the mock model server speaking each protocol: reply text and usage in the
//! protocol's own shape, streamed or whole, however the bytes are split; lines reach the sink
//! while the reply streams; every failure gets the kind the retry policy needs; keys are
//! sent the vendor's way and never show in error text.

use crate::support;
use support::provider_calls::{PROMPT, TEXT, expected_lines, request, run_req, run_timed};

mod failures;
mod keys;

use std::time::{Duration, Instant};

use clk::engine::agents::providers::anthropic::AnthropicProvider;
use clk::engine::agents::providers::gemini::GeminiProvider;
use clk::engine::agents::providers::responses::{OpenAiChatProvider, ResponsesProvider};
use clk::engine::agents::providers::{OutputSink, Provider, ProviderError, Reply};
use clk::engine::ground::config::ProviderSettings;
use clk::engine::ground::events::Usage;
use support::mock_server::{MockServer, Protocol, Reply as Mock, Script};

const KEY: &str = "test-key-0123456789";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Api {
    Anthropic,
    Responses,
    Gemini,
    /// codex with `api_style: chat`.
    Chat,
}
const ALL: [Api; 4] = [Api::Anthropic, Api::Responses, Api::Gemini, Api::Chat];

impl Api {
    fn kind(self) -> &'static str {
        match self {
            Api::Anthropic => "claude",
            Api::Responses | Api::Chat => "codex",
            Api::Gemini => "gemini",
        }
    }

    fn key_var(self) -> &'static str {
        match self {
            Api::Anthropic => "ANTHROPIC_API_KEY",
            Api::Responses | Api::Chat => "OPENAI_API_KEY",
            Api::Gemini => "GEMINI_API_KEY",
        }
    }

    fn usage_source(self) -> &'static str {
        match self {
            Api::Anthropic => "anthropic-usage",
            Api::Responses => "openai-responses-usage",
            Api::Gemini => "gemini-usage",
            Api::Chat => "openai-usage",
        }
    }

    /// The path a streamed call goes to, and its protocol on the mock.
    fn path(self) -> (&'static str, Protocol) {
        match self {
            Api::Anthropic => ("/v1/messages", Protocol::AnthropicMessages),
            Api::Responses => ("/v1/responses", Protocol::OpenAiResponses),
            Api::Gemini => (
                "/v1beta/models/gemini-mock:streamGenerateContent",
                Protocol::GeminiStreamSse,
            ),
            Api::Chat => ("/v1/chat/completions", Protocol::OpenAiChat),
        }
    }
}

fn settings(api: Api, url: &str, stream: bool) -> ProviderSettings {
    let mut s = ProviderSettings {
        kind: api.kind().into(),
        endpoint: Some(url.into()),
        model: Some(
            match api {
                Api::Anthropic => "claude-mock",
                Api::Responses | Api::Chat => "gpt-mock",
                Api::Gemini => "gemini-mock",
            }
            .into(),
        ),
        mode: Some("api".into()),
        ..Default::default()
    };
    if !stream {
        s.stream = Some(false);
    }
    s
}

/// A provider whose key comes from the vendor's variable (`key` None: no key at all).
fn build(api: Api, s: &ProviderSettings, key: Option<&str>) -> Box<dyn Provider> {
    let var = api.key_var();
    let key = key.map(str::to_string);
    let env = move |k: &str| (k == var).then(|| key.clone()).flatten();
    let name = api.kind();
    match api {
        Api::Anthropic => Box::new(AnthropicProvider::with_env(name, s, &env).unwrap()),
        Api::Responses => Box::new(ResponsesProvider::with_env(name, s, &env).unwrap()),
        Api::Gemini => Box::new(GeminiProvider::with_env(name, s, &env).unwrap()),
        Api::Chat => Box::new(OpenAiChatProvider::with_env(name, s, &env).unwrap()),
    }
}

fn provider(api: Api, url: &str) -> Box<dyn Provider> {
    build(api, &settings(api, url, true), Some(KEY))
}

async fn run(api: Api, script: Script) -> (Result<Reply, ProviderError>, Vec<String>, MockServer) {
    let mock = MockServer::start(script);
    let (out, lines) = run_req(provider(api, &mock.url()).as_ref(), &request(10_000)).await;
    (out, lines, mock)
}

#[tokio::test]
async fn streamed_and_whole_replies_arrive_intact_with_usage() {
    for api in ALL {
        for stream in [true, false] {
            for size in [1, 7, 1000] {
                let ctx = format!("{api:?} stream={stream} chunk={size}");
                let mock =
                    MockServer::start(Script::new(vec![Mock::chunked(TEXT, size, Some((11, 22)))]));
                let p = build(api, &settings(api, &mock.url(), stream), Some(KEY));
                let (out, lines) = run_req(p.as_ref(), &request(10_000)).await;
                let reply = out.unwrap_or_else(|e| panic!("{ctx}: {e}"));
                assert_eq!(reply.text, TEXT, "{ctx}");
                assert_eq!(lines, expected_lines(), "{ctx}");
                let u = &reply.usage;
                assert_eq!(
                    (u.input_tokens, u.output_tokens, u.estimated),
                    (11, 22, false),
                    "{ctx}"
                );
                assert_eq!(u.source, api.usage_source(), "{ctx}");
                assert!(reply.model.contains("mock"), "{ctx}: {}", reply.model);
                let calls = mock.model_requests();
                assert_eq!(calls.len(), 1, "{ctx}");
                let (path, protocol) = api.path();
                if stream {
                    assert_eq!(
                        (calls[0].path.as_str(), calls[0].protocol),
                        (path, Some(protocol))
                    );
                }
            }
        }
    }
}

#[tokio::test]
async fn frames_split_at_every_byte_are_joined() {
    for api in ALL {
        for write_size in [1, 2, 5, 13] {
            let script =
                Script::new(vec![Mock::chunked(TEXT, 7, Some((1, 2)))]).split_writes(write_size);
            let (out, lines, _mock) = run(api, script).await;
            let reply = out.unwrap_or_else(|e| panic!("{api:?}/{write_size}: {e}"));
            assert_eq!(reply.text, TEXT, "{api:?}/{write_size}");
            assert_eq!(lines, expected_lines(), "{api:?}/{write_size}");
            assert!(!reply.usage.estimated);
        }
    }
}

#[tokio::test]
async fn lines_reach_the_sink_while_the_reply_streams() {
    for api in ALL {
        let mock = MockServer::start(Script::new(vec![Mock::paced(
            60,
            Mock::chunked("one\ntwo\nthree\nfour\n", 4, Some((1, 1))),
        )]));
        let p = provider(api, &mock.url());
        let (out, lines) = run_timed(p.as_ref(), &request(10_000)).await;
        out.unwrap_or_else(|e| panic!("{api:?}: {e}"));
        let done = Instant::now();
        let names: Vec<&str> = lines.iter().map(|(l, _)| l.as_str()).collect();
        assert_eq!(names, ["one", "two", "three", "four"], "{api:?}");
        // The first line came at least two paced writes before the end of the reply.
        let early = done.duration_since(lines[0].1);
        assert!(early >= Duration::from_millis(120), "{api:?}: {early:?}");
    }
}

#[tokio::test]
async fn requests_carry_model_prompt_and_the_key_the_vendor_way() {
    for api in ALL {
        let (out, _, mock) = run(api, Script::new(vec![Mock::text("ok")])).await;
        out.unwrap();
        let r = &mock.model_requests()[0];
        let b = r.json.as_ref().unwrap();
        match api {
            Api::Anthropic => {
                assert_eq!(r.header("x-api-key"), Some(KEY));
                assert_eq!(r.header("anthropic-version"), Some("2023-06-01"));
                assert_eq!(b["model"], "claude-mock");
                assert_eq!(b["messages"][0]["role"], "user");
                assert_eq!(b["messages"][0]["content"], PROMPT);
                assert_eq!(b["stream"], true);
                assert!(b["max_tokens"].as_u64().unwrap() > 0);
            }
            Api::Responses => {
                assert_eq!(
                    r.header("authorization"),
                    Some(format!("Bearer {KEY}").as_str())
                );
                assert_eq!(b["model"], "gpt-mock");
                assert_eq!(b["input"], PROMPT);
                assert_eq!(b["stream"], true);
            }
            Api::Gemini => {
                assert_eq!(r.header("x-goog-api-key"), Some(KEY));
                assert_eq!(r.query, "alt=sse");
                assert_eq!(b["contents"][0]["parts"][0]["text"], PROMPT);
                assert_eq!(b["contents"][0]["role"], "user");
            }
            Api::Chat => {
                assert_eq!(
                    r.header("authorization"),
                    Some(format!("Bearer {KEY}").as_str())
                );
                assert_eq!(b["messages"][0]["content"], PROMPT);
            }
        }
        // The key travels in a header only, never in the URL or the body.
        assert!(!r.query.contains(KEY) && !r.body.contains(KEY), "{api:?}");
    }
}

#[tokio::test]
async fn anthropic_always_reports_usage_and_the_others_fall_back_to_an_estimate() {
    for api in ALL {
        let (out, _, _mock) = run(api, Script::new(vec![Mock::chunked(TEXT, 4, None)])).await;
        let usage = out.unwrap().usage;
        if api == Api::Anthropic {
            // The mock counts like the real API: it always reports.
            assert!(!usage.estimated);
            assert!(usage.input_tokens > 0 && usage.output_tokens > 0);
        } else {
            assert_eq!(usage, Usage::estimate(PROMPT, TEXT), "{api:?}");
        }
    }
}
