//! What the Discord bot does with a slash command or a button click: who may (the
//! `serve.discord_*` role and user ids; nobody by default, and a refusal says which permission
//! is missing, seen only by the one who asked), then the shared chat commands (`chat.rs`). An
//! answer that takes longer than Discord's three seconds is deferred and filled in later. A
//! run's progress is one message in the channel, edited in place; notices go to every channel
//! linked to this project, a task waiting for approval with an Approve button.

use std::time::Duration;

use axum::Json;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::chat::{self, TaskOp};
use super::discord::{Bot, Perm};
use crate::engine::store::channels::{self, Link};
use crate::engine::store::workspaces;

/// How long an answer may take before it is deferred (Discord waits three seconds).
const ANSWER_IN: Duration = Duration::from_millis(2000);
/// The service name links are kept under.
const SERVICE: &str = "discord";

/// The slash commands, as `PUT /applications/{app}/commands` takes them.
pub fn commands() -> Value {
    let id = |what: &str| {
        json!([{"type": 4, "name": "id", "description": format!("the task to {what}"),
                "required": true, "min_value": 1}])
    };
    json!([
        {"name": "run", "description": "Run the team, on a new idea or the current one",
         "options": [{"type": 3, "name": "idea", "description": "what to build"}]},
        {"name": "status", "description": "What the project and the team are doing"},
        {"name": "tasks", "description": "The task queue"},
        {"name": "approve", "description": "Approve a task", "options": id("approve")},
        {"name": "pause", "description": "Pause a task", "options": id("pause")},
        {"name": "resume", "description": "Resume a task", "options": id("resume")},
        {"name": "review", "description": "Another review pass on a task", "options": id("review")},
        {"name": "budget", "description": "Spending caps and spend"},
        {"name": "abort", "description": "Stop everything now"},
        {"name": "project", "description": "Link this channel to a project",
         "options": [
            {"type": 1, "name": "add", "description": "Link this channel to a project",
             "options": [{"type": 3, "name": "workspace",
                          "description": "a name from `clk workspaces` (this server's by default)"}]},
            {"type": 1, "name": "list", "description": "The linked channels"}
         ]}
    ])
}

/// The ids a request speaks for: the user's and their roles'.
fn who(v: &Value) -> Vec<String> {
    let user = v["member"]["user"]["id"]
        .as_str()
        .or_else(|| v["user"]["id"].as_str());
    let roles = v["member"]["roles"].as_array().into_iter().flatten();
    user.into_iter()
        .chain(roles.filter_map(Value::as_str))
        .map(str::to_string)
        .collect()
}

/// An immediate answer; `private` ones are seen only by the one who asked.
fn say(text: &str, private: bool) -> Response {
    let mut data =
        json!({"content": super::discord::clip(text), "allowed_mentions": {"parse": []}});
    if private {
        data["flags"] = json!(64);
    }
    Json(json!({"type": 4, "data": data})).into_response()
}

/// The refusal of a command that needs `p`.
fn refuse(p: Perm) -> Response {
    let text = match p {
        Perm::Any => "You need a clk permission (run, approve or admin): ask an admin to add your \
                      role id to serve.discord_run, serve.discord_approve or serve.discord_admin."
            .to_string(),
        _ => format!(
            "You need the `{0}` permission: ask an admin to add your role id to serve.discord_{0}.",
            p.name()
        ),
    };
    say(&text, true)
}

/// A command's option `name` (inside a subcommand's options when there is one).
fn option<'a>(opts: &'a Value, name: &str) -> Option<&'a Value> {
    opts.as_array()?
        .iter()
        .find(|o| o["name"] == name)
        .map(|o| &o["value"])
}

/// A slash command.
pub async fn command(bot: &Bot, v: &Value) -> Response {
    let data = &v["data"];
    let name = data["name"].as_str().unwrap_or("");
    let sub = data["options"][0]["name"].as_str().unwrap_or("");
    let need = match (name, sub) {
        ("run" | "review" | "abort", _) => Perm::Run,
        ("approve" | "pause" | "resume", _) => Perm::Approve,
        ("project", "add") => Perm::Admin,
        _ => Perm::Any,
    };
    if !bot.perms.has(&who(v), need) {
        return refuse(need);
    }
    let channel = v["channel_id"].as_str().unwrap_or("").to_string();
    if name == "project" {
        let opts = &data["options"][0]["options"];
        let text = match sub {
            "add" => link(
                bot,
                &channel,
                option(opts, "workspace").and_then(Value::as_str),
            ),
            _ => list(bot),
        };
        return say(&text.unwrap_or_else(|e| format!("Could not: {e}")), false);
    }
    if let Some(elsewhere) = linked_elsewhere(bot, &channel) {
        return say(&elsewhere, true);
    }
    let app = bot.app.clone();
    let id = option(&data["options"], "id")
        .and_then(Value::as_i64)
        .filter(|id| *id > 0);
    let op = match name {
        "approve" => Some(TaskOp::Approve),
        "pause" => Some(TaskOp::Pause),
        "resume" => Some(TaskOp::Resume),
        "review" => Some(TaskOp::Review),
        _ => None,
    };
    match name {
        "run" => {
            let idea = option(&data["options"], "idea")
                .and_then(Value::as_str)
                .unwrap_or("")
                .trim()
                .to_string();
            run(bot, &channel, &idea).await
        }
        "status" => quick(bot, v, async move { chat::status(&app).await }).await,
        "tasks" => quick(bot, v, async move { chat::task_list(&app).await }).await,
        "budget" => quick(bot, v, async move { chat::budget(&app).await }).await,
        "abort" => quick(bot, v, async move { chat::abort(&app).await }).await,
        _ => match (op, id) {
            (Some(op), Some(id)) => {
                quick(bot, v, async move { chat::task_op(&app, op, id).await }).await
            }
            (Some(_), None) => say(
                &format!("say which task: /{name} id:12 (/tasks lists them)"),
                true,
            ),
            _ => say(&format!("I do not know /{name}."), true),
        },
    }
}

/// A button pressed under one of the bot's messages.
pub async fn component(bot: &Bot, v: &Value) -> Response {
    let data = v["data"]["custom_id"].as_str().unwrap_or("").to_string();
    let need = if chat::question_answer(&data).is_some() {
        Perm::Run
    } else {
        Perm::Approve
    };
    if !bot.perms.has(&who(v), need) {
        return refuse(need);
    }
    let app = bot.app.clone();
    quick(bot, v, async move { Ok(chat::button(&app, &data).await) }).await
}

/// Answer with `work`'s line if it is done within [`ANSWER_IN`]; else say "thinking" now
/// (a deferred answer) and fill it in when it is done.
async fn quick(
    bot: &Bot,
    v: &Value,
    work: impl Future<Output = Result<String, String>> + Send + 'static,
) -> Response {
    match settle(work, ANSWER_IN).await {
        Settled::Now(text) => say(&text, false),
        Settled::Later(job) => {
            let rest = bot.rest.clone();
            let app_id = v["application_id"].as_str().unwrap_or("").to_string();
            let token = v["token"].as_str().unwrap_or("").to_string();
            tokio::spawn(async move {
                let text = line(job.await.unwrap_or_else(|e| Err(e.to_string())));
                if let Err(e) = rest.edit_original(&app_id, &token, &text).await {
                    eprintln!("clk serve: discord: {e}");
                }
            });
            Json(json!({"type": 5})).into_response()
        }
    }
}

/// An answer's line, or its failure's.
fn line(r: Result<String, String>) -> String {
    r.unwrap_or_else(|e| format!("Could not: {e}"))
}

/// Work done in time, or still going.
enum Settled {
    Now(String),
    Later(tokio::task::JoinHandle<Result<String, String>>),
}

/// Start `work` and wait for it at most `wait`.
async fn settle(
    work: impl Future<Output = Result<String, String>> + Send + 'static,
    wait: Duration,
) -> Settled {
    let mut job = tokio::spawn(work);
    match tokio::time::timeout(wait, &mut job).await {
        Ok(done) => Settled::Now(line(done.unwrap_or_else(|e| Err(e.to_string())))),
        Err(_) => Settled::Later(job),
    }
}

/// `/run [idea]`: the work starts, its progress is one message in `channel`, edited.
async fn run(bot: &Bot, channel: &str, idea: &str) -> Response {
    let (id, events) = match chat::start_run(&bot.app, idea).await {
        Ok(got) => got,
        Err(e) => return say(&format!("Could not: {e}"), false),
    };
    let first = chat::progress_text(&bot.app, id, None);
    let msg = match bot.rest.post(channel, &first, None).await {
        Ok(m) => m,
        Err(e) => {
            eprintln!("clk serve: discord: {e}");
            return say(
                &format!("Work {id} started, but its progress cannot be posted here: {e}"),
                false,
            );
        }
    };
    let rest = bot.rest.clone();
    let ch = channel.to_string();
    let edit: chat::Edit = Box::new(move |text: String| {
        let (rest, ch, msg) = (rest.clone(), ch.clone(), msg.clone());
        Box::pin(async move { rest.edit(&ch, &msg, &text).await })
    });
    tokio::spawn(chat::progress(
        bot.app.clone(),
        "discord",
        id,
        first,
        events,
        edit,
    ));
    say(
        &format!("Work {id} started; its progress is the message below."),
        false,
    )
}

/// When `channel` follows another project than this server's: what to tell.
fn linked_elsewhere(bot: &Bot, channel: &str) -> Option<String> {
    let all = channels::list(&bot.env, SERVICE).ok()?;
    let l = all.iter().find(|l| l.channel == channel)?;
    (l.path != bot.app.dir).then(|| {
        format!(
            "This channel follows {} ({}); this clk serve runs {}. `/project add` links it here.",
            l.name,
            l.path.display(),
            bot.app.dir.display()
        )
    })
}

/// `/project add [workspace]`: link `channel` to a registered workspace, this server's when
/// none is named.
fn link(bot: &Bot, channel: &str, which: Option<&str>) -> Result<String, String> {
    let all = workspaces::list(&bot.env)?;
    let here = bot.app.dir.clone();
    let (name, path) = match which.map(str::trim).filter(|w| !w.is_empty()) {
        Some(w) => {
            let e = workspaces::find(&all, w).ok_or_else(|| {
                format!("no workspace {w:?}; `clk workspaces` lists them, or leave it out for this server's")
            })?;
            (e.name.clone(), e.path.clone())
        }
        None => {
            let name = all.iter().find(|e| e.path == here).map(|e| e.name.clone());
            let name = name.unwrap_or_else(|| {
                here.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "project".into())
            });
            (name, here.clone())
        }
    };
    let mut text = format!(
        "Linked: this channel now follows {name} ({}).",
        path.display()
    );
    if path != here {
        text.push_str(" Commands here go to the clk serve that runs it.");
    }
    channels::add(
        &bot.env,
        Link {
            service: SERVICE.into(),
            channel: channel.to_string(),
            name,
            path,
        },
    )?;
    Ok(text)
}

/// `/project list`.
fn list(bot: &Bot) -> Result<String, String> {
    let all = channels::list(&bot.env, SERVICE)?;
    if all.is_empty() {
        return Ok("No channel is linked yet; `/project add` links this one.".into());
    }
    Ok(all
        .iter()
        .map(|l| format!("<#{}> {} ({})", l.channel, l.name, l.path.display()))
        .collect::<Vec<_>>()
        .join("\n"))
}

/// Post each new notice in every channel linked to this project, until `stop`; a task
/// waiting for approval comes with an Approve button, a question with Yes and No.
pub fn start_notices(bot: Bot, stop: CancellationToken) {
    let app = bot.app.clone();
    let tell: chat::Tell = Box::new(move |n| {
        let bot = bot.clone();
        Box::pin(async move {
            let links = match channels::list(&bot.env, SERVICE) {
                Ok(l) => l,
                Err(e) => {
                    eprintln!("clk serve: discord: {e}");
                    return;
                }
            };
            let markup = buttons(&n.key);
            for l in links.iter().filter(|l| l.path == bot.app.dir) {
                if let Err(e) = bot.rest.post(&l.channel, &n.text, markup.clone()).await {
                    eprintln!("clk serve: discord: {e}");
                }
            }
        })
    });
    chat::start_notices(app, stop, tell);
}

/// The buttons a notice comes with (Discord's message components).
fn buttons(key: &str) -> Option<Value> {
    let button = |label: String, id: String, style: u8| json!({"type": 2, "style": style, "label": label, "custom_id": id});
    let row = if let Some(id) = chat::approve_id(key) {
        vec![button(
            format!("Approve task {id}"),
            format!("approve:{id}"),
            3,
        )]
    } else {
        let q = chat::question_id(key)?;
        vec![
            button("Yes".into(), format!("yes:{q}"), 3),
            button("No".into(), format!("no:{q}"), 4),
        ]
    };
    Some(json!([{"type": 1, "components": row}]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn work_done_in_time_is_the_answer_and_slower_work_is_left_running() {
        let quick = settle(async { Ok("done".to_string()) }, Duration::from_secs(5)).await;
        assert!(matches!(quick, Settled::Now(ref t) if t == "done"));
        let failed = settle(async { Err("no".to_string()) }, Duration::from_secs(5)).await;
        assert!(matches!(failed, Settled::Now(ref t) if t == "Could not: no"));
        let slow = async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            Ok("later".to_string())
        };
        match settle(slow, Duration::from_millis(20)).await {
            Settled::Later(job) => assert_eq!(job.await.unwrap(), Ok("later".to_string())),
            Settled::Now(t) => panic!("answered at once: {t}"),
        }
    }

    #[test]
    fn a_request_speaks_for_its_user_and_roles_and_notices_carry_buttons() {
        let guild = json!({"member": {"user": {"id": "1"}, "roles": ["2", "3"]}});
        assert_eq!(who(&guild), ["1", "2", "3"]);
        let dm = json!({"user": {"id": "9"}});
        assert_eq!(who(&dm), ["9"]);
        let a = buttons("task:7:approval").unwrap().to_string();
        assert!(a.contains("\"approve:7\""), "{a}");
        let q = buttons("question:3").unwrap().to_string();
        assert!(q.contains("\"yes:3\"") && q.contains("\"no:3\""), "{q}");
        assert!(buttons("run:1").is_none());
        let names: Vec<String> = commands()
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_string())
            .collect();
        for n in [
            "run", "status", "tasks", "approve", "pause", "resume", "review", "budget", "abort",
            "project",
        ] {
            assert!(names.contains(&n.to_string()), "{n}");
        }
    }
}
