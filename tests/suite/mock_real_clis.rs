//! The real claude, codex and gemini programs against the mock model server: each one must
//! accept the mock's streamed reply as a normal answer and print its text and token usage.
//! This is what keeps the mock's protocol shapes faithful.
//!
//! The programs come from `tests/install-clis.sh`'s cache (`CLK_CLI_BIN` names another folder
//! of programs). When they are not installed the tests say so on stderr and pass, so a machine
//! without Node still runs the suite; under tests/run-all.sh (`CLK_REQUIRE_CLIS=1`) they fail.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::mock_server::{MockServer, Reply, Script};

const ANSWER: &str = "The mock says: ünïcödé ✓\nsecond line";

fn program(name: &str) -> Option<PathBuf> {
    // Skips, or fails under tests/run-all.sh (CLK_REQUIRE_CLIS=1), when they are missing.
    let p = support::clis::bin_dir()?.join(name);
    if p.exists() {
        Some(p)
    } else {
        // tests/run-all.sh installs them and sets this: there a missing program is a failure.
        if std::env::var("CLK_REQUIRE_CLIS").as_deref() == Ok("1") {
            panic!("{name} is not installed in {}", p.display());
        }
        eprintln!("{name} is not installed (run tests/install-clis.sh); skipping");
        None
    }
}

/// Run `cmd` with stdin closed, killing it after `limit`; (exit code, stdout, stderr).
fn run(mut cmd: Command, limit: Duration) -> (Option<i32>, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let (out_path, err_path) = (dir.path().join("out"), dir.path().join("err"));
    cmd.stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap());
    let mut child = cmd.spawn().expect("spawn");
    let start = Instant::now();
    let code = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st.code();
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    (code, read(&out_path), read(&err_path))
}

#[test]
fn claude_reads_the_mock_anthropic_stream() {
    let Some(claude) = program("claude") else {
        return;
    };
    let mock = MockServer::start(Script::new(vec![Reply::chunked(ANSWER, 5, Some((42, 17)))]));
    let home = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(claude);
    cmd.args([
        "-p",
        "--output-format",
        "json",
        "--model",
        "claude-mock-1",
        "Say hi",
    ])
    .current_dir(home.path())
    .env("HOME", home.path())
    .env("CLAUDE_CONFIG_DIR", home.path().join(".claude"))
    .env("ANTHROPIC_BASE_URL", mock.url())
    .env("ANTHROPIC_API_KEY", "sk-test-mock")
    .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
    .env("DISABLE_AUTOUPDATER", "1")
    .env("DISABLE_TELEMETRY", "1")
    .env("DISABLE_ERROR_REPORTING", "1")
    .env("CLAUDE_CODE_MAX_RETRIES", "0");
    let (code, out, err) = run(cmd, Duration::from_secs(60));
    assert_eq!(code, Some(0), "stdout: {out}\nstderr: {err}");
    let v: Value = serde_json::from_str(out.trim()).expect("one JSON object");
    assert_eq!(v["is_error"], false, "{v}");
    assert_eq!(v["result"], ANSWER);
    assert_eq!(v["usage"]["input_tokens"], 42, "{v}");
    assert_eq!(v["usage"]["output_tokens"], 17, "{v}");
    let calls = mock.model_requests();
    assert!(calls.iter().all(|r| r.path == "/v1/messages"));
    assert_eq!(
        calls.last().unwrap().header("x-api-key"),
        Some("sk-test-mock")
    );
}

#[test]
fn codex_reads_the_mock_responses_stream() {
    let Some(codex) = program("codex") else {
        return;
    };
    let mock = MockServer::start(
        Script::new(vec![Reply::chunked(ANSWER, 5, Some((42, 17)))]).models(&["gpt-mock"]),
    );
    let home = tempfile::tempdir().unwrap();
    let codex_home = home.path().join("codex");
    std::fs::create_dir_all(&codex_home).unwrap();
    let base = format!("{}/v1", mock.url());
    let mut cmd = Command::new(codex);
    cmd.args(["exec", "--skip-git-repo-check", "--ephemeral", "--json"]);
    for kv in [
        "model=\"gpt-mock\"".to_string(),
        "model_provider=\"local\"".into(),
        "approval_policy=\"never\"".into(),
        "sandbox_mode=\"read-only\"".into(),
        "check_for_update_on_startup=false".into(),
        "model_providers.local.name=\"local\"".into(),
        format!("model_providers.local.base_url=\"{base}\""),
        "model_providers.local.env_key=\"LOCAL_API_KEY\"".into(),
        "model_providers.local.wire_api=\"responses\"".into(),
        "model_providers.local.request_max_retries=0".into(),
        "model_providers.local.stream_max_retries=0".into(),
        "features.plugins=false".into(),
        "features.apps=false".into(),
        "features.remote_plugin=false".into(),
        "features.unbounded_connection_retries=false".into(),
        "analytics.enabled=false".into(),
    ] {
        cmd.args(["-c", &kv]);
    }
    cmd.arg("Say hi")
        .current_dir(home.path())
        .env("HOME", home.path())
        .env("CODEX_HOME", &codex_home)
        .env("LOCAL_API_KEY", "sk-test-mock");
    let (code, out, err) = run(cmd, Duration::from_secs(60));
    assert_eq!(code, Some(0), "stdout: {out}\nstderr: {err}");
    let events: Vec<Value> = out
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let message = events
        .iter()
        .find(|e| e["type"] == "item.completed" && e["item"]["type"] == "agent_message")
        .unwrap_or_else(|| panic!("no agent_message in {out}\nstderr: {err}"));
    assert_eq!(message["item"]["text"], ANSWER);
    let done = events
        .iter()
        .find(|e| e["type"] == "turn.completed")
        .expect("turn.completed");
    assert_eq!(done["usage"]["input_tokens"], 42, "{done}");
    assert_eq!(done["usage"]["output_tokens"], 17, "{done}");
    let calls = mock.model_requests();
    assert!(calls.iter().all(|r| r.path == "/v1/responses"));
}

#[test]
fn gemini_reads_the_mock_gemini_stream() {
    let Some(gemini) = program("gemini") else {
        return;
    };
    let mock = MockServer::start(Script::new(vec![Reply::chunked(ANSWER, 5, Some((42, 17)))]));
    let home = tempfile::tempdir().unwrap();
    let settings = home.path().join(".gemini");
    std::fs::create_dir_all(&settings).unwrap();
    std::fs::write(
        settings.join("settings.json"),
        r#"{"general": {"enableAutoUpdate": false, "enableAutoUpdateNotification": false,
            "maxAttempts": 1}, "privacy": {"usageStatisticsEnabled": false},
            "telemetry": {"enabled": false},
            "security": {"auth": {"selectedType": "gemini-api-key"}}}"#,
    )
    .unwrap();
    let mut cmd = Command::new(gemini);
    cmd.args([
        "--skip-trust",
        "-m",
        "gemini-mock",
        "-o",
        "json",
        "-p",
        "Say hi",
    ])
    .current_dir(home.path())
    .env("HOME", home.path())
    .env("GEMINI_CLI_HOME", home.path())
    .env("GEMINI_API_KEY", "test-key-mock")
    .env("GOOGLE_GEMINI_BASE_URL", mock.url())
    .env("GEMINI_CLI_NO_RELAUNCH", "true");
    let (code, out, err) = run(cmd, Duration::from_secs(90));
    assert_eq!(code, Some(0), "stdout: {out}\nstderr: {err}");
    let v: Value = serde_json::from_str(out.trim()).expect("one JSON object");
    assert_eq!(v["response"], ANSWER, "{v}");
    let tokens = &v["stats"]["models"]["gemini-mock"]["tokens"];
    assert_eq!(tokens["prompt"], 42, "{v}");
    assert_eq!(tokens["candidates"], 17, "{v}");
    let calls = mock.model_requests();
    let last = calls.last().unwrap();
    assert_eq!(
        last.path,
        "/v1beta/models/gemini-mock:streamGenerateContent"
    );
}

#[test]
fn pi_reads_each_protocol_of_the_mock() {
    let Some(pi) = program("pi") else {
        return;
    };
    for (api, base_path, model_path) in [
        ("anthropic-messages", "", "/v1/messages"),
        ("openai-responses", "/v1", "/v1/responses"),
        (
            "google-generative-ai",
            "/v1beta",
            "/v1beta/models/test-model:streamGenerateContent",
        ),
    ] {
        let mock = MockServer::start(Script::new(vec![Reply::chunked(ANSWER, 5, Some((42, 17)))]));
        let home = tempfile::tempdir().unwrap();
        let agent = home.path().join("agent");
        std::fs::create_dir_all(&agent).unwrap();
        let models = serde_json::json!({"providers": {"local": {
            "baseUrl": format!("{}{base_path}", mock.url()), "api": api,
            "apiKey": "LOCAL_API_KEY", "models": [{"id": "test-model"}]}}});
        std::fs::write(agent.join("models.json"), models.to_string()).unwrap();
        std::fs::write(
            agent.join("settings.json"),
            r#"{"enableInstallTelemetry": false, "retry": {"enabled": false}}"#,
        )
        .unwrap();
        let mut cmd = Command::new(&pi);
        cmd.args([
            "-p",
            "--no-session",
            "--mode",
            "json",
            "--provider",
            "local",
        ])
        .args(["--model", "test-model", "Say hi"])
        .current_dir(home.path())
        .env("HOME", home.path())
        .env("PI_CODING_AGENT_DIR", &agent)
        .env("PI_OFFLINE", "1")
        .env("PI_TELEMETRY", "0")
        .env("LOCAL_API_KEY", "sk-test-mock");
        let (code, out, err) = run(cmd, Duration::from_secs(60));
        assert_eq!(code, Some(0), "{api}: stdout: {out}\nstderr: {err}");
        let end = out
            .lines()
            .rev()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|e| e["type"] == "message_end" && e["message"]["role"] == "assistant")
            .unwrap_or_else(|| panic!("{api}: no assistant message_end in {out}\n{err}"));
        let msg = &end["message"];
        assert_ne!(msg["stopReason"], "error", "{api}: {msg}");
        let text: String = msg["content"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|c| c["text"].as_str())
            .collect();
        assert_eq!(text, ANSWER, "{api}");
        assert_eq!(msg["usage"]["input"], 42, "{api}: {msg}");
        assert_eq!(msg["usage"]["output"], 17, "{api}: {msg}");
        assert_eq!(
            mock.model_requests().last().unwrap().path,
            model_path,
            "{api}"
        );
    }
}
