//! The words after `/task`, `/context` and `/template` in the dashboard, read into the same
//! requests `clk task`, `clk context` and `clk template` make.

use super::task::TaskCommand;

/// `/task ...` after the word: `add "prompt" [--agent A] [--flow F] [--autonomy X] [--template T]`,
/// `list`,
/// `show ID`, `timeline ID`, `approve ID [note]`, `reject ID [note]`, `review ID [note]`,
/// `pause ID`, `resume ID [note]`, `cancel ID`.
pub fn parse_slash(argv: &[String]) -> Result<TaskCommand, String> {
    const USAGE: &str = "usage: /task add \"prompt\" [--agent A] [--flow F] [--autonomy X] [--template T] | \
                         list | \
                         show ID | timeline ID | approve ID [note] | reject ID [note] | \
                         review ID [note] | pause ID | resume ID [note] | cancel ID";
    let id = |s: Option<&String>| -> Result<i64, String> {
        let Some(s) = s else {
            return Err(format!("which task? {USAGE}"));
        };
        s.trim_start_matches('#')
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| format!("{s:?} is not a task id (`/task list` shows them)"))
    };
    let note = |rest: &[String]| (!rest.is_empty()).then(|| rest.join(" "));
    let word = argv.first().map(|s| s.to_lowercase());
    let one = |cmd: TaskCommand| {
        if argv.len() > 2 {
            Err(format!("too many words; {USAGE}"))
        } else {
            Ok(cmd)
        }
    };
    match word.as_deref() {
        None | Some("list") if argv.len() <= 1 => Ok(TaskCommand::List),
        Some("add") => {
            let (words, (flow, agent, autonomy)) = settings(&argv[1..])?;
            let (mut prompt, mut template) = (Vec::new(), None);
            let mut it = words.into_iter();
            while let Some(w) = it.next() {
                if w == "--template" {
                    template = Some(it.next().ok_or("--template needs a value")?);
                } else {
                    prompt.push(w);
                }
            }
            if prompt.is_empty() && template.is_none() {
                return Err(format!("say what the task is; {USAGE}"));
            }
            Ok(TaskCommand::Add {
                prompt: prompt.join(" "),
                flow,
                agent,
                autonomy,
                template,
                requested_by: Some("dashboard".into()),
            })
        }
        Some("show") => one(TaskCommand::Show {
            id: id(argv.get(1))?,
        }),
        Some("timeline") => one(TaskCommand::Timeline {
            id: id(argv.get(1))?,
        }),
        Some("pause") => one(TaskCommand::Pause {
            id: id(argv.get(1))?,
        }),
        Some("cancel") => one(TaskCommand::Cancel {
            id: id(argv.get(1))?,
        }),
        Some("approve") => Ok(TaskCommand::Approve {
            id: id(argv.get(1))?,
            note: note(argv.get(2..).unwrap_or_default()),
        }),
        Some("reject") => Ok(TaskCommand::Reject {
            id: id(argv.get(1))?,
            note: note(argv.get(2..).unwrap_or_default()),
        }),
        Some("resume") => Ok(TaskCommand::Resume {
            id: id(argv.get(1))?,
            note: note(argv.get(2..).unwrap_or_default()),
        }),
        Some("review") => Ok(TaskCommand::Review {
            id: id(argv.get(1))?,
            note: note(argv.get(2..).unwrap_or_default()),
        }),
        _ => Err(USAGE.into()),
    }
}

/// The flags `--flow`, `--agent`, `--autonomy` taken out of `words`; the rest, in order.
type Settings = (Option<String>, Option<String>, Option<String>);
fn settings(words: &[String]) -> Result<(Vec<String>, Settings), String> {
    let (mut rest, mut set) = (Vec::new(), (None, None, None));
    let mut it = words.iter();
    while let Some(w) = it.next() {
        let slot = match w.as_str() {
            "--flow" => &mut set.0,
            "--agent" => &mut set.1,
            "--autonomy" => &mut set.2,
            _ => {
                rest.push(w.clone());
                continue;
            }
        };
        *slot = Some(it.next().cloned().ok_or(format!("{w} needs a value"))?);
    }
    Ok((rest, set))
}

/// `/context ...` after the word: `list` (or nothing), `add RULE`, `remove ID`.
pub fn parse_context(argv: &[String]) -> Result<TaskCommand, String> {
    const USAGE: &str = "usage: /context [list] | add RULE | remove ID";
    match argv.first().map(|s| s.to_lowercase()).as_deref() {
        None | Some("list") if argv.len() <= 1 => Ok(TaskCommand::ContextList),
        Some("add") if argv.len() > 1 => Ok(TaskCommand::ContextAdd {
            text: argv[1..].join(" "),
        }),
        Some("add") => Err("say the rule: /context add use pnpm, not npm".into()),
        Some("remove" | "rm" | "drop") if argv.len() == 2 => argv[1]
            .parse::<i64>()
            .map(|id| TaskCommand::ContextRemove { id })
            .map_err(|_| {
                format!(
                    "{:?} is not a rule id (`/context list` shows them)",
                    argv[1]
                )
            }),
        _ => Err(USAGE.into()),
    }
}

/// `/template ...` after the word: `list` (or nothing), `save NAME PROMPT [--flow F]
/// [--agent A] [--autonomy X]`, `run NAME`.
pub fn parse_template(argv: &[String]) -> Result<TaskCommand, String> {
    const USAGE: &str = "usage: /template [list] | save NAME \"prompt\" [--agent A] [--flow F] \
                         [--autonomy X] | run NAME";
    match argv.first().map(|s| s.to_lowercase()).as_deref() {
        None | Some("list") if argv.len() <= 1 => Ok(TaskCommand::TemplateList),
        Some("run") if argv.len() == 2 => Ok(TaskCommand::TemplateRun {
            name: argv[1].clone(),
            requested_by: Some("dashboard".into()),
        }),
        Some("save") if argv.len() >= 2 => {
            let (prompt, (flow, agent, autonomy)) = settings(&argv[2..])?;
            if prompt.is_empty() {
                return Err(format!("say what the template's task is; {USAGE}"));
            }
            Ok(TaskCommand::TemplateSave {
                name: argv[1].clone(),
                prompt: prompt.join(" "),
                flow,
                agent,
                autonomy,
            })
        }
        _ => Err(USAGE.into()),
    }
}

#[cfg(test)]
mod slash_tests {
    use super::*;

    fn p(s: &str) -> Result<TaskCommand, String> {
        let argv: Vec<String> = s.split_whitespace().map(String::from).collect();
        parse_slash(&argv)
    }

    #[test]
    fn parses_each_action() {
        assert_eq!(p(""), Ok(TaskCommand::List));
        assert_eq!(p("show 3"), Ok(TaskCommand::Show { id: 3 }));
        assert_eq!(p("cancel #4"), Ok(TaskCommand::Cancel { id: 4 }));
        assert_eq!(
            p("approve 2 looks good"),
            Ok(TaskCommand::Approve {
                id: 2,
                note: Some("looks good".into())
            })
        );
        assert_eq!(
            p("add fix the test --agent codex --autonomy safe"),
            Ok(TaskCommand::Add {
                prompt: "fix the test".into(),
                flow: None,
                agent: Some("codex".into()),
                autonomy: Some("safe".into()),
                template: None,
                requested_by: Some("dashboard".into()),
            })
        );
        assert_eq!(
            p("review #2 check the error paths"),
            Ok(TaskCommand::Review {
                id: 2,
                note: Some("check the error paths".into())
            })
        );
        assert_eq!(p("review 5"), Ok(TaskCommand::Review { id: 5, note: None }));
        assert_eq!(
            p("reject 5 use the builder"),
            Ok(TaskCommand::Reject {
                id: 5,
                note: Some("use the builder".into())
            })
        );
        assert!(p("show x").unwrap_err().contains("not a task id"));
        assert!(p("show").unwrap_err().contains("which task"));
        assert!(p("add --agent").unwrap_err().contains("needs a value"));
        assert!(p("add").unwrap_err().contains("say what the task is"));
        assert!(p("fly 3").unwrap_err().starts_with("usage: /task"));
        assert_eq!(
            p("add --template docs mention the flag"),
            Ok(TaskCommand::Add {
                prompt: "mention the flag".into(),
                flow: None,
                agent: None,
                autonomy: None,
                template: Some("docs".into()),
                requested_by: Some("dashboard".into()),
            })
        );
        assert!(
            p("add --template docs").is_ok(),
            "the template's prompt is enough"
        );
    }

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn parses_context_and_template() {
        let c = |s: &str| parse_context(&words(s));
        assert_eq!(c(""), Ok(TaskCommand::ContextList));
        assert_eq!(
            c("add use pnpm, not npm"),
            Ok(TaskCommand::ContextAdd {
                text: "use pnpm, not npm".into()
            })
        );
        assert_eq!(c("remove 2"), Ok(TaskCommand::ContextRemove { id: 2 }));
        assert!(c("remove two").unwrap_err().contains("not a rule id"));
        assert!(c("add").unwrap_err().contains("say the rule"));
        assert!(c("wipe").unwrap_err().starts_with("usage: /context"));

        let t = |s: &str| parse_template(&words(s));
        assert_eq!(t("list"), Ok(TaskCommand::TemplateList));
        assert_eq!(
            t("run docs"),
            Ok(TaskCommand::TemplateRun {
                name: "docs".into(),
                requested_by: Some("dashboard".into()),
            })
        );
        assert_eq!(
            t("save docs update README.md --autonomy safe"),
            Ok(TaskCommand::TemplateSave {
                name: "docs".into(),
                prompt: "update README.md".into(),
                flow: None,
                agent: None,
                autonomy: Some("safe".into()),
            })
        );
        assert!(
            t("save docs")
                .unwrap_err()
                .contains("say what the template's task is")
        );
        assert!(t("run").unwrap_err().starts_with("usage: /template"));
    }
}
