//! `clk serve --telegram`: the Telegram bot. It long-polls the Bot API's `getUpdates` beside the
//! HTTP server, obeys only the user ids in `serve.telegram_users` (nobody by default; anyone
//! else gets one polite refusal now and then), and turns each command into the same request
//! the REST API answers (`telegram_do.rs`). The token (`TELEGRAM_BOT_TOKEN`) is only ever part
//! of the request URL: errors are printed without the URL.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::AppState;
use super::telegram_do;
use crate::engine::agents::providers::http::{client, describe_error};

/// How long one `getUpdates` waits on the server for something to happen.
const POLL_WAIT_S: u64 = 25;
/// Extra time a request may take beyond the server's wait.
const SLACK: Duration = Duration::from_secs(10);
/// The first and the longest pause after a failed `getUpdates`.
const BACKOFF_FIRST: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(60);
/// A stranger is told at most once in this long that the bot is not theirs.
const REFUSE_EVERY: Duration = Duration::from_secs(600);
/// Strangers remembered for that; beyond it the oldest are forgotten.
const REFUSED_KEEP: usize = 1000;

/// The Bot API's methods, called over HTTP. Cheap to clone.
#[derive(Clone)]
pub struct BotApi {
    http: reqwest::Client,
    /// `{api}/bot{token}/`: holds the token, so it is never printed.
    base: Arc<str>,
}

impl BotApi {
    /// The methods at `api` (e.g. `https://api.telegram.org`) for the bot with `token`.
    pub fn new(api: &str, token: &str) -> Result<BotApi, String> {
        check_token(token)?;
        let api = super::chat::api_base("serve.telegram_api", api)?;
        Ok(BotApi {
            http: client(Duration::from_secs(10))?,
            base: Arc::from(format!("{api}/bot{token}/")),
        })
    }

    /// Call `method`, waiting at most `wait`; its `result`, or one line saying what went wrong
    /// (without the URL, which holds the token).
    pub async fn call(&self, method: &str, body: Value, wait: Duration) -> Result<Value, String> {
        let sent = self
            .http
            .post(format!("{}{method}", self.base))
            .timeout(wait)
            .json(&body)
            .send()
            .await
            .map_err(|e| format!("{method}: {}", describe_error(&e.without_url())))?;
        let status = sent.status();
        let reply: Value = sent.json().await.map_err(|e| {
            if status.is_success() {
                format!("{method}: {}", describe_error(&e.without_url()))
            } else {
                format!("{method}: {status}")
            }
        })?;
        if reply["ok"] == true {
            return Ok(reply["result"].clone());
        }
        let why = reply["description"].as_str().unwrap_or("no reason given");
        Err(format!("{method}: {status}: {why}"))
    }
}

/// The bot: the Bot API, who it obeys, and the server it drives. Cheap to clone.
#[derive(Clone)]
pub struct Bot {
    api: BotApi,
    users: Arc<Vec<i64>>,
    refused: Arc<Mutex<HashMap<i64, Instant>>>,
    pub app: AppState,
}

/// Whether `token` looks like a bot token (`123456:ABC-def_...`); it goes into a URL path.
pub fn check_token(token: &str) -> Result<(), String> {
    let fine = token
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '_' | '-'));
    if token.is_empty() || !fine || !token.contains(':') {
        return Err(
            "TELEGRAM_BOT_TOKEN does not look like a bot token (digits, a colon, then letters); \
             copy it again from @BotFather"
                .into(),
        );
    }
    Ok(())
}

impl Bot {
    pub fn new(app: AppState, api: &str, token: &str, users: Vec<i64>) -> Result<Bot, String> {
        Ok(Bot {
            api: BotApi::new(api, token)?,
            users: Arc::new(users),
            refused: Arc::default(),
            app,
        })
    }

    /// Call a Bot API method; its `result`, or one line saying what went wrong (no URL).
    pub async fn call(&self, method: &str, body: Value) -> Result<Value, String> {
        self.api.call(method, body, SLACK).await
    }

    /// Send `text` to `chat`; the message's id.
    pub async fn send(&self, chat: i64, text: &str, markup: Option<Value>) -> Result<i64, String> {
        let mut body = json!({"chat_id": chat, "text": clip(text)});
        if let Some(m) = markup {
            body["reply_markup"] = m;
        }
        let sent = self.call("sendMessage", body).await?;
        Ok(sent["message_id"].as_i64().unwrap_or(0))
    }

    /// Whether `user` may use the bot.
    pub fn allowed(&self, user: i64) -> bool {
        self.users.contains(&user)
    }

    /// The user ids the bot obeys (notices go to their private chats).
    pub fn users(&self) -> &[i64] {
        &self.users
    }

    /// Whether `user` should be told now that the bot is not theirs (once per
    /// [`REFUSE_EVERY`]).
    fn refuse_now(&self, user: i64) -> bool {
        let mut seen = self.refused.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if seen
            .get(&user)
            .is_some_and(|t| now.duration_since(*t) < REFUSE_EVERY)
        {
            return false;
        }
        if seen.len() >= REFUSED_KEEP {
            seen.retain(|_, t| now.duration_since(*t) < REFUSE_EVERY);
            if seen.len() >= REFUSED_KEEP {
                return false;
            }
        }
        seen.insert(user, now);
        true
    }

    /// Poll for updates and handle each, until `stop`; failures back off and are printed once
    /// per kind of trouble.
    pub async fn run(self, stop: CancellationToken) {
        telegram_do::start_notices(self.clone(), stop.clone());
        let mut offset: i64 = 0;
        let mut pause = BACKOFF_FIRST;
        let mut last_error = String::new();
        loop {
            let body = json!({
                "offset": offset,
                "timeout": POLL_WAIT_S,
                "allowed_updates": ["message", "callback_query"],
            });
            let wait = Duration::from_secs(POLL_WAIT_S) + SLACK;
            let got = tokio::select! {
                _ = stop.cancelled() => return,
                got = self.api.call("getUpdates", body, wait) => got,
            };
            match got {
                Ok(updates) => {
                    pause = BACKOFF_FIRST;
                    last_error.clear();
                    for u in updates.as_array().into_iter().flatten() {
                        if let Some(id) = u["update_id"].as_i64() {
                            offset = offset.max(id + 1);
                        }
                        let me = self.clone();
                        let u = u.clone();
                        tokio::spawn(async move { me.handle(u).await });
                    }
                }
                Err(e) => {
                    if e != last_error {
                        eprintln!("clk serve: telegram: {e}; trying again");
                        last_error = e;
                    }
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        _ = tokio::time::sleep(pause) => {}
                    }
                    pause = (pause * 2).min(BACKOFF_MAX);
                }
            }
        }
    }

    /// One update: a command in a message, or a button pressed.
    async fn handle(&self, u: Value) {
        if let Some(q) = u.get("callback_query") {
            let user = q["from"]["id"].as_i64().unwrap_or(0);
            let text = if self.allowed(user) {
                telegram_do::button(self, q["data"].as_str().unwrap_or("")).await
            } else {
                REFUSAL.to_string()
            };
            let answer = json!({"callback_query_id": q["id"], "text": clip(&text)});
            report(self.call("answerCallbackQuery", answer).await);
            return;
        }
        let Some(m) = u.get("message") else { return };
        let (Some(user), Some(chat)) = (m["from"]["id"].as_i64(), m["chat"]["id"].as_i64()) else {
            return;
        };
        let text = m["text"].as_str().unwrap_or("").trim();
        if !self.allowed(user) {
            if self.refuse_now(user) {
                report(self.send(chat, REFUSAL, None).await.map(|_| ()));
            }
            return;
        }
        let reply = telegram_do::command(self, chat, text).await;
        if let Some(reply) = reply {
            report(self.send(chat, &reply, None).await.map(|_| ()));
        }
    }
}

const REFUSAL: &str = "Sorry, this clk bot only takes commands from the people its owner listed \
                       (serve.telegram_users).";

/// Print a failed reply (the next poll goes on regardless).
fn report<T>(r: Result<T, String>) {
    if let Err(e) = r {
        eprintln!("clk serve: telegram: {e}");
    }
}

/// Telegram takes at most 4096 characters in a message.
pub fn clip(text: &str) -> String {
    super::chat::clip(text, 4000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_must_look_like_one_before_it_goes_into_a_url() {
        assert!(check_token("123456:ABC-def_GHI").is_ok());
        for bad in ["", "nocolon", "123:abc/../x", "123:abc def", "123:abc?x=1"] {
            assert!(check_token(bad).is_err(), "{bad:?}");
        }
    }

    #[tokio::test]
    async fn a_failed_call_says_why_without_the_token() {
        // Nothing listens on port 1.
        let api = BotApi::new("http://127.0.0.1:1/", "123456:SECRET-token").unwrap();
        let e = api
            .call("getMe", serde_json::json!({}), Duration::from_secs(5))
            .await
            .unwrap_err();
        assert!(e.starts_with("getMe: "), "{e}");
        assert!(!e.contains("SECRET"), "{e}");
        assert!(BotApi::new("api.telegram.org", "1:a").is_err());
    }

    #[test]
    fn long_text_is_clipped_to_what_telegram_takes() {
        let long = "é".repeat(5000);
        assert_eq!(clip(&long).chars().count(), 4001);
        assert_eq!(clip("short"), "short");
    }
}
