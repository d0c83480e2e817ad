//! A writer killed at a random moment leaves every state file parseable.
//!
//! The test starts itself again as a child (`CLK_CRASH_CHILD` set) that rewrites JSON state
//! and appends JSONL records as fast as it can, kills it with SIGKILL after a random delay,
//! and checks the files: every JSON file parses, and every JSONL line but possibly a cut last
//! one parses (readers skip it, and the next append starts on a fresh line).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use clk::engine::events::Usage;
use clk::engine::pricing::{Cost, CostBasis};
use clk::engine::records::UsageTotals;
use clk::engine::workspace::{Workspace, append_jsonl, read_json, read_jsonl, write_json};

fn writer_loop(root: &Path) -> ! {
    let ws = Workspace::new(root);
    let big: Vec<String> = (0..2000).map(|i| format!("entry number {i}")).collect();
    let mut n = 0u64;
    loop {
        n += 1;
        let doc = serde_json::json!({"n": n, "items": big});
        write_json(&ws.config_file(), &doc).unwrap();
        append_jsonl(
            &ws.activity_log(),
            &serde_json::json!({"n": n, "pad": big[..50]}),
        )
        .unwrap();
        let u = Usage {
            input_tokens: n,
            output_tokens: 1,
            ..Default::default()
        };
        UsageTotals::record(
            &ws,
            "shell",
            "engineer",
            &u,
            Cost {
                micros: 0,
                basis: CostBasis::Free,
            },
        )
        .unwrap();
    }
}

#[test]
fn crash_child() {
    if let Ok(root) = std::env::var("CLK_CRASH_CHILD") {
        writer_loop(Path::new(&root));
    }
}

#[test]
fn state_files_survive_a_kill_at_any_moment() {
    let dir = tempfile::tempdir().unwrap();
    let ws = Workspace::new(dir.path());
    let exe = std::env::current_exe().unwrap();
    for round in 0..12u64 {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "suite::crash::crash_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("CLK_CRASH_CHILD", dir.path())
            .spawn()
            .unwrap();
        // Vary the moment of the kill across rounds.
        std::thread::sleep(Duration::from_millis(40 + (round * 37) % 200));
        child.kill().unwrap();
        child.wait().unwrap();
        let cfg = read_json(&ws.config_file());
        assert!(
            matches!(cfg, Ok(Some(_))),
            "round {round}: config unreadable: {cfg:?}"
        );
        let usage = read_json(&ws.state_dir().join("usage.json"));
        assert!(
            matches!(usage, Ok(Some(_))) || matches!(usage, Ok(None)),
            "round {round}: {usage:?}"
        );
        let text = std::fs::read_to_string(ws.activity_log()).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let bad = lines
            .iter()
            .enumerate()
            .filter(|(_, l)| serde_json::from_str::<serde_json::Value>(l).is_err())
            .map(|(i, _)| i)
            .collect::<Vec<_>>();
        // Only a line cut by a kill may be bad, and records after it are whole.
        assert!(
            bad.len() <= round as usize + 1,
            "round {round}: {} bad lines",
            bad.len()
        );
        assert!(read_jsonl(&ws.activity_log()).len() + bad.len() == lines.len());
    }
    assert!(read_jsonl(&ws.activity_log()).len() > 10);
}
