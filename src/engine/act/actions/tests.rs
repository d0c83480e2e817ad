use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use super::*;
use tokio_util::sync::CancellationToken;

use crate::engine::ground::events::{Decision, Event};
use crate::engine::ground::protocol::parse;
use crate::engine::store::bus::Bus;

struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    bus: Bus,
    rx: tokio::sync::broadcast::Receiver<Event>,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    std::fs::create_dir_all(root.join(".clk/state")).unwrap();
    let bus = Bus::new(None);
    let rx = bus.subscribe();
    Fixture {
        _dir: dir,
        root,
        bus,
        rx,
    }
}

fn ctx(root: &Path) -> GateContext {
    GateContext {
        root: root.to_path_buf(),
        agent: "engineer".into(),
        run_id: "run1".into(),
        backups: root.join(".clk/backups/run1"),
        warn_files: 5,
        max_files: 25,
        run_timeout: Duration::from_secs(10),
        user_dirty: BTreeSet::new(),
        done_file: root.join(".clk/state/done.md"),
        limits: Default::default(),
        // Off keeps the environment allow-list and runs on machines without a sandbox; the
        // sandbox itself is tested through the binary.
        sandbox: crate::engine::act::confine::for_commands(
            &crate::engine::ground::config::SandboxConfig {
                mode: crate::engine::ground::config::SandboxMode::Off,
                ..Default::default()
            },
            root,
        ),
    }
}

async fn apply_text(f: &Fixture, c: &GateContext, text: &str) -> BatchOutcome {
    let parsed = parse(text);
    apply(c, &f.bus, &parsed.actions, &CancellationToken::new()).await
}

fn decisions(rx: &mut tokio::sync::broadcast::Receiver<Event>) -> Vec<(String, Decision, String)> {
    let mut v = Vec::new();
    while let Ok(ev) = rx.try_recv() {
        if let Event::Action {
            target,
            decision,
            reason,
            ..
        } = ev
        {
            v.push((target, decision, reason));
        }
    }
    v
}

#[tokio::test]
async fn write_edit_append_delete_with_backups() {
    let mut f = fixture();
    std::fs::write(f.root.join("old.txt"), "keep me\n").unwrap();
    let c = ctx(&f.root);
    let out = apply_text(
        &f,
        &c,
        "ACTION: write\nPATH: src/a.py\nCONTENT:\nprint(1)\nEND_ACTION\n\
         ACTION: edit\nPATH: src/a.py\nOLD:\nprint(1)\nNEW:\nprint(2)\nEND_ACTION\n\
         ACTION: append\nPATH: NOTES.md\nCONTENT:\nline\nEND_ACTION\n\
         ACTION: delete\nPATH: old.txt\nEND_ACTION\n",
    )
    .await;
    assert_eq!(
        std::fs::read_to_string(f.root.join("src/a.py")).unwrap(),
        "print(2)\n"
    );
    assert_eq!(
        std::fs::read_to_string(f.root.join("NOTES.md")).unwrap(),
        "line\n"
    );
    assert!(!f.root.join("old.txt").exists());
    assert_eq!(
        std::fs::read_to_string(f.root.join(".clk/backups/run1/old.txt")).unwrap(),
        "keep me\n"
    );
    assert_eq!(out.written, vec!["src/a.py", "NOTES.md"]);
    assert_eq!(out.deleted, vec!["old.txt"]);
    assert_eq!(out.summary(), "wrote 2, deleted 1");
    let d = decisions(&mut f.rx);
    assert_eq!(d.len(), 4);
    assert!(
        d.iter().all(|(_, dec, _)| *dec == Decision::Applied),
        "{d:?}"
    );
}

#[tokio::test]
async fn escapes_are_rejected_and_nothing_lands_outside() {
    let mut f = fixture();
    let c = ctx(&f.root);
    let out = apply_text(
        &f,
        &c,
        "ACTION: write\nPATH: ../evil.txt\nCONTENT:\nx\nEND_ACTION\n\
         ACTION: write\nPATH: .clk/config/clk.config.json\nCONTENT:\n{}\nEND_ACTION\n\
         ACTION: write\nPATH: .git/hooks/post-commit\nCONTENT:\nx\nEND_ACTION\n",
    )
    .await;
    assert!(out.written.is_empty());
    assert_eq!(out.refused.len(), 3);
    assert!(!f.root.parent().unwrap().join("evil.txt").exists());
    let d = decisions(&mut f.rx);
    assert!(
        d.iter().all(|(_, dec, _)| *dec == Decision::Rejected),
        "{d:?}"
    );
}

#[tokio::test]
async fn edit_failures_are_clear() {
    let mut f = fixture();
    std::fs::write(f.root.join("a.txt"), "x\nx\n").unwrap();
    let c = ctx(&f.root);
    apply_text(
        &f,
        &c,
        "ACTION: edit\nPATH: a.txt\nOLD:\nx\nNEW:\ny\nEND_ACTION\n\
         ACTION: edit\nPATH: a.txt\nOLD:\nzzz\nNEW:\ny\nEND_ACTION\n\
         ACTION: edit\nPATH: missing.txt\nOLD:\nx\nNEW:\ny\nEND_ACTION\n",
    )
    .await;
    let d = decisions(&mut f.rx);
    assert!(d[0].2.contains("matches 2 places"), "{d:?}");
    assert!(d[1].2.contains("not found"), "{d:?}");
    assert!(d[2].2.contains("does not exist"), "{d:?}");
    assert_eq!(
        std::fs::read_to_string(f.root.join("a.txt")).unwrap(),
        "x\nx\n"
    );
}

#[tokio::test]
async fn over_the_cap_nothing_is_applied() {
    let f = fixture();
    let mut c = ctx(&f.root);
    c.max_files = 2;
    let text: String = (0..3)
        .map(|i| format!("ACTION: write\nPATH: f{i}.txt\nCONTENT:\n{i}\nEND_ACTION\n"))
        .collect();
    let out = apply_text(&f, &c, &text).await;
    assert!(out.written.is_empty());
    assert_eq!(out.refused.len(), 3);
    assert!(!f.root.join("f0.txt").exists());
}

#[tokio::test]
async fn user_changes_are_left_alone() {
    let f = fixture();
    std::fs::write(f.root.join("mine.txt"), "my work\n").unwrap();
    let mut c = ctx(&f.root);
    c.user_dirty.insert("mine.txt".into());
    let out = apply_text(
        &f,
        &c,
        "ACTION: write\nPATH: mine.txt\nCONTENT:\nagent\nEND_ACTION\n",
    )
    .await;
    assert!(out.written.is_empty());
    assert_eq!(
        std::fs::read_to_string(f.root.join("mine.txt")).unwrap(),
        "my work\n"
    );
}

#[tokio::test]
async fn commands_run_in_the_root_and_dangerous_ones_are_refused() {
    let mut f = fixture();
    let mut c = ctx(&f.root);
    c.run_timeout = Duration::from_millis(300);
    let out = apply_text(
        &f,
        &c,
        "ACTION: run\nCMD: pwd > where.txt\nEND_ACTION\n\
         ACTION: run\nCMD: sudo rm -rf /\nEND_ACTION\n\
         ACTION: run\nCMD: sleep 5\nEND_ACTION\n\
         ACTION: run\nCMD: exit 4\nEND_ACTION\n",
    )
    .await;
    let where_ = std::fs::read_to_string(f.root.join("where.txt")).unwrap();
    assert_eq!(where_.trim(), f.root.display().to_string());
    assert_eq!(out.commands.len(), 3);
    assert!(out.commands[1].timed_out);
    assert_eq!(out.commands[2].exit_code, Some(4));
    let d = decisions(&mut f.rx);
    let sudo = d.iter().find(|x| x.0.contains("sudo")).unwrap();
    assert_eq!(sudo.1, Decision::Rejected);
    assert!(sudo.2.contains("privileges"), "{sudo:?}");
}

#[tokio::test]
async fn done_writes_the_request() {
    let f = fixture();
    let c = ctx(&f.root);
    let out = apply_text(&f, &c, "ACTION: done\nREASON: all green\nEND_ACTION\n").await;
    assert_eq!(out.done.as_deref(), Some("all green"));
    let text = std::fs::read_to_string(f.root.join(".clk/state/done.md")).unwrap();
    assert!(text.contains("all green"));
}

#[tokio::test]
async fn fifos_hard_links_and_symlinks_are_refused_without_hanging() {
    let mut f = fixture();
    let fifo = f.root.join("pipe");
    let st = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(st.success());
    std::fs::create_dir_all(f.root.join(".git")).unwrap();
    std::fs::write(f.root.join(".git/config"), "[core]\n").unwrap();
    std::fs::hard_link(f.root.join(".git/config"), f.root.join("cfg")).unwrap();
    std::fs::write(f.root.join("notes.txt"), "mine\n").unwrap();
    std::os::unix::fs::symlink("notes.txt", f.root.join("l")).unwrap();
    let c = ctx(&f.root);
    let out = tokio::time::timeout(
        Duration::from_secs(5),
        apply_text(
            &f,
            &c,
            "ACTION: write\nPATH: pipe\nCONTENT:\nx\nEND_ACTION\n\
             ACTION: append\nPATH: cfg\nCONTENT:\n[alias]\nEND_ACTION\n\
             ACTION: write\nPATH: l\nCONTENT:\nagent\nEND_ACTION\n",
        ),
    )
    .await
    .expect("a FIFO must not block the gate");
    assert!(out.written.is_empty(), "{:?}", out.written);
    assert_eq!(
        std::fs::read_to_string(f.root.join(".git/config")).unwrap(),
        "[core]\n"
    );
    assert_eq!(
        std::fs::read_to_string(f.root.join("notes.txt")).unwrap(),
        "mine\n"
    );
    let d = decisions(&mut f.rx);
    assert!(
        d.iter().all(|(_, dec, _)| *dec == Decision::Rejected),
        "{d:?}"
    );
}

#[tokio::test]
async fn files_made_by_commands_belong_to_the_batch() {
    let f = fixture();
    let repo = git2::Repository::init(&f.root).unwrap();
    drop(repo);
    std::fs::write(f.root.join("mine.txt"), "user\n").unwrap();
    let mut c = ctx(&f.root);
    c.user_dirty.insert("mine.txt".into());
    let out = apply_text(
        &f,
        &c,
        "ACTION: run\nCMD: mkdir -p gen && echo data > gen/out.txt && echo more >> mine.txt\nEND_ACTION\n",
    )
    .await;
    assert_eq!(out.written, vec!["gen/out.txt"]);
    assert!(out.changed_paths().iter().all(|p| p != "mine.txt"));
}

#[tokio::test]
async fn runs_past_the_cap_or_the_budget_are_refused() {
    let f = fixture();
    let mut c = ctx(&f.root);
    c.limits.max_runs = 2;
    let three = "ACTION: run\nCMD: true\nEND_ACTION\n".repeat(3);
    let out = apply_text(&f, &c, &three).await;
    assert_eq!(out.commands.len(), 2);
    assert_eq!(out.refused.len(), 1);
    assert!(out.refused[0].contains("validation.max_runs_per_reply"));

    let mut c = ctx(&f.root);
    c.limits.budget = Duration::from_millis(300);
    let slow = "ACTION: run\nCMD: sleep 5\nEND_ACTION\nACTION: run\nCMD: true\nEND_ACTION\n";
    let started = std::time::Instant::now();
    let out = apply_text(&f, &c, slow).await;
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    assert!(out.commands[0].timed_out, "{:?}", out.commands);
    assert_eq!(out.commands.len(), 1);
    assert!(
        out.refused[0].contains("validation.runs_budget_s"),
        "{:?}",
        out.refused
    );
}
