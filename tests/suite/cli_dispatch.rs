//! `clk ask` end to end with the agent-CLI providers: the real claude, codex, gemini and pi
//! against the mock model server (reply applied and committed, real usage recorded, live
//! lines and the process start reported), an agent CLI that edits files with its own tools
//! (a fake one: the gate after the fact keeps the allowed file and undoes the forbidden
//! ones), and keys that must never reach .clk/ or a commit.

use crate::support;

use std::fs;
use std::path::Path;
use std::process::Command as StdCommand;

use assert_cmd::Command;
use clk::engine::ground::config::ProviderSettings;
use support::clis::{bin_dir, home_dir, settings};
use support::mock_server::{MockServer, Reply, Script};

const REPLY: &str = "Adding the greeter.\n\
ACTION: write\nPATH: greeter.py\nCONTENT:\ndef hello():\n    return \"hello\"\nEND_ACTION\n\
CONFIDENCE: 0.8\nPROGRESS: yes\n";

fn clk(dir: &Path) -> Command {
    let mut c = support::clk();
    c.current_dir(dir).env("CLK_NO_TUI", "1");
    c
}

fn project() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    clk(d.path()).arg("init").assert().success();
    d
}

/// Add provider `name` with `s` to the project's providers.json and make it active.
fn use_provider(dir: &Path, name: &str, s: &ProviderSettings) {
    let path = dir.join(".clk/config/providers.json");
    let mut doc: serde_json::Value = serde_json::from_str(&fs::read_to_string(&path).unwrap())
        .unwrap_or_else(|_| serde_json::json!({}));
    doc["active"] = name.into();
    doc["providers"][name] = serde_json::to_value(s).unwrap();
    fs::write(&path, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
}

fn activity(dir: &Path) -> Vec<serde_json::Value> {
    fs::read_to_string(dir.join(".clk/logs/activity.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = StdCommand::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn ask_applies_and_commits(kind: &str) {
    let Some(bin) = bin_dir() else { return };
    let d = project();
    let mock = MockServer::start(
        Script::new(vec![Reply::chunked(REPLY, 7, Some((321, 45)))])
            .api_key("sk-test-e2e-91b2")
            .models(&["gpt-mock", "gemini-mock", "claude-mock-1", "test-model"]),
    );
    let home = home_dir();
    let mut s = settings(kind, &bin, &mock.url(), "sk-test-e2e-91b2", home.path());
    s.timeout_s = Some(90);
    use_provider(d.path(), kind, &s);
    let out = clk(d.path())
        .args(["ask", "engineer", "add a greeter"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let out = String::from_utf8_lossy(&out);
    assert!(
        out.contains("engineer: 321 tokens in, 45 out"),
        "{kind}: {out}"
    );
    assert_eq!(
        fs::read_to_string(d.path().join("greeter.py")).unwrap(),
        "def hello():\n    return \"hello\"\n",
        "{kind}"
    );
    let log = git(d.path(), &["log", "-1", "--format=%s%n%b", "--name-only"]);
    // The subject says what changed; the instruction is in the body.
    assert!(
        log.starts_with("[engineer] update greeter.py\nTask: add a greeter"),
        "{kind}: {log}"
    );
    assert!(
        log.contains("Tokens: total=366 in=321 out=45"),
        "{kind}: {log}"
    );
    assert!(log.contains("greeter.py"), "{kind}: {log}");

    let events = activity(d.path());
    let started = events
        .iter()
        .find(|e| e["event"] == "process_started")
        .unwrap_or_else(|| panic!("{kind}: no process_started"));
    assert!(started["pid"].as_u64().unwrap() > 0);
    assert!(
        started["command"].as_str().unwrap().contains("<prompt: "),
        "{started}"
    );
    let usage = events
        .iter()
        .find(|e| e["event"] == "usage_recorded")
        .unwrap();
    assert_eq!(usage["usage"]["input_tokens"], 321, "{kind}");
    assert_eq!(usage["usage"]["estimated"], false, "{kind}");
    if kind == "claude" {
        // Claude Code prices its own call; that figure is the cost when none is configured.
        assert_eq!(usage["cost_basis"], "reported", "{usage}");
        assert!(usage["cost_micros"].as_u64().unwrap() > 0, "{usage}");
    }
    let lines: Vec<&str> = events
        .iter()
        .filter(|e| e["event"] == "agent_output" && e["stream"] == "model")
        .map(|e| e["line"].as_str().unwrap())
        .collect();
    assert!(
        lines.join("\n").contains(REPLY.trim_end()),
        "{kind}: {lines:#?}"
    );
    let calls = mock.model_requests();
    let body = &calls.last().unwrap().body;
    assert!(
        body.contains("[clk] agent=engineer stage=none run="),
        "{kind}: the rendered prompt did not reach the model"
    );
}

#[test]
fn claude_ask_applies_and_commits() {
    ask_applies_and_commits("claude");
}

#[test]
fn codex_ask_applies_and_commits() {
    ask_applies_and_commits("codex");
}

#[test]
fn gemini_ask_applies_and_commits() {
    ask_applies_and_commits("gemini");
}

#[test]
fn pi_ask_applies_and_commits() {
    ask_applies_and_commits("pi");
}

/// A fake claude that edits files itself, as `claude --permission-mode acceptEdits` would:
/// one allowed file, then clk's config, a git hook and the user's uncommitted file.
const EDITING_CLAUDE: &str = r#"#!/bin/sh
mkdir -p src
printf 'def hello():\n    return 1\n' > src/greet.py
printf '{"hacked": true}\n' > .clk/config/agents.json
printf '#!/bin/sh\nexit 0\n' > .git/hooks/pre-commit
printf 'overwritten\n' > draft.md
printf '%s\n' '{"type":"system","subtype":"init","model":"fake"}'
printf '%s\n' '{"type":"assistant","message":{"model":"fake","content":[{"type":"tool_use","name":"Write","input":{"file_path":"src/greet.py"}}]}}'
printf '%s\n' '{"type":"result","is_error":false,"result":"I wrote src/greet.py with a hello() function that returns 1, as asked.\nCONFIDENCE: 0.8\nPROGRESS: yes","usage":{"input_tokens":10,"output_tokens":5}}'
"#;

#[test]
fn native_edits_are_committed_or_undone_by_the_rules() {
    use std::os::unix::fs::PermissionsExt;
    let d = project();
    let script = d.path().join(".clk/cache/fake-claude");
    fs::create_dir_all(script.parent().unwrap()).unwrap();
    fs::write(&script, EDITING_CLAUDE).unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    let agents_before = fs::read_to_string(d.path().join(".clk/config/agents.json")).unwrap();
    fs::write(d.path().join("draft.md"), "the user's draft\n").unwrap();
    let s = ProviderSettings {
        kind: "claude".into(),
        command: Some(script.display().to_string()),
        native_tools: true,
        ..Default::default()
    };
    use_provider(d.path(), "claude", &s);
    // providers.json changed by the test itself: commit it so it is not "the user's".
    git(d.path(), &["add", ".clk/config/providers.json"]);
    git(
        d.path(),
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-qm",
            "use claude",
        ],
    );
    // The agent works in its own worktree: the user's untracked draft is not there, so its
    // own draft.md is a new file of the run's, and the merge waits rather than overwrite the
    // user's (before worktrees, the gate skipped the file instead).
    clk(d.path())
        .args(["ask", "engineer", "add a greeter"])
        .assert()
        .success()
        .stdout(predicates::str::contains(
            "commit or stash your changes to draft.md, then run `clk merge`",
        ));

    assert_eq!(
        git(d.path(), &["log", "-1", "--format=%s"]).trim(),
        "use claude"
    );
    let branch = git(
        d.path(),
        &["branch", "--list", "clk/*", "--format=%(refname:short)"],
    );
    let files = git(
        d.path(),
        &["show", "--name-only", "--format=%s", branch.trim()],
    );
    assert!(files.starts_with("[engineer] update "), "{files}");
    let files: Vec<&str> = files.lines().skip(1).filter(|l| !l.is_empty()).collect();
    assert_eq!(files, vec!["draft.md", "src/greet.py"]);
    assert_eq!(
        fs::read_to_string(d.path().join(".clk/config/agents.json")).unwrap(),
        agents_before
    );
    assert!(!d.path().join(".git/hooks/pre-commit").exists());
    assert_eq!(
        fs::read_to_string(d.path().join("draft.md")).unwrap(),
        "the user's draft\n"
    );
    let events = activity(d.path());
    // clk's config and the git hook were never written: the sandbox keeps `.clk/` and `.git`
    // read-only for the CLI, so there is nothing for the rules to reject.
    assert!(
        !events
            .iter()
            .any(|e| e["target"] == ".git/hooks/pre-commit" && e["decision"] == "applied"),
    );
    assert!(events.iter().any(|e| e["event"] == "action"
        && e["target"] == "src/greet.py"
        && e["decision"] == "applied"));
}

#[test]
fn keys_never_reach_clk_files_or_commits() {
    let Some(bin) = bin_dir() else { return };
    let d = project();
    let key = "sk-ant-fake-secret-7d41c9e2b0";
    let env_key = "sk-env-fake-secret-55aa11ee";
    let mock = MockServer::start(
        Script::new(vec![Reply::chunked(REPLY, 7, Some((10, 5)))])
            .api_key(key)
            .models(&["claude-mock-1"]),
    );
    let home = home_dir();
    let mut s = settings("claude", &bin, &mock.url(), key, home.path());
    s.timeout_s = Some(60);
    s.env.insert("MY_SERVICE_TOKEN".into(), env_key.into());
    use_provider(d.path(), "claude", &s);
    clk(d.path())
        .env("OPENAI_API_KEY", "sk-openai-fake-secret-0099")
        .args(["ask", "engineer", "add a greeter"])
        .assert()
        .success();
    assert!(d.path().join("greeter.py").is_file());
    let mut stack = vec![d.path().join(".clk")];
    let mut checked = 0;
    while let Some(dir) = stack.pop() {
        for e in fs::read_dir(&dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            // providers.json is where the user put the key; everything else must not hold it.
            if p.ends_with("providers.json") {
                continue;
            }
            let text = String::from_utf8_lossy(&fs::read(&p).unwrap()).into_owned();
            checked += 1;
            for secret in [key, env_key, "sk-openai-fake-secret-0099"] {
                assert!(!text.contains(secret), "{} holds a key", p.display());
            }
        }
    }
    assert!(checked > 5, "only {checked} files checked");
    let history = git(d.path(), &["log", "-p", "--all"]);
    assert!(history.contains("greeter.py"));
    for secret in [key, env_key] {
        assert!(!history.contains(secret), "a commit holds a key");
    }
}

#[test]
fn an_agent_pinned_to_a_cli_provider_uses_it_and_a_missing_cli_fails_cleanly() {
    use std::os::unix::fs::PermissionsExt;
    let d = project();
    // The active provider stays `shell`; only the engineer is pinned to codex.
    let script = d.path().join(".clk/cache/fake-codex");
    fs::create_dir_all(script.parent().unwrap()).unwrap();
    fs::write(
        &script,
        "#!/bin/sh\nprintf '%s\\n' '{\"type\":\"item.completed\",\"item\":{\"type\":\"agent_message\",\"text\":\"pinned reply\"}}' '{\"type\":\"turn.completed\",\"usage\":{\"input_tokens\":3,\"output_tokens\":2}}'\n",
    )
    .unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    let path = d.path().join(".clk/config/providers.json");
    let mut doc: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    doc["providers"]["codex"] = serde_json::json!({"type": "codex",
        "command": script.display().to_string()});
    doc["providers"]["claude"] = serde_json::json!({"type": "claude",
        "command": "claude-is-not-installed-here"});
    fs::write(&path, doc.to_string()).unwrap();
    let agents = d.path().join(".clk/config/agents.json");
    let mut a: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&agents).unwrap()).unwrap();
    a["agents"]["engineer"]["provider"] = "codex".into();
    a["agents"]["qa"]["provider"] = "claude".into();
    fs::write(&agents, a.to_string()).unwrap();

    clk(d.path())
        .args(["ask", "engineer", "hello"])
        .assert()
        .success()
        .stdout(predicates::str::contains("pinned reply"));
    let started = std::time::Instant::now();
    let out = clk(d.path())
        .args(["ask", "qa", "hello"])
        .assert()
        .failure()
        .get_output()
        .clone();
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        all.contains("claude-is-not-installed-here (providers.claude.command) not found"),
        "{all}"
    );
    let providers = clk(d.path()).arg("providers").assert().success();
    let doc: serde_json::Value = serde_json::from_slice(&providers.get_output().stdout).unwrap();
    assert_eq!(doc["providers"]["codex"]["usable"], true, "{doc}");
    assert_eq!(doc["providers"]["claude"]["usable"], false, "{doc}");
}

/// The CLIs' own retries are off, so retrying is clk's: a 429 is retried by clk (one more
/// model call, a retry event) and a refused key is not retried at all.
#[test]
fn clk_retries_a_rate_limited_cli_and_not_a_refused_key() {
    let Some(bin) = bin_dir() else { return };
    let d = project();
    clk(d.path())
        .args(["configure", "--set", "provider_retry.backoff_ms=50"])
        .assert()
        .success();
    let mock = MockServer::start(
        Script::new(vec![
            Reply::status(
                429,
                r#"{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}"#,
            ),
            Reply::chunked(REPLY, 7, Some((30, 9))),
        ])
        .models(&["claude-mock-1"]),
    );
    let home = home_dir();
    let mut s = settings("claude", &bin, &mock.url(), "sk-test-retry", home.path());
    s.timeout_s = Some(60);
    use_provider(d.path(), "claude", &s);
    clk(d.path())
        .args(["ask", "engineer", "add a greeter"])
        .assert()
        .success();
    assert_eq!(mock.model_calls(), 2, "one 429, then clk's retry");
    assert!(d.path().join("greeter.py").is_file());
    let events = activity(d.path());
    assert_eq!(
        events
            .iter()
            .filter(|e| e["event"] == "provider_retry")
            .count(),
        1
    );

    let refused = MockServer::start(
        Script::new(vec![Reply::text("never")])
            .api_key("sk-the-right-key")
            .models(&["gpt-mock"]),
    );
    let home = home_dir();
    let mut s = settings("codex", &bin, &refused.url(), "sk-a-wrong-key", home.path());
    s.timeout_s = Some(60);
    use_provider(d.path(), "codex", &s);
    clk(d.path())
        .args(["ask", "engineer", "again"])
        .assert()
        .failure();
    assert_eq!(refused.model_calls(), 1, "an auth failure is not retried");
    let finished = activity(d.path())
        .into_iter()
        .rev()
        .find(|e| e["event"] == "dispatch_finished")
        .unwrap();
    assert_eq!(finished["error_kind"], "auth", "{finished}");
}

/// A native-editing CLI whose first reply the quality check turns down (it says it is not
/// sure: confidence 0.1): that attempt's edits
/// are put back before the repair runs, so the repair's own edits are its own (not taken for
/// the user's) and end up in the commit.
#[test]
fn a_repaired_attempt_starts_from_a_clean_tree() {
    use std::os::unix::fs::PermissionsExt;
    let d = project();
    let script = d.path().join(".clk/cache/fake-claude");
    // The counter lives in the CLI's config folder: the one place outside the project the
    // sandbox lets a CLI write (`.clk/` is read-only to it).
    let confdir = tempfile::tempdir().unwrap();
    let count = confdir.path().join("calls");
    fs::create_dir_all(script.parent().unwrap()).unwrap();
    let body = format!(
        r#"#!/bin/sh
n=$(cat {count} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {count}
printf 'attempt %s\n' "$n" > notes.txt
if [ "$n" = 1 ]; then text='I wrote notes.txt, but I am not sure it is right.\nCONFIDENCE: 0.1\nPROGRESS: yes'; else
text='I wrote notes.txt with the attempt number, as asked, and checked it.\nCONFIDENCE: 0.8\nPROGRESS: yes'; fi
printf '{{"type":"result","is_error":false,"result":"%s","usage":{{"input_tokens":1,"output_tokens":1}}}}\n' "$text"
"#,
        count = count.display()
    );
    fs::write(&script, body).unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    let s = ProviderSettings {
        kind: "claude".into(),
        command: Some(script.display().to_string()),
        native_tools: true,
        ..Default::default()
    };
    use_provider(d.path(), "claude", &s);
    git(d.path(), &["add", ".clk/config/providers.json"]);
    git(
        d.path(),
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-qm",
            "use claude",
        ],
    );
    clk(d.path())
        .env("CLAUDE_CONFIG_DIR", confdir.path())
        .args(["ask", "engineer", "write notes"])
        .assert()
        .success();
    assert_eq!(fs::read_to_string(&count).unwrap().trim(), "2");
    let files = git(d.path(), &["show", "--name-only", "--format=%s", "HEAD"]);
    assert!(files.starts_with("[engineer] "), "{files}");
    assert!(files.contains("\nnotes.txt"), "{files}");
    assert_eq!(
        fs::read_to_string(d.path().join("notes.txt")).unwrap(),
        "attempt 2\n"
    );
    assert!(
        !activity(d.path())
            .iter()
            .any(|e| e["event"] == "action" && e["decision"] == "rejected"),
        "the first attempt's edit was taken for the user's"
    );
}
