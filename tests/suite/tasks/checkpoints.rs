//! Guardrails inside a task. Approval checkpoints: `safe` stops after a plan that leaves work
//! to do, `balanced` before a risky file; `task reject` sends the note to the implementer, `task
//! approve` lets the next `clk work` go on from where it stopped, and the timeline says who
//! decided and when. `tasks.max_runtime_s` counts the time of every run of a task.

use super::*;

/// A reply that writes `file` and hands off with `done` items done and `todo` left to do.
fn step(file: &str, done: &str, todo: &[&str]) -> Reply {
    let mut items = vec![format!("{{\"item\": \"{done}\", \"status\": \"done\"}}")];
    items.extend(
        todo.iter()
            .map(|t| format!("{{\"item\": \"{t}\", \"status\": \"todo\"}}")),
    );
    Reply::text(&format!(
        "ACTION: write\nPATH: {file}\nCONTENT:\n{file} by the task\nEND_ACTION\nHANDOFF: \
         {{\"summary\": \"{done}\", \"changed_files\": [\"{file}\"], \"checklist\": [{}], \
         \"open_questions\": [], \"next_action\": \"go on\"}}\n",
        items.join(", ")
    ))
}

#[test]
fn safe_stops_at_its_plan_a_reject_sends_the_note_and_an_approve_goes_on() {
    let mock = MockServer::start(Script::new(vec![
        step("api.txt", "wrote api.txt", &["write API.md"]),
        step("API.md", "wrote API.md", &["write tests.txt"]),
        step("tests.txt", "wrote tests.txt", &[]),
    ]));
    let (_t, dir) = project(&mock);
    ok(&dir, &["task", "add", "add an api", "--autonomy", "safe"]);
    let out = ok(&dir, &["work", "--until-idle"]);
    assert!(out.contains("1 wait for approval"), "{out}");
    let t = task(&dir, 1);
    assert_eq!(t["state"], "awaiting_approval", "{t}");
    let why = t["reason"].as_str().unwrap();
    assert!(
        why.starts_with(
            "autonomy is safe: its plan waits for your approval: wrote api.txt (checklist: \
             wrote api.txt [done]; write API.md [todo])"
        ),
        "{why}"
    );
    assert!(why.contains("`clk task approve 1` lets it go on"), "{why}");
    // Merging waits for the approvals: nothing reached the user's branch.
    assert!(!dir.join("api.txt").exists());

    // Only a task that waits can be rejected; this one is sent back with the note.
    let (good, text) = run(&dir, &["task", "reject", "2"]);
    assert!(!good && text.contains("there is no task 2"), "{text}");
    let out = clk()
        .current_dir(&dir)
        .env("USER", "ann")
        .args(["task", "reject", "1", "also", "write", "tests"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(task(&dir, 1)["state"], "queued");
    ok(&dir, &["work", "--until-idle"]);
    assert!(
        prompts(&mock)[1]
            .contains("sent it back (rejected by ann (cli): also write tests). Change course"),
        "{}",
        prompts(&mock)[1]
    );
    // The plan is asked about again: it was never approved.
    assert_eq!(task(&dir, 1)["state"], "awaiting_approval");
    let wt = task(&dir, 1)["worktree"].as_str().unwrap().to_string();
    assert!(
        Path::new(&wt).join("API.md").is_file(),
        "kept in its worktree"
    );

    let out = clk()
        .current_dir(&dir)
        .env("USER", "bob")
        .args(["task", "approve", "1", "fine"])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("task 1 approved at checkpoint plan; `clk work` goes on with it"),
        "{said}"
    );
    // The approval is for that checkpoint only; the next run starts from the kept handoff.
    let out = ok(&dir, &["work", "--until-idle"]);
    assert!(out.contains("1 wait for approval"), "{out}");
    let third = &prompts(&mock)[2];
    assert!(
        third.contains("A person approved at checkpoint plan by bob (cli): fine"),
        "{third}"
    );
    assert!(
        third.contains("wrote API.md"),
        "the last handoff is quoted: {third}"
    );
    // Done: the merge itself waits for approval, as safe always does.
    let t = task(&dir, 1);
    assert_eq!(t["state"], "approval", "{t}");
    ok(&dir, &["task", "approve", "1"]);
    ok(&dir, &["work", "--until-idle"]);
    assert_eq!(task(&dir, 1)["state"], "merged");
    for f in ["api.txt", "API.md", "tests.txt"] {
        assert!(dir.join(f).is_file(), "{f}");
    }
    assert_eq!(mock.model_calls(), 3);
    let tl = timeline(&dir, 1);
    for want in [
        "running → awaiting_approval: autonomy is safe: its plan waits",
        "awaiting_approval → queued: rejected by ann (cli): also write tests",
        "awaiting_approval → queued: approved at checkpoint plan by bob (cli): fine",
        "checkpoint plan approved by bob (cli) at 20",
        "its merge approved by ",
    ] {
        assert!(tl.contains(want), "{want:?} not in:\n{tl}");
    }
}

#[test]
fn balanced_stops_before_a_risky_file_and_asks_once() {
    let mock = MockServer::start(Script::new(vec![writes(".github/workflows/ci.yml", 10)]));
    let (_t, dir) = project(&mock);
    ok(
        &dir,
        &[
            "task",
            "add",
            "add .github/workflows/ci.yml",
            "--flow",
            "solo",
        ],
    );
    ok(&dir, &["work", "--until-idle"]);
    let t = task(&dir, 1);
    assert_eq!(t["state"], "awaiting_approval", "{t}");
    assert!(
        t["reason"].as_str().unwrap().starts_with(
            "autonomy is balanced and it changes .github/workflows/ci.yml (CI config): that \
             waits for your approval before it goes further"
        ),
        "{t}"
    );
    assert_eq!(mock.model_calls(), 0, "it stops before the first turn");
    assert!(!dir.join(".github").exists());
    ok(&dir, &["task", "approve", "1"]);
    let out = ok(&dir, &["work", "--until-idle"]);
    // The risky file was let through at its checkpoint: the merge does not ask again.
    assert!(out.contains("1 merged"), "{out}");
    assert!(dir.join(".github/workflows/ci.yml").is_file());
    assert!(timeline(&dir, 1).contains("checkpoint risky:.github/workflows/ci.yml approved by"));
}

/// The seconds `task show` says task 1 was worked.
fn runtime(dir: &Path) -> f64 {
    let show = ok(dir, &["task", "show", "1"]);
    let line = show
        .lines()
        .find(|l| l.trim_start().starts_with("runtime"))
        .unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn max_runtime_counts_every_run_of_a_task_and_pauses_it_when_used_up() {
    let mock = MockServer::start(Script::new(vec![
        Reply::delay(1500, step("a.txt", "wrote a.txt", &["write b.txt"])),
        Reply::Stall,
        // Would fit in a fresh 3 s, but not in what is left of them.
        Reply::delay(2000, step("b.txt", "wrote b.txt", &[])),
        step("b.txt", "wrote b.txt", &[]),
    ]));
    let (_t, dir) = project(&mock);
    ok(&dir, &["configure", "--set", "tasks.max_runtime_s=3"]);
    git(&dir, &["commit", "-qam", "user: limit"]);
    ok(&dir, &["task", "add", "write a and b"]);
    // The first `clk work`: a 1.5 s turn, then the user pauses it during the second.
    let mut child = worker_at_call(&dir, &mock, &["work", "--until-idle"], 2);
    ok(&dir, &["task", "pause", "1"]);
    assert!(child.wait().unwrap().success());
    let first = runtime(&dir);
    assert!((1.5..3.0).contains(&first), "{first}");
    assert_eq!(task(&dir, 1)["state"], "paused");

    // The next `clk work` counts on from there: the 2 s turn does not fit.
    ok(&dir, &["task", "resume", "1"]);
    ok(&dir, &["work", "--until-idle"]);
    let t = task(&dir, 1);
    assert_eq!(t["state"], "paused", "{}", timeline(&dir, 1));
    let why = t["reason"].as_str().unwrap();
    assert!(
        why.contains("s over all its runs, all that tasks.max_runtime_s (3 s) allows; raise it"),
        "{why}"
    );
    assert!(runtime(&dir) >= 3.0, "{}", runtime(&dir));
    assert!(!dir.join("b.txt").exists());

    // Raised, it goes on.
    ok(&dir, &["configure", "--set", "tasks.max_runtime_s=60"]);
    git(&dir, &["commit", "-qam", "user: more time"]);
    ok(&dir, &["task", "resume", "1"]);
    ok(&dir, &["work", "--until-idle"]);
    assert_eq!(task(&dir, 1)["state"], "merged", "{}", timeline(&dir, 1));
    assert!(dir.join("b.txt").is_file());
}
