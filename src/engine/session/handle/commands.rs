//! The command handlers: one function per kind of task the engine runs, each returning a
//! [`Handled`] that becomes the task's `TaskFinished` event. Handlers report their details as
//! events on the bus; the outcome only says whether the task did what was asked, and in a line
//! what came of it.

use crate::engine::ground::config::Env;
use tokio_util::sync::CancellationToken;

use super::session::Session;
use crate::engine::agents::dispatch::DispatchRequest;
use crate::engine::ground::events::{Command, Event, RolesCommand};
use crate::engine::runs::{isolate, orchestrate};
use crate::engine::store::bus::Bus;
use crate::engine::store::git;
use crate::engine::store::idea::Idea;
use crate::engine::store::workspace::{Project, Workspace, read_json, write_json};

/// What came of one command run as a task: the `ok` and `summary` of its `TaskFinished`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Handled {
    /// The task did what was asked; the line says what came of it.
    Done(String),
    /// The task failed or was refused; the line says why.
    Failed(String),
}

impl Handled {
    /// Whether the task did what was asked (the `ok` of `TaskFinished`).
    pub(super) fn ok(&self) -> bool {
        match self {
            Handled::Done(_) => true,
            Handled::Failed(_) => false,
        }
    }

    /// The one line for the front ends (the `summary` of `TaskFinished`).
    pub(super) fn into_summary(self) -> String {
        match self {
            Handled::Done(s) | Handled::Failed(s) => s,
        }
    }

    /// `Done` when `ok`, else `Failed`, with the same line.
    pub(super) fn from_ok(ok: bool, summary: String) -> Handled {
        if ok {
            Handled::Done(summary)
        } else {
            Handled::Failed(summary)
        }
    }
}

impl From<orchestrate::StepResult> for Handled {
    fn from(r: orchestrate::StepResult) -> Handled {
        Handled::from_ok(r.ok, r.summary)
    }
}

/// Doctor reads the folder itself, not the loaded project: it must work when the config is
/// broken.
pub(super) async fn doctor(ws: &Workspace, bus: &Bus, fix: bool) -> Handled {
    let checkup = crate::engine::session::doctor::run(ws, bus, fix).await;
    bus.emit(Event::Report {
        topic: "doctor".into(),
        lines: checkup.lines,
    });
    if checkup.failing {
        Handled::Failed("some checks fail; see the doctor report".into())
    } else {
        Handled::Done("no check fails".into())
    }
}

/// `/diag`: the bundle goes into the project's folder; the report names it and what is in it.
pub(super) async fn diag(ws: &Workspace, env: &Env, bus: &Bus) -> Handled {
    let out = ws.root.join(format!(
        "clk-diag-{}.tar.gz",
        chrono::Local::now().format("%Y%m%d-%H%M%S")
    ));
    match crate::engine::session::diag::build(ws, env, &out, 200).await {
        Ok(b) => {
            bus.emit(Event::Report {
                topic: "diag".into(),
                lines: vec![
                    format!("wrote {}", b.path.display()),
                    format!("in it: {}", b.files.join(", ")),
                    "secrets are taken out; look it over before you attach it to a bug report"
                        .into(),
                ],
            });
            Handled::Done("bug-report bundle written".into())
        }
        Err(e) => Handled::Failed(e),
    }
}

/// `/workspaces`: the registry of projects, most recent first.
pub(super) fn workspaces(env: &Env, bus: &Bus) -> Handled {
    match crate::engine::store::workspaces::list(env) {
        Ok(all) => {
            let mut lines: Vec<String> = all
                .iter()
                .map(|e| {
                    let when = e
                        .last_used
                        .get(..16)
                        .unwrap_or(&e.last_used)
                        .replace('T', " ");
                    let idea = e.idea.as_deref().unwrap_or("");
                    format!("{:<20} {when}  {}  {idea}", e.name, e.path.display())
                })
                .collect();
            if lines.is_empty() {
                lines.push("no projects yet: clk init or ./kickoff.sh adds them".into());
            }
            lines.push("clk workspaces rename|switch|forget|clean changes the list".into());
            bus.emit(Event::Report {
                topic: "workspaces".into(),
                lines,
            });
            Handled::Done("workspaces listed".into())
        }
        Err(e) => Handled::Failed(e),
    }
}

/// Whether `cmd` lets agents change files, and so runs in a worktree of its own.
fn changes_files(cmd: &Command) -> bool {
    match cmd {
        Command::Dispatch { dry_run, .. }
        | Command::Cast { dry_run }
        | Command::Plan { dry_run }
        | Command::Run { dry_run, .. }
        | Command::Loop { dry_run, .. } => !dry_run,
        Command::Message { .. } | Command::Mission { .. } => true,
        _ => false,
    }
}

/// Runs a command that needs the loaded project; one that lets agents change files works in
/// its own worktree, merged into the user's branch when it ends.
pub(super) async fn project_task(
    session: &Session,
    project: &Project,
    bus: &Bus,
    cmd: Command,
    cancel: &CancellationToken,
) -> Handled {
    let iso = if changes_files(&cmd) {
        isolate::begin(project, bus).await
    } else {
        None
    };
    let handled = match &iso {
        Some(i) => project_command(session, &i.project, bus, cmd, cancel).await,
        None => project_command(session, project, bus, cmd, cancel).await,
    };
    if let Some(i) = iso {
        isolate::finish(i, bus).await;
    }
    handled
}

async fn project_command(
    session: &Session,
    project: &Project,
    bus: &Bus,
    cmd: Command,
    cancel: &CancellationToken,
) -> Handled {
    match cmd {
        Command::CaptureIdea {
            statement,
            title,
            tags,
        } => {
            let idea = Idea::new(&statement, title.as_deref(), tags);
            match crate::engine::store::idea::capture(project, &idea) {
                Ok(()) => {
                    bus.emit(Event::IdeaCaptured {
                        title: idea.title.clone(),
                    });
                    Handled::Done(idea.title)
                }
                Err(e) => Handled::Failed(e),
            }
        }
        Command::Dispatch {
            agent,
            objective,
            stage,
            dry_run,
        } => {
            let req = DispatchRequest {
                agent,
                objective,
                stage,
                dry_run,
                ..Default::default()
            };
            let care = crate::engine::agents::robust::Care::default();
            match crate::engine::runs::call::dispatch_careful(project, bus, &req, &care, cancel)
                .await
            {
                Ok(out) => match &out.error {
                    None => Handled::Done(out.batch.summary()),
                    Some(e) => Handled::Failed(e.message.clone()),
                },
                Err(e) => Handled::Failed(e.to_string()),
            }
        }
        Command::Cast { dry_run } => orchestrate::cast(project, bus, dry_run, cancel)
            .await
            .into(),
        Command::Plan { dry_run } => orchestrate::plan(project, bus, dry_run, cancel)
            .await
            .into(),
        Command::Run {
            workflow,
            max_cycles,
            dry_run,
        } => orchestrate::run(project, bus, &workflow, max_cycles, dry_run, cancel)
            .await
            .into(),
        Command::Mission { text, resume } => {
            crate::engine::runs::mission::run(project, bus, text, resume, cancel)
                .await
                .into()
        }
        Command::Loop {
            kind,
            iterations,
            dry_run,
        } => orchestrate::run_loop(project, bus, kind, iterations, dry_run, cancel)
            .await
            .into(),
        Command::Message { text } => {
            crate::engine::session::converse::message(project, bus, &text, cancel)
                .await
                .into()
        }
        Command::Roles { action } => roles(project, bus, action),
        Command::Work {
            workers,
            until_idle,
        } => {
            let opts = crate::engine::runs::tasks::work::WorkOptions {
                workers,
                until_idle,
            };
            match crate::engine::runs::tasks::work::work(project, bus, opts, cancel).await {
                Ok(line) => Handled::Done(line),
                Err(e) => Handled::Failed(e),
            }
        }
        Command::Task { action } => match crate::engine::runs::tasks::ops::apply(project, action) {
            Ok(reply) => {
                bus.emit(Event::Report {
                    topic: "task".into(),
                    lines: reply.lines,
                });
                Handled::Done(reply.summary)
            }
            Err(e) => Handled::Failed(e),
        },
        Command::SwitchProvider { name } => switch_provider(session, project, bus, &name).await,
        Command::Undo { confirm } => undo(project, bus, confirm),
        Command::Merge { discard } => match isolate::merge_waiting(project, bus, discard).await {
            Ok(line) => Handled::Done(line),
            Err(line) => Handled::Failed(line),
        },
        Command::ShowBudget => super::budget::show(project, bus),
        Command::SetCap { key, usd } => super::budget::set(bus, &key, usd),
        Command::Gauntlet { action } => super::gauntlet::handle(project, bus, action),
        Command::Status => {
            let state = session
                .state
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            let lines = crate::engine::session::report::status_lines(project, &state);
            bus.emit(Event::Report {
                topic: "status".into(),
                lines,
            });
            Handled::Done("status shown".into())
        }
        Command::Tutorial => crate::engine::session::tutorial::run(project, bus, None, cancel)
            .await
            .into(),
        Command::Doctor { .. }
        | Command::Diag
        | Command::Workspaces
        | Command::Install { .. }
        | Command::Setup
        | Command::Confirm { .. }
        | Command::Stop
        | Command::Queue { .. }
        | Command::Abort
        | Command::Shutdown => Handled::Failed("not a task".into()),
    }
}

fn roles(project: &Project, bus: &Bus, action: RolesCommand) -> Handled {
    match action {
        RolesCommand::List => {
            bus.emit(Event::Report {
                topic: "roles".into(),
                lines: crate::engine::session::roles::list(project),
            });
            Handled::Done("roles listed".into())
        }
        RolesCommand::Add { name, description } => {
            match crate::engine::session::roles::add(project, &name, &description) {
                Ok(added) => {
                    bus.emit(Event::RoleDecided {
                        by: "user".into(),
                        name: added.clone(),
                        decision: "added".into(),
                        reason: None,
                    });
                    Handled::Done(format!("added role {added}"))
                }
                Err(e) => Handled::Failed(e),
            }
        }
        RolesCommand::Drop { name } => match crate::engine::session::roles::drop(project, &name) {
            Ok(()) => {
                bus.emit(Event::RoleDecided {
                    by: "user".into(),
                    name: name.clone(),
                    decision: "removed".into(),
                    reason: None,
                });
                Handled::Done(format!("dropped role {name}"))
            }
            Err(e) => Handled::Failed(e),
        },
    }
}

/// Longest a provider's reachability check may take when switching.
const SWITCH_CHECK: std::time::Duration = std::time::Duration::from_millis(900);

async fn switch_provider(session: &Session, project: &Project, bus: &Bus, name: &str) -> Handled {
    let Some(settings) = project.providers.providers.get(name) else {
        let known: Vec<&str> = project
            .providers
            .providers
            .keys()
            .map(String::as_str)
            .collect();
        return Handled::Failed(format!(
            "no provider called {name:?}; configured: {}",
            known.join(", ")
        ));
    };
    let avail =
        crate::engine::agents::providers::registry::availability(name, settings, SWITCH_CHECK)
            .await;
    // Saved so the next session starts with it; unknown fields of the file are kept.
    let path = project.ws.providers_file();
    let saved = read_json(&path).map_err(|e| e.to_string()).and_then(|v| {
        let mut v = v.unwrap_or_else(|| serde_json::json!({}));
        match v.as_object_mut() {
            Some(map) => {
                map.insert("active".into(), name.into());
                write_json(&path, &v).map_err(|e| e.to_string())
            }
            None => Err(format!("{} is not a JSON object", path.display())),
        }
    });
    *session.active.lock().unwrap_or_else(|e| e.into_inner()) = name.to_string();
    bus.emit(Event::ProviderSwitched {
        name: name.to_string(),
        usable: avail.usable,
        reason: avail.reason.clone(),
    });
    match (saved, avail.usable) {
        (Err(e), _) => Handled::Failed(format!(
            "switched to {name} for this session, but could not save it: {e}"
        )),
        (Ok(()), true) => Handled::Done(format!("switched to {name}")),
        (Ok(()), false) => Handled::Failed(format!(
            "switched to {name}, but it is not usable: {}",
            avail.reason
        )),
    }
}

fn undo(project: &Project, bus: &Bus, confirm: bool) -> Handled {
    let Some(repo) = git::open(&project.ws.root) else {
        return Handled::Failed("this project is not a git repository; nothing to undo".into());
    };
    if !confirm {
        return match crate::engine::act::undo::plan(&repo) {
            Ok(plan) => {
                bus.emit(Event::Report {
                    topic: "undo".into(),
                    lines: crate::engine::act::undo::preview_lines(plan.as_ref()),
                });
                Handled::Done("undo previewed".into())
            }
            Err(e) => Handled::Failed(e.to_string()),
        };
    }
    match crate::engine::act::undo::revert(&repo) {
        Ok(done) => {
            bus.emit(Event::Undone {
                reverted: done.reverted.clone(),
                sha: done.sha.clone(),
                subject: done.subject.clone(),
                files: done.files.clone(),
            });
            Handled::Done(format!(
                "reverted {} with {}",
                &done.reverted[..7],
                &done.sha[..7]
            ))
        }
        Err(e) => Handled::Failed(e),
    }
}
