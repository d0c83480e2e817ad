//! `clk serve --discord`: the Discord bot, through Discord's interactions endpoint. Discord
//! posts each slash command and button click to `POST /discord/interactions`, signed with the
//! application's Ed25519 key; the signature over timestamp and body is the request's
//! credential, so this route needs no bearer token (Discord cannot send ours), and a request
//! with a bad, missing or old signature is refused with a 401 before its body is read as JSON.
//! What each command does is in `discord_do.rs`. Messages to a channel (progress, notices) go
//! through the REST API with the bot token (`DISCORD_TOKEN`), which is only ever a header.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use reqwest::Method;
use serde_json::{Value, json};

use super::AppState;
use super::discord_do;
use super::reply::ApiError;
use crate::engine::agents::providers::http::{client, describe_error};
use crate::engine::ground::config::{Env, ServeConfig};

/// A signed request older (or newer) than this is refused: a replay of a captured one.
const FRESH_S: i64 = 300;
/// Discord takes at most 2000 characters in a message.
const MAX_CHARS: usize = 1900;

/// The Discord REST API with the bot token. Cheap to clone.
#[derive(Clone)]
pub struct Rest {
    http: reqwest::Client,
    base: Arc<str>,
    /// `Bot <token>`: never printed.
    auth: Arc<str>,
}

impl Rest {
    /// The API at `api` (e.g. `https://discord.com/api/v10`) for the bot with `token`.
    pub fn new(api: &str, token: &str) -> Result<Rest, String> {
        check_token(token)?;
        let api = super::chat::api_base("serve.discord_api", api)?;
        Ok(Rest {
            http: client(Duration::from_secs(10))?,
            base: Arc::from(api.as_str()),
            auth: Arc::from(format!("Bot {token}")),
        })
    }

    /// `method path` with `body`; the JSON answer, or one line saying what went wrong.
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Value,
        bot: bool,
    ) -> Result<Value, String> {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .json(&body);
        if bot {
            req = req.header("Authorization", &*self.auth);
        }
        // The path of an interaction's webhook holds its token: say only the method.
        let what = if bot { path } else { "the interaction's reply" };
        let sent = req
            .send()
            .await
            .map_err(|e| format!("{method} {what}: {}", describe_error(&e.without_url())))?;
        let status = sent.status();
        let reply: Value = sent.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(reply);
        }
        let why = reply["message"].as_str().unwrap_or("no reason given");
        Err(format!("{method} {what}: {status}: {why}"))
    }

    /// Post `text` (with buttons `components`) in `channel`; the message's id.
    pub async fn post(
        &self,
        channel: &str,
        text: &str,
        components: Option<Value>,
    ) -> Result<String, String> {
        let mut body = json!({"content": clip(text), "allowed_mentions": {"parse": []}});
        if let Some(c) = components {
            body["components"] = c;
        }
        let path = format!("/channels/{}/messages", id_part(channel)?);
        let sent = self.call(Method::POST, &path, body, true).await?;
        Ok(sent["id"].as_str().unwrap_or("").to_string())
    }

    /// Change message `msg` in `channel` to `text`.
    pub async fn edit(&self, channel: &str, msg: &str, text: &str) -> Result<(), String> {
        let path = format!("/channels/{}/messages/{}", id_part(channel)?, id_part(msg)?);
        let body = json!({"content": clip(text)});
        self.call(Method::PATCH, &path, body, true)
            .await
            .map(|_| ())
    }

    /// Put `commands` as the application's slash commands (all of them, replacing the old).
    pub async fn register(&self, app_id: &str, commands: Value) -> Result<(), String> {
        let path = format!("/applications/{}/commands", id_part(app_id)?);
        self.call(Method::PUT, &path, commands, true)
            .await
            .map(|_| ())
    }

    /// Fill in a deferred reply to an interaction.
    pub async fn edit_original(&self, app_id: &str, token: &str, text: &str) -> Result<(), String> {
        if !token
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        {
            return Err("the interaction's token is not one Discord makes".into());
        }
        let path = format!("/webhooks/{}/{token}/messages/@original", id_part(app_id)?);
        let body = json!({"content": clip(text)});
        self.call(Method::PATCH, &path, body, false)
            .await
            .map(|_| ())
    }
}

/// A snowflake id as it goes into a URL path: digits only.
fn id_part(id: &str) -> Result<&str, String> {
    if !id.is_empty() && id.len() <= 20 && id.bytes().all(|b| b.is_ascii_digit()) {
        Ok(id)
    } else {
        Err(format!("{id:?} is not a Discord id"))
    }
}

/// Whether `token` looks like a bot token (letters, digits, dots, `_` and `-`).
pub fn check_token(token: &str) -> Result<(), String> {
    let fine = token
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if token.len() < 20 || !fine {
        return Err(
            "DISCORD_TOKEN does not look like a bot token; copy it again from the Developer \
             Portal (your application, Bot, Reset Token)"
                .into(),
        );
    }
    Ok(())
}

/// The application's public key: 64 hex digits, as the Developer Portal shows it.
pub fn parse_key(hex: &str) -> Result<[u8; 32], String> {
    let bad = || {
        "DISCORD_PUBLIC_KEY is not 64 hex digits; copy the Public Key from your application's \
         General Information page"
            .to_string()
    };
    let bytes = from_hex(hex.trim()).ok_or_else(bad)?;
    bytes.try_into().map_err(|_| bad())
}

fn from_hex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Whether `body` came from Discord: `signature` (hex) is the key's Ed25519 signature over
/// `timestamp` then `body`, and `timestamp` (seconds) is within [`FRESH_S`] of `now`.
pub fn verify(
    key: &[u8; 32],
    signature: &str,
    timestamp: &str,
    body: &[u8],
    now: i64,
) -> Result<(), &'static str> {
    let sig = from_hex(signature.trim()).ok_or("the X-Signature-Ed25519 header is not hex")?;
    let at: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| "the X-Signature-Timestamp header is not a time")?;
    if (now - at).abs() > FRESH_S {
        return Err("the signature is too old (or from the future); check this machine's clock");
    }
    let mut signed = Vec::with_capacity(timestamp.len() + body.len());
    signed.extend_from_slice(timestamp.as_bytes());
    signed.extend_from_slice(body);
    ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, key)
        .verify(&signed, &sig)
        .map_err(|_| "the signature does not match DISCORD_PUBLIC_KEY")
}

/// Who may do what, from the settings: role or user ids per permission.
#[derive(Debug, Clone, Default)]
pub struct Perms {
    pub run: Vec<String>,
    pub approve: Vec<String>,
    pub admin: Vec<String>,
}

/// What a command needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Perm {
    /// Any of the three: reading status, tasks, budget, links.
    Any,
    Run,
    Approve,
    Admin,
}

impl Perm {
    pub fn name(self) -> &'static str {
        match self {
            Perm::Any => "any",
            Perm::Run => "run",
            Perm::Approve => "approve",
            Perm::Admin => "admin",
        }
    }
}

impl Perms {
    pub fn from_config(c: &ServeConfig) -> Perms {
        Perms {
            run: c.discord_run.clone(),
            approve: c.discord_approve.clone(),
            admin: c.discord_admin.clone(),
        }
    }

    /// Whether someone with the ids `who` (their user id and role ids) has `p`; admin has
    /// them all.
    pub fn has(&self, who: &[String], p: Perm) -> bool {
        let any = |list: &[String]| who.iter().any(|w| list.contains(w));
        any(&self.admin)
            || match p {
                Perm::Any => any(&self.run) || any(&self.approve),
                Perm::Run => any(&self.run),
                Perm::Approve => any(&self.approve),
                Perm::Admin => false,
            }
    }

    pub fn nobody(&self) -> bool {
        self.run.is_empty() && self.approve.is_empty() && self.admin.is_empty()
    }
}

/// The bot: the REST API, the key requests are checked with, who may do what, and the
/// server it drives. Cheap to clone.
#[derive(Clone)]
pub struct Bot {
    pub rest: Rest,
    key: Arc<[u8; 32]>,
    pub perms: Arc<Perms>,
    /// Where the channel links are kept (the user's config folder).
    pub env: Env,
    pub app: AppState,
}

impl Bot {
    pub fn new(app: AppState, cfg: &ServeConfig, token: &str, key: &str) -> Result<Bot, String> {
        Ok(Bot {
            rest: Rest::new(&cfg.discord_api, token)?,
            key: Arc::new(parse_key(key)?),
            perms: Arc::new(Perms::from_config(cfg)),
            env: Env::process(),
            app,
        })
    }
}

/// `POST /discord/interactions`: a signed request from Discord.
pub async fn interactions(State(bot): State<Bot>, headers: HeaderMap, body: Bytes) -> Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let now = chrono::Utc::now().timestamp();
    let sig = header("x-signature-ed25519");
    let at = header("x-signature-timestamp");
    if sig.is_empty() || at.is_empty() {
        return refused(
            "a Discord interaction needs X-Signature-Ed25519 and X-Signature-Timestamp",
        );
    }
    if let Err(why) = verify(&bot.key, &sig, &at, &body, now) {
        return refused(why);
    }
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return ApiError::bad("the interaction is not JSON").into_response();
    };
    match v["type"].as_u64() {
        Some(1) => axum::Json(json!({"type": 1})).into_response(),
        Some(2) => discord_do::command(&bot, &v).await,
        Some(3) => discord_do::component(&bot, &v).await,
        _ => ApiError::bad("an interaction of a type this bot does not take").into_response(),
    }
}

fn refused(why: &str) -> Response {
    ApiError::new(StatusCode::UNAUTHORIZED, "bad_signature", why).into_response()
}

/// At most [`MAX_CHARS`] characters.
pub fn clip(text: &str) -> String {
    super::chat::clip(text, MAX_CHARS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::signature::{Ed25519KeyPair, KeyPair};

    #[test]
    fn a_signature_counts_only_with_its_key_its_body_and_a_fresh_time() {
        let pair = Ed25519KeyPair::from_seed_unchecked(&[7u8; 32]).unwrap();
        let key: [u8; 32] = pair.public_key().as_ref().try_into().unwrap();
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        assert_eq!(parse_key(&hex(&key)).unwrap(), key);
        assert!(parse_key("abc").is_err());
        let body = br#"{"type":1}"#;
        let sign = |at: &str, body: &[u8]| {
            let mut m = at.as_bytes().to_vec();
            m.extend_from_slice(body);
            hex(pair.sign(&m).as_ref())
        };
        let now = 1_800_000_000;
        let at = now.to_string();
        assert_eq!(verify(&key, &sign(&at, body), &at, body, now), Ok(()));
        let other = br#"{"type":2}"#;
        assert!(verify(&key, &sign(&at, body), &at, other, now).is_err());
        let old = (now - 301).to_string();
        let stale = verify(&key, &sign(&old, body), &old, body, now).unwrap_err();
        assert!(stale.contains("too old"), "{stale}");
        assert!(verify(&key, "zz", &at, body, now).is_err());
        let wrong = Ed25519KeyPair::from_seed_unchecked(&[8u8; 32]).unwrap();
        let wrong_key: [u8; 32] = wrong.public_key().as_ref().try_into().unwrap();
        assert!(verify(&wrong_key, &sign(&at, body), &at, body, now).is_err());
    }

    #[test]
    fn nobody_may_do_anything_until_listed_and_admin_may_do_all() {
        let none = Perms::default();
        assert!(none.nobody());
        assert!(!none.has(&["1".into()], Perm::Any));
        let p = Perms {
            run: vec!["10".into()],
            approve: vec!["20".into()],
            admin: vec!["30".into()],
        };
        let who = |ids: &[&str]| ids.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(p.has(&who(&["5", "10"]), Perm::Run));
        assert!(!p.has(&who(&["10"]), Perm::Approve));
        assert!(p.has(&who(&["20"]), Perm::Any));
        assert!(!p.has(&who(&["20"]), Perm::Admin));
        for perm in [Perm::Any, Perm::Run, Perm::Approve, Perm::Admin] {
            assert!(p.has(&who(&["30"]), perm));
        }
        assert!(id_part("123").is_ok() && id_part("../x").is_err() && id_part("").is_err());
        assert!(check_token("short").is_err());
        assert!(check_token("MTIz.abc_DEF-ghi.jklmnopqrstu").is_ok());
    }
}
