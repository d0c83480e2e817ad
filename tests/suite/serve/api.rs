//! The engine and the task queue driven over REST: an idea typed as in the dashboard runs the
//! team (the built-in shell provider) and its events arrive on `/events`; the task requests
//! answer with the JSON `clk task --json` prints and refuse what the CLI refuses.

use reqwest::StatusCode;
use serde_json::json;

use super::{Served, Sse, start};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idea_posted_as_input_runs_the_team_and_streams_its_events() {
    let (_top, s) = start();
    let mut sse = Sse::connect(&s, None).await;
    let (status, r) = s
        .post(
            "/api/input",
            json!({"text": "Add a hello() function to greeter.py"}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{r}");
    let id = r["task_id"].as_u64().unwrap();
    let events = Served::until_finished(&mut sse, id).await;
    let kinds: Vec<&str> = events
        .iter()
        .map(|(_, e)| e["event"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"idea_captured"), "{kinds:?}");
    assert!(kinds.contains(&"dispatch_started"), "{kinds:?}");
    assert_eq!(events.last().unwrap().1["ok"], true, "{:?}", events.last());
    let (_, status) = s.get("/api/status").await;
    assert!(
        status["idea"].to_string().contains("hello()"),
        "the idea is recorded: {}",
        status["idea"]
    );
    let (_, live) = s.get("/api/state").await;
    assert_eq!(
        live["state"]["agents"]["engineer"]["status"], "done",
        "{live}"
    );
    assert!(live["log"].as_array().unwrap().len() > 3);
    assert_eq!(live["cost"], "$0.00");
    // Undo previews, then takes back clk's last commit.
    let (status, preview) = s.get("/api/undo").await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    let (status, done) = s.post("/api/undo", json!({"confirm": true})).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert!(
        done["summary"].as_str().unwrap().starts_with("reverted"),
        "{done}"
    );
    let (status, cap) = s
        .post(
            "/api/budget",
            json!({"key": "budget.session_usd_cap", "usd": 5}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{cap}");
    let (_, project) = s.get("/api/project").await;
    assert_eq!(project["root"], s.dir.display().to_string());
    assert_eq!(project["provider"], "shell");
    let (status, budget) = s.get("/api/budget").await;
    assert_eq!(status, StatusCode::OK);
    assert!(budget["lines"].to_string().contains("spent"), "{budget}");
    let (status, e) = s
        .post("/api/confirm", json!({"id": 99, "approve": true}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{e}");
    assert_eq!(e["message"], "no question 99 is waiting");
    let (status, e) = s.post("/api/stop", json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "nothing runs: {e}");
    assert_eq!(e["message"], "nothing is running");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_are_queued_listed_and_steered_with_the_clis_answers() {
    let (_top, s) = start();
    let mut sse = Sse::connect(&s, None).await;
    let (status, t) = s
        .post(
            "/api/tasks",
            json!({"prompt": "add a health endpoint", "autonomy": "safe"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{t}");
    assert_eq!(t["state"], "queued");
    assert_eq!(t["requested_by"], "api");
    let id = t["id"].as_i64().unwrap();
    // What changed is on the stream for every dashboard.
    let (_, ev) = sse.next().await.unwrap();
    assert_eq!(ev["event"], "report");
    assert_eq!(ev["topic"], "task");
    let (_, list) = s.get("/api/tasks").await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    let (_, shown) = s.get(&format!("/api/tasks/{id}")).await;
    assert_eq!(shown["prompt"], "add a health endpoint");
    let (status, e) = s.post(&format!("/api/tasks/{id}/approve"), json!({})).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "only a task waiting for approval: {e}"
    );
    let (_, paused) = s.post(&format!("/api/tasks/{id}/pause"), json!({})).await;
    assert_eq!(paused["state"], "paused", "{paused}");
    let (_, resumed) = s
        .post(&format!("/api/tasks/{id}/resume"), json!({"note": "go on"}))
        .await;
    assert_eq!(resumed["state"], "queued", "{resumed}");
    let (_, timeline) = s.get(&format!("/api/tasks/{id}/timeline")).await;
    assert!(timeline.to_string().contains("go on"), "{timeline}");
    let (_, cancelled) = s.post(&format!("/api/tasks/{id}/cancel"), json!({})).await;
    assert_eq!(cancelled["state"], "cancelled", "{cancelled}");
    // The CLI sees the same store.
    let out = crate::support::clk()
        .current_dir(&s.dir)
        .args(["--json", "task", "list"])
        .output()
        .unwrap();
    let cli: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(cli[0]["state"], "cancelled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_waiting_for_approval_and_a_finished_run_are_told_once_each() {
    let (_top, s) = start();
    let (status, t) = s
        .post("/api/tasks", json!({"prompt": "add a health endpoint"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{t}");
    let id = t["id"].as_i64().unwrap();
    super::browser::wait_for_approval(&s, id);
    let mut sse = Sse::connect(&s, None).await;
    let (_, r) = s
        .post(
            "/api/input",
            json!({"text": "Add a hello() function to greeter.py"}),
        )
        .await;
    Served::until_finished(&mut sse, r["task_id"].as_u64().unwrap()).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let notices = loop {
        let (status, n) = s.get("/api/notices").await;
        assert_eq!(status, StatusCode::OK);
        let list = n["notices"].as_array().unwrap().clone();
        let kinds: Vec<&str> = list.iter().map(|n| n["kind"].as_str().unwrap()).collect();
        if kinds.contains(&"approval") && kinds.contains(&"run_failed") {
            break list;
        }
        assert!(std::time::Instant::now() < deadline, "{n}");
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    };
    // Seen several times by now (every task look, every poll), told once.
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let (_, again) = s.get("/api/notices").await;
    assert_eq!(again["notices"].as_array().unwrap(), &notices);
    let approval = notices.iter().find(|n| n["kind"] == "approval").unwrap();
    assert_eq!(approval["key"], format!("task:{id}:approval"));
    let run = notices.iter().find(|n| n["kind"] == "run_failed").unwrap();
    assert!(run["text"].as_str().unwrap().contains("cycle_cap"), "{run}");
    let last = notices
        .iter()
        .map(|n| n["seq"].as_u64().unwrap())
        .max()
        .unwrap();
    let (_, after) = s.get(&format!("/api/notices?after={last}")).await;
    assert!(after["notices"].as_array().unwrap().is_empty());
    let (status, _) = s.get("/api/notices?after=soon").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}
