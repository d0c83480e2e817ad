//! The engine as a task: commands in, events out.
//!
//! `Engine::spawn` starts a loop that takes [`Command`]s from any front end, runs each as a
//! task, and reports everything on the bus. It folds its own events into a [`RunState`] so a
//! front end can ask for a snapshot at any time. `Abort` cancels every running task at once
//! (providers kill their process groups); every task ends with `Event::TaskFinished`.
//!
//! The command handlers live in `commands.rs` and return a typed [`Handled`]; this file is the
//! task loop: it answers what the loop itself can (confirm, stop, abort, the queue), and runs
//! the rest as tasks that each end with one `TaskFinished`. Work (runs, loops, messages) runs
//! one at a time: work asked for meanwhile waits in the queue (`queue.rs`) and starts when the
//! work before it ends.

mod budget;
mod commands;
mod gauntlet;
mod queue;
mod session;
mod watch;

use std::sync::{Arc, Mutex};

use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::engine::ground::events::{Command, Event, QueueCommand};
use crate::engine::ground::state::RunState;
use crate::engine::store::bus::Bus;
use crate::engine::store::workspace::Project;
use commands::Handled;
use queue::{Waiting, WorkQueue};
use session::Session;

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
        Engine::start(project, bus, false)
    }

    /// [`Engine::spawn`] with live reload: settings, workflow and prompt files edited while
    /// it runs are checked and taken in (`watch.rs`).
    pub fn spawn_live(project: Project, bus: Bus) -> (EngineHandle, tokio::task::JoinHandle<()>) {
        Engine::start(project, bus, true)
    }

    fn start(
        project: Project,
        bus: Bus,
        live: bool,
    ) -> (EngineHandle, tokio::task::JoinHandle<()>) {
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
        let session = Arc::new(Session::new(project, state));
        if live {
            watch::start(session.clone(), bus.clone());
        }
        let join = tokio::spawn(run(session, bus, rx));
        (handle, join)
    }
}

async fn run(session: Arc<Session>, bus: Bus, mut rx: mpsc::UnboundedReceiver<(u64, Command)>) {
    let mut tasks: JoinSet<u64> = JoinSet::new();
    let mut cancel = CancellationToken::new();
    let mut queue = WorkQueue::default();
    let finished = |id: u64, task: &str, handled: Handled| {
        bus.emit(Event::TaskFinished {
            task_id: id,
            task: task.to_string(),
            ok: handled.ok(),
            summary: handled.into_summary(),
        })
    };
    // Queued work taken off the queue ends its task, so no front end waits for it forever.
    let dropped = |w: Waiting| {
        bus.emit(Event::QueueDropped {
            task_id: w.id,
            what: w.what.clone(),
        });
        finished(
            w.id,
            &task_name(&w.cmd),
            Handled::Failed("dropped from the queue".into()),
        );
    };
    loop {
        tokio::select! {
            msg = rx.recv() => match msg {
                None | Some((_, Command::Shutdown)) => break,
                Some((_, Command::Abort)) => {
                    cancel.cancel();
                    cancel = CancellationToken::new();
                    bus.answer_all_no();
                    queue.clear().into_iter().for_each(dropped);
                }
                Some((id, Command::Confirm { id: question, approve })) => {
                    if bus.answer(question, approve) {
                        finished(id, "answer", Handled::Done(format!("answered question {question}")));
                    } else {
                        finished(id, "answer", Handled::Failed(format!("no question {question} is waiting")));
                    }
                }
                Some((id, Command::Stop)) => {
                    if tasks.is_empty() {
                        finished(id, "stop", Handled::Failed("nothing is running".into()));
                    } else {
                        bus.request_stop();
                        bus.emit(Event::StopRequested);
                        finished(id, "stop", Handled::Done("stopping after the current model call".into()));
                    }
                }
                Some((id, Command::Queue { action })) => {
                    let handled = match action {
                        QueueCommand::List => {
                            bus.emit(Event::Report { topic: "queue".into(), lines: queue.lines() });
                            Handled::Done("queue listed".into())
                        }
                        QueueCommand::Drop { n } => match queue.remove(n) {
                            Some(w) => {
                                let line = format!("dropped {}", w.what);
                                dropped(w);
                                Handled::Done(line)
                            }
                            None => Handled::Failed(format!("no entry {n} in the queue; /queue lists them")),
                        },
                        QueueCommand::Clear => {
                            let gone = queue.clear();
                            let n = gone.len();
                            gone.into_iter().for_each(dropped);
                            Handled::Done(format!("{n} dropped from the queue"))
                        }
                    };
                    finished(id, "queue", handled);
                }
                Some((id, cmd)) if queue::is_work(&cmd) && queue.busy() => {
                    let what = queue::label(&cmd, &task_name(&cmd));
                    let position = queue.push(Waiting { id, cmd, what: what.clone() });
                    bus.emit(Event::Queued { task_id: id, what, position });
                }
                Some((id, cmd)) => {
                    if queue::is_work(&cmd) {
                        queue.start(id);
                    }
                    if tasks.is_empty() {
                        // A stop asked for earlier work must not stop this new work.
                        bus.clear_stop();
                    }
                    spawn_task(&mut tasks, &session, &bus, &cancel, id, cmd);
                }
            },
            Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                if let Ok(id) = done
                    && let Some(next) = queue.finished(id)
                {
                    bus.emit(Event::QueueStarted { task_id: next.id, what: next.what.clone() });
                    // A stop asked for the work that ended must not stop the work that waited.
                    bus.clear_stop();
                    spawn_task(&mut tasks, &session, &bus, &cancel, next.id, next.cmd);
                }
            }
        }
    }
    queue.clear().into_iter().for_each(dropped);
    while tasks.join_next().await.is_some() {}
}

/// Run `cmd` as its own task; the task's result is its id.
fn spawn_task(
    tasks: &mut JoinSet<u64>,
    session: &Arc<Session>,
    bus: &Bus,
    cancel: &CancellationToken,
    id: u64,
    cmd: Command,
) {
    let (s, b, c) = (session.clone(), bus.clone(), cancel.clone());
    tasks.spawn(async move {
        use futures_util::FutureExt;
        // A bug in a task must end it with a failure, never leave a front end waiting
        // forever for its TaskFinished.
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
        id
    });
}

/// The name of a command's task, for `TaskFinished`.
fn task_name(cmd: &Command) -> String {
    match cmd {
        Command::CaptureIdea { .. } => "idea".into(),
        Command::Dispatch { agent, .. } => format!("dispatch {agent}"),
        Command::Cast { .. } => "cast".into(),
        Command::Plan { .. } => "plan".into(),
        Command::Run { workflow, .. } => format!("run {workflow}"),
        Command::Mission { resume: true, .. } => "mission --resume".into(),
        Command::Mission { .. } => "mission".into(),
        Command::Loop { kind, .. } => format!("{} loop", kind.name()),
        Command::Message { .. } => "message".into(),
        Command::Roles { .. } => "roles".into(),
        Command::Task { .. } => "task".into(),
        Command::Work { .. } => "work".into(),
        Command::SwitchProvider { .. } => "provider".into(),
        Command::Undo { .. } => "undo".into(),
        Command::Merge { .. } => "merge".into(),
        Command::Doctor { .. } => "doctor".into(),
        Command::Install { .. } => "install".into(),
        Command::Setup => "setup".into(),
        Command::Status => "status".into(),
        Command::Diag => "diag".into(),
        Command::Workspaces => "workspaces".into(),
        Command::ShowBudget | Command::SetCap { .. } => "budget".into(),
        Command::Gauntlet { .. } => "gauntlet".into(),
        Command::Tutorial => "tutorial".into(),
        Command::Confirm { .. } => "answer".into(),
        Command::Stop => "stop".into(),
        Command::Queue { .. } => "queue".into(),
        Command::Abort => "abort".into(),
        Command::Shutdown => "shutdown".into(),
    }
}

async fn run_task(session: &Session, bus: &Bus, id: u64, cmd: Command, cancel: &CancellationToken) {
    let task = task_name(&cmd);
    let handled = match cmd {
        Command::Doctor { fix } => commands::doctor(&session.base.ws, bus, fix).await,
        Command::Diag => commands::diag(&session.base.ws, &session.base.env, bus).await,
        Command::Workspaces => commands::workspaces(&session.base.env, bus),
        Command::Setup => match crate::engine::session::setup::report(&session.base.env).await {
            Ok((lines, suggested)) => {
                bus.emit(Event::Report {
                    topic: "setup".into(),
                    lines,
                });
                Handled::Done(format!("setup checked; suggested provider {suggested}"))
            }
            Err(e) => Handled::Failed(e),
        },
        Command::Install { name, confirm } => {
            let mut out = crate::engine::session::install::slash(&name, confirm).await;
            // A failure's summary shows as the task's failure; a success's only here.
            if out.ok {
                out.lines.push(out.summary.clone());
            }
            bus.emit(Event::Report {
                topic: "install".into(),
                lines: out.lines,
            });
            if out.ok {
                Handled::Done(out.summary)
            } else {
                Handled::Failed(out.summary)
            }
        }
        cmd => {
            let project = session.project(bus);
            commands::project_task(session, &project, bus, cmd, cancel).await
        }
    };
    bus.emit(Event::TaskFinished {
        task_id: id,
        task,
        ok: handled.ok(),
        summary: handled.into_summary(),
    });
}

#[cfg(test)]
mod tests;
