//! Keys: found in the vendor's variables, checked without a model call, refused without
//! sending anything when missing, and never shown in error text.

use super::*;
use clk::engine::agents::providers::ErrorKind;

#[tokio::test]
async fn without_a_key_the_provider_is_unusable_and_sends_nothing() {
    for api in ALL {
        let mock = MockServer::start(Script::new(vec![Mock::text("never")]));
        let p = build(api, &settings(api, &mock.url(), true), None);
        let t = Instant::now();
        let a = p.check().await;
        assert!(!a.usable, "{api:?}");
        assert!(
            a.reason.contains(&format!("set {}", api.key_var())),
            "{api:?}: {}",
            a.reason
        );
        assert!(
            a.reason
                .contains(&format!("CLK_{}_API_KEY", api.kind().to_uppercase())),
            "{}",
            a.reason
        );
        let e = run_req(p.as_ref(), &request(5_000)).await.0.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Auth, "{api:?}: {e}");
        assert!(e.message.contains(api.key_var()), "{e}");
        assert!(t.elapsed() < Duration::from_millis(500));
        assert!(mock.requests().is_empty(), "{api:?}: no request may leave");
    }
}

#[tokio::test]
async fn with_a_key_check_only_connects() {
    for api in ALL {
        let mock = MockServer::start(Script::new(vec![]));
        let a = provider(api, &mock.url()).check().await;
        assert!(a.usable, "{api:?}: {}", a.reason);
        assert!(mock.requests().is_empty(), "{api:?}: check made a request");
        let url = support::mock_server::closed_url();
        let t = Instant::now();
        let a = provider(api, &url).check().await;
        assert!(!a.usable);
        assert!(a.reason.contains("connection refused"), "{}", a.reason);
        assert!(t.elapsed() < Duration::from_millis(500));
    }
}

#[tokio::test]
async fn a_refused_key_never_shows_in_the_error() {
    for api in ALL {
        let wrong = "wrong-key-abcdef-987654";
        let mock = MockServer::start(Script::new(vec![]).api_key("right-key-123456"));
        let p = build(api, &settings(api, &mock.url(), true), Some(wrong));
        let e = run_req(p.as_ref(), &request(5_000)).await.0.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Auth, "{api:?}: {e}");
        assert!(!e.message.contains(wrong), "{api:?}: {e}");
        assert!(!format!("{e:?}").contains(wrong));
        assert_eq!(mock.model_calls(), 1);
    }
}

#[tokio::test]
async fn the_vendors_base_url_variable_is_honoured() {
    let mock = MockServer::start(Script::new(vec![
        Mock::text("a"),
        Mock::text("b"),
        Mock::text("c"),
    ]));
    let url = mock.url();
    let cases: [(Api, &str, &str); 3] = [
        (Api::Anthropic, "ANTHROPIC_BASE_URL", "/v1/messages"),
        (Api::Responses, "OPENAI_BASE_URL", "/v1/responses"),
        (
            Api::Gemini,
            "GOOGLE_GEMINI_BASE_URL",
            "/v1beta/models/gemini-2.5-flash:streamGenerateContent",
        ),
    ];
    for (api, var, _) in cases {
        let env = |k: &str| {
            if k == var {
                Some(if api == Api::Responses {
                    format!("{url}/v1")
                } else {
                    url.clone()
                })
            } else if k == api.key_var() {
                Some(KEY.to_string())
            } else {
                None
            }
        };
        let s = ProviderSettings::default();
        let p: Box<dyn Provider> = match api {
            Api::Anthropic => Box::new(AnthropicProvider::with_env("claude", &s, &env).unwrap()),
            Api::Responses => Box::new(ResponsesProvider::with_env("codex", &s, &env).unwrap()),
            Api::Gemini | Api::Chat => {
                Box::new(GeminiProvider::with_env("gemini", &s, &env).unwrap())
            }
        };
        run_req(p.as_ref(), &request(5_000)).await.0.unwrap();
    }
    let paths: Vec<String> = mock.model_requests().into_iter().map(|r| r.path).collect();
    let want: Vec<&str> = cases.iter().map(|c| c.2).collect();
    assert_eq!(paths, want);
}
