//! `clk workspaces` (issue 15, item 5): the registry of projects in the user's data folder,
//! through the real binary with XDG_DATA_HOME pointed at a temp folder.

use std::fs;
use std::path::Path;

use serde_json::Value;

use crate::support::clk;

fn run(cwd: &Path, data: &Path, args: &[&str]) -> std::process::Output {
    clk()
        .current_dir(cwd)
        .env("XDG_DATA_HOME", data)
        .env("CLK_NO_TUI", "1")
        .args(args)
        .output()
        .unwrap()
}

fn listed(cwd: &Path, data: &Path) -> Vec<Value> {
    let out = run(cwd, data, &["--json", "workspaces", "list"]);
    assert!(out.status.success(), "{out:?}");
    serde_json::from_slice::<Value>(&out.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

fn names(cwd: &Path, data: &Path) -> Vec<String> {
    let mut n: Vec<String> = listed(cwd, data)
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_string())
        .collect();
    n.sort();
    n
}

fn init(dir: &Path, data: &Path, extra: &[&str]) {
    fs::create_dir_all(dir).unwrap();
    let mut args = vec!["init"];
    args.extend_from_slice(extra);
    let out = run(dir, data, &args);
    assert!(out.status.success(), "{out:?}");
}

/// Make the registry say `name` was last used `days` ago.
fn age(data: &Path, name: &str, days: i64) {
    let file = data.join("clk/workspaces.json");
    let mut v: Value = serde_json::from_str(&fs::read_to_string(&file).unwrap()).unwrap();
    for e in v["workspaces"].as_array_mut().unwrap() {
        if e["name"] == name {
            let when = chrono::Local::now() - chrono::Duration::days(days);
            e["last_used"] = Value::String(when.to_rfc3339());
        }
    }
    fs::write(&file, serde_json::to_string(&v).unwrap()).unwrap();
}

#[test]
fn projects_are_listed_renamed_switched_and_forgotten() {
    let top = tempfile::tempdir().unwrap();
    let data = top.path().join("data");
    init(&top.path().join("a/app"), &data, &[]);
    init(&top.path().join("b/app"), &data, &[]);
    assert_eq!(names(top.path(), &data), ["app", "app-2"]);

    let out = run(top.path(), &data, &["workspaces", "rename", "app", "notes"]);
    assert!(out.status.success(), "{out:?}");
    let out = run(
        top.path(),
        &data,
        &["workspaces", "rename", "app-2", "notes"],
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "a taken name is refused: {out:?}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("taken"));
    let out = run(top.path(), &data, &["workspaces", "rename", "app-2", "a/b"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");

    let out = run(top.path(), &data, &["workspaces", "switch", "notes"]);
    assert!(out.status.success(), "{out:?}");
    let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(Path::new(&path).join(".clk").is_dir(), "{path}");
    assert!(path.ends_with("a/app"), "{path}");

    let out = run(top.path(), &data, &["workspaces", "forget", "app-2"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(names(top.path(), &data), ["notes"]);
    assert!(
        top.path().join("b/app/.clk").is_dir(),
        "forget leaves the files"
    );
    let out = run(top.path(), &data, &["workspaces", "switch", "nope"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");

    // Using a project (a command that changes it) refreshes its entry and idea.
    let b = top.path().join("b/app");
    let out = run(&b, &data, &["idea", "--no-cast", "A tiny note app"]);
    assert!(out.status.success(), "{out:?}");
    let all = listed(top.path(), &data);
    assert_eq!(
        all[0]["path"],
        b.canonicalize().unwrap().to_string_lossy().as_ref()
    );
    assert!(
        all[0]["idea"].as_str().is_some_and(|i| !i.is_empty()),
        "{all:?}"
    );
}

#[test]
fn clean_deletes_only_old_unchanged_kickoff_workspaces_after_asking() {
    let top = tempfile::tempdir().unwrap();
    let data = top.path().join("data");
    init(
        &top.path().join("old"),
        &data,
        &["--kickoff", "--name", "old"],
    );
    init(
        &top.path().join("dirty"),
        &data,
        &["--kickoff", "--name", "dirty"],
    );
    init(
        &top.path().join("fresh"),
        &data,
        &["--kickoff", "--name", "fresh"],
    );
    init(&top.path().join("mine"), &data, &["--name", "mine"]);
    init(&top.path().join("lost"), &data, &["--name", "lost"]);
    for n in ["old", "dirty", "mine"] {
        age(&data, n, 40);
    }
    fs::write(top.path().join("dirty/work.txt"), "not committed\n").unwrap();
    fs::remove_dir_all(top.path().join("lost")).unwrap();

    // No terminal and no --yes: refused, nothing deleted.
    let out = run(top.path(), &data, &["workspaces", "clean", "--days", "30"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--yes"));
    assert!(top.path().join("old/.clk").is_dir());

    let out = run(
        top.path(),
        &data,
        &["workspaces", "clean", "--days", "30", "--yes"],
    );
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("kept dirty") && text.contains("uncommitted"),
        "{text}"
    );
    assert!(
        !top.path().join("old").exists(),
        "old kickoff workspace deleted"
    );
    for kept in ["dirty/work.txt", "fresh/.clk", "mine/.clk"] {
        assert!(top.path().join(kept).exists(), "{kept} kept");
    }
    assert_eq!(names(top.path(), &data), ["dirty", "fresh", "mine"]);
}

/// `kickoff.sh --list`, `--restore NAME` and `--clean [DAYS] [--yes]` go through the same
/// registry (the script run with `CLK_KICKOFF_BIN`, so it builds nothing).
#[test]
fn kickoff_lists_restores_and_cleans_workspaces() {
    let top = tempfile::tempdir().unwrap();
    let data = top.path().join("data");
    let kickoff = |args: &[&str]| {
        std::process::Command::new("bash")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/kickoff.sh"))
            .args(args)
            .current_dir(top.path())
            .env("CLK_KICKOFF_BIN", env!("CARGO_BIN_EXE_clk"))
            .env("XDG_DATA_HOME", &data)
            .env("XDG_CONFIG_HOME", top.path().join("config"))
            .env_remove("CLK_PROVIDER")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    };
    init(
        &top.path().join("old"),
        &data,
        &["--kickoff", "--name", "old"],
    );
    init(
        &top.path().join("fresh"),
        &data,
        &["--kickoff", "--name", "fresh"],
    );
    age(&data, "old", 40);

    let out = kickoff(&["--list"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    for name in ["old", "fresh"] {
        assert!(
            text.lines()
                .any(|l| l.starts_with(name) && l.ends_with("(kickoff)")),
            "{text}"
        );
    }

    let out = kickoff(&["--restore", "fresh"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    let fresh = top.path().join("fresh").canonicalize().unwrap();
    assert!(
        text.contains(&format!("Project: {}", fresh.display())),
        "{text}"
    );
    let out = kickoff(&["--restore", "nope"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("no workspace \"nope\""));

    // Without a terminal it needs --yes; "30d" reads as 30 days; a bad count is refused.
    let out = kickoff(&["--clean", "30d"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--yes"));
    assert!(top.path().join("old/.clk").is_dir());
    let out = kickoff(&["--clean", "soon"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("usage: ./kickoff.sh --clean"));
    let out = kickoff(&["--clean", "30d", "--yes"]);
    assert!(out.status.success(), "{out:?}");
    assert!(!top.path().join("old").exists(), "the old one is deleted");
    assert!(
        top.path().join("fresh/.clk").is_dir(),
        "the fresh one stays"
    );
    assert_eq!(names(top.path(), &data), ["fresh"]);
}
