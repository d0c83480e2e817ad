//! User-level settings (issue 15, item 1): `config.json` and `providers.json` in the user's
//! clk folder are defaults for every project; the project's files override them key by key;
//! `CLK_*` variables override both; `clk configure --show` says where each value came from.

use std::fs;
use std::path::Path;

use serde_json::Value;

use crate::support::clk;

fn show(dir: &Path, xdg: &Path, env: &[(&str, &str)]) -> Value {
    let mut c = clk();
    c.current_dir(dir)
        .env("XDG_CONFIG_HOME", xdg)
        .args(["configure", "--show"]);
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().unwrap();
    assert!(out.status.success(), "{out:?}");
    serde_json::from_slice(&out.stdout).unwrap()
}

fn configure(dir: &Path, xdg: &Path, args: &[&str]) -> std::process::Output {
    clk()
        .current_dir(dir)
        .env("XDG_CONFIG_HOME", xdg)
        .arg("configure")
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn user_settings_apply_to_every_project_under_the_projects_own_and_the_environment() {
    let top = tempfile::tempdir().unwrap();
    let xdg = top.path().join("xdg");
    let outside = top.path().join("elsewhere");
    fs::create_dir_all(&outside).unwrap();
    // Set outside any project: the user's own file.
    let out = configure(
        &outside,
        &xdg,
        &[
            "--user",
            "--set",
            "supervise.max_cycles=7",
            "--set",
            "default_provider=ollama",
        ],
    );
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("for every project"));
    let mine: Value =
        serde_json::from_str(&fs::read_to_string(xdg.join("clk/config.json")).unwrap()).unwrap();
    assert_eq!(mine["supervise"]["max_cycles"], 7);

    for name in ["a", "b"] {
        let dir = top.path().join(name);
        fs::create_dir_all(&dir).unwrap();
        clk().current_dir(&dir).arg("init").assert().success();
        let v = show(&dir, &xdg, &[]);
        assert_eq!(v["config"]["supervise"]["max_cycles"], 7, "{name}");
        assert_eq!(v["sources"]["config"]["supervise.max_cycles"], "user");
        assert_eq!(v["providers"]["active"], "ollama");
        assert_eq!(v["sources"]["providers"]["active"], "user");
        assert_eq!(v["sources"]["config"]["project_name"], "project");
        assert_eq!(v["sources"]["config"]["ui.theme"], "default");
    }

    // The project's own value wins over the user's; the environment over both.
    let a = top.path().join("a");
    assert!(
        configure(&a, &xdg, &["--set", "supervise.max_cycles=3"])
            .status
            .success()
    );
    let v = show(&a, &xdg, &[]);
    assert_eq!(v["config"]["supervise"]["max_cycles"], 3);
    assert_eq!(v["sources"]["config"]["supervise.max_cycles"], "project");
    let v = show(&a, &xdg, &[("CLK_SUPERVISE_MAX_CYCLES", "9")]);
    assert_eq!(v["config"]["supervise"]["max_cycles"], 9);
    assert_eq!(v["sources"]["config"]["supervise.max_cycles"], "env");
    // The other project still has the user's.
    let v = show(&top.path().join("b"), &xdg, &[]);
    assert_eq!(v["config"]["supervise"]["max_cycles"], 7);
}

#[test]
fn a_key_in_the_users_providers_file_is_private_and_never_shown() {
    let top = tempfile::tempdir().unwrap();
    let xdg = top.path().join("xdg");
    let key = "sk-user-level-secret-0123456789abcdef";
    let out = configure(
        top.path(),
        &xdg,
        &[
            "--user",
            "--set",
            &format!("providers.openwebui.api_key={key}"),
        ],
    );
    assert!(out.status.success(), "{out:?}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains(key));
    let file = xdg.join("clk/providers.json");
    assert!(fs::read_to_string(&file).unwrap().contains(key));
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "providers.json holds keys: owner only");

    let dir = top.path().join("p");
    fs::create_dir_all(&dir).unwrap();
    clk().current_dir(&dir).arg("init").assert().success();
    let out = configure(&dir, &xdg, &["--show"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && !text.contains(key), "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        v["sources"]["providers"]["providers.openwebui.api_key"],
        "user"
    );
    let mode = fs::metadata(dir.join(".clk/config/providers.json"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(
        mode, 0o600,
        "the project's providers.json may hold keys too"
    );
}

#[test]
fn a_broken_user_file_is_named_in_one_line_and_nothing_is_written() {
    let top = tempfile::tempdir().unwrap();
    let xdg = top.path().join("xdg");
    fs::create_dir_all(xdg.join("clk")).unwrap();
    fs::write(
        xdg.join("clk/config.json"),
        "{\"supervise\": {\"max_cycles\": \"many\"}}",
    )
    .unwrap();
    let dir = top.path().join("p");
    fs::create_dir_all(&dir).unwrap();
    clk().current_dir(&dir).arg("init").assert().success();
    let before = fs::read(dir.join(".clk/config/clk.config.json")).unwrap();
    let out = configure(&dir, &xdg, &["--show"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        err.contains("clk/config.json") && err.contains("max_cycles"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let out = configure(&dir, &xdg, &["--set", "supervise.max_cycles=4"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert_eq!(
        fs::read(dir.join(".clk/config/clk.config.json")).unwrap(),
        before
    );
    // A wrong value set with --user leaves the user's file as it was.
    fs::write(xdg.join("clk/config.json"), "{}").unwrap();
    let out = configure(
        &dir,
        &xdg,
        &["--user", "--set", "supervise.max_cycles=many"],
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert_eq!(
        fs::read_to_string(xdg.join("clk/config.json")).unwrap(),
        "{}"
    );
}
