//! The shared CLI plumbing against fake programs: small shell scripts that print what a real
//! CLI prints. The real programs are driven in tests/cli_providers.rs.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::*;

/// A fake `name` program in `dir` running `body` (sh).
fn fake(dir: &Path, name: &str, body: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

fn provider(cli: Cli, program: &Path) -> CliProvider {
    let s = ProviderSettings {
        kind: cli.program().into(),
        command: Some(program.display().to_string()),
        model: Some("m1".into()),
        ..Default::default()
    };
    CliProvider::new(cli.program(), cli, &s)
}

fn request(dir: &Path, prompt: &str, timeout_ms: u64) -> Request {
    Request {
        agent: "engineer".into(),
        stage: None,
        run_id: "r1".into(),
        objective: "x".into(),
        prompt: prompt.into(),
        workdir: dir.to_path_buf(),
        timeout: Duration::from_millis(timeout_ms),
        idle_timeout: None,
        cancel: CancellationToken::new(),
        sandbox: crate::engine::agents::providers::Isolation::None,
    }
}

/// Dispatch `prompt` to `p` in `dir` with nothing watching: the error it must end in.
async fn failure(p: &CliProvider, dir: &Path, prompt: &str, timeout_ms: u64) -> ProviderError {
    p.dispatch(&request(dir, prompt, timeout_ms), &OutputSink::discard())
        .await
        .unwrap_err()
}

type Seen = Arc<Mutex<Vec<(Stream, String)>>>;
type Started = Arc<Mutex<Vec<(u32, String)>>>;

fn sink() -> (OutputSink, Seen, Started) {
    let seen: Seen = Arc::default();
    let started = Arc::new(Mutex::new(Vec::new()));
    let (s2, st2) = (seen.clone(), started.clone());
    let sink = OutputSink::new(move |s, l| s2.lock().unwrap().push((s, l.to_string())))
        .on_process_start(move |pid, cmd| st2.lock().unwrap().push((pid, cmd.to_string())));
    (sink, seen, started)
}

const CLAUDE_OK: &str = r#"printf '%s\n' '{"type":"system","subtype":"init","model":"claude-fake"}'
printf '%s\n' '{"type":"assistant","message":{"model":"claude-fake","content":[{"type":"text","text":"line one\nline two"},{"type":"tool_use","name":"Write","input":{"file_path":"a.txt"}}]}}'
echo 'stderr note' >&2
printf '%s\n' '{"type":"result","is_error":false,"result":"line one\nline two","usage":{"input_tokens":3,"cache_creation_input_tokens":2,"cache_read_input_tokens":5,"output_tokens":4}}'"#;

#[tokio::test]
async fn a_fake_claude_streams_lines_and_reports_usage() {
    let dir = tempfile::tempdir().unwrap();
    let args_file = dir.path().join("args");
    let body = format!(
        "printf '%s\n' \"$@\" > {}\n{CLAUDE_OK}",
        args_file.display()
    );
    let p = provider(Cli::Claude, &fake(dir.path(), "claude", &body));
    let (out, seen, started) = sink();
    let r = p
        .dispatch(&request(dir.path(), "[clk] do it", 10_000), &out)
        .await
        .unwrap();
    assert_eq!(r.text, "line one\nline two");
    assert_eq!(r.model, "claude-fake");
    assert_eq!(r.usage.input_tokens, 10);
    assert_eq!(r.usage.cached_input_tokens, 5);
    assert_eq!(r.usage.output_tokens, 4);
    let lines: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|(_, l)| l.clone())
        .collect();
    assert_eq!(
        lines,
        vec![
            "claude started (model claude-fake)",
            "line one",
            "line two",
            "tool: Write a.txt",
            "stderr note"
        ]
    );
    let started = started.lock().unwrap();
    assert_eq!(started.len(), 1);
    assert!(started[0].0 > 0);
    assert!(
        started[0].1.contains("<prompt: 11 chars>"),
        "{}",
        started[0].1
    );
    let args = std::fs::read_to_string(&args_file).unwrap();
    let args: Vec<&str> = args.lines().collect();
    assert_eq!(args.last(), Some(&"[clk] do it"));
    assert!(args.windows(2).any(|w| w == ["--model", "m1"]));
}

#[tokio::test]
async fn a_huge_prompt_goes_to_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let got = dir.path().join("stdin");
    let body = format!(
        "cat > {}\nprintf '%s\\n' \"$@\" > {}.args\n{CLAUDE_OK}",
        got.display(),
        got.display()
    );
    let p = provider(Cli::Claude, &fake(dir.path(), "claude", &body));
    let prompt = format!("[clk] {}", "x".repeat(MAX_ARG_PROMPT_BYTES + 10));
    p.dispatch(
        &request(dir.path(), &prompt, 10_000),
        &OutputSink::discard(),
    )
    .await
    .unwrap();
    assert_eq!(std::fs::read_to_string(&got).unwrap(), prompt);
    let args = std::fs::read_to_string(format!("{}.args", got.display())).unwrap();
    assert!(args.contains("--output-format"), "{args}");
    assert!(!args.contains("xxxx"), "the prompt was also an argument");
}

#[tokio::test]
async fn a_hanging_cli_is_killed_with_its_children_at_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("survived");
    let body = format!("(sleep 1; touch {}) &\nsleep 30", marker.display());
    let p = provider(Cli::Codex, &fake(dir.path(), "codex", &body));
    let t = Instant::now();
    let e = failure(&p, dir.path(), "[clk] x", 300).await;
    assert_eq!(e.kind, ErrorKind::Timeout);
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(!marker.exists(), "a child of the CLI outlived the timeout");
}

#[tokio::test]
async fn abort_stops_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let p = provider(Cli::Gemini, &fake(dir.path(), "gemini", "sleep 30"));
    let req = request(dir.path(), "[clk] x", 60_000);
    let cancel = req.cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        cancel.cancel();
    });
    let t = Instant::now();
    let e = p.dispatch(&req, &OutputSink::discard()).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Cancelled);
    assert!(t.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn a_missing_program_says_how_to_install_it() {
    let s = ProviderSettings {
        kind: "claude".into(),
        command: Some("claude-not-installed-xyz".into()),
        ..Default::default()
    };
    let p = CliProvider::new("claude", Cli::Claude, &s);
    let a = p.check().await;
    assert!(!a.usable);
    assert!(
        a.reason.contains("providers.claude.command"),
        "{}",
        a.reason
    );
    let dir = tempfile::tempdir().unwrap();
    let e = failure(&p, dir.path(), "x", 1000).await;
    assert_eq!(e.kind, ErrorKind::NotFound);
    let plain = CliProvider::new("claude", Cli::Claude, &ProviderSettings::default());
    if process::which("claude").is_none() {
        let a = plain.check().await;
        assert_eq!(
            a.reason,
            "claude not found on PATH; install with npm i -g @anthropic-ai/claude-code or set \
             providers.claude.command"
        );
    }
}

#[tokio::test]
async fn output_that_is_not_json_is_a_bad_reply_and_a_crash_keeps_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let p = provider(Cli::Pi, &fake(dir.path(), "pi", "echo 'plain words'"));
    let e = failure(&p, dir.path(), "[clk] x", 5_000).await;
    assert_eq!(e.kind, ErrorKind::BadReply, "{e}");
    let p = provider(
        Cli::Codex,
        &fake(
            dir.path(),
            "codex",
            "echo 'Error: 401 Unauthorized' >&2; exit 3",
        ),
    );
    let e = failure(&p, dir.path(), "[clk] x", 5_000).await;
    assert_eq!(e.kind, ErrorKind::Auth, "{e}");
    assert!(e.message.starts_with("codex: exited with code 3"), "{e}");
}

#[test]
fn user_env_wins_and_headless_settings_are_flags() {
    let mut s = ProviderSettings {
        kind: "claude".into(),
        native_tools: true,
        home: Some("/srv/h".into()),
        endpoint: Some("http://127.0.0.1:1".into()),
        api_key: Some("sk-ant-secret-123456".into()),
        args: vec!["--max-turns".into(), "3".into()],
        ..Default::default()
    };
    s.env.insert("DISABLE_AUTOUPDATER".into(), "0".into());
    let p = CliProvider::new("claude", Cli::Claude, &s);
    let inv = p.invocation("[clk] hi", PromptVia::Arg);
    assert_eq!(inv.env["DISABLE_AUTOUPDATER"], "0");
    assert_eq!(inv.env["CLAUDE_CONFIG_DIR"], "/srv/h/.claude");
    assert_eq!(inv.env["ANTHROPIC_API_KEY"], "sk-ant-secret-123456");
    assert!(
        inv.args
            .windows(2)
            .any(|w| w == ["--permission-mode", "bypassPermissions"])
    );
    // Claude Code refuses to skip permissions as root unless this is exactly "1".
    assert_eq!(inv.env["IS_SANDBOX"], "1");
    assert_eq!(
        &inv.args[inv.args.len() - 3..],
        ["--max-turns", "3", "[clk] hi"]
    );
    let shown = p.shown_command(&inv, "[clk] hi", PromptVia::Arg);
    assert!(!shown.contains("sk-ant"), "{shown}");
    let g = CliProvider::new(
        "gemini",
        Cli::Gemini,
        &ProviderSettings {
            kind: "gemini".into(),
            ..Default::default()
        },
    );
    let inv = g.invocation("-starts with a dash", PromptVia::Stdin);
    assert_eq!(inv.args.last().map(String::as_str), Some("--prompt="));
    assert_eq!(
        PromptVia::for_prompt("-starts with a dash"),
        PromptVia::Stdin
    );
    assert!(inv.args.contains(&"--skip-trust".to_string()));
}

#[test]
fn shown_lines_are_clipped_on_a_char_boundary() {
    assert_eq!(clip("short"), "short");
    let long = "é".repeat(MAX_SHOWN_BYTES);
    let c = clip(&long);
    assert!(c.len() < MAX_SHOWN_BYTES + 40, "{}", c.len());
    assert!(c.ends_with(&format!("… ({} bytes)", long.len())));
}

#[test]
fn a_home_under_tilde_is_the_users_home_not_a_folder_named_tilde() {
    let mut p = provider(Cli::Claude, Path::new("claude"));
    let user = std::env::var_os("HOME").map(PathBuf::from).unwrap();
    for (set, want) in [
        ("~/.claude-work", user.join(".claude-work")),
        ("~", user.clone()),
        ("/abs/h", PathBuf::from("/abs/h")),
        ("rel/h", std::env::current_dir().unwrap().join("rel/h")),
    ] {
        p.settings.home = Some(set.into());
        assert_eq!(p.home(), Some(want), "{set}");
    }
    p.settings.home = Some("  ".into());
    assert_eq!(p.home(), None);
}
