use super::*;

#[test]
fn env_overrides_endpoint_and_active() {
    let env = |k: &str| match k {
        "CLK_PROVIDER" => Some("ollama".to_string()),
        "CLK_OLLAMA_ENDPOINT" => Some("http://127.0.0.1:9".to_string()),
        _ => None,
    };
    let f = ProvidersFile::from_json_with_env(None, &env).unwrap();
    assert_eq!(f.active, "ollama");
    assert_eq!(
        f.providers["ollama"].endpoint.as_deref(),
        Some("http://127.0.0.1:9")
    );
    assert_eq!(f.providers["ollama"].model.as_deref(), Some("llama3.1"));
}

#[test]
fn url_passwords_and_secret_env_values_are_redacted() {
    assert_eq!(url_password("http://bob:pa55word@h:1/x"), Some("pa55word"));
    assert_eq!(url_password("http://h:1/x@y"), None);
    let user = serde_json::json!({"providers": {"ollama": {
        "endpoint": "http://bob:s3cr3t-pass@127.0.0.1:1",
        "env": {"MY_TOKEN": "tok-abcdef-123", "PLAIN": "visible-value"}}}});
    ProvidersFile::from_json_with_env(Some(&user), &|_| None).unwrap();
    let out =
        crate::engine::ground::redact::redact_text("s3cr3t-pass tok-abcdef-123 visible-value");
    assert_eq!(
        out,
        "<redacted: 11 chars> <redacted: 14 chars> visible-value"
    );
}

#[test]
fn a_partial_provider_block_keeps_its_defaults() {
    let user = serde_json::json!({"providers": {"ollama": {"model": "qwen3"}}});
    let f = ProvidersFile::from_json_with_env(Some(&user), &|_| None).unwrap();
    assert_eq!(f.providers["ollama"].model.as_deref(), Some("qwen3"));
    assert_eq!(f.providers["ollama"].kind, "ollama");
    assert!(f.providers["ollama"].endpoint.is_some());
}

#[test]
fn vendor_providers_default_to_cli_mode_and_env_sets_mode_and_style() {
    let f = ProvidersFile::from_json_with_env(None, &|_| None).unwrap();
    for name in ["claude", "codex", "gemini", "pi"] {
        let s = &f.providers[name];
        assert_eq!(s.kind, name);
        assert_eq!(s.mode(name).unwrap(), Mode::Cli);
        assert!(!s.description.is_empty());
    }
    f.check().unwrap();
    let env = |k: &str| match k {
        "CLK_CODEX_MODE" => Some("api".to_string()),
        "CLK_CODEX_API_STYLE" => Some("chat".to_string()),
        "CLK_CLAUDE_MODE" => Some("web".to_string()),
        _ => None,
    };
    let f = ProvidersFile::from_json_with_env(None, &env).unwrap();
    let codex = &f.providers["codex"];
    assert_eq!(codex.mode("codex").unwrap(), Mode::Api);
    assert_eq!(codex.api_style("codex").unwrap(), ApiStyle::Chat);
    let e = f.check().unwrap_err().to_string();
    assert!(e.contains("mode \"web\"") && e.contains("\"api\""), "{e}");
}

#[test]
fn fields_come_from_the_type_and_env_sets_each_scalar_one() {
    let names: Vec<String> = ProviderSettings::fields()
        .into_iter()
        .map(|(f, _)| f)
        .collect();
    for f in [
        "native_tools",
        "stream",
        "max_tokens",
        "api_version",
        "home",
        "price",
        "env",
    ] {
        assert!(names.iter().any(|n| n == f), "{f} missing from {names:?}");
    }
    assert!(
        !names.iter().any(|n| n == "extra" || n == "kind"),
        "{names:?}"
    );
    let env = |k: &str| match k {
        "CLK_CLAUDE_NATIVE_TOOLS" => Some("yes".to_string()),
        "CLK_CLAUDE_MAX_TOKENS" => Some("900".to_string()),
        "CLK_GEMINI_STREAM" => Some("false".to_string()),
        _ => None,
    };
    let f = ProvidersFile::from_json_with_env(None, &env).unwrap();
    assert!(f.providers["claude"].native_tools);
    assert_eq!(f.providers["claude"].max_tokens, Some(900));
    assert_eq!(f.providers["gemini"].stream, Some(false));
    let env = |k: &str| (k == "CLK_OLLAMA_TIMEOUT_S").then(|| "soon".to_string());
    let e = ProvidersFile::from_json_with_env(None, &env)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("CLK_OLLAMA_TIMEOUT_S") && e.contains("whole number"),
        "{e}"
    );
}

#[test]
fn a_bad_stream_value_in_the_file_is_a_clear_error() {
    let user = serde_json::json!({"providers": {"claude": {"stream": "yes"}}});
    let e = ProvidersFile::from_json_with_env(Some(&user), &|_| None).unwrap_err();
    assert!(e.to_string().contains("expected a boolean"), "{e}");
}

#[test]
fn unknown_active_provider_is_a_clear_error() {
    let env = |k: &str| (k == "CLK_PROVIDER").then(|| "nope".to_string());
    let f = ProvidersFile::from_json_with_env(None, &env).unwrap();
    let e = f.check().unwrap_err().to_string();
    assert!(e.contains("unknown provider \"nope\""), "{e}");
    assert!(e.contains("shell"), "{e}");
}
