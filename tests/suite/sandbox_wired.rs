//! The sandbox as clk uses it, through the real binary: an agent's `ACTION: run` (the shell
//! provider scripts the reply), a stage's validation, `sandbox.network: false`, `sandbox: off`
//! as the control, the refusal when no sandbox can be had, and `clk doctor`'s line.
//!
//! Every attack is phrased so that the word screen lets it through: what stops it is the
//! sandbox. Each test checks that the user's files are byte-identical afterwards and that no
//! hook was installed or ran.

use crate::support;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;
use std::time::Duration;

const SECRET: &str = "sk-clk-sandbox-test-0123456789abcdefXYZ";

/// A sandbox must be here (as in run-all); else say so and skip.
fn sandbox_or_skip() -> bool {
    match clk::engine::act::sandbox::detect() {
        Ok(_) => true,
        Err(e) if std::env::var_os("CLK_REQUIRE_SANDBOX").is_some() => {
            panic!("CLK_REQUIRE_SANDBOX=1 but {e}")
        }
        Err(e) => {
            eprintln!("skipped: {e}");
            false
        }
    }
}

struct Fixture {
    _top: tempfile::TempDir,
    root: PathBuf,
    outside: PathBuf,
}

fn clk(dir: &Path) -> assert_cmd::Command {
    let mut c = support::clk();
    c.current_dir(dir)
        .env("CLK_NO_TUI", "1")
        .env("OPENAI_API_KEY", SECRET)
        .env("MY_SERVICE_TOKEN", SECRET);
    c
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = StdCommand::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A project with a user's uncommitted file, whose shell provider replies `reply` (with
/// `{outside}` and `{root}` filled in); `outside` is a folder beside it.
fn fixture(reply: &str, sets: &[&str]) -> Fixture {
    let top = tempfile::tempdir().unwrap();
    let root = top.path().join("proj");
    let outside = top.path().join("outside");
    fs::create_dir(&root).unwrap();
    fs::create_dir(&outside).unwrap();
    clk(&root).arg("init").assert().success();
    let reply = reply
        .replace("{outside}", &outside.display().to_string())
        .replace("{root}", &root.display().to_string());
    fs::write(top.path().join("reply.txt"), reply).unwrap();
    let agent = top.path().join("agent.sh");
    fs::write(
        &agent,
        format!(
            "cat >/dev/null\ncat '{}'\n",
            top.path().join("reply.txt").display()
        ),
    )
    .unwrap();
    let mut args = vec![
        "configure".to_string(),
        "--set".into(),
        format!("providers.shell.command=sh {}", agent.display()),
    ];
    for s in sets {
        args.push("--set".into());
        args.push(s.to_string());
    }
    clk(&root).args(&args).assert().success();
    fs::write(root.join("notes.txt"), "the user's own notes\n").unwrap();
    Fixture {
        _top: top,
        root,
        outside,
    }
}

/// Every file of the user's that an agent must not change: contents by path.
fn guarded(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for rel in [
        "notes.txt",
        ".git/config",
        ".git/HEAD",
        ".clk/config/clk.config.json",
        ".clk/config/providers.json",
        ".clk/config/agents.json",
    ] {
        out.insert(
            rel.to_string(),
            fs::read(root.join(rel)).unwrap_or_default(),
        );
    }
    let hooks: Vec<String> = fs::read_dir(root.join(".git/hooks"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.ends_with(".sample"))
                .collect()
        })
        .unwrap_or_default();
    out.insert(".git/hooks/".into(), hooks.join(",").into_bytes());
    out
}

fn ask(f: &Fixture) -> String {
    let out = clk(&f.root)
        .args(["ask", "engineer", "do", "it"])
        .output()
        .unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A commit by the user afterwards runs no hook of the agent's.
fn assert_no_hook_runs(f: &Fixture) {
    let out = StdCommand::new("git")
        .args([
            "-c",
            "user.name=u",
            "-c",
            "user.email=u@u",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "user commit",
        ])
        .current_dir(&f.root)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(
        !f.outside.join("hook-ran").exists(),
        "an agent's hook ran on the user's commit"
    );
}

const ATTACKS: &str = r#"I will set things up.
ACTION: run
CMD: echo x > {outside}/abs.txt; echo x > ../outside/rel.txt; cd .. && echo x > outside/cd.txt
END_ACTION
ACTION: run
CMD: cd .git && mkdir -p hooks && cd hooks && printf '#!/bin/sh\ntouch {outside}/hook-ran\n' > pre-commit && chmod +x pre-commit
END_ACTION
ACTION: run
CMD: cd .git && printf '[core]\n\thooksPath = {outside}\n' >> config
END_ACTION
ACTION: run
CMD: g\it -C . config core.hooksPath {outside}
END_ACTION
ACTION: run
CMD: d=.c; cd ${d}lk/config && echo '{"supervise": {"max_cycles": 0}}' > clk.config.json
END_ACTION
ACTION: run
CMD: env > env-dump.txt; cat /proc/1/environ | tr '\0' '\n' >> env-dump.txt; echo dumped
END_ACTION
ACTION: run
CMD: setsid sh -c 'sleep 2; touch {outside}/late.txt; touch {root}/late-in.txt' > /dev/null 2>&1 &
END_ACTION
ACTION: run
CMD: nohup sh -c 'sleep 2; touch {outside}/nohup.txt' > /dev/null 2>&1 & echo started
END_ACTION
ACTION: run
CMD: echo made > made-by-agent.txt
END_ACTION
CONFIDENCE: 0.9
PROGRESS: yes
"#;

fn attacks_stay_in_the_project(mode: &str) {
    let f = fixture(ATTACKS, &[&format!("sandbox.mode={mode}")]);
    fs::write(f.outside.join("hook-target"), "").unwrap();
    let before = guarded(&f.root);
    let log = ask(&f);
    std::thread::sleep(Duration::from_millis(2500));

    assert_eq!(guarded(&f.root), before, "{log}");
    for name in ["abs.txt", "rel.txt", "cd.txt", "late.txt", "nohup.txt"] {
        assert!(!f.outside.join(name).exists(), "{name} written: {log}");
    }
    assert!(
        !f.root.join("late-in.txt").exists(),
        "a setsid child outlived the command"
    );
    assert!(!git(&f.root, &["config", "--list"]).contains("hookspath"));
    // The project itself stays writable: the command's own file arrived and was committed.
    assert_eq!(
        fs::read_to_string(f.root.join("made-by-agent.txt")).unwrap(),
        "made\n"
    );
    let dump = fs::read_to_string(f.root.join("env-dump.txt")).unwrap();
    assert!(dump.contains("PATH="), "{dump}");
    assert!(!dump.contains(SECRET), "a key reached the command: {dump}");
    assert!(!dump.contains("MY_SERVICE_TOKEN"), "{dump}");
    assert!(!git(&f.root, &["log", "-p", "--all"]).contains(SECRET));
    assert_no_hook_runs(&f);
}

#[test]
fn agent_commands_reach_only_the_project() {
    if sandbox_or_skip() {
        attacks_stay_in_the_project("auto");
    }
}

#[test]
fn agent_commands_reach_only_the_project_under_landlock() {
    match clk::engine::act::sandbox::Backend::Landlock.check() {
        Ok(()) => attacks_stay_in_the_project("landlock"),
        Err(e) if std::env::var_os("CLK_REQUIRE_SANDBOX").is_some() => {
            panic!("CLK_REQUIRE_SANDBOX=1 but {e}")
        }
        Err(e) => eprintln!("skipped: {e}"),
    }
}

#[test]
fn sandbox_off_is_the_control() {
    if !sandbox_or_skip() {
        return;
    }
    let reply = "ACTION: run\nCMD: echo x > {outside}/abs.txt\nEND_ACTION\nPROGRESS: yes\n";
    let f = fixture(reply, &["sandbox=off"]);
    let log = ask(&f);
    assert!(f.outside.join("abs.txt").exists(), "{log}");
    let doctor = clk(&f.root).arg("doctor").output().unwrap();
    let text = String::from_utf8_lossy(&doctor.stdout);
    assert!(text.contains("warn sandbox off"), "{text}");
}

#[test]
fn doctor_names_the_sandbox_in_use() {
    if !sandbox_or_skip() {
        return;
    }
    let f = fixture("PROGRESS: yes\n", &[]);
    let doctor = clk(&f.root).arg("doctor").output().unwrap();
    let text = String::from_utf8_lossy(&doctor.stdout);
    let line = text
        .lines()
        .find(|l| l.contains("sandbox"))
        .unwrap_or_default()
        .to_string();
    assert!(line.starts_with("ok"), "{text}");
    assert!(
        line.contains("bubblewrap") || line.contains("landlock"),
        "{line}"
    );
    assert!(line.contains("network on"), "{line}");
}

/// A loopback server answers; the command records whether it got through.
fn network_probe(network: bool) -> (String, String) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in listener.incoming() {
            drop(s);
        }
    });
    let reply = format!(
        "ACTION: run\nCMD: python3 -c \"import socket; socket.create_connection(('127.0.0.1', {port}), 3); print('reached')\" > net.txt 2>&1; echo done\nEND_ACTION\nPROGRESS: yes\n"
    );
    let set = format!("sandbox.network={network}");
    let f = fixture(&reply, &[&set]);
    let log = ask(&f);
    (
        fs::read_to_string(f.root.join("net.txt")).unwrap_or_default(),
        log,
    )
}

#[test]
fn network_off_blocks_even_loopback_and_on_allows_it() {
    if !sandbox_or_skip() {
        return;
    }
    let (on, log) = network_probe(true);
    assert_eq!(on.trim(), "reached", "{log}");
    let (off, log) = network_probe(false);
    assert!(!off.contains("reached"), "{off} {log}");
    assert!(off.contains("Error"), "{off} {log}");
}

#[test]
fn no_sandbox_means_a_refusal_that_names_the_fix() {
    // bwrap is asked for and cannot be found on clk's PATH: the command is refused, once,
    // with the fix, and clk neither panics nor runs it bare.
    let top = tempfile::tempdir().unwrap();
    let bin = top.path().join("bin");
    fs::create_dir(&bin).unwrap();
    for tool in ["sh", "cat", "git"] {
        let real = clk::engine::act::process::which(tool).unwrap();
        std::os::unix::fs::symlink(real, bin.join(tool)).unwrap();
    }
    let reply = "ACTION: run\nCMD: echo ran > ran.txt\nEND_ACTION\nPROGRESS: yes\n";
    let f = fixture(reply, &["sandbox.mode=bubblewrap"]);
    let out = clk(&f.root)
        .env("PATH", &bin)
        .args(["ask", "engineer", "do", "it"])
        .output()
        .unwrap();
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!log.contains("panicked"), "{log}");
    assert!(!f.root.join("ran.txt").exists(), "{log}");
    assert!(log.contains("install bubblewrap"), "{log}");
    assert!(log.contains("sandbox: off"), "{log}");
    let doctor = clk(&f.root)
        .env("PATH", &bin)
        .arg("doctor")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&doctor.stdout);
    assert!(
        text.lines()
            .any(|l| l.starts_with("fail") && l.contains("install bubblewrap")),
        "{text}"
    );
}

const WORKFLOW: &str = r#"
name: demo
stages:
  - id: build
    agent: engineer
    objective: create app.txt
    validation: "echo x > {outside}/v.txt; cd .git && printf 'touch {outside}/hook-ran' > hooks/pre-commit; cd ..; d=.c; echo y >> ${d}lk/config/clk.config.json; setsid sh -c 'sleep 2; touch {outside}/v-late.txt' >/dev/null 2>&1 & test -f app.txt"
"#;

#[tokio::test]
async fn validation_commands_are_sandboxed_the_same_way() {
    use clk::engine::store::workflow::{Outcome, load};
    use clk::engine::store::workspace::Workspace;

    if !sandbox_or_skip() {
        return;
    }
    let reply = "ACTION: write\nPATH: app.txt\nCONTENT:\nhello\nEND_ACTION\nPROGRESS: yes\n";
    let f = fixture(reply, &[]);
    let before = guarded(&f.root);
    let p = Workspace::new(f.root.canonicalize().unwrap())
        .load(&clk::engine::ground::config::Env::process())
        .unwrap();
    let roster: std::collections::BTreeSet<String> =
        ["engineer"].iter().map(|s| s.to_string()).collect();
    let wf = load(
        "demo.yaml",
        &WORKFLOW.replace("{outside}", &f.outside.display().to_string()),
        &roster,
    )
    .unwrap();
    let report = crate::support::mock_project::pass(&p, &wf).await;
    assert_eq!(report.stages[0].outcome, Outcome::Completed, "{report:?}");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(guarded(&f.root), before);
    for name in ["v.txt", "v-late.txt"] {
        assert!(!f.outside.join(name).exists(), "{name} written");
    }
    assert_no_hook_runs(&f);
}

/// A project under /tmp (the sandbox's /tmp is a private one): git still works in the run's
/// worktree, and its repository stays read-only rather than swapped for a scratch copy.
#[test]
fn git_works_in_a_worktree_of_a_project_under_tmp() {
    if !sandbox_or_skip() {
        return;
    }
    let reply = "Checking.\nACTION: run\nCMD: git rev-parse --is-inside-work-tree > git-ok.txt 2>&1; \
                 (touch \"$(git rev-parse --git-common-dir)/hooks/x\" 2>/dev/null && echo wrote || echo refused) >> git-ok.txt\n\
                 END_ACTION\nCONFIDENCE: 0.9\nPROGRESS: yes\n";
    let f = fixture(reply, &[]);
    let log = ask(&f);
    let got = fs::read_to_string(f.root.join("git-ok.txt")).unwrap_or_default();
    assert_eq!(got, "true\nrefused\n", "{log}");
    assert!(!f.root.join(".git/hooks/x").exists());
}
