//! A task outlives the worker that ran it: `kill -9` of `clk work` after a finished turn loses
//! nothing (the next worker goes on from that turn, in the same worktree, with its handoff); a
//! task whose worktree went with its worker is marked interrupted and `clk task resume` starts it
//! again; `tasks.max_turns` ends a task that never finishes, and raising it lets it go on.

use std::fs;
use std::path::Path;

use super::*;

/// An implementer turn that writes `file` and leaves `todo` on its checklist.
fn step(file: &str, todo: &str) -> Reply {
    Reply::text(&format!(
        "ACTION: write\nPATH: {file}\nCONTENT:\n{file} by the task\nEND_ACTION\nHANDOFF: \
         {{\"summary\": \"wrote {file}\", \"changed_files\": [\"{file}\"], \"checklist\": \
         [{{\"item\": \"write {file}\", \"status\": \"done\"}}, {{\"item\": \"{todo}\", \
         \"status\": \"todo\"}}], \"open_questions\": [], \"next_action\": \"{todo}\"}}\n"
    ))
}

/// A task whose first turn finished and whose worker was killed (SIGKILL) during its second:
/// the mock, the project, the task as it was then, and the dead worker's PID.
fn killed_after_one_turn() -> (
    MockServer,
    tempfile::TempDir,
    std::path::PathBuf,
    Value,
    u32,
) {
    let mock = MockServer::start(Script::new(vec![
        step("one.txt", "write two.txt"),
        // The second turn never answers: the worker is killed while it waits.
        Reply::Stall,
        writes("two.txt", 10),
    ]));
    let (top, dir) = project(&mock);
    ok(&dir, &["task", "add", "write one.txt and two.txt"]);
    let mut child = worker_at_call(&dir, &mock, &["work"], 2);
    let t = task(&dir, 1);
    child.kill().unwrap();
    child.wait().unwrap();
    (mock, top, dir, t, child.id())
}

#[test]
fn kill_9_after_a_finished_turn_loses_nothing_and_the_next_worker_goes_on_from_it() {
    let (mock, _top, dir, t, pid) = killed_after_one_turn();
    assert_eq!(
        (t["state"].as_str(), t["turns"].as_i64()),
        (Some("running"), Some(1)),
        "{t}"
    );
    let worktree = t["worktree"].as_str().unwrap().to_string();
    assert!(
        Path::new(&worktree).join("one.txt").is_file(),
        "turn 1 is in its worktree"
    );

    let out = ok(&dir, &["work", "--until-idle"]);
    assert!(out.contains("1 merged"), "{out}");
    let tl = timeline(&dir, 1);
    assert!(
        tl.contains(&format!(
            "running → queued: its worker (PID {}) died; continues from its worktree and 1 turn(s)",
            pid
        )),
        "{tl}"
    );
    assert!(
        tl.contains(&format!("clk/task-1 at {worktree}")),
        "same worktree: {tl}"
    );
    // The turn after the kill was told where the task stood: turn 1's handoff.
    let third = &prompts(&mock)[2];
    assert!(
        third.contains("wrote one.txt"),
        "the last handoff is quoted: {third}"
    );
    for f in ["one.txt", "two.txt"] {
        assert_eq!(
            fs::read_to_string(dir.join(f)).unwrap(),
            if f == "one.txt" {
                "one.txt by the task\n"
            } else {
                "made by a task\n"
            }
        );
    }
    let t = task(&dir, 1);
    assert_eq!(t["state"], "merged", "{t}");
    assert_eq!(mock.model_calls(), 3, "turn 1 was not asked for again");
}

#[test]
fn a_dead_workers_task_without_its_worktree_is_interrupted_and_resume_goes_on_from_its_branch() {
    let (mock, _top, dir, t, pid) = killed_after_one_turn();
    // The worktree's folder is gone (git still has its record): only the branch is left.
    fs::remove_dir_all(t["worktree"].as_str().unwrap()).unwrap();

    let out = ok(&dir, &["work", "--until-idle"]);
    assert!(out.contains("0 merged"), "{out}");
    let t = task(&dir, 1);
    assert_eq!(t["state"], "interrupted", "{t}");
    assert!(
        t["reason"].as_str().unwrap().contains(&format!(
            "its worker (PID {}) died and its worktree is gone; `clk task resume 1` starts it again",
            pid
        )),
        "{t}"
    );
    assert_eq!(
        mock.model_calls(),
        2,
        "an interrupted task waits for the user"
    );

    assert!(ok(&dir, &["task", "resume", "1"]).contains("task 1 is queued now"));
    let out = ok(&dir, &["work", "--until-idle"]);
    assert!(out.contains("1 merged"), "{out}\n{}", timeline(&dir, 1));
    // Turn 1's commit came back with the branch: it was not asked for again.
    assert_eq!(mock.model_calls(), 3);
    for f in ["one.txt", "two.txt"] {
        assert!(dir.join(f).is_file(), "{f}");
    }
}

#[test]
fn max_turns_ends_a_task_that_never_finishes_and_a_raised_limit_lets_it_go_on() {
    let mock = MockServer::start(Script::new(vec![
        step("a.txt", "write b.txt"),
        step("b.txt", "write c.txt"),
        writes("c.txt", 10),
    ]));
    let (_t, dir) = project(&mock);
    ok(&dir, &["configure", "--set", "tasks.max_turns=2"]);
    git(&dir, &["commit", "-qam", "user: two turns"]);
    ok(&dir, &["task", "add", "write a, b and c"]);
    let out = ok(&dir, &["work", "--until-idle"]);
    assert!(out.contains("1 failed"), "{out}");
    let t = task(&dir, 1);
    assert_eq!(
        (t["state"].as_str(), t["turns"].as_i64()),
        (Some("failed"), Some(2)),
        "{t}"
    );
    let why = t["reason"].as_str().unwrap();
    assert!(
        why.contains("used all 2 turns (tasks.max_turns) before it was done"),
        "{why}"
    );
    assert_eq!(mock.model_calls(), 2, "no third turn was taken");
    assert!(
        !dir.join("a.txt").exists(),
        "an unfinished task does not merge"
    );

    ok(&dir, &["configure", "--set", "tasks.max_turns=5"]);
    git(&dir, &["commit", "-qam", "user: five turns"]);
    ok(&dir, &["task", "resume", "1"]);
    let out = ok(&dir, &["work", "--until-idle"]);
    assert!(out.contains("1 merged"), "{out}");
    for f in ["a.txt", "b.txt", "c.txt"] {
        assert!(dir.join(f).is_file(), "{f}");
    }
    assert_eq!(task(&dir, 1)["turns"], 3);
}

#[test]
fn a_branch_left_from_an_earlier_queue_fails_the_task_with_what_to_do() {
    let mock = MockServer::start(Script::new(vec![writes("new.txt", 10)]));
    let (_t, dir) = project(&mock);
    // A branch of that name from a task queue that was deleted: it is not this task's work.
    git(&dir, &["branch", "clk/task-1"]);
    ok(&dir, &["task", "add", "write new.txt"]);
    ok(&dir, &["work", "--until-idle"]);
    let t = task(&dir, 1);
    assert_eq!(t["state"], "failed", "{t}");
    assert_eq!(
        t["reason"],
        "could not create its worktree: a branch clk/task-1 left from an earlier task queue is \
         in the way; delete it (`git branch -D clk/task-1`), then `clk task resume 1`"
    );
    git(&dir, &["branch", "-D", "clk/task-1"]);
    ok(&dir, &["task", "resume", "1"]);
    ok(&dir, &["work", "--until-idle"]);
    assert_eq!(task(&dir, 1)["state"], "merged");
    assert_eq!(mock.model_calls(), 1);
}
