//! The engine as a task: commands in, events out.
//!
//! `Engine::spawn` starts a loop that takes [`Command`]s from any front end, runs each as a
//! task, and reports everything on the bus. It folds its own events into a [`RunState`] so a
//! front end can ask for a snapshot at any time. `Abort` cancels every running task at once
//! (providers kill their process groups); every task ends with `Event::TaskFinished`.

use std::sync::{Arc, Mutex};

use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::engine::agents::dispatch::DispatchRequest;
use crate::engine::ground::config::process_env;
use crate::engine::ground::events::{Command, Event, RolesCommand};
use crate::engine::ground::state::RunState;
use crate::engine::runs::orchestrate;
use crate::engine::store::bus::Bus;
use crate::engine::store::git;
use crate::engine::store::idea::Idea;
use crate::engine::store::workspace::{Project, read_json, write_json};

/// The engine is gone (it was shut down).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the engine has stopped")]
pub struct EngineGone;

/// How front ends talk to a running engine. Cheap to clone.
#[derive(Clone)]
pub struct EngineHandle {
    tx: mpsc::UnboundedSender<(u64, Command)>,
    bus: Bus,
    state: Arc<Mutex<RunState>>,
    next_id: Arc<std::sync::atomic::AtomicU64>,
}

impl EngineHandle {
    /// Send a command; returns the task id its `TaskFinished` event will carry.
    pub fn submit(&self, cmd: Command) -> Result<u64, EngineGone> {
        let id = self
            .next_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.tx.send((id, cmd)).map_err(|_| EngineGone)?;
        Ok(id)
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.bus.subscribe()
    }

    /// The state folded from every event so far.
    pub fn snapshot(&self) -> RunState {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// Starting point for [`Engine::spawn`].
pub struct Engine;

/// What the engine keeps between commands.
struct Session {
    /// The project as handed to `spawn`; each command reloads its config from disk.
    base: Project,
    /// The active provider for this session (`/provider` changes it).
    active: Mutex<String>,
    state: Arc<Mutex<RunState>>,
}

impl Session {
    /// The project with its config files read again (casting and `/roles` change them), and
    /// the session's active provider.
    fn project(&self) -> Result<Project, String> {
        let mut p = self
            .base
            .ws
            .load(&process_env)
            .map_err(|e| format!("{e}; /doctor can help"))?;
        p.providers.active = self
            .active
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        Ok(p)
    }
}

impl Engine {
    /// Start the engine for `project`, reporting on `bus`. Must be called inside a tokio
    /// runtime. The returned join handle ends after `Shutdown` once running tasks are done.
    pub fn spawn(project: Project, bus: Bus) -> (EngineHandle, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let state = Arc::new(Mutex::new(RunState::default()));
        let handle = EngineHandle {
            tx,
            bus: bus.clone(),
            state: state.clone(),
            next_id: Arc::new(std::sync::atomic::AtomicU64::new(1)),
        };
        // Fold events into the snapshot from the start.
        let mut events = bus.subscribe();
        let folder = state.clone();
        tokio::spawn(async move {
            loop {
                match events.recv().await {
                    Ok(ev) => folder.lock().unwrap_or_else(|p| p.into_inner()).apply(&ev),
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => break,
                }
            }
        });
        let session = Arc::new(Session {
            active: Mutex::new(project.providers.active.clone()),
            base: project,
            state,
        });
        let join = tokio::spawn(run(session, bus, rx));
        (handle, join)
    }
}

async fn run(session: Arc<Session>, bus: Bus, mut rx: mpsc::UnboundedReceiver<(u64, Command)>) {
    let mut tasks = JoinSet::new();
    let mut cancel = CancellationToken::new();
    let finished = |id: u64, task: &str, ok: bool, summary: String| {
        bus.emit(Event::TaskFinished {
            task_id: id,
            task: task.to_string(),
            ok,
            summary,
        })
    };
    loop {
        tokio::select! {
            msg = rx.recv() => match msg {
                None | Some((_, Command::Shutdown)) => break,
                Some((_, Command::Abort)) => {
                    cancel.cancel();
                    cancel = CancellationToken::new();
                    bus.answer_all_no();
                }
                Some((id, Command::Confirm { id: question, approve })) => {
                    if bus.answer(question, approve) {
                        finished(id, "answer", true, format!("answered question {question}"));
                    } else {
                        finished(id, "answer", false, format!("no question {question} is waiting"));
                    }
                }
                Some((id, Command::Stop)) => {
                    if tasks.is_empty() {
                        finished(id, "stop", false, "nothing is running".into());
                    } else {
                        bus.request_stop();
                        bus.emit(Event::StopRequested);
                        finished(id, "stop", true, "stopping after the current step".into());
                    }
                }
                Some((
                    id,
                    cmd @ (Command::CaptureIdea { .. }
                    | Command::Dispatch { .. }
                    | Command::Cast { .. }
                    | Command::Plan { .. }
                    | Command::Run { .. }
                    | Command::Loop { .. }
                    | Command::Message { .. }
                    | Command::Roles { .. }
                    | Command::SwitchProvider { .. }
                    | Command::Undo { .. }
                    | Command::Doctor { .. }
                    | Command::Status
                    | Command::Tutorial),
                )) => {
                    if tasks.is_empty() {
                        // A stop asked for earlier work must not stop this new work.
                        bus.clear_stop();
                    }
                    let (s, b, c) = (session.clone(), bus.clone(), cancel.clone());
                    tasks.spawn(async move {
                        use futures_util::FutureExt;
                        // A bug in a task must end it with a failure, never leave a front
                        // end waiting forever for its TaskFinished.
                        let run = std::panic::AssertUnwindSafe(run_task(&s, &b, id, cmd, &c));
                        if let Err(panic) = run.catch_unwind().await {
                            let what = panic
                                .downcast_ref::<String>()
                                .cloned()
                                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                                .unwrap_or_else(|| "unknown".into());
                            b.emit(Event::TaskFinished {
                                task_id: id,
                                task: "task".into(),
                                ok: false,
                                summary: format!("internal error (a bug in clk): {what}"),
                            });
                        }
                    });
                }
            },
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
        }
    }
    while tasks.join_next().await.is_some() {}
}

/// The name of a command's task, for `TaskFinished`.
fn task_name(cmd: &Command) -> String {
    match cmd {
        Command::CaptureIdea { .. } => "idea".into(),
        Command::Dispatch { agent, .. } => format!("dispatch {agent}"),
        Command::Cast { .. } => "cast".into(),
        Command::Plan { .. } => "plan".into(),
        Command::Run { workflow, .. } => format!("run {workflow}"),
        Command::Loop { kind, .. } => format!("{} loop", kind.name()),
        Command::Message { .. } => "message".into(),
        Command::Roles { .. } => "roles".into(),
        Command::SwitchProvider { .. } => "provider".into(),
        Command::Undo { .. } => "undo".into(),
        Command::Doctor { .. } => "doctor".into(),
        Command::Status => "status".into(),
        Command::Tutorial => "tutorial".into(),
        Command::Confirm { .. } => "answer".into(),
        Command::Stop => "stop".into(),
        Command::Abort => "abort".into(),
        Command::Shutdown => "shutdown".into(),
    }
}

async fn run_task(session: &Session, bus: &Bus, id: u64, cmd: Command, cancel: &CancellationToken) {
    let task = task_name(&cmd);
    let (ok, summary) = match cmd {
        // Doctor reads the folder itself: it must work when the config is broken.
        Command::Doctor { fix } => {
            let (lines, failing) =
                crate::engine::session::doctor::run(&session.base.ws, bus, fix).await;
            bus.emit(Event::Report {
                topic: "doctor".into(),
                lines,
            });
            (
                !failing,
                if failing {
                    "some checks fail; see the doctor report".into()
                } else {
                    "no check fails".into()
                },
            )
        }
        cmd => match session.project() {
            Err(e) => (false, e),
            Ok(project) => project_task(session, &project, bus, cmd, cancel).await,
        },
    };
    bus.emit(Event::TaskFinished {
        task_id: id,
        task,
        ok,
        summary,
    });
}

fn step(r: orchestrate::StepResult) -> (bool, String) {
    (r.ok, r.summary)
}

async fn project_task(
    session: &Session,
    project: &Project,
    bus: &Bus,
    cmd: Command,
    cancel: &CancellationToken,
) -> (bool, String) {
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
                    (true, idea.title)
                }
                Err(e) => (false, e),
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
                    None => (true, out.batch.summary()),
                    Some(e) => (false, e.message.clone()),
                },
                Err(e) => (false, e.to_string()),
            }
        }
        Command::Cast { dry_run } => step(orchestrate::cast(project, bus, dry_run, cancel).await),
        Command::Plan { dry_run } => step(orchestrate::plan(project, bus, dry_run, cancel).await),
        Command::Run {
            workflow,
            max_cycles,
            dry_run,
        } => step(orchestrate::run(project, bus, &workflow, max_cycles, dry_run, cancel).await),
        Command::Loop {
            kind,
            iterations,
            dry_run,
        } => step(orchestrate::run_loop(project, bus, kind, iterations, dry_run, cancel).await),
        Command::Message { text } => {
            step(crate::engine::session::converse::message(project, bus, &text, cancel).await)
        }
        Command::Roles { action } => roles(project, bus, action),
        Command::SwitchProvider { name } => switch_provider(session, project, bus, &name).await,
        Command::Undo { confirm } => undo(project, bus, confirm),
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
            (true, "status shown".into())
        }
        Command::Tutorial => {
            step(crate::engine::session::tutorial::run(project, bus, None, cancel).await)
        }
        Command::Doctor { .. }
        | Command::Confirm { .. }
        | Command::Stop
        | Command::Abort
        | Command::Shutdown => (false, "not a task".into()),
    }
}

fn roles(project: &Project, bus: &Bus, action: RolesCommand) -> (bool, String) {
    match action {
        RolesCommand::List => {
            bus.emit(Event::Report {
                topic: "roles".into(),
                lines: crate::engine::session::roles::list(project),
            });
            (true, "roles listed".into())
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
                    (true, format!("added role {added}"))
                }
                Err(e) => (false, e),
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
                (true, format!("dropped role {name}"))
            }
            Err(e) => (false, e),
        },
    }
}

/// Longest a provider's reachability check may take when switching.
const SWITCH_CHECK: std::time::Duration = std::time::Duration::from_millis(900);

async fn switch_provider(
    session: &Session,
    project: &Project,
    bus: &Bus,
    name: &str,
) -> (bool, String) {
    let Some(settings) = project.providers.providers.get(name) else {
        let known: Vec<&str> = project
            .providers
            .providers
            .keys()
            .map(String::as_str)
            .collect();
        return (
            false,
            format!(
                "no provider called {name:?}; configured: {}",
                known.join(", ")
            ),
        );
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
        (Err(e), _) => (
            false,
            format!("switched to {name} for this session, but could not save it: {e}"),
        ),
        (Ok(()), true) => (true, format!("switched to {name}")),
        (Ok(()), false) => (
            false,
            format!("switched to {name}, but it is not usable: {}", avail.reason),
        ),
    }
}

fn undo(project: &Project, bus: &Bus, confirm: bool) -> (bool, String) {
    let Some(repo) = git::open(&project.ws.root) else {
        return (
            false,
            "this project is not a git repository; nothing to undo".into(),
        );
    };
    if !confirm {
        return match crate::engine::act::undo::plan(&repo) {
            Ok(plan) => {
                bus.emit(Event::Report {
                    topic: "undo".into(),
                    lines: crate::engine::act::undo::preview_lines(plan.as_ref()),
                });
                (true, "undo previewed".into())
            }
            Err(e) => (false, e.to_string()),
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
            (
                true,
                format!("reverted {} with {}", &done.reverted[..7], &done.sha[..7]),
            )
        }
        Err(e) => (false, e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::ground::config::process_env;
    use crate::engine::store::workspace::Workspace;
    use std::time::{Duration, Instant};

    fn project(dir: &std::path::Path, shell_command: Option<&str>) -> Project {
        crate::engine::store::init::init(dir, Some("t")).unwrap();
        let mut p = Workspace::new(dir.canonicalize().unwrap())
            .load(&process_env)
            .unwrap();
        p.providers.active = "shell".into();
        if let Some(s) = p.providers.providers.get_mut("shell") {
            s.command = shell_command.map(str::to_string);
        }
        // The engine reads the config files again for every command: keep them in step.
        let v = serde_json::to_value(&p.providers).unwrap();
        write_json(&p.ws.providers_file(), &v).unwrap();
        p
    }

    async fn wait_finished(rx: &mut broadcast::Receiver<Event>, id: u64) -> (bool, String) {
        loop {
            if let Event::TaskFinished {
                task_id,
                ok,
                summary,
                ..
            } = rx.recv().await.unwrap()
            {
                if task_id == id {
                    return (ok, summary);
                }
            }
        }
    }

    #[tokio::test]
    async fn commands_run_as_tasks_and_fold_into_the_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let (engine, join) = Engine::spawn(project(dir.path(), None), Bus::new(None));
        let mut rx = engine.subscribe();
        let id = engine
            .submit(Command::CaptureIdea {
                statement: "A tiny app. More later.".into(),
                title: None,
                tags: vec![],
            })
            .unwrap();
        assert_eq!(
            wait_finished(&mut rx, id).await,
            (true, "A tiny app".into())
        );
        let id = engine
            .submit(Command::Dispatch {
                agent: "qa".into(),
                objective: "check".into(),
                stage: None,
                dry_run: false,
            })
            .unwrap();
        let (ok, _) = wait_finished(&mut rx, id).await;
        assert!(ok);
        let snap = engine.snapshot();
        assert_eq!(snap.agents["qa"].dispatches, 1);
        assert!(snap.totals.estimated);
        engine.submit(Command::Shutdown).unwrap();
        join.await.unwrap();
        assert!(engine.submit(Command::Abort).is_err());
    }

    #[tokio::test]
    async fn abort_stops_a_hanging_provider_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let (engine, join) = Engine::spawn(project(dir.path(), Some("sleep 60")), Bus::new(None));
        let mut rx = engine.subscribe();
        let id = engine
            .submit(Command::Dispatch {
                agent: "engineer".into(),
                objective: "hang".into(),
                stage: None,
                dry_run: false,
            })
            .unwrap();
        // Wait until the process runs, then abort.
        loop {
            if let Event::DispatchStarted { .. } = rx.recv().await.unwrap() {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        let t = Instant::now();
        engine.submit(Command::Abort).unwrap();
        let (ok, summary) = wait_finished(&mut rx, id).await;
        assert!(!ok);
        assert!(summary.contains("aborted"), "{summary}");
        assert!(t.elapsed() < Duration::from_secs(3));
        engine.submit(Command::Shutdown).unwrap();
        join.await.unwrap();
    }
}
