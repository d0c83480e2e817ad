//! Slash commands: the text a person types (`/loop ralph 5`) turned into a [`Command`].
//!
//! One parser for every front end (the dashboard's input box, headless scripts, chat bridges),
//! so `/run` means the same thing everywhere. Parsing is pure: no IO, no engine state. A bad
//! command gives one line that says what to type instead; an unknown one suggests the closest.

use crate::engine::ground::events::LoopKind;
use crate::engine::ground::events::{Command, GauntletAction, QueueCommand, RolesCommand};

mod specs;
pub use specs::{COMMANDS, SlashSpec};

/// What a line of slash text asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Slash {
    /// Show the help overlay (front end only).
    Help,
    /// Leave the dashboard (front end only; it asks first when work is running).
    Quit,
    /// Show only log lines that match (front end only): text, an agent's name, or a level
    /// (`warn`, `error`); None clears the filter.
    Filter(Option<String>),
    /// Show the Tasks view (front end only; elsewhere it lists the tasks).
    Tasks,
    /// Something for the engine.
    Engine(Command),
}

/// Command names starting with `prefix` (which includes the slash), for Tab completion.
pub fn complete(prefix: &str) -> Vec<&'static str> {
    let prefix = prefix.trim_start();
    COMMANDS
        .iter()
        .map(|c| c.name)
        .filter(|n| n.starts_with(prefix))
        .collect()
}

/// The known command closest to `word` (with its slash), when one is close enough.
pub fn suggest(word: &str) -> Option<&'static str> {
    let word = word.to_lowercase();
    let bare = word.trim_start_matches('/');
    COMMANDS
        .iter()
        .map(|c| (distance(bare, &c.name[1..]), c.name))
        .filter(|(d, name)| *d <= 2.max(bare.len() / 3) || name[1..].starts_with(bare))
        .min_by_key(|(d, _)| *d)
        .map(|(_, name)| name)
}

/// Edit distance (insertions, deletions, substitutions).
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (row[j + 1] + 1)
                .min(row[j] + 1)
                .min(diag + usize::from(ca != *cb));
            diag = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

/// Split arguments on spaces, keeping "quoted text" together.
fn words(text: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut any = false;
    for c in text.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                any = true;
            }
            (None, c) if c.is_whitespace() => {
                if any || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            (None, c) => cur.push(c),
        }
    }
    if quote.is_some() {
        return Err("a quote is not closed; close it and try again".into());
    }
    if any || !cur.is_empty() {
        out.push(cur);
    }
    Ok(out)
}

fn count(arg: Option<&String>, usage: &str) -> Result<u32, String> {
    let Some(arg) = arg else {
        return Ok(0);
    };
    match arg.parse::<u32>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!(
            "{arg:?} is not a number of iterations; usage: {usage}"
        )),
    }
}

/// `/budget` shows the caps; `/budget set session USD` or `/budget set AGENT USD` sets one
/// (the full setting names `budget.session_usd_cap` and `budget.agent_usd_caps.AGENT` work too).
fn budget(argv: &[String]) -> Result<Slash, String> {
    let usage = "usage: /budget | /budget set session USD | /budget set AGENT USD (0: no cap)";
    match argv {
        [] => Ok(Slash::Engine(Command::ShowBudget)),
        [set, key, usd] if set == "set" => {
            let usd = usd.trim_start_matches('$');
            let usd = match usd.parse::<f64>() {
                Ok(v) if v.is_finite() && v >= 0.0 => v,
                _ => return Err(format!("{usd:?} is not a number of dollars; {usage}")),
            };
            let key = match key.as_str() {
                "session" | "budget.session_usd_cap" => "budget.session_usd_cap".to_string(),
                k => {
                    let agent = k.strip_prefix("budget.agent_usd_caps.").unwrap_or(k);
                    if agent.is_empty() || agent.contains('.') {
                        return Err(format!("{k:?} is not an agent's name; {usage}"));
                    }
                    format!("budget.agent_usd_caps.{agent}")
                }
            };
            Ok(Slash::Engine(Command::SetCap { key, usd }))
        }
        _ => Err(usage.into()),
    }
}

/// Parse one line of slash text (it must start with `/`).
pub fn parse(text: &str) -> Result<Slash, String> {
    let text = text.trim();
    let Some(rest) = text.strip_prefix('/') else {
        return Err("slash commands start with /; type /help for the list".into());
    };
    let (word, args) = match rest.split_once(char::is_whitespace) {
        Some((w, a)) => (w, a.trim()),
        None => (rest, ""),
    };
    let word = word.to_lowercase();
    let argv = words(args)?;
    let none = |cmd: Slash| {
        if argv.is_empty() {
            Ok(cmd)
        } else {
            Err(format!("/{word} takes no arguments"))
        }
    };
    let engine = |c: Command| Ok(Slash::Engine(c));
    match word.as_str() {
        "help" | "?" => none(Slash::Help),
        "quit" | "exit" | "q" => none(Slash::Quit),
        "filter" => Ok(Slash::Filter((!args.is_empty()).then(|| args.to_string()))),
        "idea" => {
            if args.is_empty() {
                return Err("say what you want to build: /idea <text>".into());
            }
            engine(Command::CaptureIdea {
                statement: args.to_string(),
                title: None,
                tags: Vec::new(),
            })
        }
        "cast" => none(Slash::Engine(Command::Cast { dry_run: false })),
        "roles" => {
            let usage = "usage: /roles list | add NAME \"description\" | drop NAME";
            let action = match argv.first().map(String::as_str) {
                None | Some("list") if argv.len() <= 1 => RolesCommand::List,
                Some("add") if argv.len() >= 3 => RolesCommand::Add {
                    name: argv[1].clone(),
                    description: argv[2..].join(" "),
                },
                Some("add") => {
                    return Err(format!(
                        "/roles add needs a name and a description; {usage}"
                    ));
                }
                Some("drop" | "remove") if argv.len() == 2 => RolesCommand::Drop {
                    name: argv[1].clone(),
                },
                _ => return Err(usage.into()),
            };
            engine(Command::Roles { action })
        }
        "run" => match argv.as_slice() {
            [] => engine(Command::Run {
                workflow: "engineering".into(),
                max_cycles: None,
                dry_run: false,
            }),
            [wf] => engine(Command::Run {
                workflow: wf.clone(),
                max_cycles: None,
                dry_run: false,
            }),
            _ => Err("usage: /run [workflow]".into()),
        },
        "mission" => match argv.as_slice() {
            [word] if word.eq_ignore_ascii_case("resume") => engine(Command::Mission {
                text: None,
                resume: true,
            }),
            [] => engine(Command::Mission {
                text: None,
                resume: false,
            }),
            words => engine(Command::Mission {
                text: Some(words.join(" ")),
                resume: false,
            }),
        },
        "loop" => {
            let usage = "/loop ralph N | /loop autoresearch N";
            let kind = match argv.first().map(|s| s.to_lowercase()).as_deref() {
                Some("ralph") => LoopKind::Ralph,
                Some("autoresearch" | "research") => LoopKind::Autoresearch,
                Some(other) => {
                    return Err(format!("no loop called {other:?}; usage: {usage}"));
                }
                None => return Err(format!("which loop? usage: {usage}")),
            };
            if argv.len() > 2 {
                return Err(format!("usage: {usage}"));
            }
            engine(Command::Loop {
                kind,
                iterations: count(argv.get(1), usage)?,
                dry_run: false,
            })
        }
        "stop" => none(Slash::Engine(Command::Stop)),
        "queue" => {
            let usage = "usage: /queue | /queue drop N | /queue clear";
            let action = match argv
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .as_slice()
            {
                [] | ["list"] => QueueCommand::List,
                ["clear"] => QueueCommand::Clear,
                ["drop" | "remove", n] => match n.parse::<usize>() {
                    Ok(n) if n >= 1 => QueueCommand::Drop { n },
                    _ => return Err(format!("{n:?} is not an entry number; {usage}")),
                },
                _ => return Err(usage.into()),
            };
            engine(Command::Queue { action })
        }
        "tasks" if argv.is_empty() => Ok(Slash::Tasks),
        "task" | "tasks" => engine(Command::Task {
            action: crate::engine::ground::task::parse_slash(&argv)?,
        }),
        "context" => engine(Command::Task {
            action: crate::engine::ground::task_slash::parse_context(&argv)?,
        }),
        "template" | "templates" => engine(Command::Task {
            action: crate::engine::ground::task_slash::parse_template(&argv)?,
        }),
        "work" => match argv.as_slice() {
            [] => engine(Command::Work {
                workers: None,
                until_idle: false,
            }),
            [n] => match n.parse::<u32>() {
                Ok(n) if n >= 1 => engine(Command::Work {
                    workers: Some(n),
                    until_idle: false,
                }),
                _ => Err(format!(
                    "{n:?} is not a number of workers; usage: /work [N]"
                )),
            },
            _ => Err("usage: /work [N]".into()),
        },
        "abort" => none(Slash::Engine(Command::Abort)),
        "provider" => match argv.as_slice() {
            [name] => engine(Command::SwitchProvider { name: name.clone() }),
            _ => Err("usage: /provider <name> (clk providers lists them)".into()),
        },
        "merge" => match argv.as_slice() {
            [] => engine(Command::Merge { discard: false }),
            [d] if d == "discard" => engine(Command::Merge { discard: true }),
            _ => {
                Err("usage: /merge to merge a waiting run branch, /merge discard to drop it".into())
            }
        },
        "undo" => match argv.as_slice() {
            [] => engine(Command::Undo { confirm: false }),
            [c] if c == "confirm" => engine(Command::Undo { confirm: true }),
            _ => Err("usage: /undo to preview, /undo confirm to revert".into()),
        },
        "doctor" => match argv.as_slice() {
            [] => engine(Command::Doctor { fix: false }),
            [f] if f == "--fix" || f == "fix" => engine(Command::Doctor { fix: true }),
            _ => Err("usage: /doctor [--fix]".into()),
        },
        "install" => match argv.as_slice() {
            [] => engine(Command::Install {
                name: String::new(),
                confirm: false,
            }),
            [n] => engine(Command::Install {
                name: n.clone(),
                confirm: false,
            }),
            [n, c] if c == "confirm" => engine(Command::Install {
                name: n.clone(),
                confirm: true,
            }),
            _ => Err(
                "usage: /install NAME to see the command, /install NAME confirm to run it".into(),
            ),
        },
        "setup" => none(Slash::Engine(Command::Setup)),
        "status" => none(Slash::Engine(Command::Status)),
        "diag" => match argv.as_slice() {
            [] => engine(Command::Diag),
            _ => Err("usage: /diag (clk diag --out FILE names the file)".into()),
        },
        "workspaces" => match argv.as_slice() {
            [] => engine(Command::Workspaces),
            _ => Err("usage: /workspaces (clk workspaces rename|forget|clean change them)".into()),
        },
        "budget" => budget(&argv),
        "gauntlet" => {
            let action = match argv.as_slice() {
                [] => Some(GauntletAction::Status),
                [w] => match w.to_lowercase().as_str() {
                    "on" => Some(GauntletAction::On),
                    "off" => Some(GauntletAction::Off),
                    "quick" => Some(GauntletAction::Quick),
                    "standard" => Some(GauntletAction::Standard),
                    "rigorous" => Some(GauntletAction::Rigorous),
                    "status" => Some(GauntletAction::Status),
                    _ => None,
                },
                _ => None,
            };
            action
                .map(|action| Slash::Engine(Command::Gauntlet { action }))
                .ok_or_else(|| "usage: /gauntlet on|off|quick|standard|rigorous|status".into())
        }
        "tutorial" => none(Slash::Engine(Command::Tutorial)),
        "" => Err("type a command after the slash; /help lists them".into()),
        other => Err(match suggest(other) {
            Some(s) => format!("unknown command /{other}; did you mean {s}?"),
            None => format!("unknown command /{other}; type /help for the list"),
        }),
    }
}

#[cfg(test)]
mod tests;
