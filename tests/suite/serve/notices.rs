//! Notices survive a restart of `clk serve` without repeats: a task told as waiting for
//! approval is not told again by the next server, and a task that comes to wait after the
//! restart is told (through the Telegram mock, as a person would hear it).

use std::time::Duration;

use serde_json::{Value, json};

use super::{new_project, start_with, wait_for_approval};
use crate::support::clk;
use crate::support::mock_telegram::MockTelegram;

const TOKEN: &str = "123456:test-token_ABC";

fn waits(b: &Value) -> bool {
    b["text"]
        .as_str()
        .unwrap_or("")
        .contains("waits for approval")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_server_does_not_tell_a_waiting_task_again() {
    let (top, dir) = new_project();
    clk()
        .current_dir(&dir)
        .args(["configure", "--set", "serve.telegram_users=[42]"])
        .assert()
        .success();
    let cfg = top.path().join("config");
    let mock = MockTelegram::start(TOKEN);
    let envs = [
        ("TELEGRAM_BOT_TOKEN", TOKEN),
        ("CLK_SERVE_TELEGRAM_API", mock.url.as_str()),
    ];
    let s = start_with(&dir, &cfg, &["--telegram"], &envs);
    let (_, t) = s
        .post("/api/tasks", json!({"prompt": "add a health endpoint"}))
        .await;
    let id = t["id"].as_i64().unwrap();
    wait_for_approval(&s, id);
    mock.wait_for("sendMessage", waits).await;
    drop(s);
    let s = start_with(&dir, &cfg, &["--telegram"], &envs);
    // The new server reads the task list at once and looks for notices every second.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let told = |id: i64| {
        mock.calls("sendMessage")
            .iter()
            .filter(|c| {
                waits(&c.body) && c.body["text"].to_string().contains(&format!("task {id} "))
            })
            .count()
    };
    assert_eq!(told(id), 1, "told again after the restart");
    let (_, t2) = s.post("/api/tasks", json!({"prompt": "write docs"})).await;
    let id2 = t2["id"].as_i64().unwrap();
    wait_for_approval(&s, id2);
    let want = format!("task {id2} waits");
    mock.wait_for("sendMessage", |b| {
        b["text"].as_str().unwrap_or("").contains(&want)
    })
    .await;
    assert_eq!(told(id), 1);
}
