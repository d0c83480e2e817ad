//! Overlap from what a task actually changed: a running task whose prompt names no file, but
//! whose first turn wrote one, holds a task added later that names that file.

use super::*;

#[test]
fn a_file_a_running_task_touched_holds_a_later_task_that_names_it() {
    let mock = MockServer::start(Script::new(vec![
        // Task 1, turn 1: writes app.txt, more to do.
        Reply::text(
            "ACTION: write\nPATH: app.txt\nCONTENT:\nv1\nEND_ACTION\nHANDOFF: {\"summary\": \
             \"wrote app.txt\", \"changed_files\": [\"app.txt\"], \"checklist\": [{\"item\": \
             \"app\", \"status\": \"done\"}, {\"item\": \"polish\", \"status\": \"todo\"}], \
             \"open_questions\": [], \"next_action\": \"polish\"}\n",
        ),
        // Task 1, turn 2: slow, so task 2 is added while it runs.
        writes("app.txt", 2500),
        // Task 2.
        writes("app.txt", 10),
    ]));
    let (_t, dir) = project(&mock);
    ok(&dir, &["task", "add", "make the greeting friendlier"]);
    assert_eq!(task(&dir, 1)["predicted_files"], serde_json::json!([]));
    let args = ["work", "--workers", "2", "--until-idle"];
    let mut child = worker_at_call(&dir, &mock, &args, 2);
    ok(&dir, &["task", "add", "tidy app.txt"]);
    assert!(child.wait().unwrap().success());
    let tl = timeline(&dir, 2);
    assert!(
        tl.contains("queued → held: waits for task 1, which changes app.txt too"),
        "{tl}"
    );
    let (t1, t2) = (task(&dir, 1), task(&dir, 2));
    assert_eq!(
        (t1["state"].as_str(), t2["state"].as_str()),
        (Some("merged"), Some("merged"))
    );
    assert!(
        t2["started_at"].as_str() >= t1["finished_at"].as_str(),
        "2 waited for 1: {t1} {t2}"
    );
}
