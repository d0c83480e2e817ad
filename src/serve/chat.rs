//! What the chat bots (Telegram, Discord) share: each command calls the REST handler that
//! answers the same request (`api.rs`, `tasks.rs`), so the checks and the work are the API's,
//! and its JSON answer is put in a few lines; a run's progress is one message edited in place
//! at most once per [`EDIT_EVERY`]; the server's notices are handed to the bot as they come.
//! A bot only says how to send and edit a message.

use std::time::Duration;

use axum::extract::{Path, State};
use futures_util::future::BoxFuture;
use serde_json::{Value, json};
use tokio::sync::broadcast::Receiver;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::AppState;
use super::notify::Notice;
use super::reply::{Answer, Body};
use super::{api, tasks};
use crate::engine::ground::events::Event;
use crate::engine::ground::pricing::format_usd;
use crate::engine::ground::task::TaskCommand;

/// The shortest time between two edits of a progress message (both services limit edits).
pub const EDIT_EVERY: Duration = Duration::from_secs(2);
/// How often new notices are looked for.
const NOTICES_EVERY: Duration = Duration::from_secs(1);

/// A chat service's API address from the setting `key`: no trailing slash, http or https.
pub fn api_base(key: &str, api: &str) -> Result<String, String> {
    let api = api.trim().trim_end_matches('/');
    if !(api.starts_with("http://") || api.starts_with("https://")) {
        return Err(format!(
            "{key} is {api:?}; it must start with http:// or https://"
        ));
    }
    Ok(api.to_string())
}

/// `text` cut to at most `max` characters, with `…` when cut (each service limits a message).
pub fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut s: String = text.chars().take(max).collect();
    s.push('…');
    s
}

/// The JSON body of a handler's answer, or its error line.
pub async fn body(a: Answer) -> Result<Value, String> {
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

/// A task id as people type it: `12` or `#12`.
pub fn task_id(s: &str) -> Option<i64> {
    s.trim()
        .trim_start_matches('#')
        .parse()
        .ok()
        .filter(|id| *id > 0)
}

/// What the project and the team are doing (`GET /api/status`).
pub async fn status(app: &AppState) -> Result<String, String> {
    body(api::status(State(app.clone())).await)
        .await
        .map(|v| status_text(&v))
}

/// The task queue (`GET /api/tasks`).
pub async fn task_list(app: &AppState) -> Result<String, String> {
    body(tasks::list(State(app.clone())).await)
        .await
        .map(|v| task_list_text(&v))
}

/// The caps and the spend (`GET /api/budget`).
pub async fn budget(app: &AppState) -> Result<String, String> {
    body(api::budget(State(app.clone())).await)
        .await
        .map(|v| lines(&v))
}

/// Stop everything now (`POST /api/abort`).
pub async fn abort(app: &AppState) -> Result<String, String> {
    body(api::abort(State(app.clone())).await)
        .await
        .map(|v| lines(&v))
}

/// A task request by word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskOp {
    Approve,
    Pause,
    Resume,
    Review,
}

/// Approve, pause, resume or review task `id` through the task endpoints.
pub async fn task_op(app: &AppState, op: TaskOp, id: i64) -> Result<String, String> {
    let state = State(app.clone());
    let a = match op {
        TaskOp::Approve => tasks::approve(state, Ok(Path(id)), Body(tasks::Note::default())).await,
        TaskOp::Pause => tasks::pause(state, Ok(Path(id))).await,
        TaskOp::Resume => tasks::resume(state, Ok(Path(id)), Body(tasks::Note::default())).await,
        TaskOp::Review => tasks::apply(app, TaskCommand::Review { id, note: None }, true),
    };
    let v = body(a).await?;
    Ok(format!(
        "task {id} is now {}",
        v["state"].as_str().unwrap_or("changed")
    ))
}

/// A pressed button: `approve:ID`, `pause:ID`, `resume:ID` (a task), or `yes:ID` / `no:ID`
/// (a question the work asks, answered as `POST /api/confirm` does).
pub async fn button(app: &AppState, data: &str) -> String {
    let (word, rest) = data.split_once(':').unwrap_or((data, ""));
    let op = match word {
        "approve" => Some(TaskOp::Approve),
        "pause" => Some(TaskOp::Pause),
        "resume" => Some(TaskOp::Resume),
        _ => None,
    };
    let done = if let (Some(op), Some(id)) = (op, task_id(rest)) {
        task_op(app, op, id).await
    } else if let Some((yes, id)) = question_answer(data) {
        answer(app, yes, id).await
    } else {
        return "that button is not one of mine".into();
    };
    done.unwrap_or_else(|e| format!("Could not: {e}"))
}

pub fn question_answer(data: &str) -> Option<(bool, u64)> {
    let (word, id) = data.split_once(':')?;
    let yes = match word {
        "yes" => true,
        "no" => false,
        _ => return None,
    };
    Some((yes, id.parse().ok()?))
}

async fn answer(app: &AppState, yes: bool, id: u64) -> Result<String, String> {
    let b = serde_json::from_value::<api::QuestionAnswer>(json!({"id": id, "approve": yes}))
        .map_err(|e| e.to_string())?;
    body(api::confirm(State(app.clone()), Body(b)).await).await?;
    Ok(format!("answered {}", if yes { "yes" } else { "no" }))
}

/// Start work: `idea` typed as in the dashboard (`POST /api/input`), or with none the
/// engineering workflow (`POST /api/run`). Its task id, and the events from before it started
/// (so its end cannot be missed).
pub async fn start_run(app: &AppState, idea: &str) -> Result<(u64, Receiver<Event>), String> {
    let events = app.bus.subscribe();
    let state = State(app.clone());
    let started = if idea.is_empty() {
        let b = serde_json::from_value::<api::Run>(json!({})).map_err(|e| e.to_string())?;
        body(api::run(state, Body(b)).await).await?
    } else {
        let b = serde_json::from_value::<api::Input>(json!({ "text": idea }))
            .map_err(|e| e.to_string())?;
        body(api::input(state, Body(b)).await).await?
    };
    let id = started["task_id"]
        .as_u64()
        .ok_or("the engine gave no task id")?;
    Ok((id, events))
}

/// How a bot edits its progress message to a new text.
pub type Edit = Box<dyn Fn(String) -> BoxFuture<'static, Result<(), String>> + Send + Sync>;

/// Edit the progress message of work `id` (now showing `shown`) as the work goes on, at most
/// once per [`EDIT_EVERY`], and a last time when it ends. A failed edit is printed under
/// `who` and the next one tried.
pub async fn progress(
    app: AppState,
    who: &'static str,
    id: u64,
    mut shown: String,
    mut events: Receiver<Event>,
    edit: Edit,
) {
    let stop = app.stop.clone();
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
                let text = progress_text(&app, id, ended.as_ref());
                if text != shown {
                    if let Err(e) = edit(text.clone()).await {
                        eprintln!("clk serve: {who}: {e}");
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
pub fn progress_text(app: &AppState, id: u64, ended: Option<&(bool, String)>) -> String {
    let s = app.engine.snapshot();
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

fn status_text(v: &Value) -> String {
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

fn task_list_text(v: &Value) -> String {
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
pub fn lines(v: &Value) -> String {
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

/// How a bot tells its people one notice.
pub type Tell = Box<dyn Fn(Notice) -> BoxFuture<'static, ()> + Send + Sync>;

/// Hand each new notice to `tell`, until `stop`. The notices are told once each already
/// (`notify.rs`).
pub fn start_notices(app: AppState, stop: CancellationToken, tell: Tell) {
    tokio::spawn(async move {
        let mut seen = 0;
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(NOTICES_EVERY) => {}
            }
            for n in app.notices.after(seen) {
                seen = n.seq;
                tell(n).await;
            }
        }
    });
}

/// The task of an approval notice's key (`task:ID:approval`).
pub fn approve_id(key: &str) -> Option<i64> {
    key.strip_prefix("task:")?
        .strip_suffix(":approval")?
        .parse()
        .ok()
}

/// The question of a question notice's key (`question:ID`).
pub fn question_id(key: &str) -> Option<u64> {
    key.strip_prefix("question:")?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_button_data_read_back() {
        assert_eq!(approve_id("task:7:approval"), Some(7));
        assert_eq!(approve_id("task:7:merged"), None);
        assert_eq!(approve_id("cap:budget.session_usd_cap"), None);
        assert_eq!(question_id("question:3"), Some(3));
        assert_eq!(question_id("run:3"), None);
        assert_eq!(task_id("#12"), Some(12));
        assert_eq!(task_id(" 12 "), Some(12));
        assert_eq!(task_id("0"), None);
        assert_eq!(task_id("x"), None);
        assert_eq!(question_answer("yes:3"), Some((true, 3)));
        assert_eq!(question_answer("no:3"), Some((false, 3)));
        assert_eq!(question_answer("maybe:3"), None);
    }
}
