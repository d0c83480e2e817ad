//! Finding the real agent CLIs and pointing them at a mock model server.
//!
//! The programs come from `tests/install-clis.sh`'s cache (`CLK_CLI_BIN` names another
//! folder). When they are missing a test fails if `CLK_REQUIRE_CLIS=1` (set by
//! tests/run-all.sh, so CI can never pass without running them) and otherwise skips with a
//! printed reason, so a developer's plain `cargo test` works without Node.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clk::engine::ground::config::ProviderSettings;

/// The folder holding claude, codex, gemini and pi, or None (after saying why) to skip.
pub fn bin_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("CLK_CLI_BIN")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .map(|h| Path::new(&h).join(".cache/clk-test-clis/node_modules/.bin"))
        });
    let ok = dir.as_ref().is_some_and(|d| {
        ["claude", "codex", "gemini", "pi"]
            .iter()
            .all(|p| d.join(p).exists())
    });
    if ok {
        return dir;
    }
    let why = format!(
        "the agent CLIs are not installed in {:?}; run tests/install-clis.sh",
        dir.unwrap_or_default()
    );
    if std::env::var("CLK_REQUIRE_CLIS").as_deref() == Ok("1") {
        panic!("{why} (CLK_REQUIRE_CLIS=1)");
    }
    eprintln!("skipping: {why}");
    None
}

/// A folder for a CLI's private HOME. Not under /tmp: gemini ignores settings files below a
/// folder others can write to, and codex refuses to set up helpers there.
pub fn home_dir() -> tempfile::TempDir {
    let base = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-homes");
    std::fs::create_dir_all(&base).unwrap();
    tempfile::tempdir_in(base).unwrap()
}

/// Settings that point CLI `kind` (from `bin`) at the mock at `url` with `key`.
pub fn settings(kind: &str, bin: &Path, url: &str, key: &str, home: &Path) -> ProviderSettings {
    let mut s = ProviderSettings {
        kind: kind.into(),
        command: Some(bin.join(kind).display().to_string()),
        home: Some(home.display().to_string()),
        api_key: Some(key.into()),
        endpoint: Some(url.into()),
        ..Default::default()
    };
    let mut env = BTreeMap::new();
    match kind {
        "claude" => {
            s.model = Some("claude-mock-1".into());
            env.insert(
                "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC".into(),
                "1".into(),
            );
            env.insert("DISABLE_TELEMETRY".into(), "1".into());
            env.insert("DISABLE_ERROR_REPORTING".into(), "1".into());
        }
        "codex" => {
            s.model = Some("gpt-mock".into());
            for kv in [
                "features.plugins=false",
                "features.apps=false",
                "features.remote_plugin=false",
                "analytics.enabled=false",
            ] {
                s.args.push("-c".into());
                s.args.push(kv.into());
            }
        }
        "gemini" => s.model = Some("gemini-mock".into()),
        "pi" => {
            // pi reads its endpoint from models.json; `endpoint` is not one of its settings.
            s.endpoint = None;
            s.model = Some("test-model".into());
            s.key_type = Some("local".into());
            let agent = home.join(".pi/agent");
            std::fs::create_dir_all(&agent).unwrap();
            let models = serde_json::json!({"providers": {"local": {"baseUrl": url,
                "api": "anthropic-messages", "apiKey": "LOCAL_API_KEY",
                "models": [{"id": "test-model"}]}}});
            std::fs::write(agent.join("models.json"), models.to_string()).unwrap();
            std::fs::write(
                agent.join("settings.json"),
                r#"{"enableInstallTelemetry": false, "retry": {"enabled": false}}"#,
            )
            .unwrap();
            env.insert("PI_TELEMETRY".into(), "0".into());
        }
        other => panic!("not a CLI: {other}"),
    }
    s.env = env;
    s
}
