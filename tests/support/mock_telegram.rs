//! A stand-in for the Telegram Bot API on loopback (axum on its own thread): `getUpdates`
//! serves a scripted queue of updates from the offset asked for (waiting a little when there
//! is nothing, as the real long poll does), and every call is kept with its JSON body and
//! when it came. `sendMessage` answers with a new message id; the other methods with `true`.
//! A token other than the one given answers 401.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

/// One call the bot made.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub body: Value,
    pub at: Instant,
}

#[derive(Default)]
struct Shared {
    token: String,
    queue: Vec<Value>,
    next_update: i64,
    next_message: i64,
    calls: Vec<Call>,
    /// `getUpdates` calls still to fail with a 502 (and a body that is not JSON).
    fail_polls: usize,
}

type S = Arc<Mutex<Shared>>;

pub struct MockTelegram {
    pub url: String,
    shared: S,
}

impl MockTelegram {
    pub fn start(token: &str) -> MockTelegram {
        MockTelegram::failing(token, 0)
    }

    /// One whose first `polls` `getUpdates` calls fail with a 502, as a proxy in trouble does.
    pub fn failing(token: &str, polls: usize) -> MockTelegram {
        let shared: S = Arc::new(Mutex::new(Shared {
            token: token.to_string(),
            fail_polls: polls,
            next_update: 100,
            next_message: 1,
            ..Shared::default()
        }));
        let app = axum::Router::new()
            .route("/{bot}/{method}", post(call))
            .with_state(shared.clone());
        let url = super::serve_on_thread(app);
        MockTelegram { url, shared }
    }

    fn push(&self, mut update: Value) {
        let mut s = self.shared.lock().unwrap();
        update["update_id"] = json!(s.next_update);
        s.next_update += 1;
        s.queue.push(update);
    }

    /// A private-chat message from `user`.
    pub fn message(&self, user: i64, text: &str) {
        self.push(json!({"message": {
            "message_id": 1, "date": 0, "text": text,
            "from": {"id": user, "is_bot": false, "first_name": "U"},
            "chat": {"id": user, "type": "private"},
        }}));
    }

    /// `user` pressed an inline button carrying `data`.
    pub fn press(&self, user: i64, data: &str) {
        self.push(json!({"callback_query": {
            "id": format!("cb{user}"), "data": data, "chat_instance": "1",
            "from": {"id": user, "is_bot": false, "first_name": "U"},
        }}));
    }

    /// Every call to `method` so far.
    pub fn calls(&self, method: &str) -> Vec<Call> {
        let s = self.shared.lock().unwrap();
        s.calls
            .iter()
            .filter(|c| c.method == method)
            .cloned()
            .collect()
    }

    /// Wait until a call to `method` satisfies `pred`; that call.
    pub async fn wait_for(&self, method: &str, pred: impl Fn(&Value) -> bool) -> Call {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(c) = self.calls(method).into_iter().find(|c| pred(&c.body)) {
                return c;
            }
            assert!(
                Instant::now() < deadline,
                "no {method} as wanted; calls: {:#?}",
                self.shared.lock().unwrap().calls
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

async fn call(
    State(s): State<S>,
    Path((bot, method)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> Response {
    {
        let mut g = s.lock().unwrap();
        if bot != format!("bot{}", g.token) {
            let no = json!({"ok": false, "error_code": 401, "description": "Unauthorized"});
            return (StatusCode::UNAUTHORIZED, Json(no)).into_response();
        }
        g.calls.push(Call {
            method: method.clone(),
            body: body.clone(),
            at: Instant::now(),
        });
        if method == "getUpdates" && g.fail_polls > 0 {
            g.fail_polls -= 1;
            return (StatusCode::BAD_GATEWAY, "<html>Bad Gateway</html>").into_response();
        }
    }
    let result = match method.as_str() {
        "getUpdates" => {
            let offset = body["offset"].as_i64().unwrap_or(0);
            let deadline = Instant::now() + Duration::from_millis(300);
            loop {
                let ready: Vec<Value> = s
                    .lock()
                    .unwrap()
                    .queue
                    .iter()
                    .filter(|u| u["update_id"].as_i64().unwrap_or(0) >= offset)
                    .cloned()
                    .collect();
                if !ready.is_empty() || Instant::now() > deadline {
                    break json!(ready);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        "sendMessage" => {
            let mut g = s.lock().unwrap();
            g.next_message += 1;
            json!({"message_id": g.next_message, "chat": {"id": body["chat_id"]},
                   "text": body["text"]})
        }
        _ => json!(true),
    };
    Json(json!({"ok": true, "result": result})).into_response()
}
