//! The HTTP providers (Ollama, OpenAI-compatible) against the mock model server: replies
//! arrive whole and in order however the bytes are split, usage is reported or estimated, and
//! every failure (status, refused connection, cut stream, stall, abort, garbage) gets the kind
//! the retry policy needs.

use crate::support;
use support::provider_calls::{PROMPT, TEXT, expected_lines, request, run_req};

mod check;
mod requests;

use std::time::{Duration, Instant};

use clk::engine::agents::providers::ollama::OllamaProvider;
use clk::engine::agents::providers::openwebui::OpenAiCompatProvider;
use clk::engine::agents::providers::retry::{RetryPolicy, with_retries};
use clk::engine::agents::providers::{ErrorKind, OutputSink, Provider, ProviderError, Reply};
use clk::engine::ground::config::ProviderSettings;
use clk::engine::ground::events::Usage;
use support::mock_server::{Framing, MockServer, Reply as Mock, Script, closed_url};

#[derive(Debug, Clone, Copy)]
enum Kind {
    Ollama,
    OpenAi,
}
const BOTH: [Kind; 2] = [Kind::Ollama, Kind::OpenAi];

fn settings(endpoint: &str, model: &str, key: Option<&str>) -> ProviderSettings {
    ProviderSettings {
        endpoint: Some(endpoint.into()),
        model: Some(model.into()),
        api_key: key.map(str::to_string),
        ..Default::default()
    }
}

fn provider(kind: Kind, url: &str) -> Box<dyn Provider> {
    match kind {
        Kind::Ollama => {
            Box::new(OllamaProvider::new("ollama", &settings(url, "llama3.1", None)).unwrap())
        }
        Kind::OpenAi => Box::new(
            OpenAiCompatProvider::new("openwebui", &settings(url, "gpt-mock", None)).unwrap(),
        ),
    }
}

async fn run(
    kind: Kind,
    script: Script,
) -> (Result<Reply, ProviderError>, Vec<String>, MockServer) {
    let mock = MockServer::start(script);
    let p = provider(kind, &mock.url());
    let (out, lines) = run_req(p.as_ref(), &request(10_000)).await;
    (out, lines, mock)
}

async fn err(kind: Kind, reply: Mock) -> ProviderError {
    let (out, _, _mock) = run(kind, Script::new(vec![reply])).await;
    out.expect_err("an error")
}

fn usage_source(kind: Kind) -> &'static str {
    match kind {
        Kind::Ollama => "ollama",
        Kind::OpenAi => "openai-usage",
    }
}

#[tokio::test]
async fn reply_text_arrives_intact_at_any_chunk_size() {
    for kind in BOTH {
        for size in [1, 7, 1000] {
            let (out, lines, mock) = run(
                kind,
                Script::new(vec![Mock::chunked(TEXT, size, Some((11, 22)))]),
            )
            .await;
            let reply = out.unwrap_or_else(|e| panic!("{kind:?}/{size}: {e}"));
            assert_eq!(reply.text, TEXT, "{kind:?}/{size}");
            assert_eq!(lines, expected_lines(), "{kind:?}/{size}");
            let u = &reply.usage;
            assert_eq!(
                (u.input_tokens, u.output_tokens, u.estimated),
                (11, 22, false)
            );
            assert_eq!(u.source, usage_source(kind));
            assert!(!reply.model.is_empty());
            assert_eq!(mock.model_calls(), 1);
        }
    }
}

#[tokio::test]
async fn frames_split_across_writes_and_inside_characters_are_joined() {
    for kind in BOTH {
        for write_size in [1, 5, 13] {
            let script =
                Script::new(vec![Mock::chunked(TEXT, 7, Some((1, 2)))]).split_writes(write_size);
            let (out, lines, _mock) = run(kind, script).await;
            let reply = out.unwrap_or_else(|e| panic!("{kind:?}/{write_size}: {e}"));
            assert_eq!(reply.text, TEXT, "{kind:?}/{write_size}");
            assert_eq!(lines, expected_lines());
        }
    }
}

#[tokio::test]
async fn close_delimited_streams_are_read_to_the_end() {
    for kind in BOTH {
        let script =
            Script::new(vec![Mock::chunked(TEXT, 5, Some((3, 4)))]).framing(Framing::Close);
        let (out, lines, _mock) = run(kind, script).await;
        assert_eq!(out.unwrap().text, TEXT, "{kind:?}");
        assert_eq!(lines, expected_lines());
    }
}

#[tokio::test]
async fn without_usage_the_numbers_are_estimated() {
    for kind in BOTH {
        let (out, _, _mock) = run(kind, Script::new(vec![Mock::chunked(TEXT, 4, None)])).await;
        let usage = out.unwrap().usage;
        assert_eq!(usage, Usage::estimate(PROMPT, TEXT), "{kind:?}");
        assert!(usage.estimated);
    }
}

#[tokio::test]
async fn error_statuses_map_to_kinds_with_what_the_server_said() {
    let cases = [
        (401, ErrorKind::Auth),
        (403, ErrorKind::Auth),
        (404, ErrorKind::NotFound),
        (429, ErrorKind::Retryable),
        (500, ErrorKind::Retryable),
        (503, ErrorKind::Retryable),
        (400, ErrorKind::Fatal),
    ];
    for kind in BOTH {
        for (code, want) in cases {
            let e = err(
                kind,
                Mock::status(code, r#"{"error":{"message":"nope from server"}}"#),
            )
            .await;
            assert_eq!(e.kind, want, "{kind:?} {code}: {e}");
            assert!(
                e.message
                    .contains(&format!("HTTP {code}: nope from server")),
                "{e}"
            );
        }
    }
    let e = err(
        Kind::Ollama,
        Mock::status(
            404,
            r#"{"error":"model \"llama3.1\" not found, try pulling it first"}"#,
        ),
    )
    .await;
    assert_eq!(e.kind, ErrorKind::NotFound);
    assert!(e.message.contains("ollama pull llama3.1"), "{e}");
    let e = err(Kind::OpenAi, Mock::status(401, "denied")).await;
    assert!(e.message.contains("CLK_OPENWEBUI_API_KEY"), "{e}");
}

#[tokio::test]
async fn a_down_endpoint_is_retryable_and_named() {
    for kind in BOTH {
        let url = closed_url();
        let p = provider(kind, &url);
        let (out, _) = run_req(p.as_ref(), &request(5_000)).await;
        let e = out.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Retryable, "{e}");
        assert!(e.message.contains(&url), "{e}");
        assert!(e.message.contains("connection refused"), "{e}");
    }
    let e = run_req(
        provider(Kind::Ollama, &closed_url()).as_ref(),
        &request(5_000),
    )
    .await
    .0
    .unwrap_err();
    assert!(e.message.contains("ollama serve"), "{e}");
}

#[tokio::test]
async fn a_cut_stream_is_retryable_never_a_partial_reply() {
    for kind in BOTH {
        for framing in [Framing::Chunked, Framing::Close] {
            let script = Script::new(vec![Mock::cut(TEXT, 200)]).framing(framing);
            let (out, _, _mock) = run(kind, script).await;
            let e = out.unwrap_err();
            assert_eq!(e.kind, ErrorKind::Retryable, "{kind:?}/{framing:?}: {e}");
            assert!(e.message.contains("stream ended early"), "{e}");
        }
    }
}

#[tokio::test]
async fn a_stalled_server_times_out_within_the_limit() {
    for kind in BOTH {
        let mock = MockServer::start(Script::new(vec![Mock::Stall]));
        let t = Instant::now();
        let (out, _) = run_req(provider(kind, &mock.url()).as_ref(), &request(300)).await;
        let e = out.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Timeout, "{e}");
        assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
        assert!(e.message.contains("300 ms"), "{e}");
    }
}

#[tokio::test]
async fn silence_after_the_headers_hits_the_idle_limit() {
    for kind in BOTH {
        let mock = MockServer::start(Script::new(vec![Mock::StallAfterHeaders]));
        let mut req = request(30_000);
        req.idle_timeout = Some(Duration::from_millis(200));
        let t = Instant::now();
        let e = run_req(provider(kind, &mock.url()).as_ref(), &req)
            .await
            .0
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Timeout, "{e}");
        assert!(e.message.contains("no output for 200 ms"), "{e}");
        assert!(t.elapsed() < Duration::from_secs(2));
    }
}

#[tokio::test]
async fn cancelling_stops_the_call_at_once() {
    for kind in BOTH {
        let mock = MockServer::start(Script::new(vec![Mock::paced(
            200,
            Mock::chunked(TEXT, 1, None),
        )]));
        let req = request(30_000);
        let cancel = req.cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(150)).await;
            cancel.cancel();
        });
        let t = Instant::now();
        let e = run_req(provider(kind, &mock.url()).as_ref(), &req)
            .await
            .0
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Cancelled, "{e}");
        assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
    }
}

#[tokio::test]
async fn a_body_that_is_not_the_protocol_is_a_bad_reply() {
    for kind in BOTH {
        for (ct, body) in [
            ("text/html", "<html>hello</html>"),
            ("application/json", "{not json"),
        ] {
            let e = err(kind, Mock::raw(200, ct, body)).await;
            assert_eq!(e.kind, ErrorKind::BadReply, "{kind:?} {ct}: {e}");
        }
    }
}

#[tokio::test]
async fn an_error_inside_a_stream_is_not_a_reply() {
    let e = err(
        Kind::Ollama,
        Mock::raw(
            200,
            "application/x-ndjson",
            "{\"error\":\"runner crashed\"}\n",
        ),
    )
    .await;
    assert_eq!(e.kind, ErrorKind::Fatal);
    assert!(e.message.contains("runner crashed"), "{e}");
    let sse = "data: {\"error\":{\"message\":\"overloaded\",\"type\":\"server_error\"}}\n\n";
    let e = err(Kind::OpenAi, Mock::raw(200, "text/event-stream", sse)).await;
    assert_eq!(e.kind, ErrorKind::Retryable, "{e}");
}

#[tokio::test]
async fn a_429_then_success_takes_two_calls_with_retries() {
    for kind in BOTH {
        let mock = MockServer::start(Script::new(vec![
            Mock::status(429, "slow down"),
            Mock::text_usage(TEXT, 5, 6),
        ]));
        let p = provider(kind, &mock.url());
        let req = request(10_000);
        let sink = OutputSink::discard();
        let policy = RetryPolicy {
            max_retries: 2,
            backoff_ms: 10,
            max_backoff_ms: 20,
            retry_after_cap: std::time::Duration::from_millis(20),
        };
        let mut retries = 0;
        let reply = with_retries(
            &policy,
            &req.cancel,
            |_| retries += 1,
            || p.dispatch(&req, &sink),
        )
        .await
        .unwrap();
        assert_eq!(reply.text, TEXT);
        assert_eq!((retries, mock.model_calls()), (1, 2), "{kind:?}");
    }
}
