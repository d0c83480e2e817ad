//! `clk remote` (issue 15, item 6): link a remote, create a GitHub repository through the
//! REST API (a loopback mock) and link it, with the secret scan installed for pushes there.

use std::fs;
use std::path::Path;
use std::process::Output;

use crate::support::clk;
use crate::support::mock_github::MockGithub;

fn git(dir: &Path, args: &[&str]) -> Output {
    crate::support::git_as_tester(dir, args)
}

fn run(dir: &Path, envs: &[(&str, &str)], args: &[&str]) -> Output {
    let mut c = clk();
    c.current_dir(dir)
        .env("CLK_NO_TUI", "1")
        .env_remove("GITHUB_TOKEN");
    for (k, v) in envs {
        c.env(k, v);
    }
    c.args(args).output().unwrap()
}

fn project(top: &Path) -> std::path::PathBuf {
    let dir = top.join("p");
    fs::create_dir_all(&dir).unwrap();
    assert!(run(&dir, &[], &["init"]).status.success());
    dir
}

#[test]
fn link_adds_a_remote_and_refuses_to_repoint_one_silently() {
    let top = tempfile::tempdir().unwrap();
    let dir = project(top.path());
    assert!(
        git(top.path(), &["init", "-q", "--bare", "a.git"])
            .status
            .success()
    );
    let a = top.path().join("a.git");
    let out = run(&dir, &[], &["remote", "link", a.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("added the remote origin"));
    let out = run(
        &dir,
        &[],
        &["remote", "link", "https://example.invalid/x.git"],
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--replace"));
    let out = run(&dir, &[], &["remote", "link", "--upload-pack=x"]);
    assert_ne!(out.status.code(), Some(0), "{out:?}");
    let out = run(&dir, &[], &["remote", "list"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains(a.to_str().unwrap()));
    // A clean push goes through the scan to the linked remote.
    let out = git(&dir, &["push", "-q", "origin", "main"]);
    assert!(out.status.success(), "{out:?}");
}

#[test]
fn create_makes_a_private_repository_through_the_api_and_links_it() {
    let top = tempfile::tempdir().unwrap();
    let dir = project(top.path());
    let gh = MockGithub::start();
    gh.set_clone_root(top.path());
    for bare in ["notes.git", "team-notes.git"] {
        assert!(
            git(top.path(), &["init", "-q", "--bare", bare])
                .status
                .success()
        );
    }
    let cfg = format!("tasks.github_api={}", gh.url());
    assert!(
        run(&dir, &[], &["configure", "--set", &cfg])
            .status
            .success()
    );
    let token = "ghp_remotecreatetesttoken000000000000";

    let out = run(
        &dir,
        &[("GITHUB_TOKEN", token)],
        &["remote", "create", "notes"],
    );
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("created") && text.contains("private"),
        "{text}"
    );
    assert!(!text.contains(token));
    let req = gh.requests().pop().unwrap();
    assert_eq!(
        (req.method.as_str(), req.path.as_str()),
        ("POST", "/user/repos")
    );
    assert_eq!(req.json["name"], "notes");
    assert_eq!(req.json["private"], true);
    assert_eq!(req.headers["authorization"], format!("Bearer {token}"));
    let url = String::from_utf8_lossy(&git(&dir, &["remote", "get-url", "origin"]).stdout)
        .trim()
        .to_string();
    assert_eq!(url, top.path().join("notes.git").display().to_string());
    assert!(
        git(&dir, &["push", "-q", "origin", "main"])
            .status
            .success()
    );

    // A name GitHub refuses: its reason, and no remote changed.
    let out = run(
        &dir,
        &[("GITHUB_TOKEN", token)],
        &["remote", "create", "taken", "--remote", "second"],
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
    assert!(!git(&dir, &["remote", "get-url", "second"]).status.success());
    // An organisation goes to its own endpoint.
    let out = run(
        &dir,
        &[("GITHUB_TOKEN", token)],
        &[
            "remote",
            "create",
            "team-notes",
            "--owner",
            "acme",
            "--remote",
            "team",
        ],
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(gh.requests().pop().unwrap().path, "/orgs/acme/repos");
}

#[test]
fn create_without_a_token_or_gh_says_what_to_do() {
    let top = tempfile::tempdir().unwrap();
    let dir = project(top.path());
    let out = run(
        &dir,
        &[("PATH", "/usr/bin:/bin")],
        &["remote", "create", "x"],
    );
    if which_gh() {
        return; // gh would be used; nothing to prove here
    }
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("GITHUB_TOKEN"),
        "{out:?}"
    );
}

fn which_gh() -> bool {
    ["/usr/bin/gh", "/bin/gh"]
        .iter()
        .any(|p| Path::new(p).exists())
}

/// After a run merges its commits into the user's branch, the dashboard's title bar counts
/// them as `↑N` and the hint bar says they wait for a push, without a restart.
#[test]
fn the_dashboard_counts_the_commits_a_run_leaves_unpushed() {
    use crate::suite::tui_tmux::{Tmux, launch, need_tmux};
    need_tmux!();
    let top = tempfile::tempdir().unwrap();
    let dir = project(top.path());
    assert!(
        git(top.path(), &["init", "-q", "--bare", "r.git"])
            .status
            .success()
    );
    let bare = top.path().join("r.git");
    assert!(
        git(&dir, &["remote", "add", "origin", bare.to_str().unwrap()])
            .status
            .success()
    );
    assert!(
        git(&dir, &["push", "-q", "-u", "origin", "main"])
            .status
            .success()
    );
    let agent = top.path().join("agent.sh");
    fs::write(
        &agent,
        "#!/bin/sh\ncat > /dev/null\n\
         printf 'ACTION: write\\nPATH: greeter.py\\nCONTENT:\\ndef hello():\\n    return 1\\nEND_ACTION\\n\\nCONFIDENCE: 0.7\\nPROGRESS: yes\\n'\n",
    )
    .unwrap();
    let t = Tmux::start("ahead");
    launch(&t, &dir, &format!("sh {}", agent.display()));
    let first = t.wait_for("type your idea", 20);
    assert!(!first.lines().next().unwrap_or("").contains('↑'), "{first}");
    t.line("a tiny greeter module");
    let screen = t.wait("the run's commits counted", 120, |s| {
        s.contains("commit(s) not pushed")
    });
    let title = screen.lines().next().unwrap_or("");
    let n: u64 = title
        .rsplit('↑')
        .next()
        .and_then(|r| r.split_whitespace().next())
        .and_then(|d| d.parse().ok())
        .unwrap_or_else(|| panic!("no ↑N in the title: {title}"));
    let out = git(&dir, &["rev-list", "--count", "origin/main..main"]);
    let real: u64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    assert!(
        n >= 1 && n == real,
        "title says {n}, git says {real}: {screen}"
    );
    t.line("/quit");
    t.wait_prompt(10);
}

/// Without GITHUB_TOKEN, `gh` makes the repository: clk shows what gh did or, when gh fails,
/// its reason in one line.
#[test]
fn create_without_a_token_goes_through_gh() {
    use std::os::unix::fs::PermissionsExt;
    let top = tempfile::tempdir().unwrap();
    let dir = project(top.path());
    let bin = top.path().join("bin");
    fs::create_dir_all(&bin).unwrap();
    let bare = top.path().join("made.git");
    // A fake gh: logs its arguments; for `repo create NAME ... --source DIR --remote R` it
    // makes a bare repository and adds it as remote R, as the real one does on GitHub.
    let gh = format!(
        "#!/bin/sh\necho \"$*\" >> '{log}'\n\
         [ \"$3\" = refused ] && {{ echo 'GraphQL: Name already exists on this account' >&2; exit 1; }}\n\
         src=''; remote=''\n\
         while [ $# -gt 0 ]; do case \"$1\" in --source) src=\"$2\"; shift;; --remote) remote=\"$2\"; shift;; esac; shift; done\n\
         git init -q --bare '{bare}' && git -C \"$src\" remote add \"$remote\" '{bare}'\n",
        log = top.path().join("gh.log").display(),
        bare = bare.display()
    );
    fs::write(bin.join("gh"), gh).unwrap();
    fs::set_permissions(bin.join("gh"), fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());

    let out = run(&dir, &[("PATH", &path)], &["remote", "create", "notes"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(
        text.contains("created notes with gh and linked it as origin"),
        "{text}"
    );
    let log = fs::read_to_string(top.path().join("gh.log")).unwrap();
    assert_eq!(
        log.trim(),
        format!(
            "repo create notes --private --source {} --remote origin",
            dir.display()
        )
    );
    let url = String::from_utf8_lossy(&git(&dir, &["remote", "get-url", "origin"]).stdout)
        .trim()
        .to_string();
    assert_eq!(url, bare.display().to_string());

    let out = run(
        &dir,
        &[("PATH", &path)],
        &["remote", "create", "refused", "--remote", "other"],
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("gh repo create failed: GraphQL: Name already exists"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}
