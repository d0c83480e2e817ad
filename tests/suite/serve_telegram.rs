//! `clk serve --telegram` through the real binary against a mock Bot API
//! (`support::mock_telegram`), the team on the built-in shell provider or the mock model
//! server: an allowed user's `/status` is answered; a stranger is refused once and nothing runs; `/run` shows its
//! progress as one message edited in place, no faster than once per 2 s; a task waiting for
//! approval comes with a button that approves it (a stranger's press does not); a question the
//! work asks (one more call past a spending cap) is answered No with its button.

use std::time::Duration;

use serde_json::Value;

use super::serve::{
    Served, new_project, on_mock_model, refused_to_start, start_with, wait_for_approval,
};
use crate::support::clk;
use crate::support::mock_server::{MockServer, Reply};
use crate::support::mock_telegram::MockTelegram;

const TOKEN: &str = "123456:test-token_ABC";
const OWNER: i64 = 42;
const STRANGER: i64 = 7;

/// A project whose bot obeys [`OWNER`] (with `settings` set too), served with `--telegram` against a fresh mock.
fn start_bot(settings: &[&str]) -> (tempfile::TempDir, Served, MockTelegram) {
    start_bot_on(MockTelegram::start(TOKEN), settings)
}

fn start_bot_on(
    mock: MockTelegram,
    settings: &[&str],
) -> (tempfile::TempDir, Served, MockTelegram) {
    let (top, dir) = new_project();
    let users = format!("serve.telegram_users=[{OWNER}]");
    let mut c = clk();
    c.current_dir(&dir).args(["configure", "--set", &users]);
    for set in settings {
        c.args(["--set", set]);
    }
    c.assert().success();
    let cfg = top.path().join("config");
    let s = start_with(
        &dir,
        &cfg,
        &["--telegram"],
        &[
            ("TELEGRAM_BOT_TOKEN", TOKEN),
            ("CLK_SERVE_TELEGRAM_API", &mock.url),
        ],
    );
    (top, s, mock)
}

const NOTHING: &str = "Looked; nothing to change.";

/// As [`start_bot`], the team on a mock model server that answers `reply` every time.
fn start_bot_with_model(
    reply: Reply,
    settings: &[&str],
) -> (tempfile::TempDir, Served, MockTelegram, MockServer) {
    let (model, all) = on_mock_model(reply, settings);
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    let (top, s, mock) = start_bot(&all);
    (top, s, mock, model)
}

fn text(v: &Value) -> &str {
    v["text"].as_str().unwrap_or("")
}

fn to(chat: i64) -> impl Fn(&Value) -> bool {
    move |b: &Value| b["chat_id"] == chat
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_gets_status_and_a_stranger_one_refusal_with_nothing_run() {
    // The Bot API fails the first two polls: the bot waits 1 s, then 2 s, and goes on.
    let (_top, s, mock) = start_bot_on(MockTelegram::failing(TOKEN, 2), &[]);
    mock.message(STRANGER, "/run Add a hello() function to greeter.py");
    mock.message(STRANGER, "/status");
    mock.message(OWNER, "/status");
    let root = s.dir.display().to_string();
    let answer = mock
        .wait_for("sendMessage", |b| to(OWNER)(b) && text(b).contains(&root))
        .await;
    assert!(text(&answer.body).contains("engineer"), "{}", answer.body);
    mock.message(OWNER, "/tasks");
    mock.wait_for("sendMessage", |b| to(OWNER)(b) && text(b) == "No tasks.")
        .await;
    mock.message(OWNER, "/budget");
    let budget = mock
        .wait_for("sendMessage", |b| {
            to(OWNER)(b) && text(b).to_lowercase().contains("cap")
        })
        .await;
    let (_, api) = s.get("/api/budget").await;
    let api_lines: Vec<&str> = api["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert_eq!(text(&budget.body), api_lines.join("\n"), "as the API says");
    mock.message(OWNER, "/abort");
    mock.wait_for("sendMessage", |b| {
        to(OWNER)(b) && text(b) == "aborting every running task"
    })
    .await;
    mock.message(OWNER, "/approve");
    mock.wait_for("sendMessage", |b| {
        to(OWNER)(b) && text(b).contains("say which task")
    })
    .await;
    // The stranger was told once, however often they wrote, and nothing ran.
    let refusals = mock.calls("sendMessage");
    let refusals: Vec<_> = refusals.iter().filter(|c| to(STRANGER)(&c.body)).collect();
    assert_eq!(refusals.len(), 1, "{refusals:#?}");
    assert!(text(&refusals[0].body).starts_with("Sorry"));
    let (_, status) = s.get("/api/status").await;
    assert!(status["idea"].is_null(), "a stranger's /run ran: {status}");
    assert!(mock.calls("editMessageText").is_empty());
    // The token is never printed.
    assert!(!s.output().contains("test-token"), "{}", s.output());
    assert!(s.output().contains("Telegram bot: on, for 1 user(s)"));
    let polls = mock.calls("getUpdates");
    let gap = |i: usize| polls[i + 1].at.duration_since(polls[i].at);
    assert!(gap(0) >= Duration::from_millis(900), "{:?}", gap(0));
    assert!(gap(1) >= Duration::from_millis(1900), "{:?}", gap(1));
    assert!(
        polls
            .iter()
            .all(|p| p.body["offset"].is_i64() && p.body["timeout"] == 25)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_progress_is_one_message_edited_at_most_every_two_seconds() {
    // Every model reply takes 400 ms, so one cycle outlasts a few edits.
    let reply = Reply::delay(400, Reply::text_usage(NOTHING, 100, 20));
    let (_top, s, mock, model) = start_bot_with_model(reply, &["supervise.max_cycles=1"]);
    mock.message(OWNER, "/run Add a hello() function to greeter.py");
    let first = mock
        .wait_for("sendMessage", |b| {
            to(OWNER)(b) && text(b).starts_with("Work ")
        })
        .await;
    let last = mock
        .wait_for("editMessageText", |b| {
            let head = text(b).lines().next().unwrap_or("");
            head.starts_with("Work ") && !head.ends_with(" running")
        })
        .await;
    let edits = mock.calls("editMessageText");
    assert!(edits.len() >= 2, "{edits:#?}");
    let started = mock.calls("sendMessage");
    let progress: Vec<_> = started
        .iter()
        .filter(|c| text(&c.body).starts_with("Work "))
        .collect();
    assert_eq!(progress.len(), 1, "one progress message: {progress:#?}");
    let mut at = first.at;
    for e in &edits {
        assert_eq!(e.body["chat_id"], OWNER);
        assert_eq!(e.body["message_id"], edits[0].body["message_id"]);
        let gap = e.at.duration_since(at);
        assert!(gap >= Duration::from_millis(1900), "edited after {gap:?}");
        at = e.at;
    }
    assert_eq!(
        last.body,
        edits.last().unwrap().body,
        "the end is the last edit"
    );
    // The run's end is also a notice, sent once as its own message.
    let notice = mock
        .wait_for("sendMessage", |b| {
            to(OWNER)(b) && text(b).contains("engineering run")
        })
        .await;
    assert!(notice.body.get("reply_markup").is_none());
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let notices = mock.calls("sendMessage");
    let told = notices
        .iter()
        .filter(|c| text(&c.body).contains("engineering run"))
        .count();
    assert_eq!(told, 1);
    let (_, status) = s.get("/api/status").await;
    assert!(status["idea"].to_string().contains("hello()"), "{status}");
    assert!(model.model_calls() >= 2, "the team asked the model");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_approve_button_approves_the_task_for_the_owner_only() {
    let (_top, s, mock) = start_bot(&[]);
    let (_, t) = s
        .post(
            "/api/tasks",
            serde_json::json!({"prompt": "add a health endpoint"}),
        )
        .await;
    let id = t["id"].as_i64().unwrap();
    wait_for_approval(&s, id);
    let data = format!("approve:{id}");
    let notice = mock
        .wait_for("sendMessage", |b| {
            to(OWNER)(b) && b["reply_markup"].to_string().contains(&data)
        })
        .await;
    assert!(text(&notice.body).contains("waits for approval"));
    let state = || {
        let out = clk()
            .current_dir(&s.dir)
            .args(["task", "list", "--json"])
            .output()
            .unwrap();
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        v.as_array().unwrap()[0]["state"]
            .as_str()
            .unwrap()
            .to_string()
    };
    mock.press(STRANGER, &data);
    let no = mock
        .wait_for("answerCallbackQuery", |b| b["callback_query_id"] == "cb7")
        .await;
    assert!(text(&no.body).starts_with("Sorry"), "{}", no.body);
    assert_eq!(state(), "approval");
    mock.press(OWNER, &data);
    let yes = mock
        .wait_for("answerCallbackQuery", |b| b["callback_query_id"] == "cb42")
        .await;
    assert_eq!(text(&yes.body), format!("task {id} is now approved"));
    assert_eq!(state(), "approved");
    // Pressed again: the API's refusal, as the answer.
    mock.press(OWNER, &data);
    let again = mock
        .wait_for("answerCallbackQuery", |b| {
            b["callback_query_id"] == "cb42" && text(b).starts_with("Could not")
        })
        .await;
    assert!(
        text(&again.body).contains(&id.to_string()),
        "{}",
        again.body
    );
    let buttons = mock.calls("sendMessage");
    let buttons = buttons
        .iter()
        .filter(|c| c.body["reply_markup"].to_string().contains(&data))
        .count();
    assert_eq!(buttons, 1, "the approval is told once");
    // /pause and /resume move a task as the API does, and say the API's refusal.
    let (_, t2) = s
        .post("/api/tasks", serde_json::json!({"prompt": "write docs"}))
        .await;
    let id2 = t2["id"].as_i64().unwrap();
    for (cmd, task, says) in [
        ("/pause", id2, format!("task {id2} is now paused")),
        ("/resume", id2, format!("task {id2} is now queued")),
        (
            "/pause",
            id,
            "only a queued, held or running task can be paused".into(),
        ),
    ] {
        mock.message(OWNER, &format!("{cmd} {task}"));
        mock.wait_for("sendMessage", |b| to(OWNER)(b) && text(b).contains(&says))
            .await;
    }
    assert_eq!(state(), "approved");
}

#[test]
fn telegram_without_a_usable_token_is_refused_with_what_to_do() {
    let (_top, dir) = new_project();
    for (token, says) in [
        (None, "needs the bot's token in TELEGRAM_BOT_TOKEN"),
        (Some("not a token/../x"), "does not look like a bot token"),
    ] {
        refused_to_start(
            &dir,
            &["--telegram"],
            &[("TELEGRAM_BOT_TOKEN", token)],
            says,
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_question_the_work_asks_is_answered_with_its_no_button() {
    // $1 per million tokens each way and a cap one reply passes: the next call asks first.
    let reply = Reply::text_usage(NOTHING, 1_000, 1_000);
    let (_top, _s, mock, model) = start_bot_with_model(
        reply,
        &[
            "providers.ollama.price.input_per_mtok=1",
            "providers.ollama.price.output_per_mtok=1",
            "budget.session_usd_cap=0.001",
        ],
    );
    mock.message(OWNER, "/run Add a hello() function to greeter.py");
    let asked = mock
        .wait_for("sendMessage", |b| {
            to(OWNER)(b) && b["reply_markup"].to_string().contains("\"no:")
        })
        .await;
    assert!(
        text(&asked.body).contains("one more model call"),
        "{}",
        asked.body
    );
    let data = asked.body["reply_markup"]["inline_keyboard"][0][1]["callback_data"]
        .as_str()
        .unwrap()
        .to_string();
    let calls = model.model_calls();
    mock.press(OWNER, &data);
    let answered = mock
        .wait_for("answerCallbackQuery", |b| b["callback_query_id"] == "cb42")
        .await;
    assert_eq!(text(&answered.body), "answered no");
    // No: the run stops at the cap without another call, and says so.
    mock.wait_for("editMessageText", |b| {
        text(b).lines().next().unwrap_or("").contains(" ended")
    })
    .await;
    assert_eq!(model.model_calls(), calls);
    mock.wait_for("sendMessage", |b| {
        to(OWNER)(b) && text(b).contains("spending cap budget.session_usd_cap")
    })
    .await;
}
