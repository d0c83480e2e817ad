//! The driver: one `select!` over engine events, terminal input, outside messages (signals,
//! the unpushed-commit count) and one deadline. Every message goes through `app::update`; the
//! driver performs the effects (submit to the engine, quit) and the IO (session-log mirror,
//! git ahead count).
//!
//! Frames: after a message arrives the loop drains whatever else is queued (bounded, so keys
//! stay responsive under a flood), then draws once. Draws are at least `FRAME_MIN` apart, so a
//! burst of output costs one frame per 16 ms, not one per line. The clock ticks only while work
//! runs (elapsed times, the spinner); an idle dashboard sleeps in `select!` with no deadline.

use std::io;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crossterm::event::{Event as TermEvent, MouseEventKind};
use futures_util::{Stream, StreamExt};
use ratatui::Terminal;
use ratatui::backend::Backend;
use tokio::sync::broadcast::{self, error::TryRecvError};
use tokio::sync::mpsc;

use super::app::{AppState, Effect, Msg, update};
use super::session::SessionLog;
use crate::engine::ground::events::{Command, Event};
use crate::engine::ground::state::RunState;
use crate::engine::{EngineGone, EngineHandle};

/// Shortest time between two frames.
pub const FRAME_MIN: Duration = Duration::from_millis(16);
/// Clock tick while work runs.
pub const TICK: Duration = Duration::from_millis(250);
/// Most queued engine events folded before the next frame and key check.
const DRAIN_MAX: usize = 2048;
/// How often the open Tasks view reads the queue again (a `clk work` in another terminal
/// changes it without an event here).
pub const TASK_POLL: Duration = Duration::from_secs(2);

/// What the driver needs from the engine; `EngineHandle` in the program, fakes in tests.
pub trait EngineLink {
    fn submit(&self, cmd: Command) -> Result<u64, EngineGone>;
    fn snapshot(&self) -> RunState;
}

impl EngineLink for EngineHandle {
    fn submit(&self, cmd: Command) -> Result<u64, EngineGone> {
        EngineHandle::submit(self, cmd)
    }
    fn snapshot(&self) -> RunState {
        EngineHandle::snapshot(self)
    }
}

/// Where frames go: the real terminal, or a test backend.
pub trait Screen {
    fn show(&mut self, app: &AppState) -> io::Result<()>;
    /// Forget what is on the terminal so the next frame draws every cell (Ctrl-L).
    fn clear(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<B: Backend> Screen for Terminal<B>
where
    B::Error: std::error::Error + Send + Sync + 'static,
{
    fn show(&mut self, app: &AppState) -> io::Result<()> {
        self.draw(|f| super::widgets::draw(f, app))
            .map(|_| ())
            .map_err(io::Error::other)
    }
    fn clear(&mut self) -> io::Result<()> {
        Terminal::clear(self).map_err(io::Error::other)
    }
}

/// The IO the driver does besides drawing.
#[derive(Default)]
pub struct Side {
    /// Project root, for the unpushed-commit count; None skips it.
    pub root: Option<PathBuf>,
    pub mirror: Option<SessionLog>,
    /// The bell and desktop notification for a notice; None rings nothing.
    pub alert: Option<super::alert::Alert>,
}

/// A label for the phase while the engine runs `cmd` as a task, or None for commands that
/// are not tasks (answers, stop, abort) and finish no `TaskFinished`.
pub fn task_label(cmd: &Command) -> Option<String> {
    Some(match cmd {
        Command::CaptureIdea { .. } => "recording the idea".into(),
        Command::Dispatch { agent, .. } => format!("asking {agent}"),
        Command::Cast { .. } => "casting".into(),
        Command::Plan { .. } => "planning".into(),
        Command::Run { workflow, .. } => format!("run {workflow}"),
        Command::Mission { .. } => "mission".into(),
        Command::Loop { kind, .. } => format!("{} loop", kind.name()),
        Command::Message { .. } => "working on your message".into(),
        Command::Roles { .. } => "roles".into(),
        Command::Task { .. } => "task".into(),
        Command::Work { .. } => "working the task queue".into(),
        Command::SwitchProvider { name } => format!("checking {name}"),
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
        Command::Queue { .. } => "queue".into(),
        Command::Stop | Command::Confirm { .. } | Command::Abort | Command::Shutdown => {
            return None;
        }
    })
}

fn term_msg(ev: TermEvent) -> Option<Msg> {
    match ev {
        TermEvent::Key(k) => Some(Msg::Key(k)),
        TermEvent::Paste(p) => Some(Msg::Paste(p)),
        TermEvent::Resize(width, height) => Some(Msg::Resize { width, height }),
        TermEvent::Mouse(m) => match m.kind {
            MouseEventKind::ScrollUp => Some(Msg::Wheel(1)),
            MouseEventKind::ScrollDown => Some(Msg::Wheel(-1)),
            MouseEventKind::Down(crossterm::event::MouseButton::Left) => Some(Msg::Click {
                column: m.column,
                row: m.row,
            }),
            _ => None,
        },
        TermEvent::FocusGained | TermEvent::FocusLost => None,
    }
}

fn tod_secs() -> u32 {
    use chrono::Timelike;
    chrono::Local::now().num_seconds_from_midnight()
}

/// Re-read the unpushed-commit count and the idea off the loop's thread.
fn spawn_refresh(root: &std::path::Path, tx: &mpsc::UnboundedSender<Msg>) {
    let root = root.to_path_buf();
    let tx = tx.clone();
    tokio::task::spawn_blocking(move || {
        let ahead = crate::engine::store::git::open(&root)
            .and_then(|r| crate::engine::store::git::unpushed_count(&r));
        let ws = crate::engine::store::workspace::Workspace::new(&root);
        let idea = crate::engine::store::idea::Idea::load(&ws).map(|i| i.title);
        let _ = tx.send(Msg::Refreshed { ahead, idea });
    });
}

/// Read the task queue (through the session layer) off the loop's thread.
fn spawn_tasks(root: &std::path::Path, tx: &mpsc::UnboundedSender<Msg>) {
    let root = root.to_path_buf();
    let tx = tx.clone();
    tokio::task::spawn_blocking(move || {
        let ws = crate::engine::store::workspace::Workspace::new(&root);
        let _ = tx.send(Msg::Tasks(crate::engine::session::tasks::board(&ws)));
    });
}

/// An event after which the task queue may look different.
/// Whether `ev` may change how many commits of the user's branch wait to be pushed: a commit
/// or undo there, a run's branch merged into it, a push, or the end of any command (the
/// idea's commit, a merge made on the way out).
fn moves_head(ev: &Event) -> bool {
    match ev {
        Event::Committed { .. }
        | Event::Undone { .. }
        | Event::MergeDone { .. }
        | Event::TaskFinished { .. } => true,
        Event::Report { topic, .. } => topic == "push",
        _ => false,
    }
}

fn moves_tasks(ev: &Event) -> bool {
    match ev {
        Event::TaskFinished { task, .. } => task == "task" || task == "work",
        Event::Report { topic, .. } => topic == "task",
        Event::MergeDone { .. } => true,
        _ => false,
    }
}

/// Run until the user quits (or input ends). On quit, running work is aborted and the engine
/// is told to shut down; the caller restores the terminal and waits for the engine.
#[allow(clippy::too_many_arguments)]
pub async fn run<E, S, K>(
    app: &mut AppState,
    engine: &E,
    mut events: broadcast::Receiver<Event>,
    screen: &mut S,
    mut keys: K,
    tx: mpsc::UnboundedSender<Msg>,
    mut rx: mpsc::UnboundedReceiver<Msg>,
    side: &mut Side,
) -> io::Result<()>
where
    E: EngineLink,
    S: Screen,
    K: Stream<Item = io::Result<TermEvent>> + Unpin,
{
    let start = Instant::now();
    let clock = move || Msg::Tick {
        now_ms: start.elapsed().as_millis() as u64,
        tod_secs: tod_secs(),
    };
    let mut dirty = true;
    let mut last_draw: Option<Instant> = None;
    let mut last_tick = Instant::now();
    let mut events_open = true;
    let mut keys_open = true;
    let mut last_poll = Instant::now();
    if let Some(root) = &side.root {
        spawn_refresh(root, &tx);
        spawn_tasks(root, &tx);
    }
    update(app, clock());
    loop {
        let now = Instant::now();
        if dirty && last_draw.is_none_or(|t| now.duration_since(t) >= FRAME_MIN) {
            screen.show(app)?;
            last_draw = Some(now);
            dirty = false;
        }
        let frame_due = if dirty {
            last_draw.map(|t| t + FRAME_MIN)
        } else {
            None
        };
        let tick_due = app.animating().then_some(last_tick + TICK);
        let poll_due = (app.board.open && side.root.is_some()).then_some(last_poll + TASK_POLL);
        let wake = [frame_due, tick_due, poll_due].into_iter().flatten().min();
        let mut batch: Vec<Msg> = Vec::new();
        tokio::select! {
            r = events.recv(), if events_open => match r {
                Ok(ev) => batch.push(Msg::Engine(ev)),
                Err(broadcast::error::RecvError::Lagged(missed)) => batch.push(Msg::Lagged {
                    missed,
                    snapshot: Box::new(engine.snapshot()),
                }),
                Err(broadcast::error::RecvError::Closed) => {
                    events_open = false;
                    batch.push(Msg::EngineGone);
                }
            },
            k = keys.next(), if keys_open => match k {
                Some(Ok(ev)) => batch.extend(term_msg(ev)),
                Some(Err(e)) => return Err(e),
                // No more input (the terminal went away): leave as on SIGHUP.
                None => {
                    keys_open = false;
                    batch.push(Msg::Terminate);
                }
            },
            Some(m) = rx.recv() => batch.push(m),
            _ = tokio::time::sleep_until(wake.unwrap_or(now).into()), if wake.is_some() => {
                if tick_due.is_some_and(|t| Instant::now() >= t) {
                    last_tick = Instant::now();
                    dirty = true;
                }
                if poll_due.is_some_and(|t| Instant::now() >= t)
                    && let Some(root) = &side.root
                {
                    last_poll = Instant::now();
                    spawn_tasks(root, &tx);
                }
            }
        }
        while events_open && batch.len() < DRAIN_MAX {
            match events.try_recv() {
                Ok(ev) => batch.push(Msg::Engine(ev)),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Lagged(missed)) => batch.push(Msg::Lagged {
                    missed,
                    snapshot: Box::new(engine.snapshot()),
                }),
                Err(TryRecvError::Closed) => {
                    events_open = false;
                    batch.push(Msg::EngineGone);
                }
            }
        }
        if batch.is_empty() {
            if dirty {
                update(app, clock());
            }
            continue;
        }
        dirty = true;
        update(app, clock());
        let mut recount = false;
        let mut reload_tasks = false;
        for msg in batch {
            recount |= matches!(&msg, Msg::Engine(ev) if moves_head(ev));
            reload_tasks |= matches!(&msg, Msg::Engine(ev) if moves_tasks(ev));
            for effect in update(app, msg) {
                match effect {
                    Effect::Quit => {
                        if app.busy() {
                            let _ = engine.submit(Command::Abort);
                        }
                        let _ = engine.submit(Command::Shutdown);
                        if let Some(m) = side.mirror.as_mut() {
                            m.sync(&app.log);
                        }
                        return Ok(());
                    }
                    Effect::Redraw => screen.clear()?,
                    // Only the welcome before a project exists asks to set up.
                    Effect::Setup { .. } => {}
                    Effect::LoadTasks => reload_tasks = true,
                    Effect::Notify(text) => {
                        if let Some(a) = &side.alert {
                            // Between frames, straight to the terminal: the bell and the
                            // escapes move no cursor and draw nothing. A bell that cannot
                            // be written is not worth stopping the dashboard for.
                            let _ = a.ring(&text, &mut io::stdout());
                        }
                    }
                    Effect::Load(req) => {
                        let root = side.root.clone();
                        let tx = tx.clone();
                        tokio::task::spawn_blocking(move || {
                            let loaded = super::load::read(root.as_deref(), req);
                            let _ = tx.send(Msg::Loaded(Box::new(loaded)));
                        });
                    }
                    Effect::Submit(cmd) => {
                        let what = task_label(&cmd);
                        match engine.submit(cmd) {
                            Ok(task_id) => {
                                if let Some(what) = what {
                                    update(app, Msg::Submitted { task_id, what });
                                }
                            }
                            Err(EngineGone) => {
                                update(app, Msg::EngineGone);
                            }
                        }
                    }
                }
            }
        }
        if recount && let Some(root) = &side.root {
            spawn_refresh(root, &tx);
        }
        if reload_tasks && let Some(root) = &side.root {
            last_poll = Instant::now();
            spawn_tasks(root, &tx);
        }
        if let Some(m) = side.mirror.as_mut() {
            m.sync(&app.log);
        }
    }
}
