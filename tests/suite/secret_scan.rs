//! The pre-push secret scan (issue 15, item 6): `clk init` installs it as a git hook; it
//! blocks a push whose new commits add a key-shaped string or a key file, names what and
//! where, lets a clean push through, and is skipped only by `git push --no-verify`.

use std::fs;
use std::path::Path;
use std::process::Output;

use crate::support::clk;

fn git(dir: &Path, args: &[&str]) -> Output {
    std::process::Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@t"])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn commit(dir: &Path, file: &str, text: &str) {
    fs::write(dir.join(file), text).unwrap();
    assert!(git(dir, &["add", "-f", file]).status.success());
    assert!(git(dir, &["commit", "-qm", file]).status.success());
}

fn remote_head(remote: &Path) -> String {
    let out = git(remote, &["rev-parse", "main"]);
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn a_push_adding_a_key_is_blocked_and_a_clean_one_goes_through() {
    let top = tempfile::tempdir().unwrap();
    let remote = top.path().join("remote.git");
    assert!(
        git(top.path(), &["init", "-q", "--bare", "remote.git"])
            .status
            .success()
    );
    let dir = top.path().join("w");
    fs::create_dir_all(&dir).unwrap();
    let out = clk().current_dir(&dir).arg("init").output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("pre-push secret scan"));
    let gi = fs::read_to_string(dir.join(".gitignore")).unwrap();
    for line in [".env", "*.pem", "id_rsa"] {
        assert!(gi.lines().any(|l| l == line), "{line} in .gitignore: {gi}");
    }
    assert!(
        git(&dir, &["remote", "add", "origin", remote.to_str().unwrap()])
            .status
            .success()
    );

    // Clean: through.
    commit(&dir, "app.py", "print('hello')\n");
    let out = git(&dir, &["push", "-q", "origin", "main"]);
    assert!(out.status.success(), "{out:?}");
    let pushed = remote_head(&remote);

    // A key in a line: stopped, with file and line named and the key not repeated.
    let key = "sk-proj-Zq8WcB1x2y3z4A5B6C7D8E9F0g";
    commit(
        &dir,
        "settings.py",
        &format!("DEBUG = True\nKEY = \"{key}\"\n"),
    );
    let out = git(&dir, &["push", "origin", "main"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("settings.py:2") && err.contains("API key"),
        "{err}"
    );
    assert!(
        !err.contains(key),
        "the report must not repeat the key: {err}"
    );
    assert_eq!(remote_head(&remote), pushed, "nothing reached the remote");

    // `clk scan-secrets` says the same, with exit 1.
    let out = clk()
        .current_dir(&dir)
        .arg("scan-secrets")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("settings.py:2"));

    // The explicit bypass.
    let out = git(&dir, &["push", "-q", "--no-verify", "origin", "main"]);
    assert!(out.status.success(), "{out:?}");
    assert_ne!(remote_head(&remote), pushed);
    let pushed = remote_head(&remote);

    // A key file on a new branch: stopped by its name alone.
    assert!(
        git(&dir, &["checkout", "-q", "-b", "deploy"])
            .status
            .success()
    );
    commit(&dir, ".env", "PASSWORD=hunter2\n");
    let out = git(&dir, &["push", "origin", "deploy"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains(".env: an environment file"),
        "{err}"
    );
    assert_eq!(remote_head(&remote), pushed);
}

#[test]
fn a_users_own_hook_is_left_alone() {
    let top = tempfile::tempdir().unwrap();
    let dir = top.path();
    assert!(git(dir, &["init", "-q", "-b", "main"]).status.success());
    let hook = dir.join(".git/hooks/pre-push");
    fs::create_dir_all(hook.parent().unwrap()).unwrap();
    fs::write(&hook, "#!/bin/sh\nexit 0\n").unwrap();
    let out = clk().current_dir(dir).arg("init").output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("is yours") && text.contains("scan-secrets"),
        "{text}"
    );
    assert_eq!(fs::read_to_string(&hook).unwrap(), "#!/bin/sh\nexit 0\n");
}
