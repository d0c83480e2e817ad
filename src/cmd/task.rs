//! `clk task ...`: the same task requests as `/task` in the dashboard, answered from the task
//! store at once (no engine needed): lines for a person, or JSON with `--json`. Also
//! `clk context ...`, the rules every task's agents see.

use std::path::Path;

use super::{Failure, project};
use crate::cli::{ContextAction, TaskAction, TemplateAction};
use crate::engine::ground::task::TaskCommand;
use crate::engine::runs::tasks::ops;
use crate::headless::Format;

fn note(words: Vec<String>) -> Option<String> {
    (!words.is_empty()).then(|| words.join(" "))
}

pub fn run(
    dir: &Path,
    action: TaskAction,
    store: Option<String>,
    format: Format,
) -> Result<u8, Failure> {
    let mut p = project(dir)?;
    super::use_store(&mut p, store);
    let cmd = match action {
        TaskAction::Add {
            prompt,
            template,
            how,
        } => TaskCommand::Add {
            prompt: prompt.join(" "),
            flow: how.flow,
            agent: how.agent,
            autonomy: how.autonomy,
            template,
            requested_by: Some("cli".into()),
        },
        TaskAction::List => TaskCommand::List,
        TaskAction::Show { id } => TaskCommand::Show { id },
        TaskAction::Timeline { id } => TaskCommand::Timeline { id },
        TaskAction::Approve { id, note: n } => TaskCommand::Approve { id, note: note(n) },
        TaskAction::Reject { id, note: n } => TaskCommand::Reject { id, note: note(n) },
        TaskAction::Pause { id } => TaskCommand::Pause { id },
        TaskAction::Resume { id, note: n } => TaskCommand::Resume { id, note: note(n) },
        TaskAction::Cancel { id } => TaskCommand::Cancel { id },
        TaskAction::Review { id, note: n } => TaskCommand::Review { id, note: note(n) },
    };
    let reply = ops::apply_from(&p, cmd, "cli").map_err(Failure::bad_input)?;
    print(reply, format)
}

/// `clk context add|list|remove`: the same requests as `/context`.
pub fn context(dir: &Path, action: ContextAction, format: Format) -> Result<u8, Failure> {
    let cmd = match action {
        ContextAction::Add { rule } => TaskCommand::ContextAdd {
            text: rule.join(" "),
        },
        ContextAction::List => TaskCommand::ContextList,
        ContextAction::Remove { id } => TaskCommand::ContextRemove { id },
    };
    let reply = ops::apply_from(&project(dir)?, cmd, "cli").map_err(Failure::bad_input)?;
    print(reply, format)
}

/// `clk template save|list|run`: the same requests as `/template`.
pub fn template(dir: &Path, action: TemplateAction, format: Format) -> Result<u8, Failure> {
    let cmd = match action {
        TemplateAction::Save { name, prompt, how } => TaskCommand::TemplateSave {
            name,
            prompt: prompt.join(" "),
            flow: how.flow,
            agent: how.agent,
            autonomy: how.autonomy,
        },
        TemplateAction::List => TaskCommand::TemplateList,
        TemplateAction::Run { name } => TaskCommand::TemplateRun {
            name,
            requested_by: Some("cli".into()),
        },
    };
    let reply = ops::apply_from(&project(dir)?, cmd, "cli").map_err(Failure::bad_input)?;
    print(reply, format)
}

fn print(reply: ops::Reply, format: Format) -> Result<u8, Failure> {
    match format {
        Format::Json => println!("{}", reply.json),
        Format::Human => {
            for l in reply.lines {
                println!("{l}");
            }
        }
    }
    Ok(super::EXIT_OK)
}
