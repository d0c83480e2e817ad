//! A stand-in for Discord on loopback (axum on its own thread): the REST calls the bot makes
//! (post and edit a channel message, fill in a deferred reply, register the commands), each
//! kept with its path, JSON body and when it came; a bot token other than the one given
//! answers 401. And Discord's side of the interactions endpoint: a key pair that signs
//! interaction requests as Discord does (Ed25519 over timestamp then body).

#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde_json::{Value, json};

/// One call the bot made.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub path: String,
    pub body: Value,
    pub at: Instant,
    /// It came with an `Authorization` header.
    pub authorized: bool,
}

#[derive(Default)]
struct Shared {
    token: String,
    next_message: u64,
    calls: Vec<Call>,
}

type S = Arc<Mutex<Shared>>;

pub struct MockDiscord {
    pub url: String,
    shared: S,
}

impl MockDiscord {
    pub fn start(token: &str) -> MockDiscord {
        let shared: S = Arc::new(Mutex::new(Shared {
            token: token.to_string(),
            next_message: 1000,
            ..Shared::default()
        }));
        let app = axum::Router::new()
            .fallback(call)
            .with_state(shared.clone());
        let url = super::serve_on_thread(app);
        MockDiscord { url, shared }
    }

    /// Every call whose method and path match (`*` in `path` stands for one segment).
    pub fn calls(&self, method: &str, path: &str) -> Vec<Call> {
        let s = self.shared.lock().unwrap();
        s.calls
            .iter()
            .filter(|c| c.method == method && matches(path, &c.path))
            .cloned()
            .collect()
    }

    /// Wait until a call to `method path` satisfies `pred`; that call.
    pub async fn wait_for(&self, method: &str, path: &str, pred: impl Fn(&Value) -> bool) -> Call {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(c) = self.calls(method, path).into_iter().find(|c| pred(&c.body)) {
                return c;
            }
            assert!(
                Instant::now() < deadline,
                "no {method} {path} as wanted; calls: {:#?}",
                self.shared.lock().unwrap().calls
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn matches(pattern: &str, path: &str) -> bool {
    let (p, q): (Vec<&str>, Vec<&str>) = (pattern.split('/').collect(), path.split('/').collect());
    p.len() == q.len() && p.iter().zip(&q).all(|(a, b)| *a == "*" || a == b)
}

async fn call(State(s): State<S>, req: Request) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let auth = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let bytes = axum::body::to_bytes(req.into_body(), 1 << 20)
        .await
        .unwrap();
    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let mut g = s.lock().unwrap();
    // Interaction webhooks carry their own token in the path; everything else needs the bot's.
    if !path.starts_with("/webhooks/") && auth != format!("Bot {}", g.token) {
        let no = json!({"message": "401: Unauthorized", "code": 0});
        return (StatusCode::UNAUTHORIZED, Json(no)).into_response();
    }
    g.calls.push(Call {
        method: method.to_string(),
        path: path.clone(),
        body: body.clone(),
        at: Instant::now(),
        authorized: !auth.is_empty(),
    });
    let segs: Vec<&str> = path.split('/').collect();
    match (method, segs.as_slice()) {
        (Method::POST, ["", "channels", ch, "messages"]) => {
            g.next_message += 1;
            Json(json!({"id": g.next_message.to_string(), "channel_id": ch,
                        "content": body["content"]}))
            .into_response()
        }
        (Method::PATCH, ["", "channels", ch, "messages", id]) => {
            Json(json!({"id": id, "channel_id": ch, "content": body["content"]})).into_response()
        }
        (Method::PATCH, ["", "webhooks", _, _, "messages", "@original"]) => {
            Json(json!({"id": "1", "content": body["content"]})).into_response()
        }
        (Method::PUT, ["", "applications", _, "commands"]) => Json(body).into_response(),
        _ => (
            StatusCode::NOT_FOUND,
            Json(json!({"message": "404: Not Found"})),
        )
            .into_response(),
    }
}

/// Discord's side: the application's key pair, signing interactions.
pub struct Signer {
    pair: Ed25519KeyPair,
}

impl Signer {
    pub fn new(seed: u8) -> Signer {
        Signer {
            pair: Ed25519KeyPair::from_seed_unchecked(&[seed; 32]).unwrap(),
        }
    }

    /// The public key as the Developer Portal shows it.
    pub fn public_key(&self) -> String {
        hex(self.pair.public_key().as_ref())
    }

    /// The signature and timestamp headers for `body` signed at `at` (seconds).
    pub fn headers(&self, body: &str, at: i64) -> [(&'static str, String); 2] {
        let at = at.to_string();
        let mut msg = at.as_bytes().to_vec();
        msg.extend_from_slice(body.as_bytes());
        [
            ("X-Signature-Ed25519", hex(self.pair.sign(&msg).as_ref())),
            ("X-Signature-Timestamp", at),
        ]
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
