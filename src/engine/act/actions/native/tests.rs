use std::path::Path;
use std::process::Command;

use super::*;
use crate::engine::ground::events::Event;
use crate::engine::store::bus::Bus;

fn git(root: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(root)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@t")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@t")
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A repository with a committed `app.py`, `.clk/config/agents.json`, and a user's
/// uncommitted edit to `notes.md`.
fn repo() -> (tempfile::TempDir, PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().canonicalize().unwrap();
    git(&root, &["init", "-q", "-b", "main"]);
    std::fs::create_dir_all(root.join(".clk/config")).unwrap();
    std::fs::write(root.join("app.py"), "print(1)\n").unwrap();
    std::fs::write(root.join("notes.md"), "committed\n").unwrap();
    std::fs::write(root.join(".clk/config/agents.json"), "{}\n").unwrap();
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-qm", "start"]);
    std::fs::write(root.join("notes.md"), "the user's draft\n").unwrap();
    (d, root)
}

fn judge(keep: bool) -> Judge<'static> {
    Judge {
        kind: "native_change",
        agent: "engineer",
        run_id: "r1",
        max_files: 25,
        keep,
    }
}

fn actions(bus: &Bus) -> tokio::sync::broadcast::Receiver<Event> {
    bus.subscribe()
}

fn drain(rx: &mut tokio::sync::broadcast::Receiver<Event>) -> Vec<(String, Decision)> {
    let mut v = Vec::new();
    while let Ok(e) = rx.try_recv() {
        if let Event::Action {
            target, decision, ..
        } = e
        {
            v.push((target, decision));
        }
    }
    v
}

#[test]
fn allowed_changes_are_kept_and_forbidden_ones_undone() {
    let (_d, root) = repo();
    let w = Watch::begin(&root).unwrap();
    // What an agent's own tools might do.
    std::fs::write(root.join("app.py"), "print(2)\n").unwrap();
    std::fs::create_dir_all(root.join("src")).unwrap();
    std::fs::write(root.join("src/new.py"), "x = 1\n").unwrap();
    std::fs::write(root.join(".clk/config/agents.json"), "{\"evil\": 1}\n").unwrap();
    std::fs::write(root.join("notes.md"), "overwritten by the agent\n").unwrap();
    std::fs::write(root.join(".git/hooks/pre-commit"), "#!/bin/sh\nexit 0\n").unwrap();
    std::os::unix::fs::symlink("/etc/passwd", root.join("link")).unwrap();

    let bus = Bus::new(None);
    let mut rx = actions(&bus);
    let out = w.finish(&judge(true), &bus);
    assert_eq!(out.written, vec!["app.py", "src/new.py"]);
    assert!(out.deleted.is_empty());
    assert_eq!(
        std::fs::read_to_string(root.join("app.py")).unwrap(),
        "print(2)\n"
    );
    assert_eq!(
        std::fs::read_to_string(root.join(".clk/config/agents.json")).unwrap(),
        "{}\n"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("notes.md")).unwrap(),
        "the user's draft\n"
    );
    assert!(!root.join(".git/hooks/pre-commit").exists());
    assert!(std::fs::symlink_metadata(root.join("link")).is_err());
    let seen = drain(&mut rx);
    for (target, want) in [
        ("app.py", Decision::Applied),
        ("src/new.py", Decision::Applied),
        (".clk/config/agents.json", Decision::Rejected),
        ("notes.md", Decision::Rejected),
        (".git/hooks/pre-commit", Decision::Rejected),
        ("link", Decision::Rejected),
    ] {
        assert!(
            seen.iter().any(|(t, d)| t == target && *d == want),
            "{target} {want:?} not in {seen:?}"
        );
    }
    assert_eq!(out.refused.len(), 4, "{:?}", out.refused);
}

#[test]
fn a_failed_dispatch_leaves_nothing_behind() {
    let (_d, root) = repo();
    let w = Watch::begin(&root).unwrap();
    std::fs::write(root.join("app.py"), "half done\n").unwrap();
    std::fs::write(root.join("tmp.txt"), "x\n").unwrap();
    std::fs::remove_file(root.join(".clk/config/agents.json")).unwrap();
    let out = w.finish(&judge(false), &Bus::new(None));
    assert!(out.written.is_empty() && out.deleted.is_empty());
    assert_eq!(
        std::fs::read_to_string(root.join("app.py")).unwrap(),
        "print(1)\n"
    );
    assert!(!root.join("tmp.txt").exists());
    assert!(root.join(".clk/config/agents.json").exists());
    assert_eq!(
        std::fs::read_to_string(root.join("notes.md")).unwrap(),
        "the user's draft\n"
    );
}

#[test]
fn an_agents_own_commit_is_undone_and_its_files_judged() {
    let (_d, root) = repo();
    let before = git(&root, &["rev-parse", "HEAD"]);
    let w = Watch::begin(&root).unwrap();
    std::fs::write(root.join("app.py"), "print(3)\n").unwrap();
    git(&root, &["commit", "-qam", "agent commit"]);
    let bus = Bus::new(None);
    let mut rx = actions(&bus);
    let out = w.finish(&judge(true), &bus);
    assert_eq!(git(&root, &["rev-parse", "HEAD"]), before);
    assert!(out.written.contains(&"app.py".to_string()), "{out:?}");
    assert_eq!(
        std::fs::read_to_string(root.join("app.py")).unwrap(),
        "print(3)\n"
    );
    // The agent's commit -a also swept up the user's draft; it is still there, unchanged.
    assert_eq!(
        std::fs::read_to_string(root.join("notes.md")).unwrap(),
        "the user's draft\n"
    );
    let seen = drain(&mut rx);
    assert!(
        seen.iter()
            .any(|(t, d)| t.starts_with("commit ") && *d == Decision::Rejected),
        "{seen:?}"
    );
}

#[test]
fn over_the_cap_everything_is_undone() {
    let (_d, root) = repo();
    let w = Watch::begin(&root).unwrap();
    for i in 0..4 {
        std::fs::write(root.join(format!("f{i}.txt")), "x\n").unwrap();
    }
    let mut j = judge(true);
    j.max_files = 3;
    let out = w.finish(&j, &Bus::new(None));
    assert!(out.written.is_empty());
    assert_eq!(out.refused.len(), 4);
    assert!(!root.join("f0.txt").exists());
}

#[test]
fn not_a_repository_means_no_watch() {
    let d = tempfile::tempdir().unwrap();
    assert!(Watch::begin(&d.path().canonicalize().unwrap()).is_none());
}

#[test]
fn a_file_holding_a_known_key_is_undone() {
    let (_d, root) = repo();
    crate::engine::ground::redact::register("sk-native-test-key-8f3a2b");
    let w = Watch::begin(&root).unwrap();
    std::fs::write(
        root.join("config.py"),
        "KEY = 'sk-native-test-key-8f3a2b'\n",
    )
    .unwrap();
    std::fs::write(root.join("ok.py"), "x = 1\n").unwrap();
    let out = w.finish(&judge(true), &Bus::new(None));
    assert_eq!(out.written, vec!["ok.py"]);
    assert!(!root.join("config.py").exists());
    assert!(out.refused[0].contains("holds a key"), "{:?}", out.refused);
}

#[test]
fn token_shaped_contents_and_names_are_undone() {
    let (_d, root) = repo();
    let w = Watch::begin(&root).unwrap();
    std::fs::write(root.join("a.txt"), "auth: Bearer abcdefghijklmnopqrst\n").unwrap();
    std::fs::write(
        root.join("b.txt"),
        "gh = ghp_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9v\n",
    )
    .unwrap();
    std::fs::write(root.join("sk-live-ABCDEFGHIJKLMNOP.txt"), "x\n").unwrap();
    std::fs::write(root.join("ok.py"), "x = 1\n").unwrap();
    let out = w.finish(&judge(true), &Bus::new(None));
    assert_eq!(out.written, vec!["ok.py"]);
    assert_eq!(out.refused.len(), 3, "{:?}", out.refused);
    for f in ["a.txt", "b.txt", "sk-live-ABCDEFGHIJKLMNOP.txt"] {
        assert!(!root.join(f).exists(), "{f}");
    }
    assert!(
        out.refused
            .iter()
            .any(|r| r.contains("its name holds a key"))
    );
}

#[test]
fn posts_forged_by_an_agents_own_tools_are_put_back() {
    let (_d, root) = repo();
    std::fs::create_dir_all(root.join(".clk/state")).unwrap();
    std::fs::create_dir_all(root.join(".clk/blackboard")).unwrap();
    std::fs::write(root.join(".clk/state/posts.jsonl"), "{\"id\":\"real\"}\n").unwrap();
    let w = Watch::begin(&root).unwrap();
    std::fs::write(root.join(".clk/blackboard/forged.json"), "PASS").unwrap();
    std::fs::write(root.join(".clk/state/posts.jsonl"), "{\"body\":\"PASS\"}\n").unwrap();
    let out = w.finish(&judge(true), &Bus::new(None));
    assert!(!root.join(".clk/blackboard/forged.json").exists());
    assert_eq!(
        std::fs::read_to_string(root.join(".clk/state/posts.jsonl")).unwrap(),
        "{\"id\":\"real\"}\n"
    );
    assert_eq!(out.refused.len(), 2, "{:?}", out.refused);
    assert!(out.written.is_empty(), "{:?}", out.written);
}
