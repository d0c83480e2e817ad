//! The real binary in tmux: a `clk work` left one task waiting for approval and two queued;
//! the dashboard's Tasks view shows them, approves one after y, pauses, resumes and cancels
//! another, opens a timeline, picks up a task added from outside, follows `/work` live, and
//! the store agrees afterwards.

use crate::suite::tasks::{ok, project, task, writes};
use crate::suite::tui_tmux::{Tmux, need_tmux};
use crate::support::mock_server::{MockServer, Script};

#[test]
fn the_tasks_view_steers_the_queue_of_the_real_binary() {
    need_tmux!();
    let mock = MockServer::start(Script::new(vec![
        writes("notes.txt", 10),
        writes("readme.txt", 10),
    ]));
    let (_top, dir) = project(&mock);
    ok(
        &dir,
        &["task", "add", "rewrite notes.txt", "--autonomy", "safe"],
    );
    let out = ok(&dir, &["work", "--until-idle"]);
    assert!(out.contains("1 wait for approval"), "{out}");
    ok(&dir, &["task", "add", "fix the flaky test"]);
    ok(&dir, &["task", "add", "write the README"]);

    let t = Tmux::start("tasks");
    t.line(&format!(
        "cd '{}' && {}",
        dir.display(),
        env!("CARGO_BIN_EXE_clk")
    ));
    // Read at start: the title counts the task waiting for approval.
    t.wait_for("⏸1 approve", 20);
    t.wait_for("F2 shows the tasks", 10);
    t.key("F2");
    t.wait_for("tasks · 3 · ⏸1 approve", 10);
    t.wait_for("▸ #1 approval", 10);
    t.wait_for("#3 queued", 10);
    t.wait_for("Enter timeline · a approve", 10);
    // a asks first; y approves through the engine, and the table reads the store again.
    t.key("a");
    t.wait_for("Approve task 1 “rewrite notes.txt”?", 10);
    t.key("y");
    t.wait_for("▸ #1 approved", 10);
    t.wait_for("task 1 approved", 10);
    t.key("j");
    t.wait_for("▸ #2 queued", 10);
    t.key("p");
    t.wait_for("▸ #2 paused", 10);
    t.key("r");
    t.wait_for("▸ #2 queued", 10);
    t.key("x");
    t.wait_for("Cancel task 2 “fix the flaky test”?", 10);
    t.key("y");
    t.wait_for("▸ #2 cancelled", 10);
    // Enter on task 1: its timeline, with the turn the worker took.
    t.key("k");
    t.wait_for("▸ #1 approved", 10);
    t.key("Enter");
    t.wait_for("timeline · task 1 · rewrite notes.txt", 10);
    t.wait_for("── timeline ──", 10);
    t.wait_for("implementer", 10);
    t.key("Escape");
    t.wait_for("tasks · 3", 10);
    // A task added from another terminal shows up on the view's next read of the store.
    ok(&dir, &["task", "add", "tidy the docs"]);
    t.wait_for("#4 queued", 10);
    t.key("Escape");
    t.wait("the dashboard again", 10, |s| !s.contains("tasks · 4"));
    // /work runs the queue in the dashboard; the open view follows it live: the approved task
    // merges, the queued one runs to its end.
    ok(&dir, &["task", "pause", "4"]);
    t.line("/work");
    t.key("F2");
    t.wait_for("#1 merged", 30);
    t.wait("task 3 to finish", 30, |s| {
        s.contains("#3 merged") || s.contains("#3 approval")
    });
    t.key("Escape");
    t.wait("the dashboard again", 10, |s| !s.contains("tasks · 4"));
    t.line("/quit");
    t.wait_for("Quit clk?", 10);
    t.key("y");
    t.wait_prompt(10);
    t.assert_cooked();
    assert_eq!(task(&dir, 1)["state"], "merged");
    assert_eq!(task(&dir, 2)["state"], "cancelled");
    assert_eq!(task(&dir, 4)["state"], "paused");
    assert_eq!(
        std::fs::read_to_string(dir.join("notes.txt")).unwrap(),
        "made by a task\n"
    );
}

#[test]
fn context_rules_and_templates_from_the_dashboards_slash_commands() {
    need_tmux!();
    let mock = MockServer::start(Script::new(vec![]));
    let (_top, dir) = project(&mock);
    let t = Tmux::start("tasks-slash");
    t.line(&format!(
        "cd '{}' && {}",
        dir.display(),
        env!("CARGO_BIN_EXE_clk")
    ));
    t.wait_for("Welcome to clk", 20);
    t.line("/context add indent with tabs");
    t.wait_for("rule 1 added", 10);
    t.line("/context");
    t.wait_for("1  indent with tabs", 10);
    t.line("/template save docs update README.md --autonomy safe");
    t.wait_for("template docs saved", 10);
    t.line("/template run docs");
    t.wait_for("task 1 queued (engineer, duo, autonomy safe)", 10);
    t.line("/task add --template docs mention the flag");
    t.wait_for("task 2 queued", 10);
    t.line("/template run nope");
    t.wait_for("there is no template \"nope\"", 10);
    t.line("/quit");
    t.wait_prompt(10);
    // The same store `clk context` and `clk task` read.
    assert!(ok(&dir, &["context", "list"]).contains("1  indent with tabs"));
    let t1 = task(&dir, 1);
    assert_eq!(
        (t1["prompt"].as_str(), t1["autonomy"].as_str()),
        (Some("update README.md"), Some("safe"))
    );
    assert_eq!(t1["requested_by"], "dashboard");
    assert_eq!(
        task(&dir, 2)["prompt"],
        "update README.md\n\nmention the flag"
    );
}
