//! A writer killed at a random moment leaves every state file parseable.
//!
//! The test starts its own binary again as a child (`CLK_CRASH_CHILD` set, running the ignored
//! `crash_child`) that rewrites JSON state and appends JSONL records as fast as it can, waits
//! until the child says it has written every file once, kills it with SIGKILL after a varying
//! delay, and checks the files: every JSON file parses, and of the JSONL lines a round added
//! only a cut last one may fail to parse (readers skip it, and the next append starts on a
//! fresh line, so no record of the next round is lost to it).

use std::io::BufRead;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use clk::engine::ground::events::Usage;
use clk::engine::ground::pricing::{Cost, CostBasis};
use clk::engine::store::records::UsageTotals;
use clk::engine::store::workspace::{Workspace, append_jsonl, read_json, read_jsonl, write_json};

fn writer_loop(root: &Path) -> ! {
    let ws = Workspace::new(root);
    let big: Vec<String> = (0..2000).map(|i| format!("entry number {i}")).collect();
    let mut n = 0u64;
    loop {
        if n == 1 {
            // Every file has been written once: the parent may kill from now on.
            println!("{READY}");
        }
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

/// What the child prints once it has written every file.
const READY: &str = "crash-child: every file written";

#[test]
#[ignore = "a helper: run by state_files_survive_a_kill_at_any_moment in a child process"]
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
    // Lines of the activity log before the round.
    let mut before = 0;
    for round in 0..12u64 {
        let mut child = Command::new(&exe)
            .args([
                "--ignored",
                "--exact",
                "suite::crash::crash_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("CLK_CRASH_CHILD", dir.path())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        // The child's output, read on a thread: READY, or everything it said before it ended.
        let out = std::io::BufReader::new(child.stdout.take().unwrap());
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut seen = String::new();
            for line in out.lines().map_while(Result::ok) {
                if line.contains(READY) {
                    let _ = tx.send(Ok(()));
                } else {
                    seen.push_str(&line);
                    seen.push('\n');
                }
            }
            let _ = tx.send(Err(seen));
        });
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(Ok(())) => {}
            Ok(Err(seen)) => {
                let status = child.wait().unwrap();
                panic!("round {round}: the child ended ({status}) before it was ready:\n{seen}");
            }
            Err(e) => {
                child.kill().unwrap();
                panic!("round {round}: the child did not get ready: {e}");
            }
        }
        // Vary the moment of the kill across rounds.
        std::thread::sleep(Duration::from_millis((round * 37) % 200));
        child.kill().unwrap();
        child.wait().unwrap();
        let cfg = read_json(&ws.config_file());
        let whole = |doc: &serde_json::Value| doc["items"].as_array().map(Vec::len) == Some(2000);
        assert!(
            matches!(&cfg, Ok(Some(doc)) if whole(doc)),
            "round {round}: config unreadable or partial: {cfg:?}"
        );
        // The child wrote the totals before it said it was ready: they must be there, whole.
        let usage = read_json(&ws.state_dir().join("usage.json"));
        assert!(matches!(usage, Ok(Some(_))), "round {round}: {usage:?}");
        let text = std::fs::read_to_string(ws.activity_log()).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        // This round's child counted from 1: its records are all there, in order, and only
        // the last line may be cut. A cut line left by the round before would swallow this
        // round's first record if the append did not start on a fresh line.
        let added = &lines[before..];
        assert!(!added.is_empty(), "round {round}: nothing added");
        for (i, l) in added.iter().enumerate() {
            match serde_json::from_str::<serde_json::Value>(l) {
                Ok(v) => assert_eq!(v["n"], i as u64 + 1, "round {round}: line {i}: {l:.80}"),
                // The first record was written before the child said it was ready.
                Err(e) => assert!(
                    i > 0 && i + 1 == added.len(),
                    "round {round}: line {i} of {} is bad ({e}): {l:.80}",
                    added.len()
                ),
            }
        }
        before = lines.len();
    }
    assert!(read_jsonl(&ws.activity_log()).len() > 10);
}
