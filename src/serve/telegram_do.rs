//! What the Telegram bot does with a command: each one calls the REST handler that answers the
//! same request (`api.rs`, `tasks.rs`), so the checks and the work are the API's, and puts its
//! JSON answer in a few lines. A run's progress is one message edited in place at most once
//! per [`EDIT_EVERY`]; the server's notices go to every allowed user, a task waiting for
//! approval with an Approve button.

use std::time::Duration;

use axum::extract::{Path, State};
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::reply::{Answer, Body};
use super::telegram::Bot;
use super::{api, tasks};
use crate::engine::ground::events::Event;
use crate::engine::ground::pricing::format_usd;

/// The shortest time between two edits of a progress message (Telegram limits edits).
pub const EDIT_EVERY: Duration = Duration::from_secs(2);
/// How often new notices are looked for.
const NOTICES_EVERY: Duration = Duration::from_secs(1);

const HELP: &str = "Commands:\n/run [idea] - run the team (on a new idea, or the current one)\n\
/status - what the project and the team are doing\n/tasks - the task queue\n\
/approve ID, /pause ID, /resume ID - a task\n/budget - spending caps\n/abort - stop everything now";

/// The JSON body of a handler's answer, or its error line.
async fn body(a: Answer) -> Result<Value, String> {
    match a {
        Ok(resp) => {
            let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
                .await
                .map_err(|e| e.to_string())?;
            serde_json::from_slice(&bytes).map_err(|e| e.to_string())
        }
        Err(e) => Err(e.message),
    }
}

/// The reply to a message from an allowed user in `chat` (`None` when the reply was sent
/// already, as a progress message).
pub async fn command(bot: &Bot, chat: i64, text: &str) -> Option<String> {
    let (word, rest) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
    // In a group, commands come as `/status@botname`.
    let word = word.split('@').next().unwrap_or(word);
    let rest = rest.trim();
    let app = || State(bot.app.clone());
    let reply = match word {
        "/run" => return run(bot, chat, rest).await,
        "/status" => body(api::status(app()).await).await.map(|v| status(&v)),
        "/tasks" => body(tasks::list(app()).await).await.map(|v| task_list(&v)),
        "/budget" => body(api::budget(app()).await).await.map(|v| lines(&v)),
        "/abort" => body(api::abort(app()).await).await.map(|v| lines(&v)),
        "/approve" | "/pause" | "/resume" => match task_id(rest) {
            Some(id) => task_op(bot, word, id).await,
            None => Err(format!("say which task: {word} 12 (/tasks lists them)")),
        },
        "/start" | "/help" => Ok(HELP.to_string()),
        _ => Err(format!("I do not know {word:?}.\n{HELP}")),
    };
    Some(reply.unwrap_or_else(|e| format!("Could not: {e}")))
}

fn task_id(s: &str) -> Option<i64> {
    s.trim_start_matches('#').parse().ok().filter(|id| *id > 0)
}

/// Approve, pause or resume task `id` through the task endpoints.
async fn task_op(bot: &Bot, word: &str, id: i64) -> Result<String, String> {
    let app = State(bot.app.clone());
    let a = match word {
        "/approve" => tasks::approve(app, Ok(Path(id)), Body(tasks::Note::default())).await,
        "/pause" => tasks::pause(app, Ok(Path(id))).await,
        _ => tasks::resume(app, Ok(Path(id)), Body(tasks::Note::default())).await,
    };
    let v = body(a).await?;
    Ok(format!(
        "task {id} is now {}",
        v["state"].as_str().unwrap_or("changed")
    ))
}

/// A pressed button: `approve:ID` (a task), or `yes:ID` / `no:ID` (a question the work asks,
/// answered as `POST /api/confirm` does).
pub async fn button(bot: &Bot, data: &str) -> String {
    let done = if let Some(id) = data.strip_prefix("approve:").and_then(task_id) {
        task_op(bot, "/approve", id).await
    } else if let Some((yes, id)) = question_answer(data) {
        answer(bot, yes, id).await
    } else {
        return "that button is not one of mine".into();
    };
    done.unwrap_or_else(|e| format!("Could not: {e}"))
}

fn question_answer(data: &str) -> Option<(bool, u64)> {
    let (word, id) = data.split_once(':')?;
    let yes = match word {
        "yes" => true,
        "no" => false,
        _ => return None,
    };
    Some((yes, id.parse().ok()?))
}

async fn answer(bot: &Bot, yes: bool, id: u64) -> Result<String, String> {
    let b = serde_json::from_value::<api::QuestionAnswer>(json!({"id": id, "approve": yes}))
        .map_err(|e| e.to_string())?;
    body(api::confirm(State(bot.app.clone()), Body(b)).await).await?;
    Ok(format!("answered {}", if yes { "yes" } else { "no" }))
}

/// `/run IDEA` types the idea as in the dashboard (`POST /api/input`); a bare `/run` runs the
/// engineering workflow (`POST /api/run`). Progress is then one message, edited.
async fn run(bot: &Bot, chat: i64, idea: &str) -> Option<String> {
    // Listen before the work starts, so its end cannot be missed.
    let events = bot.app.bus.subscribe();
    let app = State(bot.app.clone());
    let started = if idea.is_empty() {
        match serde_json::from_value::<api::Run>(json!({})) {
            Ok(b) => body(api::run(app, Body(b)).await).await,
            Err(e) => Err(e.to_string()),
        }
    } else {
        match serde_json::from_value::<api::Input>(json!({ "text": idea })) {
            Ok(b) => body(api::input(app, Body(b)).await).await,
            Err(e) => Err(e.to_string()),
        }
    };
    let id = match started.map(|v| v["task_id"].as_u64()) {
        Ok(Some(id)) => id,
        Ok(None) => return Some("Could not: the engine gave no task id".into()),
        Err(e) => return Some(format!("Could not: {e}")),
    };
    let first = progress_text(bot, id, None);
    let msg = match bot.send(chat, &first, None).await {
        Ok(m) => m,
        Err(e) => {
            eprintln!("clk serve: telegram: {e}");
            return None;
        }
    };
    let bot = bot.clone();
    tokio::spawn(async move { progress(bot, chat, msg, id, first, events).await });
    None
}

/// Edit message `msg` as the work `id` goes on, at most once per [`EDIT_EVERY`], and a last
/// time when it ends.
async fn progress(
    bot: Bot,
    chat: i64,
    msg: i64,
    id: u64,
    mut shown: String,
    mut events: tokio::sync::broadcast::Receiver<Event>,
) {
    let stop = bot.app.stop.clone();
    let mut last = Instant::now();
    let mut dirty = false;
    let mut ended: Option<(bool, String)> = None;
    loop {
        let due = dirty || ended.is_some();
        tokio::select! {
            _ = stop.cancelled() => return,
            ev = events.recv(), if ended.is_none() => match ev {
                Ok(Event::TaskFinished { task_id, ok, summary, .. }) if task_id == id => {
                    ended = Some((ok, summary));
                }
                Ok(_) | Err(RecvError::Lagged(_)) => dirty = true,
                Err(RecvError::Closed) => ended = Some((false, "the engine stopped".into())),
            },
            _ = tokio::time::sleep_until(last + EDIT_EVERY), if due => {
                let text = progress_text(&bot, id, ended.as_ref());
                if text != shown {
                    let edit = json!({"chat_id": chat, "message_id": msg,
                                      "text": super::telegram::clip(&text)});
                    if let Err(e) = bot.call("editMessageText", edit).await {
                        eprintln!("clk serve: telegram: {e}");
                    }
                    shown = text;
                    last = Instant::now();
                }
                dirty = false;
                if ended.is_some() {
                    return;
                }
            }
        }
    }
}

/// The progress message: the agents, the totals and the newest log lines.
fn progress_text(bot: &Bot, id: u64, ended: Option<&(bool, String)>) -> String {
    let s = bot.app.engine.snapshot();
    let head = match ended {
        None => format!("Work {id} running"),
        Some((true, summary)) => format!("Work {id} done: {summary}"),
        Some((false, summary)) => format!("Work {id} ended: {summary}"),
    };
    let mut out = vec![head];
    for (name, a) in &s.agents {
        out.push(format!("{name}: {:?}", a.status).to_lowercase());
    }
    out.push(format!(
        "{}, {}",
        crate::headless::summary(&s),
        format_usd(s.totals.cost_micros)
    ));
    let skip = s.log.len().saturating_sub(5);
    out.extend(s.log.iter().skip(skip).cloned());
    out.join("\n")
}

fn status(v: &Value) -> String {
    let mut out = vec![format!(
        "{} ({})",
        v["project"]
            .as_str()
            .filter(|p| !p.is_empty())
            .unwrap_or("project"),
        v["root"].as_str().unwrap_or("")
    )];
    if let Some(idea) = v["idea"].as_str() {
        out.push(format!("Idea: {idea}"));
    }
    if let Some(sum) = v["live"]["summary"].as_str() {
        out.push(sum.to_string());
    }
    let live = v["live"]["state"]["agents"].as_object();
    for a in v["agents"].as_array().into_iter().flatten() {
        let name = a["name"].as_str().unwrap_or("?");
        let now = live
            .and_then(|l| l.get(name))
            .and_then(|l| l["status"].as_str())
            .unwrap_or("idle");
        out.push(format!("{name}: {now}"));
    }
    out.join("\n")
}

fn task_list(v: &Value) -> String {
    let all = v.as_array().cloned().unwrap_or_default();
    if all.is_empty() {
        return "No tasks.".into();
    }
    all.iter()
        .map(|t| {
            let prompt: String = t["prompt"]
                .as_str()
                .unwrap_or("")
                .chars()
                .take(60)
                .collect();
            format!(
                "#{} {} {prompt}",
                t["id"],
                t["state"].as_str().unwrap_or("?")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A round trip's report lines, or its summary.
fn lines(v: &Value) -> String {
    let got: Vec<&str> = v["lines"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if got.is_empty() {
        v["summary"].as_str().unwrap_or("done").to_string()
    } else {
        got.join("\n")
    }
}

/// Send each new notice to every allowed user, until `stop`; a task waiting for approval
/// comes with an Approve button. The notices are told once each already (`notify.rs`).
pub fn start_notices(bot: Bot, stop: CancellationToken) {
    tokio::spawn(async move {
        let mut seen = 0;
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(NOTICES_EVERY) => {}
            }
            for n in bot.app.notices.after(seen) {
                seen = n.seq;
                let markup = buttons(&n.key);
                for &user in bot.users() {
                    if let Err(e) = bot.send(user, &n.text, markup.clone()).await {
                        eprintln!("clk serve: telegram: {e}");
                    }
                }
            }
        }
    });
}

/// The buttons a notice comes with: Approve for a task waiting for approval, Yes and No for
/// a question.
fn buttons(key: &str) -> Option<Value> {
    if let Some(id) = approve_id(key) {
        let data = format!("approve:{id}");
        return Some(json!({"inline_keyboard": [[
            {"text": format!("Approve task {id}"), "callback_data": data}
        ]]}));
    }
    let q: u64 = key.strip_prefix("question:")?.parse().ok()?;
    Some(json!({"inline_keyboard": [[
        {"text": "Yes", "callback_data": format!("yes:{q}")},
        {"text": "No", "callback_data": format!("no:{q}")},
    ]]}))
}

/// The task of an approval notice's key (`task:ID:approval`).
fn approve_id(key: &str) -> Option<i64> {
    key.strip_prefix("task:")?
        .strip_suffix(":approval")?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_approval_notices_carry_a_task_button() {
        assert_eq!(approve_id("task:7:approval"), Some(7));
        assert_eq!(approve_id("task:7:merged"), None);
        assert_eq!(approve_id("cap:budget.session_usd_cap"), None);
        assert_eq!(task_id("#12"), Some(12));
        assert_eq!(task_id("0"), None);
        assert_eq!(task_id("x"), None);
        let q = buttons("question:3").unwrap().to_string();
        assert!(q.contains("\"yes:3\"") && q.contains("\"no:3\""), "{q}");
        assert!(buttons("run:55").is_none());
        assert_eq!(question_answer("yes:3"), Some((true, 3)));
        assert_eq!(question_answer("no:3"), Some((false, 3)));
        assert_eq!(question_answer("maybe:3"), None);
    }
}
