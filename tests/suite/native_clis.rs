//! Native tools with the four real agent CLIs: `clk ask` with `native_tools` on, against the
//! mock model server scripted to answer with tool calls in each CLI's protocol (Anthropic
//! `tool_use` for claude and pi, Responses custom `apply_patch` and `exec_command` for codex,
//! Gemini `functionCall` for gemini). Each CLI's own file and shell tools run without approval
//! prompts inside clk's sandbox: a normal write and a shell command with several parts land in
//! the agent's commit; writes into the repository's `.git/hooks` and the work tree's
//! `.clk/config` are refused by the sandbox and reported as rejected actions with the CLI's
//! reason; nothing outside the work tree changes.
//!
//! Missing CLIs skip the tests, or fail them under `CLK_REQUIRE_CLIS=1`.

use crate::support;

use std::fs;
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use assert_cmd::Command;
use serde_json::{Value, json};
use support::clis::{bin_dir, home_dir, settings};
use support::loop_agents::git_out as git;
use support::mock_server::{MockServer, Reply, Script, ToolCall};

pub(super) const MODELS: &[&str] = &["gpt-5.5", "gemini-mock", "claude-mock-1", "test-model"];

pub(super) const DONE: &str = "I wrote greeter.py and the notes.\nCONFIDENCE: 0.8\nPROGRESS: yes\n";
pub(super) const GREETER: &str = "def hello():\n    return \"hello\"\n";

pub(super) fn clk(dir: &Path) -> Command {
    let mut c = support::clk();
    c.current_dir(dir).env("CLK_NO_TUI", "1");
    c
}

/// `clk ask engineer "add a greeter"` in `dir`: whether it succeeded, and its stdout.
pub(super) fn ask(dir: &Path) -> (bool, String) {
    let out = clk(dir)
        .args(["ask", "engineer", "add a greeter"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.success(), stdout)
}

pub(super) fn activity(dir: &Path) -> Vec<Value> {
    fs::read_to_string(dir.join(".clk/logs/activity.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The error of the project's failed dispatch (it must have failed).
pub(super) fn failed_error(dir: &Path, kind: &str, stdout: &str) -> String {
    let events = activity(dir);
    let finished = events
        .iter()
        .find(|e| e["event"] == "dispatch_finished")
        .unwrap_or_else(|| panic!("{kind}: no dispatch_finished\n{stdout}"));
    assert_eq!(finished["ok"], false, "{kind}: {stdout}");
    finished["error"].as_str().unwrap().to_string()
}

/// A file write as `kind` calls it (codex: an `apply_patch` that adds the file).
pub(super) fn write_call(kind: &str, path: &str, content: &str) -> ToolCall {
    match kind {
        "claude" => ToolCall::function("Write", json!({"file_path": path, "content": content})),
        "codex" => {
            let lines: String = content.lines().map(|l| format!("+{l}\n")).collect();
            ToolCall::custom(
                "apply_patch",
                &format!("*** Begin Patch\n*** Add File: {path}\n{lines}*** End Patch\n"),
            )
        }
        "gemini" => {
            ToolCall::function("write_file", json!({"file_path": path, "content": content}))
        }
        "pi" => ToolCall::function("write", json!({"path": path, "content": content})),
        other => panic!("not a CLI: {other}"),
    }
}

/// A shell command as `kind` calls it.
pub(super) fn shell_call(kind: &str, command: &str) -> ToolCall {
    match kind {
        "claude" => ToolCall::function("Bash", json!({"command": command, "description": "run"})),
        "codex" => ToolCall::function("exec_command", json!({"cmd": command})),
        "gemini" => ToolCall::function(
            "run_shell_command",
            json!({"command": command, "description": "run"}),
        ),
        "pi" => ToolCall::function("bash", json!({"command": command})),
        other => panic!("not a CLI: {other}"),
    }
}

/// A fresh project (not under /tmp: the sandbox gives the program a private /tmp, which would
/// hide, and so trivially protect, a project kept there) whose active provider is CLI `kind`
/// with `native_tools`, pointed at `mock`; the CLI's home is returned to keep it alive.
pub(super) fn native_project(
    kind: &str,
    bin: &Path,
    mock: &MockServer,
) -> (tempfile::TempDir, tempfile::TempDir) {
    let base = Path::new(env!("CARGO_TARGET_TMPDIR")).join("native-clis");
    fs::create_dir_all(&base).unwrap();
    let d = tempfile::tempdir_in(&base).unwrap();
    clk(d.path()).arg("init").assert().success();
    let home = home_dir();
    let mut s = settings(kind, bin, &mock.url(), "sk-test-native-18", home.path());
    if kind == "codex" {
        // A model codex offers its freeform `apply_patch` tool to.
        s.model = Some("gpt-5.5".into());
    }
    s.native_tools = true;
    s.timeout_s = Some(120);
    let path = d.path().join(".clk/config/providers.json");
    let mut doc: Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    doc["active"] = kind.into();
    doc["providers"][kind] = serde_json::to_value(&s).unwrap();
    fs::write(&path, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    commit_config(d.path(), "providers.json");
    (d, home)
}

/// Commit a change the test made to `.clk/config/<file>`, so it is not "the user's".
pub(super) fn commit_config(dir: &Path, file: &str) {
    commit_path(dir, &format!(".clk/config/{file}"));
}

/// Commit `path` as the user would.
pub(super) fn commit_path(dir: &Path, path: &str) {
    git(dir, &["add", path]);
    let by = ["-c", "user.name=t", "-c", "user.email=t@t"];
    git(dir, &[&by[..], &["commit", "-qm", path]].concat());
}

/// The rejected actions of the last run whose target holds `needle`.
pub(super) fn rejected_with<'a>(events: &'a [Value], kind: &str, needle: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| e["event"] == "action" && e["kind"] == kind && e["decision"] == "rejected")
        .filter(|e| e["target"].as_str().unwrap().contains(needle))
        .collect()
}

fn edits_natively(kind: &str) {
    let Some(bin) = bin_dir() else { return };
    let base = Path::new(env!("CARGO_TARGET_TMPDIR")).join("native-clis");
    fs::create_dir_all(&base).unwrap();
    let outside = tempfile::tempdir_in(&base).unwrap();
    let escaped = outside.path().join("escaped.txt");
    // The hook's path is only known once the project exists: the mock takes the script late.
    let mock = MockServer::start(Script::new(vec![]).models(MODELS));
    let (d, _home) = native_project(kind, &bin, &mock);
    let agents_before = fs::read_to_string(d.path().join(".clk/config/agents.json")).unwrap();
    let hook = d.path().join(".git/hooks/pre-commit");
    mock.push(Reply::tools(vec![
        write_call(kind, "greeter.py", GREETER),
        // Several parts in one command; the last one stamps when the write before it was done.
        shell_call(
            kind,
            "mkdir -p notes && echo one > notes/a.txt && date +%s%N > notes/stamp.txt",
        ),
        write_call(kind, &hook.display().to_string(), "#!/bin/sh\nexit 0\n"),
        write_call(kind, ".clk/config/agents.json", "{\"hacked\": true}\n"),
        shell_call(
            kind,
            &format!(
                "echo hook > \"$(git rev-parse --git-common-dir)/hooks/post-commit\"; \
                 echo x > .clk/config/extra.json; echo out > {}",
                escaped.display()
            ),
        ),
    ]));
    mock.push(Reply::text(DONE));

    let (ok, stdout) = ask(d.path());
    assert!(ok, "{kind}: {stdout}");

    // The program posted one result per call, and the write and the command worked.
    let results = mock.last_tool_results();
    assert_eq!(results.len(), 5, "{kind}: {results:#?}\n{stdout}");
    assert_eq!(mock.model_calls(), 2, "{kind}");

    // The allowed write and the command's files are the agent's commit, merged into the
    // user's branch.
    let log = git(d.path(), &["log", "-1", "--format=%s", "--name-only"]);
    assert!(log.starts_with("[engineer] "), "{kind}: {log}\n{stdout}");
    for f in ["greeter.py", "notes/a.txt", "notes/stamp.txt"] {
        assert!(
            log.lines().any(|l| l == f),
            "{kind}: {f} not committed: {log}"
        );
    }
    assert_eq!(
        fs::read_to_string(d.path().join("greeter.py")).unwrap(),
        GREETER,
        "{kind}"
    );
    assert_eq!(
        fs::read_to_string(d.path().join("notes/a.txt")).unwrap(),
        "one\n"
    );

    // Nothing reached git's hooks, clk's config, or outside the work tree.
    assert!(!hook.exists(), "{kind}: the hook was written");
    assert!(!d.path().join(".git/hooks/post-commit").exists(), "{kind}");
    assert_eq!(
        fs::read_to_string(d.path().join(".clk/config/agents.json")).unwrap(),
        agents_before,
        "{kind}"
    );
    assert!(!d.path().join(".clk/config/extra.json").exists(), "{kind}");
    assert!(
        !escaped.exists(),
        "{kind}: a file outside the work tree was written"
    );
    assert_eq!(git(d.path(), &["status", "--porcelain"]), "", "{kind}");

    // Each refusal is a rejected action with the CLI's reason, and a live line.
    let events = activity(d.path());
    let rejected = rejected_with(&events, "tool", "");
    let names = |needle: &str| !rejected_with(&events, "tool", needle).is_empty();
    assert!(names("hooks/pre-commit"), "{kind}: {results:#?}\n{stdout}");
    assert!(names(".clk/config/agents.json"), "{kind}: {rejected:#?}");
    assert!(names("post-commit"), "{kind}: {results:#?}\n{stdout}");
    assert!(
        rejected.iter().all(|e| e["reason"]
            .as_str()
            .unwrap()
            .starts_with("the CLI was not allowed to (")),
        "{rejected:#?}"
    );
    assert!(
        !names("greeter.py") && !names("notes"),
        "{kind}: an allowed call was reported as refused: {rejected:#?}"
    );
    assert!(
        stdout.contains("the CLI was not allowed to: "),
        "{kind}: {stdout}"
    );

    // While the call ran, the card was told which files the agent's tools were changing.
    let changing: Vec<&Value> = events
        .iter()
        .filter(|e| e["event"] == "files_changing")
        .collect();
    let last = changing
        .last()
        .unwrap_or_else(|| panic!("{kind}: no files_changing"));
    assert!(last["count"].as_u64().unwrap() >= 3, "{kind}: {last}");
    let shown: Vec<&str> = last["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert!(
        ["greeter.py", "notes/a.txt", "notes/stamp.txt"]
            .iter()
            .any(|f| shown.contains(f)),
        "{kind}: {shown:?}"
    );
    assert!(
        shown
            .iter()
            .all(|f| !f.starts_with(".git/") && !f.starts_with(".clk/")),
        "{kind}: {shown:?}"
    );

    // The figure: from the tool-call turn's last byte leaving the mock to the stamp the
    // command after the write took (so the file was on disk by then).
    let (sent, _) = mock.tools_sent()[0].clone();
    let sent_ns = sent.duration_since(UNIX_EPOCH).unwrap().as_nanos();
    let stamp = git(d.path(), &["show", "HEAD:notes/stamp.txt"]);
    let stamp_ns: u128 = stamp.trim().parse().unwrap();
    let took = Duration::from_nanos(stamp_ns.saturating_sub(sent_ns) as u64);
    eprintln!("{kind}: tool call sent -> write done and stamped: {took:?}");
    assert!(took < Duration::from_secs(60), "{kind}: {took:?}");
}

/// With clk's sandbox off, nothing stops the program writing git's hooks, clk's config or
/// committing: clk's check after the call must undo all of it, and fold the program's own
/// commit into the agent's.
fn polices_natively(kind: &str) {
    let Some(bin) = bin_dir() else { return };
    let mock = MockServer::start(Script::new(vec![]).models(MODELS));
    let (d, _home) = native_project(kind, &bin, &mock);
    let cfg = d.path().join(".clk/config/clk.config.json");
    let mut doc: Value = serde_json::from_str(&fs::read_to_string(&cfg).unwrap()).unwrap();
    doc["sandbox"] = json!({"mode": "off"});
    fs::write(&cfg, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    commit_config(d.path(), "clk.config.json");
    let agents_before = fs::read_to_string(d.path().join(".clk/config/agents.json")).unwrap();
    let hook = d.path().join(".git/hooks/pre-commit");
    let before = git(d.path(), &["rev-parse", "HEAD"]);
    mock.push(Reply::tools(vec![
        write_call(kind, "greeter.py", GREETER),
        write_call(kind, &hook.display().to_string(), "#!/bin/sh\nexit 0\n"),
        write_call(kind, ".clk/config/agents.json", "{\"hacked\": true}\n"),
        shell_call(
            kind,
            // Its own file: pi runs a turn's tool calls at the same time.
            "echo made > made.txt && git add made.txt && \
             git -c user.name=cli -c user.email=cli@x commit -qm mine",
        ),
    ]));
    mock.push(Reply::text(DONE));

    let (ok, stdout) = ask(d.path());
    assert!(ok, "{kind}: {stdout}");
    let results = mock.last_tool_results();
    assert_eq!(results.len(), 4, "{kind}: {results:#?}");

    // One commit on top, the agent's, holding both files; the program's own is gone.
    let log = git(
        d.path(),
        &["log", "--format=%s", &format!("{}..HEAD", before.trim())],
    );
    let subjects: Vec<&str> = log.lines().collect();
    assert_eq!(subjects.len(), 1, "{kind}: {log}\n{stdout}\n{results:#?}");
    assert!(subjects[0].starts_with("[engineer] "), "{kind}: {log}");
    let files = git(d.path(), &["show", "--name-only", "--format=", "HEAD"]);
    assert_eq!(
        files.lines().collect::<Vec<_>>(),
        vec!["greeter.py", "made.txt"],
        "{kind}"
    );
    assert_eq!(
        fs::read_to_string(d.path().join("greeter.py")).unwrap(),
        GREETER
    );
    // The hook and clk's config are put back, each a rejected change.
    assert!(!hook.exists(), "{kind}: the hook stayed");
    assert_eq!(
        fs::read_to_string(d.path().join(".clk/config/agents.json")).unwrap(),
        agents_before
    );
    let events = activity(d.path());
    for needle in [
        ".git/hooks/pre-commit",
        ".clk/config/agents.json",
        "commit ",
    ] {
        // Rejected by clk after the fact, or refused by the program's own guard (gemini
        // keeps its file tools inside the work tree) and reported as such.
        let judged = rejected_with(&events, "native_change", needle);
        let refused = rejected_with(&events, "tool", needle);
        assert!(
            !judged.is_empty() || !refused.is_empty(),
            "{kind}: {needle} not rejected\n{stdout}\n{results:#?}"
        );
    }
    assert_eq!(git(d.path(), &["status", "--porcelain"]), "", "{kind}");
}

/// A turn whose every tool call was refused did nothing it was asked to: the dispatch fails
/// with the CLI's reason, on the card (the dispatch's error) and in the log.
fn all_refused_fails(kind: &str) {
    let Some(bin) = bin_dir() else { return };
    let mock = MockServer::start(Script::new(vec![]).models(MODELS));
    let (d, _home) = native_project(kind, &bin, &mock);
    mock.push(Reply::tools(vec![write_call(
        kind,
        ".clk/config/agents.json",
        "{\"hacked\": true}\n",
    )]));
    mock.push(Reply::text(DONE));
    let before = git(d.path(), &["rev-parse", "HEAD"]);
    let (_, stdout) = ask(d.path());
    let error = failed_error(d.path(), kind, &stdout);
    assert!(
        error.starts_with(&format!("{kind}: the CLI was not allowed to: "))
            && error.contains(".clk/config/agents.json"),
        "{kind}: {error}"
    );
    assert!(stdout.contains(&error), "{kind}: {stdout}");
    assert_eq!(git(d.path(), &["rev-parse", "HEAD"]), before, "{kind}");
}

#[test]
fn claude_fails_when_every_call_was_refused() {
    all_refused_fails("claude");
}

#[test]
fn codex_fails_when_every_call_was_refused() {
    all_refused_fails("codex");
}

#[test]
fn gemini_fails_when_every_call_was_refused() {
    all_refused_fails("gemini");
}

#[test]
fn pi_fails_when_every_call_was_refused() {
    all_refused_fails("pi");
}

#[test]
fn claude_is_policed_without_the_sandbox() {
    polices_natively("claude");
}

#[test]
fn codex_is_policed_without_the_sandbox() {
    polices_natively("codex");
}

#[test]
fn gemini_is_policed_without_the_sandbox() {
    polices_natively("gemini");
}

#[test]
fn pi_is_policed_without_the_sandbox() {
    polices_natively("pi");
}

#[test]
fn claude_edits_natively() {
    edits_natively("claude");
}

#[test]
fn codex_edits_natively() {
    edits_natively("codex");
}

#[test]
fn gemini_edits_natively() {
    edits_natively("gemini");
}

#[test]
fn pi_edits_natively() {
    edits_natively("pi");
}
