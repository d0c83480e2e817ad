//! The daily USD budget on PostgreSQL, exact over every worker: a turn holds what it may cost
//! until its real cost is kept, so three workers racing for the last dollars never pass the
//! limit, and a worker killed mid-turn gives its hold back when its lease runs out.

use std::path::Path;
use std::process::Child;

use serde_json::Value;

use super::tasks::{project, writes_paid};
use super::tasks_pg::{finish, list, pg_ok, settle, wait_for, worker};
use crate::support::mock_server::{MockServer, Reply, Script};
use crate::support::pg;

/// $1 per million tokens each way: a reply of 1,000 tokens each way costs $0.002.
fn priced(dir: &Path) {
    let path = dir.join(".clk/config/providers.json");
    let mut doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    doc["providers"]["ollama"]["price"] =
        serde_json::json!({"input_per_mtok": 1, "output_per_mtok": 1});
    std::fs::write(&path, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
}

/// `clk budget`'s line for budget.daily.usd.
fn usd_line(dir: &Path, url: &str) -> String {
    let out = pg_ok(dir, url, &["budget"]);
    out.lines()
        .find(|l| l.contains("budget.daily.usd"))
        .unwrap_or_default()
        .to_string()
}

fn spent(all: &[Value]) -> u64 {
    all.iter().map(|t| t["cost_micros"].as_u64().unwrap()).sum()
}

#[test]
fn racing_workers_never_pass_the_daily_usd_budget() {
    let Some(url) = pg::database() else { return };
    let replies = (1..=10)
        .map(|i| writes_paid(&format!("f{i}.txt"), 400, 1_000))
        .collect();
    let mock = MockServer::start(Script::new(replies));
    let (top, dir) = project(&mock);
    priced(&dir);
    // Each turn costs $0.002: four fit in $0.009, a fifth would take it to $0.010.
    let bare = settle(&dir, |c| {
        c["budget"]["daily"] = serde_json::json!({"usd": 0.009});
    });
    for i in 1..=10 {
        pg_ok(&dir, &url, &["task", "add", &format!("task number {i}")]);
    }
    let ws: Vec<Child> = ["w1", "w2", "w3"]
        .iter()
        .map(|n| {
            worker(
                top.path(),
                &url,
                &bare,
                n,
                &["--workers", "2", "--until-idle"],
            )
        })
        .collect();
    let outs: Vec<String> = ws.into_iter().map(finish).collect();
    let all = list(&dir, &url);
    assert!(spent(&all) <= 9_000, "over the cap: {all:?}\n{outs:?}");
    assert_eq!(spent(&all), 8_000, "four turns fit and were taken: {all:?}");
    assert_eq!(mock.model_calls(), 4);
    let merged = all.iter().filter(|t| t["state"] == "merged").count();
    assert_eq!(merged, 4, "{all:?}");
    let held: Vec<&Value> = all.iter().filter(|t| t["state"] == "held").collect();
    assert_eq!(held.len(), 6, "{all:?}");
    for t in held {
        let why = t["reason"].as_str().unwrap();
        assert!(why.contains("budget.daily.usd = $0.009"), "{why}");
    }
    let line = usd_line(&dir, &url);
    assert!(line.contains("$0.008 of $0.009"), "{line}");
    assert!(!line.contains("held by"), "nothing runs: {line}");
}

#[test]
fn a_killed_workers_hold_on_the_budget_comes_back() {
    let Some(url) = pg::database() else { return };
    let mock = MockServer::start(Script::new(vec![
        writes_paid("one.txt", 10, 1_000),
        Reply::Stall,
        writes_paid("two.txt", 10, 1_000),
    ]));
    let (top, dir) = project(&mock);
    priced(&dir);
    // Room for two turns of $0.002, not three.
    let bare = settle(&dir, |c| {
        c["budget"]["daily"] = serde_json::json!({"usd": 0.005});
    });
    let top = top.path();
    pg_ok(&dir, &url, &["task", "add", "write one.txt"]);
    let out = finish(worker(top, &url, &bare, "w1", &["--until-idle"]));
    assert!(out.contains("1 merged"), "{out}");
    pg_ok(&dir, &url, &["task", "add", "write two.txt"]);
    let mut second = worker(top, &url, &bare, "w2", &[]);
    wait_for("the second task's turn", 60, || mock.model_calls() > 1);
    let line = usd_line(&dir, &url);
    assert!(
        line.contains("$0.002 of $0.005 ($0.002 held by 1 running turn(s))"),
        "{line}"
    );
    second.kill().unwrap(); // its turn never ends; its hold stays until its lease runs out
    second.wait().unwrap();
    let out = finish(worker(top, &url, &bare, "w3", &["--until-idle"]));
    assert!(out.contains("1 merged"), "the hold came back: {out}");
    let all = list(&dir, &url);
    assert_eq!(all[1]["state"], "merged", "{all:?}");
    assert_eq!(spent(&all), 4_000);
    let line = usd_line(&dir, &url);
    assert!(line.contains("$0.004 of $0.005"), "{line}");
    assert!(!line.contains("held by"), "{line}");
    // The shared main has both files.
    let files = super::worktree::git(&bare, &["ls-tree", "--name-only", "HEAD"]);
    assert!(files.contains("two.txt"), "{files}");
}
