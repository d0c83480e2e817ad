//! The `clk` binary as a user runs it: init, idea, ask, status, providers, configure, and
//! what happens on bad input (a clear one-line error, exit code 2, nothing lost).

use crate::support;

use std::fs;
use std::path::Path;
use std::process::Command as StdCommand;

use assert_cmd::Command;
use predicates::prelude::*;

fn clk(dir: &Path) -> Command {
    let mut c = support::clk();
    c.current_dir(dir).env("CLK_NO_TUI", "1");
    c
}

fn init(dir: &Path) {
    clk(dir).arg("init").assert().success();
}

fn git_log(dir: &Path) -> String {
    let out = StdCommand::new("git")
        .args(["log", "--format=%an|%s"])
        .current_dir(dir)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn init_creates_the_layout_and_is_harmless_twice() {
    let d = tempfile::tempdir().unwrap();
    clk(d.path())
        .args(["init", "--name", "demo"])
        .assert()
        .success()
        .stdout(predicate::str::contains("clk is set up"));
    for sub in [
        "config/workflows",
        "prompts",
        "state",
        "logs",
        "runs",
        "backups",
        "blackboard",
    ] {
        assert!(d.path().join(".clk").join(sub).is_dir(), "{sub}");
    }
    let cfg: serde_json::Value = serde_json::from_str(
        &fs::read_to_string(d.path().join(".clk/config/clk.config.json")).unwrap(),
    )
    .unwrap();
    // Only the project's own: the defaults (and the user's settings) apply to the rest.
    assert_eq!(cfg, serde_json::json!({"project_name": "demo"}));
    let out = clk(d.path())
        .args(["configure", "--show"])
        .output()
        .unwrap();
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["config"]["validation"]["max_files_per_batch"], 25);
    assert!(d.path().join(".clk/prompts/engineer.md").is_file());
    assert!(
        d.path()
            .join(".clk/config/workflows/engineering.yaml")
            .is_file()
    );
    assert!(git_log(d.path()).contains("[clk-init]"));
    // A user's edit to a prompt survives a second init.
    fs::write(d.path().join(".clk/prompts/qa.md"), "my qa prompt\n").unwrap();
    clk(d.path()).arg("init").assert().success();
    assert_eq!(
        fs::read_to_string(d.path().join(".clk/prompts/qa.md")).unwrap(),
        "my qa prompt\n"
    );
    assert_eq!(git_log(d.path()).lines().count(), 1);
}

#[test]
fn commands_outside_a_project_say_to_run_init() {
    let d = tempfile::tempdir().unwrap();
    for args in [
        vec!["idea", "x"],
        vec!["status"],
        vec!["providers"],
        vec!["configure"],
    ] {
        clk(d.path())
            .args(&args)
            .assert()
            .code(2)
            .stderr(predicate::str::contains("run `clk init` first"));
    }
}

#[test]
fn idea_is_recorded_and_committed() {
    let d = tempfile::tempdir().unwrap();
    init(d.path());
    clk(d.path())
        .args([
            "idea",
            "A local-first journaling app. It syncs later.",
            "--tag",
            "mvp",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("A local-first journaling app"));
    let idea: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(d.path().join(".clk/state/idea.json")).unwrap())
            .unwrap();
    assert_eq!(idea["title"], "A local-first journaling app");
    assert_eq!(idea["tags"][0], "mvp");
    assert!(git_log(d.path()).contains("clk-idea (clk)|[clk-idea] Capture idea"));
    clk(d.path())
        .arg("status")
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "Idea      A local-first journaling app",
        ))
        .stdout(predicate::str::contains("Provider  shell"));
}

#[test]
fn configure_sets_nested_keys_and_refuses_bad_ones_without_writing() {
    let d = tempfile::tempdir().unwrap();
    init(d.path());
    let cfg_path = d.path().join(".clk/config/clk.config.json");
    clk(d.path())
        .args([
            "configure",
            "--set",
            "supervise.max_cycles=5",
            "--set",
            "auto_commit=false",
        ])
        .assert()
        .success();
    let cfg: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&cfg_path).unwrap()).unwrap();
    assert_eq!(cfg["supervise"]["max_cycles"], 5);
    // The block's other keys keep their values.
    let out = clk(d.path())
        .args(["configure", "--show"])
        .output()
        .unwrap();
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["config"]["supervise"]["stall_rescue"], true);
    assert_eq!(shown["config"]["supervise"]["max_cycles"], 5);
    assert_eq!(cfg["auto_commit"], false);
    let before = fs::read_to_string(&cfg_path).unwrap();
    let prov_before = fs::read_to_string(d.path().join(".clk/config/providers.json")).unwrap();
    for (arg, needle) in [
        ("bogus.key=1", "unknown setting"),
        ("supervise.max_cycles=many", "whole number"),
        ("provider_timeout_s=0", "at least 1"),
        ("default_provider=nope", "unknown provider"),
        ("providers.ollama.colour=red", "unknown provider field"),
        ("no-equals-sign", "KEY=VALUE"),
    ] {
        clk(d.path())
            .args(["configure", "--set", arg])
            .assert()
            .code(2)
            .stderr(predicate::str::contains(needle));
    }
    assert_eq!(fs::read_to_string(&cfg_path).unwrap(), before);
    assert_eq!(
        fs::read_to_string(d.path().join(".clk/config/providers.json")).unwrap(),
        prov_before
    );
    clk(d.path())
        .args([
            "configure",
            "--set",
            "default_provider=ollama",
            "--set",
            "providers.ollama.model=qwen3",
        ])
        .assert()
        .success();
    let prov: serde_json::Value = serde_json::from_str(
        &fs::read_to_string(d.path().join(".clk/config/providers.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(prov["active"], "ollama");
    assert_eq!(prov["providers"]["ollama"]["model"], "qwen3");
    clk(d.path())
        .args(["configure", "--show"])
        .assert()
        .success()
        .stdout(predicate::str::contains("\"max_cycles\": 5"));
}

#[test]
fn broken_config_is_reported_and_left_alone() {
    let d = tempfile::tempdir().unwrap();
    init(d.path());
    let cfg_path = d.path().join(".clk/config/clk.config.json");
    fs::write(&cfg_path, "{ not json").unwrap();
    clk(d.path())
        .arg("status")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not valid JSON"))
        .stderr(predicate::str::contains(".bak"));
    assert_eq!(fs::read_to_string(&cfg_path).unwrap(), "{ not json");
}

#[test]
fn unknown_provider_from_env_is_a_clear_error() {
    let d = tempfile::tempdir().unwrap();
    init(d.path());
    clk(d.path())
        .env("CLK_PROVIDER", "gpt-9000")
        .arg("status")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unknown provider \"gpt-9000\""));
}

#[test]
fn init_where_it_cannot_write_fails_clearly() {
    let d = tempfile::tempdir().unwrap();
    // A file where the .clk folder must go: nothing can be created below it.
    fs::write(d.path().join(".clk"), "in the way").unwrap();
    clk(d.path())
        .arg("init")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot write"));
    assert_eq!(
        fs::read_to_string(d.path().join(".clk")).unwrap(),
        "in the way"
    );
}

#[test]
fn bad_arguments_exit_2() {
    let d = tempfile::tempdir().unwrap();
    clk(d.path()).arg("--frobnicate").assert().code(2);
    clk(d.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--help"));
}

#[test]
fn providers_reports_availability_quickly() {
    let d = tempfile::tempdir().unwrap();
    init(d.path());
    // An endpoint that never answers: the kernel completes the connection, nobody replies.
    // (A closed port is refused at once and could not show a slow check.)
    let silent = support::blackhole::Silent::start();
    let started = std::time::Instant::now();
    let out = clk(d.path())
        .env("CLK_OLLAMA_ENDPOINT", silent.url())
        .arg("providers")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert!(started.elapsed() < std::time::Duration::from_millis(1500));
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["active"], "shell");
    assert_eq!(v["available"]["shell"], true);
    assert_eq!(v["available"]["ollama"], false);
    let reason = v["providers"]["ollama"]["reason"].as_str().unwrap();
    assert!(reason.contains("no answer"), "{reason}");
}

#[test]
fn doctor_reports_a_broken_config_and_repairs_nothing_without_a_terminal() {
    let d = tempfile::tempdir().unwrap();
    init(d.path());
    let cfg = d.path().join(".clk/config/clk.config.json");
    fs::write(&cfg, "{broken").unwrap();
    let out = clk(d.path())
        .args(["doctor", "--fix"])
        .write_stdin("")
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let out = String::from_utf8(out).unwrap();
    let fail = out.find("fail ").expect("a fail line");
    let skipped = out
        .find("skipped: Replace")
        .expect("the repair was offered");
    assert!(fail < skipped, "findings come before the repairs:\n{out}");
    assert_eq!(
        fs::read_to_string(&cfg).unwrap(),
        "{broken",
        "nothing repaired"
    );
    // Without --fix it says how to repair, in command-line words.
    clk(d.path())
        .arg("doctor")
        .assert()
        .code(1)
        .stdout(predicate::str::contains("clk doctor --fix offers"));
}
