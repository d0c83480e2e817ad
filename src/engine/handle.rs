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

use super::bus::Bus;
use super::context::Idea;
use super::dispatch::DispatchRequest;
use super::events::{Command, Event};
use super::git;
use super::orchestrate;
use super::state::RunState;
use super::workspace::Project;

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
        let join = tokio::spawn(run(Arc::new(project), bus, rx));
        (handle, join)
    }
}

async fn run(project: Arc<Project>, bus: Bus, mut rx: mpsc::UnboundedReceiver<(u64, Command)>) {
    let mut tasks = JoinSet::new();
    let mut cancel = CancellationToken::new();
    loop {
        tokio::select! {
            msg = rx.recv() => match msg {
                None | Some((_, Command::Shutdown)) => break,
                Some((_, Command::Abort)) => {
                    cancel.cancel();
                    cancel = CancellationToken::new();
                }
                Some((
                    id,
                    cmd @ (Command::CaptureIdea { .. }
                    | Command::Dispatch { .. }
                    | Command::Cast { .. }
                    | Command::Plan { .. }
                    | Command::Run { .. }
                    | Command::Loop { .. }),
                )) => {
                    let (p, b, c) = (project.clone(), bus.clone(), cancel.clone());
                    tasks.spawn(async move {
                        use futures_util::FutureExt;
                        // A bug in a task must end it with a failure, never leave a front
                        // end waiting forever for its TaskFinished.
                        let run = std::panic::AssertUnwindSafe(run_task(&p, &b, id, cmd, &c));
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

async fn run_task(project: &Project, bus: &Bus, id: u64, cmd: Command, cancel: &CancellationToken) {
    let (task, ok, summary) = match cmd {
        Command::CaptureIdea {
            statement,
            title,
            tags,
        } => {
            let idea = Idea::new(&statement, title.as_deref(), tags);
            match capture(project, &idea) {
                Ok(()) => {
                    bus.emit(Event::IdeaCaptured {
                        title: idea.title.clone(),
                    });
                    ("idea".to_string(), true, idea.title)
                }
                Err(e) => ("idea".to_string(), false, e),
            }
        }
        Command::Dispatch {
            agent,
            objective,
            stage,
            dry_run,
        } => {
            let req = DispatchRequest {
                agent: agent.clone(),
                objective,
                stage,
                dry_run,
                ..Default::default()
            };
            let task = format!("dispatch {agent}");
            let care = crate::engine::robust::Care::default();
            match crate::engine::robust::dispatch_careful(project, bus, &req, &care, cancel).await {
                Ok(out) => match &out.error {
                    None => (task, true, out.batch.summary()),
                    Some(e) => (task, false, e.message.clone()),
                },
                Err(e) => (task, false, e.to_string()),
            }
        }
        Command::Cast { dry_run } => {
            let r = orchestrate::cast(project, bus, dry_run, cancel).await;
            ("cast".to_string(), r.ok, r.summary)
        }
        Command::Plan { dry_run } => {
            let r = orchestrate::plan(project, bus, dry_run, cancel).await;
            ("plan".to_string(), r.ok, r.summary)
        }
        Command::Run {
            workflow,
            max_cycles,
            dry_run,
        } => {
            let r = orchestrate::run(project, bus, &workflow, max_cycles, dry_run, cancel).await;
            (format!("run {workflow}"), r.ok, r.summary)
        }
        Command::Loop {
            kind,
            iterations,
            dry_run,
        } => {
            let r = orchestrate::run_loop(project, bus, kind, iterations, dry_run, cancel).await;
            (format!("{} loop", kind.name()), r.ok, r.summary)
        }
        Command::Abort | Command::Shutdown => return,
    };
    bus.emit(Event::TaskFinished {
        task_id: id,
        task,
        ok,
        summary,
    });
}

/// Store the idea and commit its files.
pub fn capture(project: &Project, idea: &Idea) -> Result<(), String> {
    let files = idea
        .save(&project.ws)
        .map_err(|e| format!("cannot store the idea: {e}"))?;
    if let Some(repo) = git::open(&project.ws.root) {
        let msg = crate::engine::redact::redact_text(&format!(
            "[clk-idea] Capture idea: {}\n\n{}\n\nGenerated by clk",
            idea.title, idea.statement
        ));
        git::commit_paths(&repo, "clk-idea", &files, &msg).map_err(|e| e.to_string())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::config::process_env;
    use crate::engine::workspace::Workspace;
    use std::time::{Duration, Instant};

    fn project(dir: &std::path::Path, shell_command: Option<&str>) -> Project {
        crate::engine::init::init(dir, Some("t")).unwrap();
        let mut p = Workspace::new(dir.canonicalize().unwrap())
            .load(&process_env)
            .unwrap();
        p.providers.active = "shell".into();
        if let Some(s) = p.providers.providers.get_mut("shell") {
            s.command = shell_command.map(str::to_string);
        }
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
