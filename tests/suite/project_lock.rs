//! One writer per project, through the real binary: a second state-changing `clk` is refused
//! with the holder's PID and exit 2 while read-only commands still work; a holder killed with
//! SIGKILL blocks no one; and processes adding usage at the same moment lose no increment.

use crate::support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use clk::engine::ground::events::Usage;
use clk::engine::ground::pricing::{Cost, CostBasis};
use clk::engine::store::records::UsageTotals;
use clk::engine::store::workspace::{Workspace, read_jsonl};

fn clk(dir: &Path) -> assert_cmd::Command {
    let mut c = support::clk();
    c.current_dir(dir).env("CLK_NO_TUI", "1");
    c
}

/// The binary as a background process, with none of the developer's clk settings.
fn spawn_clk(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Child {
    let mut c = Command::new(env!("CARGO_BIN_EXE_clk"));
    for name in support::clk_env_vars() {
        c.env_remove(name);
    }
    c.current_dir(dir)
        .env("CLK_NO_TUI", "1")
        .envs(env.iter().copied())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    c.spawn().unwrap()
}

fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    clk(dir.path()).arg("init").assert().success();
    clk(dir.path())
        .args(["idea", "--no-cast", "a tiny tool"])
        .assert()
        .success();
    dir
}

/// Wait until the lock file names `pid`.
fn wait_for_holder(dir: &Path, pid: u32) {
    let lock = dir.join(".clk/state/clk.lock");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !std::fs::read_to_string(&lock)
        .unwrap_or_default()
        .contains(&format!("\"pid\":{pid}"))
    {
        assert!(
            Instant::now() < deadline,
            "the first run never took the lock"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_second_state_changing_command_is_refused_with_the_holders_pid() {
    let dir = project();
    let root = dir.path();
    // The first run's agent takes its time: the shell provider's command sleeps.
    let mut first = spawn_clk(
        root,
        &[("CLK_SHELL_COMMAND", "sleep 15")],
        &["run", "--max-cycles", "1"],
    );
    wait_for_holder(root, first.id());
    let pid = first.id();
    for args in [
        &["run"][..],
        &["ask", "engineer", "hello"],
        &["plan"],
        &["loop", "--max-iterations", "1"],
        &["configure", "--set", "supervise.max_cycles=3"],
        &["budget", "--reset"],
        &["roles", "add", "scribe", "writes the notes"],
        &["undo", "--confirm"],
    ] {
        let out = clk(root).args(args).output().unwrap();
        let err = stderr_of(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(&format!("clk run (pid {pid}, since "))
                && err.contains("is working in this project; wait for it or stop it"),
            "{args:?}: {err}"
        );
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    }
    // Read-only commands do not take the lock; status says who holds it.
    let status = clk(root).arg("status").output().unwrap();
    assert!(status.status.success());
    assert!(
        String::from_utf8_lossy(&status.stdout)
            .contains(&format!("Working   clk run (pid {pid}, since ")),
        "{}",
        String::from_utf8_lossy(&status.stdout)
    );
    clk(root).args(["configure", "--show"]).assert().success();
    clk(root).args(["run", "--dry-run"]).assert().success();
    let cfg = std::fs::read_to_string(root.join(".clk/config/clk.config.json")).unwrap();
    assert!(!cfg.contains("\"max_cycles\": 3"), "a refused --set wrote");
    first.kill().unwrap();
    first.wait().unwrap();
}

#[test]
fn a_holder_killed_with_sigkill_blocks_no_one() {
    let dir = project();
    let root = dir.path();
    let mut first = spawn_clk(
        root,
        &[("CLK_SHELL_COMMAND", "sleep 15")],
        &["ask", "engineer", "take your time"],
    );
    wait_for_holder(root, first.id());
    // SIGKILL: no chance to clean up; the file still names the dead holder.
    first.kill().unwrap();
    first.wait().unwrap();
    let lock = root.join(".clk/state/clk.lock");
    assert!(
        std::fs::read_to_string(&lock)
            .unwrap()
            .contains(&format!("\"pid\":{}", first.id())),
        "the kill left the file as it was"
    );
    let out = clk(root)
        .args(["ask", "engineer", "now you"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert_eq!(
        std::fs::read_to_string(&lock).unwrap(),
        "",
        "a clean exit says no one holds it"
    );
}

#[test]
fn two_runs_started_together_lose_no_usage() {
    let dir = project();
    let root = dir.path();
    let mut refused = 0;
    for _ in 0..3 {
        let a = spawn_clk(root, &[], &["ask", "engineer", "one"]);
        let b = spawn_clk(root, &[], &["ask", "qa", "two"]);
        for child in [a, b] {
            let out = child.wait_with_output().unwrap();
            match out.status.code() {
                Some(0) => {}
                Some(2) => {
                    refused += 1;
                    assert!(stderr_of(&out).contains("is working in this project"));
                }
                other => panic!("{other:?}: {}", stderr_of(&out)),
            }
        }
    }
    let ws = Workspace::new(root);
    let dispatched = read_jsonl(&ws.state_dir().join("agent_memory.jsonl"))
        .iter()
        .filter(|m| m["ok"] == true && m["dry_run"] == false)
        .count() as u64;
    assert!(
        dispatched >= 3,
        "each round ran at least one ({refused} refused)"
    );
    assert_eq!(UsageTotals::load(&ws).total.dispatches, dispatched);
}

/// How many usage records each child process adds.
const PER_CHILD: u64 = 40;

#[test]
#[ignore = "a helper: run by processes_adding_usage_at_once_lose_no_increment in children"]
fn usage_child() {
    let Ok(root) = std::env::var("CLK_USAGE_CHILD") else {
        return;
    };
    let ws = Workspace::new(&root);
    let u = Usage {
        input_tokens: 3,
        output_tokens: 2,
        ..Default::default()
    };
    let cost = Cost {
        micros: 5,
        basis: CostBasis::Configured,
    };
    for _ in 0..PER_CHILD {
        UsageTotals::record(&ws, "shell", "engineer", &u, cost).unwrap();
    }
}

#[test]
fn processes_adding_usage_at_once_lose_no_increment() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let children: Vec<Child> = (0..4)
        .map(|_| {
            Command::new(&exe)
                .args([
                    "--ignored",
                    "--exact",
                    "suite::project_lock::usage_child",
                    "--test-threads=1",
                ])
                .env("CLK_USAGE_CHILD", dir.path())
                .stdout(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    // Threads of this process join in.
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let root = dir.path().to_path_buf();
            std::thread::spawn(move || {
                let ws = Workspace::new(&root);
                let u = Usage {
                    input_tokens: 3,
                    output_tokens: 2,
                    ..Default::default()
                };
                let cost = Cost {
                    micros: 5,
                    basis: CostBasis::Configured,
                };
                for _ in 0..PER_CHILD {
                    UsageTotals::record(&ws, "shell", "engineer", &u, cost).unwrap();
                }
            })
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    for t in threads {
        t.join().unwrap();
    }
    let t = UsageTotals::load(&Workspace::new(dir.path()));
    let n = 6 * PER_CHILD;
    assert_eq!(t.total.dispatches, n);
    assert_eq!(t.total.input_tokens, 3 * n);
    assert_eq!(t.total.cost_micros, 5 * n);
    assert_eq!(t.agents["engineer"].dispatches, n);
}
