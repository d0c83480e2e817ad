//! `clk task ...`: the same task requests as `/task` in the dashboard, answered from the task
//! store at once (no engine needed): lines for a person, or JSON with `--json`. Also
//! `clk context ...`, the rules every task's agents see.

use std::path::Path;

use super::{Failure, project};
use crate::cli::{ContextAction, TaskAction, TemplateAction};
use crate::engine::ground::task::TaskCommand;
use crate::engine::runs::tasks::ops;
use crate::engine::runs::tasks::rules::{self, RuleCommand};
use crate::engine::runs::tasks::templates;
use crate::engine::store::tasks::Template;
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

/// `clk context add|list|remove`.
pub fn context(dir: &Path, action: ContextAction, format: Format) -> Result<u8, Failure> {
    let p = project(dir)?;
    let cmd = match action {
        ContextAction::Add { rule } => RuleCommand::Add(rule.join(" ")),
        ContextAction::List => RuleCommand::List,
        ContextAction::Remove { id } => RuleCommand::Remove(id),
    };
    print(rules::apply(&p, cmd).map_err(Failure::bad_input)?, format)
}

/// `clk template save|list|run`.
pub fn template(dir: &Path, action: TemplateAction, format: Format) -> Result<u8, Failure> {
    let p = project(dir)?;
    let reply = match action {
        TemplateAction::Save { name, prompt, how } => templates::save(
            &p,
            Template {
                name,
                prompt: prompt.join(" "),
                flow: how.flow.unwrap_or_default(),
                agent: how.agent.unwrap_or_default(),
                autonomy: how.autonomy.unwrap_or_default(),
            },
        ),
        TemplateAction::List => templates::list(&p),
        TemplateAction::Run { name } => templates::run(&p, &name),
    };
    print(reply.map_err(Failure::bad_input)?, format)
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
