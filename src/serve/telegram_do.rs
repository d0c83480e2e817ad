//! What the Telegram bot does with a command: the shared chat commands (`chat.rs`) in
//! Telegram's words. A run's progress is one message edited in place; the server's notices go
//! to every allowed user, a task waiting for approval with an Approve button.

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::chat::{self, TaskOp};
use super::telegram::Bot;

const HELP: &str = "Commands:\n/run [idea] - run the team (on a new idea, or the current one)\n\
/status - what the project and the team are doing\n/tasks - the task queue\n\
/approve ID, /pause ID, /resume ID - a task\n/budget - spending caps\n/abort - stop everything now";

/// The reply to a message from an allowed user in `chat` (`None` when the reply was sent
/// already, as a progress message).
pub async fn command(bot: &Bot, chat: i64, text: &str) -> Option<String> {
    let (word, rest) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
    // In a group, commands come as `/status@botname`.
    let word = word.split('@').next().unwrap_or(word);
    let rest = rest.trim();
    let app = &bot.app;
    let op = match word {
        "/approve" => Some(TaskOp::Approve),
        "/pause" => Some(TaskOp::Pause),
        "/resume" => Some(TaskOp::Resume),
        _ => None,
    };
    let reply = match word {
        "/run" => return run(bot, chat, rest).await,
        "/status" => chat::status(app).await,
        "/tasks" => chat::task_list(app).await,
        "/budget" => chat::budget(app).await,
        "/abort" => chat::abort(app).await,
        _ if op.is_some() => match (op, chat::task_id(rest)) {
            (Some(op), Some(id)) => chat::task_op(app, op, id).await,
            _ => Err(format!("say which task: {word} 12 (/tasks lists them)")),
        },
        "/start" | "/help" => Ok(HELP.to_string()),
        _ => Err(format!("I do not know {word:?}.\n{HELP}")),
    };
    Some(reply.unwrap_or_else(|e| format!("Could not: {e}")))
}

/// A pressed button.
pub async fn button(bot: &Bot, data: &str) -> String {
    chat::button(&bot.app, data).await
}

/// `/run IDEA` types the idea as in the dashboard; a bare `/run` runs the engineering
/// workflow. Progress is then one message, edited.
async fn run(bot: &Bot, chat: i64, idea: &str) -> Option<String> {
    let (id, events) = match chat::start_run(&bot.app, idea).await {
        Ok(got) => got,
        Err(e) => return Some(format!("Could not: {e}")),
    };
    let first = chat::progress_text(&bot.app, id, None);
    let msg = match bot.send(chat, &first, None).await {
        Ok(m) => m,
        Err(e) => {
            eprintln!("clk serve: telegram: {e}");
            return None;
        }
    };
    let me = bot.clone();
    let edit: chat::Edit = Box::new(move |text: String| {
        let me = me.clone();
        Box::pin(async move {
            let edit = json!({"chat_id": chat, "message_id": msg,
                              "text": super::telegram::clip(&text)});
            me.call("editMessageText", edit).await.map(|_| ())
        })
    });
    let app = bot.app.clone();
    tokio::spawn(chat::progress(app, "telegram", id, first, events, edit));
    None
}

/// Send each new notice to every allowed user, until `stop`; a task waiting for approval
/// comes with an Approve button, a question with Yes and No.
pub fn start_notices(bot: Bot, stop: CancellationToken) {
    let app = bot.app.clone();
    let tell: chat::Tell = Box::new(move |n| {
        let bot = bot.clone();
        Box::pin(async move {
            let markup = buttons(&n.key);
            for &user in bot.users() {
                if let Err(e) = bot.send(user, &n.text, markup.clone()).await {
                    eprintln!("clk serve: telegram: {e}");
                }
            }
        })
    });
    chat::start_notices(app, stop, tell);
}

/// The buttons a notice comes with: Approve for a task waiting for approval, Yes and No for
/// a question.
fn buttons(key: &str) -> Option<Value> {
    if let Some(id) = chat::approve_id(key) {
        let data = format!("approve:{id}");
        return Some(json!({"inline_keyboard": [[
            {"text": format!("Approve task {id}"), "callback_data": data}
        ]]}));
    }
    let q = chat::question_id(key)?;
    Some(json!({"inline_keyboard": [[
        {"text": "Yes", "callback_data": format!("yes:{q}")},
        {"text": "No", "callback_data": format!("no:{q}")},
    ]]}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_approval_and_question_notices_carry_buttons() {
        let a = buttons("task:7:approval").unwrap().to_string();
        assert!(a.contains("\"approve:7\""), "{a}");
        let q = buttons("question:3").unwrap().to_string();
        assert!(q.contains("\"yes:3\"") && q.contains("\"no:3\""), "{q}");
        assert!(buttons("run:55").is_none());
        assert!(buttons("task:7:merged").is_none());
    }
}
