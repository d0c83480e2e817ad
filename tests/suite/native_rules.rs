//! The rest of clk's rules for native tools, with the four real agent CLIs: files holding a
//! key, the user's uncommitted work, and the batch cap. Each CLI is driven through `clk ask`
//! against the mock server scripted with its own tool calls, inside clk's sandbox: a file
//! holding the provider's key or a token-shaped string is undone and reported as rejected
//! (and never reaches a commit), a write into the user's checkout leaves their uncommitted
//! file as it was and is reported, and a turn that changes more files than
//! `validation.max_files_per_batch` has all of them undone and reported; a command with
//! several parts that ran, though the sandbox refused one, is the agent's commit with that
//! part reported.
//!
//! Missing CLIs skip the tests, or fail them under `CLK_REQUIRE_CLIS=1`.

use crate::support;

use std::fs;
use std::path::Path;

use super::native_clis::{
    DONE, GREETER, MODELS, activity, ask, clk, commit_config, commit_path, failed_error,
    native_project, rejected_with, shell_call, write_call,
};
use support::clis::bin_dir;
use support::loop_agents::git_out as git;
use support::mock_server::{MockServer, Reply, Script};

/// A token-shaped string clk was never told about (a GitHub token's shape).
const TOKEN: &str = "ghp_abcdefghijklmnopqrstuvwxyz0123456789";
/// The key the test's provider settings carry (see `native_project`).
const PROVIDER_KEY: &str = "sk-test-native-18";

/// `clk ask` succeeds after the program posted `calls` tool results: its stdout, the results.
fn ask_ok(kind: &str, dir: &Path, mock: &MockServer, calls: usize) -> (String, Vec<String>) {
    let (ok, stdout) = ask(dir);
    assert!(ok, "{kind}: {stdout}");
    let results = mock.last_tool_results();
    assert_eq!(results.len(), calls, "{kind}: {results:#?}\n{stdout}");
    (stdout, results)
}

fn keys_and_user_files(kind: &str) {
    let Some(bin) = bin_dir() else { return };
    let mock = MockServer::start(Script::new(vec![]).models(MODELS));
    let (d, _home) = native_project(kind, &bin, &mock);
    // The user's own work: a tracked file with uncommitted changes in their checkout.
    fs::write(d.path().join("notes.md"), "v1\n").unwrap();
    commit_path(d.path(), "notes.md");
    fs::write(d.path().join("notes.md"), "the user's draft\n").unwrap();
    let users = d.path().join("notes.md");
    // The test's own commits hold the provider's key in providers.json; only later ones count.
    let before = git(d.path(), &["rev-parse", "HEAD"]);
    mock.push(Reply::tools(vec![
        write_call(kind, "greeter.py", GREETER),
        write_call(kind, "deploy.cfg", &format!("api_key = {PROVIDER_KEY}\n")),
        write_call(kind, "token.txt", &format!("token = {TOKEN}\n")),
        shell_call(kind, &format!("echo overwritten > {}", users.display())),
    ]));
    mock.push(Reply::text(DONE));

    let (stdout, results) = ask_ok(kind, d.path(), &mock, 4);

    // Only the greeter is the agent's commit; the files with keys are gone everywhere.
    let files = git(d.path(), &["show", "--name-only", "--format=%s", "HEAD"]);
    let files: Vec<&str> = files.lines().filter(|l| !l.is_empty()).collect();
    assert!(
        files[0].starts_with("[engineer] "),
        "{kind}: {files:?}\n{stdout}"
    );
    assert_eq!(files[1..], ["greeter.py"], "{kind}: {stdout}");
    for f in ["deploy.cfg", "token.txt"] {
        assert!(
            !d.path().join(f).exists(),
            "{kind}: {f} reached the checkout"
        );
    }
    let since = format!("^{}", before.trim());
    let history = git(d.path(), &["log", "-p", "--all", &since]);
    assert!(history.contains("greeter.py"), "{kind}");
    for secret in [PROVIDER_KEY, TOKEN] {
        assert!(!history.contains(secret), "{kind}: a commit holds {secret}");
    }

    // The user's uncommitted file is as they left it.
    assert_eq!(
        fs::read_to_string(&users).unwrap(),
        "the user's draft\n",
        "{kind}: {results:#?}"
    );

    let events = activity(d.path());
    for f in ["deploy.cfg", "token.txt"] {
        let rejected = rejected_with(&events, "native_change", f);
        assert_eq!(rejected.len(), 1, "{kind}: {f}: {events:#?}");
        let reason = rejected[0]["reason"].as_str().unwrap();
        assert!(reason.contains("holds a key"), "{kind}: {reason}");
        assert!(
            !reason.contains(PROVIDER_KEY) && !reason.contains(TOKEN),
            "{kind}: the reason shows the key: {reason}"
        );
    }
    // The write into the user's checkout was refused by the sandbox, and said so.
    let refused = rejected_with(&events, "tool", "notes.md");
    assert!(!refused.is_empty(), "{kind}: {results:#?}\n{stdout}");
    assert!(
        stdout.contains("the CLI was not allowed to: "),
        "{kind}: {stdout}"
    );
    // No line of clk's holds either key.
    let log = fs::read_to_string(d.path().join(".clk/logs/activity.jsonl")).unwrap();
    for secret in [PROVIDER_KEY, TOKEN] {
        assert!(!log.contains(secret), "{kind}: the log holds {secret}");
        assert!(
            !stdout.contains(secret),
            "{kind}: the output holds {secret}"
        );
    }
}

fn over_the_cap(kind: &str) {
    let Some(bin) = bin_dir() else { return };
    let mock = MockServer::start(Script::new(vec![]).models(MODELS));
    let (d, _home) = native_project(kind, &bin, &mock);
    clk(d.path())
        .args(["configure", "--set", "validation.max_files_per_batch=2"])
        .assert()
        .success();
    commit_config(d.path(), "clk.config.json");
    let before = git(d.path(), &["rev-parse", "HEAD"]);
    mock.push(Reply::tools(vec![
        write_call(kind, "a.txt", "a\n"),
        write_call(kind, "b.txt", "b\n"),
        write_call(kind, "c.txt", "c\n"),
    ]));
    mock.push(Reply::text(DONE));

    let (_, stdout) = ask(d.path());
    assert_eq!(mock.last_tool_results().len(), 3, "{kind}: {stdout}");
    assert_eq!(
        git(d.path(), &["rev-parse", "HEAD"]),
        before,
        "{kind}: {stdout}"
    );
    let branches = git(d.path(), &["log", "--all", "--name-only", "--format="]);
    let events = activity(d.path());
    for f in ["a.txt", "b.txt", "c.txt"] {
        assert!(!d.path().join(f).exists(), "{kind}: {f} stayed");
        assert!(
            !branches.lines().any(|l| l == f),
            "{kind}: {f} was committed"
        );
        let rejected = rejected_with(&events, "native_change", f);
        assert_eq!(rejected.len(), 1, "{kind}: {f}\n{stdout}");
        assert!(
            rejected[0]["reason"]
                .as_str()
                .unwrap()
                .contains("over the limit of 2 files"),
            "{kind}: {:?}",
            rejected[0]
        );
    }
    assert!(
        stdout.contains("validation.max_files_per_batch"),
        "{kind}: the cap is not named: {stdout}"
    );
}

/// A command with several parts that ran to its end (exit code 0) though the sandbox refused
/// one part: what ran is the agent's commit, and the refused part is reported all the same.
fn a_refused_part_is_reported(kind: &str) {
    let Some(bin) = bin_dir() else { return };
    let mock = MockServer::start(Script::new(vec![]).models(MODELS));
    let (d, _home) = native_project(kind, &bin, &mock);
    mock.push(Reply::tools(vec![
        write_call(kind, "greeter.py", GREETER),
        shell_call(kind, "echo x > .clk/config/extra.json; echo fine > ok.txt"),
    ]));
    mock.push(Reply::text(DONE));

    let (stdout, results) = ask_ok(kind, d.path(), &mock, 2);
    let files = git(d.path(), &["show", "--name-only", "--format=", "HEAD"]);
    assert_eq!(
        files.lines().collect::<Vec<_>>(),
        ["greeter.py", "ok.txt"],
        "{kind}: {stdout}"
    );
    assert!(!d.path().join(".clk/config/extra.json").exists(), "{kind}");
    let events = activity(d.path());
    let refused = rejected_with(&events, "tool", "extra.json");
    assert_eq!(refused.len(), 1, "{kind}: {results:#?}\n{stdout}");
    assert!(
        refused[0]["reason"]
            .as_str()
            .unwrap()
            .contains("Read-only file system"),
        "{kind}: {:?}",
        refused[0]
    );
    assert!(
        stdout.contains("the CLI was not allowed to: "),
        "{kind}: {stdout}"
    );
}

#[test]
fn claude_reports_a_refused_part_of_a_command_that_ran() {
    a_refused_part_is_reported("claude");
}

#[test]
fn codex_reports_a_refused_part_of_a_command_that_ran() {
    a_refused_part_is_reported("codex");
}

#[test]
fn gemini_reports_a_refused_part_of_a_command_that_ran() {
    a_refused_part_is_reported("gemini");
}

#[test]
fn pi_reports_a_refused_part_of_a_command_that_ran() {
    a_refused_part_is_reported("pi");
}

#[test]
fn claude_keys_and_the_users_files_are_kept_out() {
    keys_and_user_files("claude");
}

#[test]
fn codex_keys_and_the_users_files_are_kept_out() {
    keys_and_user_files("codex");
}

#[test]
fn gemini_keys_and_the_users_files_are_kept_out() {
    keys_and_user_files("gemini");
}

#[test]
fn pi_keys_and_the_users_files_are_kept_out() {
    keys_and_user_files("pi");
}

#[test]
fn claude_over_the_cap_is_undone() {
    over_the_cap("claude");
}

#[test]
fn codex_over_the_cap_is_undone() {
    over_the_cap("codex");
}

#[test]
fn gemini_over_the_cap_is_undone() {
    over_the_cap("gemini");
}

#[test]
fn pi_over_the_cap_is_undone() {
    over_the_cap("pi");
}

/// pi speaks OpenAI chat completions too: the mock's chat `tool_calls` drive its real tools,
/// a write and a command with several parts, into the agent's commit.
#[test]
fn pi_edits_natively_over_chat_completions() {
    let Some(bin) = bin_dir() else { return };
    let mock = MockServer::start(Script::new(vec![]).models(MODELS));
    let (d, home) = native_project("pi", &bin, &mock);
    let models = serde_json::json!({"providers": {"local": {
        "baseUrl": format!("{}/v1", mock.url()), "api": "openai-completions",
        "apiKey": "LOCAL_API_KEY",
        "compat": {"supportsDeveloperRole": false, "supportsReasoningEffort": false},
        "models": [{"id": "test-model"}]}}});
    fs::write(
        home.path().join(".pi/agent/models.json"),
        models.to_string(),
    )
    .unwrap();
    mock.push(Reply::tools(vec![
        write_call("pi", "greeter.py", GREETER),
        shell_call("pi", "mkdir -p notes && echo one > notes/a.txt"),
    ]));
    mock.push(Reply::text(DONE));

    let (ok, stdout) = ask(d.path());
    assert!(ok, "{stdout}");
    let requests = mock.model_requests();
    assert!(
        requests.iter().all(|r| r.path == "/v1/chat/completions"),
        "{:?}",
        requests.iter().map(|r| &r.path).collect::<Vec<_>>()
    );
    assert_eq!(mock.last_tool_results().len(), 2, "{stdout}");
    let files = git(d.path(), &["show", "--name-only", "--format=%s", "HEAD"]);
    let files: Vec<&str> = files.lines().filter(|l| !l.is_empty()).collect();
    assert!(files[0].starts_with("[engineer] "), "{files:?}\n{stdout}");
    assert_eq!(files[1..], ["greeter.py", "notes/a.txt"], "{stdout}");
    assert_eq!(
        fs::read_to_string(d.path().join("greeter.py")).unwrap(),
        GREETER
    );
}

/// A turn whose only call is a shell command the sandbox refused did nothing: it fails with
/// that reason (gemini reports such a command as a success, so its output decides).
fn a_refused_command_alone_fails(kind: &str) {
    let Some(bin) = bin_dir() else { return };
    let mock = MockServer::start(Script::new(vec![]).models(MODELS));
    let (d, _home) = native_project(kind, &bin, &mock);
    mock.push(Reply::tools(vec![shell_call(
        kind,
        "echo x > .clk/config/extra.json",
    )]));
    mock.push(Reply::text(DONE));
    let (_, stdout) = ask(d.path());
    let error = failed_error(d.path(), kind, &stdout);
    assert!(
        error.contains("the CLI was not allowed to: ") && error.contains("Read-only file system"),
        "{kind}: {error}"
    );
}

#[test]
fn claude_fails_when_its_only_command_was_refused() {
    a_refused_command_alone_fails("claude");
}

#[test]
fn codex_fails_when_its_only_command_was_refused() {
    a_refused_command_alone_fails("codex");
}

#[test]
fn gemini_fails_when_its_only_command_was_refused() {
    a_refused_command_alone_fails("gemini");
}

#[test]
fn pi_fails_when_its_only_command_was_refused() {
    a_refused_command_alone_fails("pi");
}
