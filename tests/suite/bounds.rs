//! Bounded, through the real binary: one reply's `ACTION: run` blocks are capped in number and
//! share one time budget; a command printing megabytes leaves a head, a tail and a byte count
//! in the activity log; a reply too large to use (streamed over HTTP past 8 MiB, or printed by
//! a shell provider) is logged as its size and first lines, and the HTTP stream is closed;
//! old run records past `records.keep_runs` are removed while a dispatch waits for its model.

use crate::suite::forgery::{ask, clk, project};

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use support::mock_server::{MockServer, Reply, Script};

use crate::support;

fn activity(dir: &Path) -> String {
    fs::read_to_string(dir.join(".clk/logs/activity.jsonl")).unwrap_or_default()
}

fn runs(n: usize) -> String {
    (0..n)
        .map(|i| format!("ACTION: run\nCMD: printf '{i}\\n' >> count.txt\nEND_ACTION\n"))
        .collect()
}

fn lines(dir: &Path, file: &str) -> usize {
    fs::read_to_string(dir.join(file))
        .unwrap_or_default()
        .lines()
        .count()
}

#[test]
fn commands_per_reply_are_capped() {
    for (extra, replies, ran) in [
        (vec![], 12, 10),
        (vec!["validation.max_runs_per_reply=3"], 5, 3),
        (vec!["validation.max_runs_per_reply=0"], 2, 0),
    ] {
        let mock = MockServer::start(Script::new(vec![]));
        let (_d, dir) = project(&mock, &extra);
        ask(&dir, &mock, "engineer", &runs(replies));
        assert_eq!(lines(&dir, "count.txt"), ran, "{extra:?}");
        let refusals = activity(&dir)
            .matches("(validation.max_runs_per_reply)")
            .count();
        assert_eq!(refusals, replies - ran, "{extra:?}");
    }
}

#[test]
fn all_commands_of_a_reply_share_one_time_budget() {
    let mock = MockServer::start(Script::new(vec![]));
    let (_d, dir) = project(&mock, &["validation.runs_budget_s=1"]);
    let reply = "ACTION: run\nCMD: sleep 0.2; echo a > a.txt\nEND_ACTION\n\
                 ACTION: run\nCMD: sleep 30; echo b > b.txt\nEND_ACTION\n\
                 ACTION: run\nCMD: sleep 30; echo c > c.txt\nEND_ACTION\n\
                 ACTION: run\nCMD: echo d > d.txt\nEND_ACTION\n";
    let started = Instant::now();
    ask(&dir, &mock, "engineer", reply);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the budget did not stop the commands: {:?}",
        started.elapsed()
    );
    assert!(dir.join("a.txt").exists());
    for f in ["b.txt", "c.txt", "d.txt"] {
        assert!(!dir.join(f).exists(), "{f}");
    }
    let log = activity(&dir);
    assert!(log.contains("(validation.runs_budget_s)"), "{log}");
}

#[test]
fn command_output_is_kept_as_head_and_tail_with_a_count() {
    for (extra, cmd, total, max_log) in [
        // Output lines are 17 bytes; the totals are whole lines.
        (
            vec![],
            "yes 0123456789abcdef | head -c 5100000",
            5_100_000,
            2_000_000,
        ),
        (
            vec!["validation.output_keep_bytes=2048"],
            "yes 0123456789abcdef | head -c 1700000 >&2",
            1_700_000,
            300_000,
        ),
    ] {
        let mock = MockServer::start(Script::new(vec![]));
        let (_d, dir) = project(&mock, &extra);
        ask(
            &dir,
            &mock,
            "engineer",
            &format!("ACTION: run\nCMD: {cmd}; echo LAST-LINE\nEND_ACTION\n"),
        );
        let log = activity(&dir);
        assert!(
            log.len() < max_log,
            "{extra:?}: activity.jsonl is {} bytes",
            log.len()
        );
        assert!(log.contains("bytes of output left out"), "{extra:?}");
        assert!(
            log.contains(&format!("{} bytes in all", total + "LAST-LINE\n".len())),
            "{extra:?}"
        );
        assert!(log.contains("LAST-LINE"), "{extra:?}: the tail was lost");
        let records: usize = super::forgery::files_under(&dir.join(".clk/runs"))
            .iter()
            .map(|p| fs::metadata(p).unwrap().len() as usize)
            .sum();
        assert!(
            records < max_log,
            "{extra:?}: run records are {records} bytes"
        );
    }
}

#[test]
fn a_streamed_reply_past_8_mib_is_cut_and_logged_by_its_size() {
    let line = "0123456789 abcdefghij 0123456789 abcdefghij\n";
    let huge = line.repeat((10 << 20) / line.len());
    let mock = MockServer::start(Script::new(vec![]));
    let (_d, dir) = project(&mock, &["provider_retry.max_retries=0"]);
    mock.push(Reply::chunked(&huge, 64 * 1024, None));
    let out = clk(&dir)
        .args(["ask", "engineer", "write a lot"])
        .output()
        .unwrap();
    let printed =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(printed.contains("larger than 8 MiB"), "{printed}");
    let log = activity(&dir);
    assert!(
        log.len() < 1_000_000,
        "activity.jsonl is {} bytes",
        log.len()
    );
    assert!(log.contains("only the first"), "no size note in the log");
}

#[test]
fn a_refused_shell_reply_is_logged_by_its_size_and_first_lines() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("proj");
    fs::create_dir(&dir).unwrap();
    clk(&dir).arg("init").assert().success();
    let agent = d.path().join("agent.sh");
    fs::write(
        &agent,
        "yes 'a reply line that goes on' | head -c 20000000\n",
    )
    .unwrap();
    clk(&dir)
        .args([
            "configure",
            "--set",
            &format!("providers.shell.command=sh {}", agent.display()),
        ])
        .assert()
        .success();
    let out = clk(&dir).args(["ask", "engineer", "go"]).output().unwrap();
    let printed =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(printed.contains("more than 8 MiB"), "{printed}");
    let log = activity(&dir);
    assert!(
        log.len() < 1_000_000,
        "activity.jsonl is {} bytes",
        log.len()
    );
    assert!(
        log.contains("bytes in all; only the first"),
        "no size note in the log"
    );
}

#[test]
fn long_lines_of_output_are_bounded_too() {
    let mock = MockServer::start(Script::new(vec![]));
    let (_d, dir) = project(&mock, &[]);
    // Twenty lines of 1 MB each, and one line of 3 MB with no newline at all.
    let reply = "ACTION: run\nCMD: for i in $(seq 20); do head -c 1000000 /dev/zero | tr '\\0' x; echo; done\nEND_ACTION\n\
                 ACTION: run\nCMD: head -c 3000000 /dev/zero | tr '\\0' y\nEND_ACTION\n";
    ask(&dir, &mock, "engineer", reply);
    let log = activity(&dir);
    assert!(log.len() < 600_000, "activity.jsonl is {} bytes", log.len());
    assert!(
        log.contains("command_finished"),
        "{}",
        &log[..log.len().min(2000)]
    );
}

#[test]
fn a_reply_the_quality_check_turned_down_is_kept_as_its_size_and_first_lines() {
    let mock = MockServer::start(Script::new(vec![]));
    let (_d, dir) = project(&mock, &["provider_retry.max_retries=0"]);
    // Two MB inside ACTION blocks that never end: malformed, so the reply is turned down.
    let body = "a line of a reply that goes on and on\n".repeat(50_000);
    let broken = format!(
        "Writing the app now.\nACTION: write\nPATH: app.txt\nCONTENT:\n{body}\
         ACTION: write\nPATH: other.txt\nCONTENT:\nstray\n"
    );
    mock.push(Reply::chunked(&broken, 64 * 1024, None));
    mock.push(Reply::text(
        "Wrote the app.\nACTION: write\nPATH: app.txt\nCONTENT:\nrepaired\nEND_ACTION\nCONFIDENCE: 0.9\n",
    ));
    fs::write(
        dir.join(".clk/config/workflows/one.yaml"),
        "name: one\nstages:\n  - id: build\n    agent: engineer\n    objective: Write app.txt.\n",
    )
    .unwrap();
    let out = clk(&dir)
        .args(["run", "--workflow", "one", "--max-cycles", "1"])
        .output()
        .unwrap();
    let printed =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(mock.model_calls(), 2, "{printed}");
    assert_eq!(
        fs::read_to_string(dir.join("app.txt")).unwrap_or_default(),
        "repaired\n",
        "{printed}"
    );
    assert!(!dir.join("other.txt").exists());
    let mut responses: Vec<String> = fs::read_dir(dir.join(".clk/runs"))
        .unwrap()
        .flatten()
        .filter_map(|e| fs::read_to_string(e.path().join("response.txt")).ok())
        .collect();
    responses.sort_by_key(String::len);
    assert_eq!(responses.len(), 2);
    let (applied, turned_down) = (&responses[0], &responses[1]);
    assert!(applied.contains("repaired"), "{applied}");
    assert!(
        turned_down.len() < 8 * 1024,
        "the turned-down reply is kept whole: {} bytes",
        turned_down.len()
    );
    assert!(
        turned_down.starts_with(&format!(
            "(reply turned down by the quality check, not applied: {} bytes, {} lines;",
            broken.len(),
            broken.lines().count()
        )),
        "{}",
        &turned_down[..200.min(turned_down.len())]
    );
    assert!(turned_down.contains("Writing the app now.\nACTION: write\nPATH: app.txt\n"));
    let log = activity(&dir);
    assert!(
        log.len() < 1_000_000,
        "activity.jsonl is {} bytes",
        log.len()
    );
}

#[test]
fn old_run_records_past_the_kept_number_go_while_a_dispatch_runs() {
    let mock = MockServer::start(Script::new(vec![]));
    let (_d, dir) = project(&mock, &["records.keep_runs=100"]);
    let runs = dir.join(".clk/runs");
    let backups = dir.join(".clk/backups");
    for i in 0..250 {
        let name = format!("20200101T0000{i:05}-engineer");
        fs::create_dir_all(runs.join(&name)).unwrap();
        fs::write(runs.join(&name).join("meta.json"), "{}").unwrap();
        fs::create_dir_all(backups.join(&name)).unwrap();
    }
    // The model takes a moment: the records are removed meanwhile, in a thread of their own.
    mock.push(Reply::delay(
        1500,
        Reply::text(
            "Writing it.\nACTION: write\nPATH: a.txt\nCONTENT:\nnotes\nEND_ACTION\n\
             CONFIDENCE: 0.9\nPROGRESS: yes\n",
        ),
    ));
    let out = clk(&dir)
        .args(["ask", "engineer", "look"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        mock.model_calls(),
        1,
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let names = |d: &Path| {
        let mut v: Vec<String> = fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    let left = names(&runs);
    assert_eq!(left.len(), 100, "{} run folders", left.len());
    // The newest stay, this dispatch's own among them.
    assert_eq!(left[0], "20200101T000000151-engineer");
    assert!(
        !left.last().unwrap().starts_with("2020"),
        "{:?}",
        left.last()
    );
    assert_eq!(names(&backups).len(), 100);
}
