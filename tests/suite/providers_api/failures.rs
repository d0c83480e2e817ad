//! How each API-key provider fails: statuses with each protocol's error JSON, errors inside a
//! stream, cut streams, garbage, stalls, aborts, and the retry policy on top.

use super::*;
use clk::engine::agents::providers::ErrorKind;
use clk::engine::agents::providers::retry::{RetryPolicy, with_retries};
use support::mock_server::Framing;

async fn err(api: Api, reply: Mock) -> ProviderError {
    let (out, _, _mock) = run(api, Script::new(vec![reply])).await;
    out.expect_err("an error")
}

fn policy() -> RetryPolicy {
    RetryPolicy {
        max_retries: 3,
        backoff_ms: 10,
        max_backoff_ms: 20,
        retry_after_cap: std::time::Duration::from_millis(20),
    }
}

/// Dispatch under the retry policy; (result, retries seen, model calls made).
async fn with_policy(api: Api, script: Script) -> (Result<Reply, ProviderError>, u32, usize) {
    let mock = MockServer::start(script);
    let p = provider(api, &mock.url());
    let req = request(10_000);
    let sink = OutputSink::discard();
    let mut retries = 0;
    let out = with_retries(
        &policy(),
        &req.cancel,
        |_| retries += 1,
        || p.dispatch(&req, &sink),
    )
    .await;
    (out, retries, mock.model_calls())
}

#[tokio::test]
async fn statuses_map_to_kinds_and_carry_the_protocols_message() {
    let cases = [
        (400, ErrorKind::Fatal),
        (401, ErrorKind::Auth),
        (403, ErrorKind::Auth),
        (404, ErrorKind::NotFound),
        (429, ErrorKind::Retryable),
        (500, ErrorKind::Retryable),
        (503, ErrorKind::Retryable),
        (529, ErrorKind::Retryable),
    ];
    for api in ALL {
        for (code, want) in cases {
            // A plain message: the mock wraps it in the protocol's own error JSON.
            let e = err(api, Mock::status(code, "nope from the server")).await;
            assert_eq!(e.kind, want, "{api:?} {code}: {e}");
            assert!(
                e.message
                    .contains(&format!("HTTP {code}: nope from the server")),
                "{api:?}: {e}"
            );
            assert!(!e.message.contains('\n'));
        }
    }
}

#[tokio::test]
async fn a_401_is_not_retried_and_names_the_key_variable() {
    for api in ALL {
        let (out, retries, calls) = with_policy(
            api,
            Script::new(vec![Mock::status(401, "invalid x-api-key")]),
        )
        .await;
        let e = out.unwrap_err();
        assert_eq!(
            (e.kind, retries, calls),
            (ErrorKind::Auth, 0, 1),
            "{api:?}: {e}"
        );
        if api != Api::Chat {
            assert!(e.message.contains(api.key_var()), "{api:?}: {e}");
        }
    }
}

#[tokio::test]
async fn a_429_and_a_5xx_are_retried_then_succeed() {
    for api in ALL {
        let script = Script::new(vec![
            Mock::status(429, "slow down"),
            Mock::status(503, "overloaded"),
            Mock::text_usage(TEXT, 5, 6),
        ]);
        let (out, retries, calls) = with_policy(api, script).await;
        let reply = out.unwrap_or_else(|e| panic!("{api:?}: {e}"));
        assert_eq!(reply.text, TEXT);
        assert_eq!((retries, calls), (2, 3), "{api:?}");
    }
}

#[tokio::test]
async fn an_error_inside_the_stream_fails_with_its_message() {
    for api in ALL {
        let e = err(
            api,
            Mock::fail_mid_stream(TEXT, 529, "Overloaded right now"),
        )
        .await;
        assert!(e.message.contains("Overloaded right now"), "{api:?}: {e}");
        assert_eq!(e.kind, ErrorKind::Retryable, "{api:?}: {e}");
        let e = err(api, Mock::fail_mid_stream(TEXT, 400, "prompt is too long")).await;
        assert!(e.message.contains("prompt is too long"), "{api:?}: {e}");
        assert_eq!(e.kind, ErrorKind::Fatal, "{api:?}: {e}");
    }
}

#[tokio::test]
async fn a_cut_stream_is_a_clean_retryable_failure_never_a_partial_reply() {
    for api in ALL {
        for framing in [Framing::Chunked, Framing::Close] {
            for bytes in [10, 300] {
                let script = Script::new(vec![Mock::cut(TEXT, bytes)]).framing(framing);
                let (out, _, _mock) = run(api, script).await;
                let e = out.expect_err("cut");
                assert_eq!(
                    e.kind,
                    ErrorKind::Retryable,
                    "{api:?}/{framing:?}/{bytes}: {e}"
                );
                assert!(
                    e.message.contains("stream ended early"),
                    "{api:?}/{framing:?}/{bytes}: {e}"
                );
            }
        }
    }
}

#[tokio::test]
async fn a_body_that_is_not_the_protocol_is_a_bad_reply() {
    for api in ALL {
        for (ct, body) in [
            ("text/html", "<html>hello</html>"),
            ("application/json", "{not json"),
            ("text/event-stream", "data: {not json\n\n"),
        ] {
            let e = err(api, Mock::raw(200, ct, body)).await;
            assert_eq!(e.kind, ErrorKind::BadReply, "{api:?} {ct}: {e}");
        }
    }
}

#[tokio::test]
async fn a_stalled_server_times_out_by_clks_own_limit() {
    for api in ALL {
        let mock = MockServer::start(Script::new(vec![Mock::Stall]));
        let t = Instant::now();
        let (out, _) = run_req(provider(api, &mock.url()).as_ref(), &request(300)).await;
        let e = out.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Timeout, "{api:?}: {e}");
        assert!(e.message.contains("300 ms"), "{e}");
        assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());

        let mock = MockServer::start(Script::new(vec![Mock::StallAfterHeaders]));
        let mut req = request(30_000);
        req.idle_timeout = Some(Duration::from_millis(200));
        let e = run_req(provider(api, &mock.url()).as_ref(), &req)
            .await
            .0
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Timeout, "{api:?}: {e}");
        assert!(e.message.contains("no output for 200 ms"), "{e}");
    }
}

#[tokio::test]
async fn aborting_stops_the_call_at_once() {
    for api in ALL {
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
        let e = run_req(provider(api, &mock.url()).as_ref(), &req)
            .await
            .0
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Cancelled, "{api:?}: {e}");
        assert!(
            t.elapsed() < Duration::from_millis(600),
            "{:?}",
            t.elapsed()
        );
    }
}

#[tokio::test]
async fn a_down_endpoint_is_retryable_and_named() {
    for api in ALL {
        let url = support::mock_server::closed_url();
        let (out, _) = run_req(provider(api, &url).as_ref(), &request(5_000)).await;
        let e = out.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Retryable, "{api:?}: {e}");
        assert!(e.message.contains("connection refused"), "{e}");
        assert!(e.message.contains(&url), "{e}");
    }
}

#[tokio::test]
async fn googles_400_for_a_bad_key_counts_as_a_refused_key() {
    // What generativelanguage.googleapis.com answers for a wrong key.
    let body = r#"{"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.",
        "status": "INVALID_ARGUMENT", "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "API_KEY_INVALID", "domain": "googleapis.com"}]}}"#;
    let (out, retries, calls) =
        with_policy(Api::Gemini, Script::new(vec![Mock::status(400, body)])).await;
    let e = out.unwrap_err();
    assert_eq!((e.kind, retries, calls), (ErrorKind::Auth, 0, 1), "{e}");
    assert!(e.message.contains("API key not valid"), "{e}");
    assert!(e.message.contains("GEMINI_API_KEY"), "{e}");
    // An ordinary 400 stays a plain failure.
    let e = err(Api::Gemini, Mock::status(400, "contents is empty")).await;
    assert_eq!(e.kind, ErrorKind::Fatal, "{e}");
}
