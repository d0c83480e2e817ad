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

/// `clk ask` on provider `kind` with settings `s` fails after exactly one model call, and
/// the user's settings file `user_file` is as it was.
fn fails_after_one_call(kind: &str, s: &ProviderSettings, mock: &MockServer, user_file: &Path) {
    let before = fs::read_to_string(user_file).unwrap();
    let d = project(kind, s);
    clk(d.path())
        .args(["ask", "engineer", "add a greeter"])
        .assert()
        .code(1);
    assert_eq!(mock.model_calls(), 1, "{kind} retried on its own");
    assert_eq!(fs::read_to_string(user_file).unwrap(), before);
}

/// A private home for `kind` whose settings file `rel` holds `text`; (home, that file).
fn home_with(rel: &str, text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let home = home_dir();
    let file = home.path().join(rel);
    fs::create_dir_all(file.parent().unwrap()).unwrap();
    fs::write(&file, text).unwrap();
    (home, file)
}

#[test]
fn codex_without_an_endpoint_keeps_no_retries_of_the_users_provider() {
    let Some(bin) = bin_dir() else { return };
    let mock = failing_mock();
    // The user's own provider, with codex's default retries (several per call).
    let config = format!(
        "model_provider = \"local\"\n[model_providers.local]\nname = \"local\"\n\
         base_url = \"{}/v1\"\nenv_key = \"LOCAL_API_KEY\"\nwire_api = \"responses\"\n",
        mock.url()
    );
    let (home, file) = home_with(".codex/config.toml", &config);
    let mut s = settings("codex", &bin, &mock.url(), "unused", home.path());
    s.endpoint = None;
    s.api_key = None;
    s.timeout_s = Some(120);
    s.env.insert("LOCAL_API_KEY".into(), "sk-local-1".into());
    fails_after_one_call("codex", &s, &mock, &file);
}

#[test]
fn a_max_attempts_in_the_users_gemini_settings_does_not_bring_retries_back() {
    let Some(bin) = bin_dir() else { return };
    let mock = failing_mock();
    let (home, file) = home_with(
        ".gemini/settings.json",
        r#"{"general": {"maxAttempts": 4}}"#,
    );
    let mut s = settings("gemini", &bin, &mock.url(), "sk-gem-1", home.path());
    s.timeout_s = Some(120);
    fails_after_one_call("gemini", &s, &mock, &file);
}

#[test]
fn codex_on_openais_own_provider_keeps_no_retries_either() {
    let Some(bin) = bin_dir() else { return };
    let mock = failing_mock();
    // codex's built-in OpenAI provider, pointed at the mock by the user's config.
    let config = format!("openai_base_url = \"{}/v1\"\n", mock.url());
    let (home, file) = home_with(".codex/config.toml", &config);
    let mut s = settings("codex", &bin, &mock.url(), "sk-openai-1", home.path());
    s.endpoint = None;
    s.timeout_s = Some(120);
    fails_after_one_call("codex", &s, &mock, &file);
    assert_eq!(mock.model_requests()[0].path, "/v1/responses");
}
