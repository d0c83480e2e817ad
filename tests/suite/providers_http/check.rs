//! `Provider::check`: quick, no model call, and a reason a person can act on.

use super::*;

#[tokio::test]
async fn check_is_usable_when_the_model_is_served() {
    let mock = MockServer::start(Script::new(vec![]).models(&["llama3.1:latest", "gpt-mock"]));
    for kind in BOTH {
        let a = provider(kind, &mock.url()).check().await;
        assert!(a.usable, "{kind:?}: {}", a.reason);
    }
    assert_eq!(mock.model_calls(), 0);
}

#[tokio::test]
async fn check_names_a_missing_model_and_what_to_do() {
    let mock = MockServer::start(Script::new(vec![]).models(&["qwen3:8b", "mistral"]));
    let a = provider(Kind::Ollama, &mock.url()).check().await;
    assert!(!a.usable);
    assert!(
        a.reason
            .contains("model llama3.1 is not pulled; run `ollama pull llama3.1`"),
        "{}",
        a.reason
    );
    // An OpenAI-compatible server may route names it does not list: a caution, still usable.
    let a = provider(Kind::OpenAi, &mock.url()).check().await;
    assert!(a.usable, "{}", a.reason);
    assert!(
        a.reason.contains(
            "model gpt-mock is not in the server's list (it lists: qwen3:8b, mistral); it may \
             still work"
        ),
        "{}",
        a.reason
    );
}

#[tokio::test]
async fn check_reports_a_rejected_key() {
    let mock = MockServer::start(
        Script::new(vec![])
            .models(&["gpt-mock"])
            .api_key("right-key-123456"),
    );
    let wrong = OpenAiCompatProvider::new(
        "openwebui",
        &settings(&mock.url(), "gpt-mock", Some("wrong-key-123456")),
    )
    .unwrap();
    let a = wrong.check().await;
    assert!(!a.usable);
    assert!(
        a.reason.contains("key rejected: set CLK_OPENWEBUI_API_KEY"),
        "{}",
        a.reason
    );
    let right = OpenAiCompatProvider::new(
        "openwebui",
        &settings(&mock.url(), "gpt-mock", Some("right-key-123456")),
    )
    .unwrap();
    assert!(right.check().await.usable);
    assert_eq!(
        mock.requests()[1].header("authorization"),
        Some("Bearer right-key-123456")
    );
}

#[tokio::test]
async fn check_of_a_closed_port_says_why_within_a_second() {
    for kind in BOTH {
        let url = closed_url();
        let t = Instant::now();
        let a = provider(kind, &url).check().await;
        assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
        assert!(!a.usable);
        assert!(
            a.reason.contains(&url) && a.reason.contains("connection refused"),
            "{}",
            a.reason
        );
    }
}
