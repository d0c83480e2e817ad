//! `clk serve --discord` through the real binary: interactions signed as Discord signs them
//! (`support::mock_discord::Signer`), its REST calls caught by a mock (`MockDiscord`), the team
//! on the mock model server. A PING is answered; unsigned, badly signed, tampered and stale
//! requests are refused with a 401; channels are linked with `/project add` and listed; a
//! `run` from an allowed role posts one progress message in the linked channel and edits it no
//! faster than once per 2 s; a role without the permission is told privately which one it
//! lacks and nothing runs; `/tasks` lists a task and its approval notice's button approves it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::serve::{
    Served, new_project, on_mock_model, refused_to_start, start_with, wait_for_approval,
};
use crate::support::clk;
use crate::support::mock_discord::{MockDiscord, Signer};
use crate::support::mock_server::{MockServer, Reply};

const TOKEN: &str = "MTIzNDU2Nzg5.test_bot-token.abcdefgh";
const CHANNEL: &str = "555000111";
const APP: &str = "777000333";
const RUNNER: &str = "1001";
const APPROVER: &str = "1002";
const ADMIN: &str = "1003";
const NOBODY: &str = "1009";

struct Bot {
    _top: tempfile::TempDir,
    s: Served,
    mock: MockDiscord,
    signer: Signer,
    _model: Option<MockServer>,
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A project whose bot lets role [`RUNNER`] run, [`APPROVER`] approve and [`ADMIN`] do all,
/// with `settings` too; served with `--discord` against a fresh mock.
fn start_bot(settings: &[&str], model: Option<MockServer>) -> Bot {
    let (top, dir) = new_project();
    let mock = MockDiscord::start(TOKEN);
    let signer = Signer::new(11);
    let run = format!("serve.discord_run=[\"{RUNNER}\"]");
    let approve = format!("serve.discord_approve=[\"{APPROVER}\"]");
    let admin = format!("serve.discord_admin=[\"{ADMIN}\"]");
    let mut c = clk();
    c.current_dir(&dir).args([
        "configure",
        "--set",
        &run,
        "--set",
        &approve,
        "--set",
        &admin,
    ]);
    for set in settings {
        c.args(["--set", set]);
    }
    c.assert().success();
    let cfg = top.path().join("config");
    let key = signer.public_key();
    let s = start_with(
        &dir,
        &cfg,
        &["--discord"],
        &[
            ("DISCORD_TOKEN", TOKEN),
            ("DISCORD_PUBLIC_KEY", &key),
            ("CLK_SERVE_DISCORD_API", &mock.url),
        ],
    );
    Bot {
        _top: top,
        s,
        mock,
        signer,
        _model: model,
    }
}

/// As [`start_bot`], the team on a mock model server that answers `reply` every time.
fn start_bot_with_model(reply: Reply, settings: &[&str]) -> Bot {
    let (model, all) = on_mock_model(reply, settings);
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    start_bot(&all, Some(model))
}

impl Bot {
    /// Post `body` to the interactions endpoint with `headers`.
    async fn post_raw(&self, body: &str, headers: &[(&str, String)]) -> (StatusCode, Value) {
        let mut r = self
            .s
            .client()
            .post(format!("{}/discord/interactions", self.s.url))
            .header("Content-Type", "application/json")
            .body(body.to_string());
        for (k, v) in headers {
            r = r.header(*k, v);
        }
        let r = r.send().await.unwrap();
        (r.status(), r.json().await.unwrap_or(Value::Null))
    }

    /// Post `body` signed now.
    async fn signed(&self, body: &Value) -> (StatusCode, Value) {
        let text = body.to_string();
        let headers = self.signer.headers(&text, now());
        self.post_raw(&text, &headers).await
    }

    /// A slash command from a member with `role`, in [`CHANNEL`]; the reply's status and body.
    async fn command(&self, role: &str, name: &str, options: Value) -> (StatusCode, Value) {
        let body = json!({
            "type": 2, "id": "1", "application_id": APP, "token": "itoken_abc",
            "channel_id": CHANNEL, "guild_id": "9",
            "member": {"user": {"id": "42"}, "roles": [role]},
            "data": {"id": "5", "name": name, "type": 1, "options": options},
        });
        self.signed(&body).await
    }

    /// A button click carrying `custom_id` by a member with `role`.
    async fn click(&self, role: &str, custom_id: &str) -> (StatusCode, Value) {
        let body = json!({
            "type": 3, "id": "2", "application_id": APP, "token": "itoken_def",
            "channel_id": CHANNEL, "guild_id": "9",
            "member": {"user": {"id": "42"}, "roles": [role]},
            "data": {"custom_id": custom_id, "component_type": 2},
        });
        self.signed(&body).await
    }

    async fn link_here(&self) {
        let (st, r) = self
            .command(
                ADMIN,
                "project",
                json!([{"type": 1, "name": "add", "options": []}]),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{r}");
        assert!(content(&r).starts_with("Linked:"), "{r}");
    }
}

fn content(v: &Value) -> &str {
    v["data"]["content"].as_str().unwrap_or("")
}

fn text(v: &Value) -> &str {
    v["content"].as_str().unwrap_or("")
}

const MESSAGES: &str = "/channels/555000111/messages";
const EDITS: &str = "/channels/555000111/messages/*";
const NOTHING: &str = "Looked; nothing to change.";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ping_is_answered_and_unsigned_bad_tampered_or_stale_requests_are_refused() {
    let b = start_bot(&[], None);
    let ping = json!({"type": 1, "id": "1", "application_id": APP}).to_string();
    // Signed by Discord's key: answered, with no bearer token.
    let (st, r) = b.post_raw(&ping, &b.signer.headers(&ping, now())).await;
    assert_eq!((st, r), (StatusCode::OK, json!({"type": 1})));
    let refused = |(st, r): (StatusCode, Value)| {
        assert_eq!(st, StatusCode::UNAUTHORIZED, "{r}");
        assert_eq!(r["code"], "bad_signature", "{r}");
    };
    refused(b.post_raw(&ping, &[]).await);
    // Another key's signature.
    refused(
        b.post_raw(&ping, &Signer::new(12).headers(&ping, now()))
            .await,
    );
    // Signed, then changed on the way.
    let other = json!({"type": 1, "id": "2", "application_id": APP}).to_string();
    refused(b.post_raw(&other, &b.signer.headers(&ping, now())).await);
    // Signed ten minutes ago: a replay.
    let (st, r) = b
        .post_raw(&ping, &b.signer.headers(&ping, now() - 600))
        .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert!(r["message"].as_str().unwrap().contains("too old"), "{r}");
    // The bearer token does not stand in for a signature.
    let r =
        b.s.req(reqwest::Method::POST, "/discord/interactions")
            .body(ping.clone())
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(b.s.output().contains("Discord bot: on"), "{}", b.s.output());
    assert!(!b.s.output().contains("test_bot-token"), "{}", b.s.output());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_from_an_allowed_role_edits_one_progress_message_in_the_linked_channel() {
    // Every model reply takes 400 ms, so one cycle outlasts a few edits.
    let reply = Reply::delay(400, Reply::text_usage(NOTHING, 100, 20));
    let b = start_bot_with_model(reply, &["supervise.max_cycles=1"]);
    b.link_here().await;
    let (_, list) = b
        .command(RUNNER, "project", json!([{"type": 1, "name": "list"}]))
        .await;
    let dir = b.s.dir.display().to_string();
    assert!(
        content(&list).starts_with(&format!("<#{CHANNEL}> ")),
        "{list}"
    );
    assert!(content(&list).ends_with(&format!("({dir})")), "{list}");
    let idea =
        json!([{"type": 3, "name": "idea", "value": "Add a hello() function to greeter.py"}]);
    let (st, r) = b.command(RUNNER, "run", idea).await;
    assert_eq!(st, StatusCode::OK, "{r}");
    assert_eq!(r["type"], 4, "{r}");
    assert!(content(&r).contains("started"), "{r}");
    let first = b
        .mock
        .wait_for("POST", MESSAGES, |m| text(m).starts_with("Work "))
        .await;
    let last = b
        .mock
        .wait_for("PATCH", EDITS, |m| {
            let head = text(m).lines().next().unwrap_or("");
            head.starts_with("Work ") && !head.ends_with(" running")
        })
        .await;
    let edits = b.mock.calls("PATCH", EDITS);
    assert!(edits.len() >= 2, "{edits:#?}");
    let progress: Vec<_> = b
        .mock
        .calls("POST", MESSAGES)
        .into_iter()
        .filter(|c| text(&c.body).starts_with("Work "))
        .collect();
    assert_eq!(progress.len(), 1, "one progress message: {progress:#?}");
    let mut at = first.at;
    for e in &edits {
        assert_eq!(e.path, edits[0].path, "the same message every time");
        let gap = e.at.duration_since(at);
        assert!(gap >= Duration::from_millis(1900), "edited after {gap:?}");
        at = e.at;
    }
    assert_eq!(
        last.body,
        edits.last().unwrap().body,
        "the end is the last edit"
    );
    // The run's end is also a notice in the linked channel, once.
    b.mock
        .wait_for("POST", MESSAGES, |m| text(m).contains("engineering run"))
        .await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let told = b
        .mock
        .calls("POST", MESSAGES)
        .iter()
        .filter(|c| text(&c.body).contains("engineering run"))
        .count();
    assert_eq!(told, 1);
    let (_, status) = b.s.get("/api/status").await;
    assert!(status["idea"].to_string().contains("hello()"), "{status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_without_the_permission_is_told_which_it_lacks_and_nothing_runs() {
    let b = start_bot(&[], None);
    let idea = json!([{"type": 3, "name": "idea", "value": "Add a hello() function"}]);
    for (role, cmd, opts, lacks) in [
        (NOBODY, "run", idea.clone(), "`run` permission"),
        (APPROVER, "run", idea.clone(), "`run` permission"),
        (
            RUNNER,
            "approve",
            json!([{"type": 4, "name": "id", "value": 1}]),
            "`approve` permission",
        ),
        (
            RUNNER,
            "project",
            json!([{"type": 1, "name": "add"}]),
            "`admin` permission",
        ),
        (NOBODY, "status", json!([]), "a clk permission"),
    ] {
        let (st, r) = b.command(role, cmd, opts).await;
        assert_eq!(st, StatusCode::OK, "{r}");
        assert_eq!(r["data"]["flags"], 64, "only the asker sees it: {r}");
        assert!(content(&r).contains(lacks), "{cmd} by {role}: {r}");
        assert_eq!(content(&r).lines().count(), 1, "{r}");
    }
    // An allowed role's status is answered from the API.
    let (_, r) = b.command(APPROVER, "status", json!([])).await;
    assert!(content(&r).contains(&b.s.dir.display().to_string()), "{r}");
    let (_, status) = b.s.get("/api/status").await;
    assert!(status["idea"].is_null(), "a refused run ran: {status}");
    assert!(b.mock.calls("POST", MESSAGES).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_are_listed_and_the_approve_button_approves_a_real_task() {
    let b = start_bot(&[], None);
    b.link_here().await;
    let (_, t) =
        b.s.post("/api/tasks", json!({"prompt": "add a health endpoint"}))
            .await;
    let id = t["id"].as_i64().unwrap();
    wait_for_approval(&b.s, id);
    let (_, r) = b.command(RUNNER, "tasks", json!([])).await;
    assert_eq!(content(&r), format!("#{id} approval add a health endpoint"));
    let data = format!("approve:{id}");
    let notice = b
        .mock
        .wait_for("POST", MESSAGES, |m| {
            m["components"].to_string().contains(&data)
        })
        .await;
    assert!(text(&notice.body).contains("waits for approval"));
    let state = || {
        let out = clk()
            .current_dir(&b.s.dir)
            .args(["task", "list", "--json"])
            .output()
            .unwrap();
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        v[0]["state"].as_str().unwrap().to_string()
    };
    let (_, no) = b.click(RUNNER, &data).await;
    assert!(content(&no).contains("`approve` permission"), "{no}");
    assert_eq!(state(), "approval");
    let (_, yes) = b.click(APPROVER, &data).await;
    assert_eq!(content(&yes), format!("task {id} is now approved"));
    assert_eq!(state(), "approved");
    let (_, again) = b.click(ADMIN, &data).await;
    assert!(content(&again).starts_with("Could not"), "{again}");
    // /pause and /resume by number, as the API does them.
    let (_, t2) =
        b.s.post("/api/tasks", json!({"prompt": "write docs"}))
            .await;
    let id2 = t2["id"].as_i64().unwrap();
    for (cmd, says) in [("pause", "paused"), ("resume", "queued")] {
        let (_, r) = b
            .command(
                APPROVER,
                cmd,
                json!([{"type": 4, "name": "id", "value": id2}]),
            )
            .await;
        assert_eq!(content(&r), format!("task {id2} is now {says}"));
    }
    let told = b
        .mock
        .calls("POST", MESSAGES)
        .iter()
        .filter(|c| c.body["components"].to_string().contains(&data))
        .count();
    assert_eq!(told, 1, "the approval is told once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_linked_to_another_project_is_told_so_and_registration_puts_the_commands() {
    let (top, dir) = new_project();
    let other = top.path().join("other");
    std::fs::create_dir(&other).unwrap();
    let cfg = top.path().join("config");
    let data = top.path().join("data");
    // The other project is in the registry; the channel follows it.
    clk()
        .current_dir(&other)
        .env("XDG_DATA_HOME", &data)
        .arg("init")
        .assert()
        .success();
    let mock = MockDiscord::start(TOKEN);
    let signer = Signer::new(11);
    let admin = format!("serve.discord_admin=[\"{ADMIN}\"]");
    clk()
        .current_dir(&dir)
        .args(["configure", "--set", &admin])
        .assert()
        .success();
    let key = signer.public_key();
    let s = start_with(
        &dir,
        &cfg,
        &["--discord", "--discord-register"],
        &[
            ("DISCORD_TOKEN", TOKEN),
            ("DISCORD_PUBLIC_KEY", &key),
            ("DISCORD_APPLICATION_ID", APP),
            ("CLK_SERVE_DISCORD_API", &mock.url),
            ("XDG_DATA_HOME", data.to_str().unwrap()),
        ],
    );
    let put = mock.calls("PUT", "/applications/777000333/commands");
    assert_eq!(put.len(), 1);
    assert!(put[0].authorized);
    assert_eq!(put[0].body.as_array().unwrap().len(), 10, "{}", put[0].body);
    let b = Bot {
        _top: top,
        s,
        mock,
        signer,
        _model: None,
    };
    let opts = json!([{"type": 1, "name": "add", "options": [
        {"type": 3, "name": "workspace", "value": "other"}]}]);
    let (_, r) = b.command(ADMIN, "project", opts).await;
    assert!(content(&r).contains("clk serve that runs it"), "{r}");
    let (_, r) = b.command(ADMIN, "status", json!([])).await;
    assert!(content(&r).starts_with("This channel follows other"), "{r}");
    let stored = std::fs::read_to_string(b._top.path().join("config/clk/channels.json")).unwrap();
    assert!(
        stored.contains(CHANNEL) && !stored.contains(TOKEN),
        "{stored}"
    );
    b.link_here().await;
    let (_, r) = b.command(ADMIN, "status", json!([])).await;
    assert!(content(&r).contains(&b.s.dir.display().to_string()), "{r}");
}

#[test]
fn discord_without_its_token_or_key_is_refused_with_what_to_do() {
    let (_top, dir) = new_project();
    let key = Signer::new(1).public_key();
    for (token, public, says) in [
        (
            None,
            Some(key.as_str()),
            "needs the bot's token in DISCORD_TOKEN",
        ),
        (Some(TOKEN), None, "DISCORD_PUBLIC_KEY"),
        (Some(TOKEN), Some("abcd"), "not 64 hex digits"),
        (
            Some("no"),
            Some(key.as_str()),
            "does not look like a bot token",
        ),
    ] {
        let envs = [("DISCORD_TOKEN", token), ("DISCORD_PUBLIC_KEY", public)];
        refused_to_start(&dir, &["--discord"], &envs, says);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deferred_answer_is_filled_in_through_the_interaction_webhook_without_the_bot_token() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mock = MockDiscord::start(TOKEN);
    let rest = clk::serve::discord::Rest::new(&mock.url, TOKEN).unwrap();
    rest.edit_original(APP, "itoken_abc", "task 3 is now approved")
        .await
        .unwrap();
    let call = mock
        .wait_for(
            "PATCH",
            "/webhooks/777000333/itoken_abc/messages/@original",
            |b| text(b) == "task 3 is now approved",
        )
        .await;
    assert!(
        !call.authorized,
        "the bot token goes only to the bot's own calls"
    );
    // A token that could change the path is refused before anything is sent.
    let bad = rest.edit_original(APP, "../../channels/1", "x").await;
    assert!(bad.is_err());
    // The bot's token is refused by the mock when wrong: the REST calls do send it.
    let wrong = clk::serve::discord::Rest::new(&mock.url, "another-token-0123456789").unwrap();
    let e = wrong.post(CHANNEL, "hi", None).await.unwrap_err();
    assert!(e.contains("401") && !e.contains("another-token"), "{e}");
}
