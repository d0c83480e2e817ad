//! Several dispatches in one process against a plain-http endpoint never read the system's CA
//! store: the real binary runs a loop against the mock model server under `strace`, and clk's
//! own process may open no file under the CA folders (before, every dispatch built a new HTTP
//! client that loaded them all). Needs strace (see `support::strace`).

use crate::support;

use std::path::Path;

use support::mock_server::{Fallback, MockServer, Reply, Script};

const REPLY: &str = "Adding the greeter.\n\
ACTION: write\nPATH: greeter.py\nCONTENT:\ndef hello():\n    return \"hello\"\nEND_ACTION\n\
CONFIDENCE: 0.8\nPROGRESS: yes\n";

/// Folders the platform's CA roots are read from on Linux.
pub(crate) const CA_PLACES: &[&str] = &["/etc/ssl", "/etc/pki", "/usr/share/ca-certificates"];

fn clk(dir: &Path) -> assert_cmd::Command {
    let mut c = support::clk();
    c.current_dir(dir).env("CLK_NO_TUI", "1");
    c
}

#[test]
fn a_loop_of_dispatches_over_plain_http_never_opens_the_ca_store() {
    if !support::strace::works() {
        return;
    }
    let mock = MockServer::start(
        Script::new(vec![Reply::text_usage(REPLY, 10, 5)]).fallback(Fallback::RepeatLast),
    );
    let d = tempfile::tempdir().unwrap();
    clk(d.path()).arg("init").assert().success();
    let trace = d.path().join("trace.txt");
    let mut c = support::strace::clk("open,openat,openat2,execve", &trace);
    c.args(["loop", "--max-iterations", "2"])
        .current_dir(d.path())
        .env("CLK_NO_TUI", "1")
        .env("CLK_PROVIDER", "openwebui")
        .env("CLK_OPENWEBUI_ENDPOINT", format!("{}/v1", mock.url()))
        .env("CLK_OPENWEBUI_MODEL", "m1");
    let out = c.output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(
        mock.model_calls() >= 3,
        "several dispatches in one process: {}",
        mock.model_calls()
    );
    let trace = std::fs::read_to_string(&trace).unwrap();
    assert!(
        trace.contains("openat("),
        "the trace saw the process open files"
    );
    // clk's own threads only: programs it starts (a check, a sandboxed command) read their
    // own CA settings, and that is not clk's cost.
    let exe = env!("CARGO_BIN_EXE_clk");
    let pid = |l: &str| l.split_whitespace().next().unwrap_or_default().to_string();
    let children: std::collections::HashSet<String> = trace
        .lines()
        .filter(|l| l.contains("execve(\"") && !l.contains(&format!("execve(\"{exe}\"")))
        .map(pid)
        .collect();
    let ca: Vec<&str> = trace
        .lines()
        .filter(|l| !children.contains(&pid(l)))
        .filter(|l| CA_PLACES.iter().any(|p| l.contains(&format!("\"{p}"))))
        .collect();
    assert!(
        ca.is_empty(),
        "{} opens under the CA folders over plain http, e.g. {:?}",
        ca.len(),
        ca.first()
    );
}
