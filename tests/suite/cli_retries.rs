//! The real codex and gemini programs keep no retries of their own, whatever the user's own
//! settings say: clk's retry policy decides. Driven through `clk ask` against the mock server,
//! which answers every model call with a 500; with clk's retries off, exactly one call must
//! reach the server. The user's files are only read.

use crate::support;

use std::fs;
use std::path::Path;

use assert_cmd::Command;
use clk::engine::ground::config::ProviderSettings;
use support::clis::{bin_dir, home_dir, settings};
use support::mock_server::{Fallback, MockServer, Reply, Script};

fn clk(dir: &Path) -> Command {
    let mut c = support::clk();
    c.current_dir(dir).env("CLK_NO_TUI", "1");
    c
}

/// A project whose only provider is `s`, with clk's own retries off.
fn project(name: &str, s: &ProviderSettings) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    clk(d.path()).arg("init").assert().success();
    clk(d.path())
        .args(["configure", "--set", "provider_retry.max_retries=0"])
        .assert()
        .success();
    let path = d.path().join(".clk/config/providers.json");
    let mut doc: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    doc["active"] = name.into();
    doc["providers"][name] = serde_json::to_value(s).unwrap();
    fs::write(&path, doc.to_string()).unwrap();
    d
}

fn failing_mock() -> MockServer {
    MockServer::start(
        Script::new(vec![Reply::status(500, "internal error")])
            .fallback(Fallback::RepeatLast)
            .models(&["gpt-mock", "gemini-mock"]),
    )
}

#[test]
fn codex_without_an_endpoint_keeps_no_retries_of_the_users_provider() {
    let Some(bin) = bin_dir() else { return };
    let mock = failing_mock();
    let home = home_dir();
    let codex_home = home.path().join(".codex");
    fs::create_dir_all(&codex_home).unwrap();
    // The user's own provider, with codex's default retries (several per call).
    let config = format!(
        "model_provider = \"local\"\n[model_providers.local]\nname = \"local\"\n\
         base_url = \"{}/v1\"\nenv_key = \"LOCAL_API_KEY\"\nwire_api = \"responses\"\n",
        mock.url()
    );
    fs::write(codex_home.join("config.toml"), &config).unwrap();
    let mut s = settings("codex", &bin, &mock.url(), "unused", home.path());
    s.endpoint = None;
    s.api_key = None;
    s.timeout_s = Some(120);
    s.env.insert("LOCAL_API_KEY".into(), "sk-local-1".into());
    let d = project("codex", &s);
    clk(d.path())
        .args(["ask", "engineer", "add a greeter"])
        .assert()
        .code(1);
    assert_eq!(mock.model_calls(), 1, "codex retried on its own");
    assert_eq!(
        fs::read_to_string(codex_home.join("config.toml")).unwrap(),
        config
    );
}

#[test]
fn a_max_attempts_in_the_users_gemini_settings_does_not_bring_retries_back() {
    let Some(bin) = bin_dir() else { return };
    let mock = failing_mock();
    let home = home_dir();
    let gemini_dir = home.path().join(".gemini");
    fs::create_dir_all(&gemini_dir).unwrap();
    let user = r#"{"general": {"maxAttempts": 4}}"#;
    fs::write(gemini_dir.join("settings.json"), user).unwrap();
    let mut s = settings("gemini", &bin, &mock.url(), "sk-gem-1", home.path());
    s.timeout_s = Some(120);
    let d = project("gemini", &s);
    clk(d.path())
        .args(["ask", "engineer", "add a greeter"])
        .assert()
        .code(1);
    assert_eq!(mock.model_calls(), 1, "gemini retried on its own");
    assert_eq!(
        fs::read_to_string(gemini_dir.join("settings.json")).unwrap(),
        user
    );
}

#[test]
fn codex_on_openais_own_provider_keeps_no_retries_either() {
    let Some(bin) = bin_dir() else { return };
    let mock = failing_mock();
    let home = home_dir();
    let codex_home = home.path().join(".codex");
    fs::create_dir_all(&codex_home).unwrap();
    // codex's built-in OpenAI provider, pointed at the mock by the user's config.
    let config = format!("openai_base_url = \"{}/v1\"\n", mock.url());
    fs::write(codex_home.join("config.toml"), &config).unwrap();
    let mut s = settings("codex", &bin, &mock.url(), "sk-openai-1", home.path());
    s.endpoint = None;
    s.timeout_s = Some(120);
    let d = project("codex", &s);
    clk(d.path())
        .args(["ask", "engineer", "add a greeter"])
        .assert()
        .code(1);
    assert_eq!(mock.model_calls(), 1, "codex retried on its own");
    let call = &mock.model_requests()[0];
    assert_eq!(call.path, "/v1/responses");
}
