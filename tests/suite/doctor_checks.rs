//! `clk doctor`'s checks of what surrounds a project, through the real binary: the user's
//! settings, the pre-push hook (installed by `--fix` answered on a terminal), git remotes that
//! answer or not, and disk room for worktrees.

use std::fs;
use std::path::Path;
use std::process::Command as StdCommand;

use assert_cmd::Command;

use crate::support;

fn clk(dir: &Path) -> Command {
    let mut c = support::clk();
    c.current_dir(dir).env("CLK_NO_TUI", "1");
    c
}

fn doctor(dir: &Path) -> String {
    let out = clk(dir).arg("doctor").output().unwrap();
    String::from_utf8(out.stdout).unwrap()
}

fn git(dir: &Path, args: &[&str]) {
    let ok = StdCommand::new("git")
        .args(args)
        .current_dir(dir)
        .status()
        .unwrap()
        .success();
    assert!(ok, "git {args:?}");
}

/// `clk doctor --fix` on a terminal (`script` gives it one), its first question answered "y";
/// what it printed.
fn fix_on_a_terminal(dir: &Path, config: &Path, data: &Path) -> String {
    let bin = env!("CARGO_BIN_EXE_clk");
    let mut cmd = StdCommand::new("script");
    cmd.args(["-qec", &format!("'{bin}' doctor --fix"), "/dev/null"])
        .current_dir(dir)
        .env("CLK_NO_TUI", "1")
        .env("XDG_CONFIG_HOME", config)
        .env("XDG_DATA_HOME", data)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped());
    let mut run = cmd.spawn().unwrap();
    {
        use std::io::Write;
        run.stdin.take().unwrap().write_all(b"y\n").unwrap();
    }
    let done = run.wait_with_output().unwrap();
    String::from_utf8_lossy(&done.stdout).into_owned()
}

fn line<'a>(out: &'a str, needle: &str) -> &'a str {
    out.lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?} in:\n{out}"))
}

#[test]
fn a_missing_hook_is_installed_by_fix_answered_yes_on_a_terminal() {
    let d = tempfile::tempdir().unwrap();
    clk(d.path()).arg("init").assert().success();
    let hook = d.path().join(".git/hooks/pre-push");
    assert!(hook.exists(), "init installs the hook");
    assert!(line(&doctor(d.path()), "pre-push").starts_with("ok "));

    fs::remove_file(&hook).unwrap();
    let out = doctor(d.path());
    assert!(
        line(&out, "pre-push secret scan is not installed").starts_with("warn"),
        "{out}"
    );
    assert!(out.contains("clk doctor --fix offers"), "{out}");

    // `script` gives doctor a terminal; "y" answers its one question.
    let xdg = (d.path().join("xdg-config"), d.path().join("xdg-data"));
    let text = fix_on_a_terminal(d.path(), &xdg.0, &xdg.1);
    assert!(
        text.contains("Install clk's pre-push hook"),
        "the repair is asked first:\n{text}"
    );
    assert!(
        text.contains("fixed: installed the pre-push hook"),
        "{text}"
    );
    let script = fs::read_to_string(&hook).unwrap();
    assert!(script.contains("scan-secrets --pre-push"), "{script}");
    assert!(line(&doctor(d.path()), "pre-push").starts_with("ok "));
}

#[test]
fn a_hook_of_the_users_own_warns_and_is_left_alone() {
    let d = tempfile::tempdir().unwrap();
    clk(d.path()).arg("init").assert().success();
    let hook = d.path().join(".git/hooks/pre-push");
    fs::write(&hook, "#!/bin/sh\necho mine\n").unwrap();
    let out = doctor(d.path());
    let l = line(&out, "hook of your own");
    assert!(l.starts_with("warn"), "{l}");
    assert!(!out.contains("Install clk's pre-push hook"), "{out}");
    // --fix without a terminal repairs nothing, and never this.
    clk(d.path())
        .args(["doctor", "--fix"])
        .write_stdin("y\n")
        .assert()
        .success();
    assert_eq!(fs::read_to_string(&hook).unwrap(), "#!/bin/sh\necho mine\n");
}

#[test]
fn remotes_that_answer_are_ok_and_the_others_warn_without_their_credentials() {
    let d = tempfile::tempdir().unwrap();
    let bare = tempfile::tempdir().unwrap();
    git(bare.path(), &["init", "-q", "--bare"]);
    clk(d.path()).arg("init").assert().success();
    git(
        d.path(),
        &["remote", "add", "origin", bare.path().to_str().unwrap()],
    );
    let gone = d.path().join("no-such-remote.git");
    git(d.path(), &["remote", "add", "gone", gone.to_str().unwrap()]);
    git(
        d.path(),
        &[
            "remote",
            "add",
            "tokened",
            "https://me:tok_Zq81xx@127.0.0.1:9/x.git",
        ],
    );
    let out = clk(d.path())
        .arg("doctor")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let out = String::from_utf8(out).unwrap();
    assert!(line(&out, "remote origin").starts_with("ok "), "{out}");
    assert!(line(&out, "remote origin").contains("answers"), "{out}");
    let l = line(&out, "remote gone");
    assert!(l.starts_with("warn") && l.contains("did not answer"), "{l}");
    assert!(line(&out, "remote tokened").starts_with("warn"), "{out}");
    assert!(!out.contains("tok_Zq81xx"), "a credential leaked:\n{out}");
}

#[test]
fn user_settings_are_located_and_a_broken_one_fails_with_its_path() {
    let d = tempfile::tempdir().unwrap();
    let xdg = tempfile::tempdir().unwrap();
    clk(d.path()).arg("init").assert().success();
    let user = xdg.path().join("clk");
    fs::create_dir_all(&user).unwrap();
    fs::write(user.join("providers.json"), "{\"active\": \"shell\"}").unwrap();
    let run = |dir: &Path| {
        let out = clk(dir)
            .arg("doctor")
            .env("XDG_CONFIG_HOME", xdg.path())
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8(out.stdout).unwrap())
    };
    let (code, out) = run(d.path());
    assert_eq!(code, Some(0), "{out}");
    let l = line(&out, "user settings in");
    assert!(
        l.starts_with("ok ") && l.contains("providers.json parse"),
        "{l}"
    );
    assert!(l.contains(&user.display().to_string()), "{l}");

    fs::write(user.join("config.json"), "[1, 2]").unwrap();
    let (code, out) = run(d.path());
    assert_eq!(code, Some(1), "a broken user file fails doctor:\n{out}");
    let l = line(&out, "user settings:");
    assert!(l.starts_with("fail"), "{l}");
    assert!(
        l.contains(&user.join("config.json").display().to_string()),
        "{l}"
    );

    // --fix on a terminal offers to move it aside; answered yes, doctor passes again.
    let text = fix_on_a_terminal(d.path(), xdg.path(), &xdg.path().join("data"));
    assert!(text.contains("aside as .broken"), "asked first:\n{text}");
    assert!(text.contains("fixed: moved"), "{text}");
    assert_eq!(
        fs::read_to_string(user.join("config.json.broken")).unwrap(),
        "[1, 2]"
    );
    assert!(!user.join("config.json").exists());
    let (code, out) = run(d.path());
    assert_eq!(code, Some(0), "{out}");
    assert!(line(&out, "user settings in").starts_with("ok "), "{out}");
}

#[test]
fn disk_room_for_worktrees_is_reported() {
    let d = tempfile::tempdir().unwrap();
    clk(d.path()).arg("init").assert().success();
    let out = doctor(d.path());
    let l = line(&out, "(the work tree is under 1 MiB)");
    assert!(l.starts_with("ok ") || l.starts_with("warn"), "{l}");
}
