//! The built-in `shell` provider's command runs in the same OS sandbox as every agent's
//! command: in the run's worktree, nothing else writable, the environment an allow-list. Tried
//! with a command that writes into the user's tree, the user's `.git/config`, a folder outside
//! the project and the worktree's `.git` pointer, and reads a secret-named variable. With
//! `sandbox: off` (the user's choice) the same command does reach the user's tree; without
//! the sandbox it asks for, it is refused with the fix named and never runs.

use std::fs;
use std::path::{Path, PathBuf};

use clk::engine::store::workspace::{Workspace, read_json, write_json};

use crate::suite::sandbox::support::{BWRAP, LANDLOCK, usable};
use crate::suite::worktree::git;
use crate::support;

const ATTACK: &str = r#"cat >/dev/null
echo pwned > "$USER_DIR/mine.txt"
echo pwned > "$USER_DIR/new.txt"
git -C "$USER_DIR" config core.hooksPath /tmp/hooks
echo pwned > "$OUTSIDE/outside.txt"
echo 'gitdir: /nowhere' > .git
printf 'ACTION: write\nPATH: envcheck.txt\nCONTENT:\ntoken=%s\nEND_ACTION\n' "${SERVICE_TOKEN:-absent}"
"#;

/// A project outside /tmp (so the sandbox shows it read-only rather than hiding it behind its
/// private /tmp), with a file of the user's, and a folder beside it.
fn setup(mode: &str) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let top = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let dir = top.path().join("proj");
    let outside = top.path().join("outside");
    fs::create_dir_all(&dir).unwrap();
    fs::create_dir_all(&outside).unwrap();
    support::clk()
        .current_dir(&dir)
        .arg("init")
        .assert()
        .success();
    let dir = dir.canonicalize().unwrap();
    let ws = Workspace::new(&dir);
    let script = ws.config_dir().join("agent.sh");
    fs::write(&script, ATTACK).unwrap();
    let mut v = read_json(&ws.providers_file()).unwrap().unwrap_or_default();
    v["active"] = "shell".into();
    v["providers"]["shell"]["type"] = "shell".into();
    v["providers"]["shell"]["command"] = format!("sh {}", script.display()).into();
    v["providers"]["shell"]["env"] = serde_json::json!({
        "USER_DIR": dir.display().to_string(),
        "OUTSIDE": outside.display().to_string(),
    });
    write_json(&ws.providers_file(), &v).unwrap();
    let mut c = read_json(&ws.config_file()).unwrap().unwrap();
    c["sandbox"] = serde_json::json!({ "mode": mode });
    write_json(&ws.config_file(), &c).unwrap();
    fs::write(dir.join("mine.txt"), "my work\n").unwrap();
    git(&dir, &["add", "-A"]);
    git(&dir, &["commit", "-qm", "user: setup"]);
    fs::write(dir.join("mine.txt"), "my work, edited\n").unwrap();
    (top, dir, outside)
}

fn ask(dir: &Path) -> String {
    let out = support::clk()
        .current_dir(dir)
        .env("SERVICE_TOKEN", "s3cr3t-service-value-42")
        .args(["ask", "engineer", "do the work"])
        .output()
        .unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn the_shell_providers_command_cannot_reach_past_the_worktree() {
    for (mode, kind) in [("bubblewrap", BWRAP), ("landlock", LANDLOCK)] {
        if !usable(kind) {
            continue;
        }
        let (_top, dir, outside) = setup(mode);
        let config = fs::read(dir.join(".git/config")).unwrap();
        let head = git(&dir, &["rev-parse", "HEAD"]);
        let out = ask(&dir);
        assert_eq!(
            fs::read_to_string(dir.join("mine.txt")).unwrap(),
            "my work, edited\n",
            "{mode}: {out}"
        );
        assert!(!dir.join("new.txt").exists(), "{mode}: {out}");
        assert!(!outside.join("outside.txt").exists(), "{mode}: {out}");
        assert_eq!(fs::read(dir.join(".git/config")).unwrap(), config, "{mode}");
        // The reply still worked, in the worktree, and reached the user by the merge; the
        // secret-named variable never reached the command.
        assert_eq!(
            fs::read_to_string(dir.join("envcheck.txt")).unwrap_or_default(),
            "token=absent\n",
            "{mode}: {out}"
        );
        assert_ne!(git(&dir, &["rev-parse", "HEAD"]), head);
        assert!(!git(&dir, &["log", "-p", "--all"]).contains("s3cr3t"));
        // The worktree's .git pointer held: the pooled worktree is still a worktree.
        assert_eq!(
            git(&dir, &["worktree", "list"]).lines().count(),
            2,
            "{mode}: {out}"
        );
    }
}

#[test]
fn with_sandbox_off_the_same_command_reaches_the_users_tree() {
    let (_top, dir, outside) = setup("off");
    let out = ask(&dir);
    assert_eq!(
        fs::read_to_string(dir.join("mine.txt")).unwrap(),
        "pwned\n",
        "{out}"
    );
    assert!(outside.join("outside.txt").exists(), "{out}");
}

#[test]
fn without_the_sandbox_it_asks_for_the_command_is_refused_with_the_fix() {
    let (top, dir, _outside) = setup("bubblewrap");
    let ws = Workspace::new(&dir);
    fs::write(
        ws.config_dir().join("agent.sh"),
        "cat >/dev/null\necho ran > \"$USER_DIR/ran.txt\"\nprintf 'Done.\\n'\n",
    )
    .unwrap();
    // A PATH with a shell and nothing else: no bwrap to be found.
    let bin = top.path().join("bin");
    fs::create_dir(&bin).unwrap();
    for tool in ["sh", "cat"] {
        let real = ["/bin", "/usr/bin"]
            .iter()
            .map(|d| Path::new(d).join(tool))
            .find(|p| p.is_file())
            .unwrap();
        std::os::unix::fs::symlink(real, bin.join(tool)).unwrap();
    }
    let out = support::clk()
        .current_dir(&dir)
        .env("PATH", &bin)
        .args(["ask", "engineer", "do the work"])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("install bubblewrap (apt-get install bubblewrap) or set sandbox: off"),
        "{text}"
    );
    assert!(!dir.join("ran.txt").exists(), "the command ran: {text}");
    assert_eq!(
        fs::read_to_string(dir.join("mine.txt")).unwrap(),
        "my work, edited\n"
    );
}
