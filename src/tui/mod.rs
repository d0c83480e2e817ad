//! The full-screen dashboard: a ratatui session over the engine's event stream.
//!
//! `run` checks everything that can fail before the terminal changes mode (project, session
//! lock), starts the engine with an interactive bus (the engine asks instead of assuming no),
//! enters the terminal guard, and hands over to the event loop. On the way out, in this order:
//! running work is aborted, the terminal is restored, the engine is given a few seconds to
//! finish, the session log gets its end marker and the lock is released.

pub mod alert;
pub mod app;
pub mod event_loop;
pub mod fmt;
pub mod fold;
pub mod fold_lines;
pub mod hint;
pub mod input;
pub mod keymap;
pub mod keys;
pub mod layout;
pub mod load;
pub mod log;
pub mod msg;
pub mod nav;
pub mod session;
pub mod state;
pub mod tasks;
pub mod terminal;
pub mod theme;
pub mod view;
pub mod widgets;

use std::path::Path;
use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::cmd::{self, Failure};
use crate::engine::Engine;
use crate::engine::session::tutorial;
use crate::engine::store::bus::Bus;
use crate::engine::store::idea::Idea;
use crate::engine::store::records::UsageTotals;
use crate::engine::store::roster::current_agents;
use crate::engine::store::workspace::{Project, Workspace};
use app::{AppState, Init, Msg};
use session::{LockState, SessionLock, SessionLog};

/// How long the engine gets to wind down after the user quits.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Local time of day in seconds, for the first log lines.
fn now_tod() -> u32 {
    use chrono::Timelike;
    chrono::Local::now().num_seconds_from_midnight()
}

/// The session's opening state, read from the project.
pub fn init_for(project: &Project, width: u16, height: u16, notes: Vec<String>) -> Init {
    let ws = &project.ws;
    let name = project.config.project_name.clone().unwrap_or_else(|| {
        ws.root
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "project".into())
    });
    let usage = UsageTotals::load(ws);
    Init {
        project: name,
        provider: project.providers.active.clone(),
        roster: current_agents(project)
            .agents
            .into_iter()
            .map(|(n, a)| (n, a.role))
            .collect(),
        idea: Idea::load(ws).map(|i| i.title),
        tutorial_done: tutorial::has_run(ws),
        setup_needed: setup_needed(),
        base_tokens: usage
            .total
            .input_tokens
            .saturating_add(usage.total.output_tokens),
        base_cost_micros: usage.total.cost_micros,
        base_cost_unknown: usage.total.unpriced > 0,
        width,
        height,
        providers: project.providers.providers.keys().cloned().collect(),
        workflows: std::fs::read_dir(ws.workflows_dir())
            .map(|d| {
                let mut names: Vec<String> = d
                    .flatten()
                    .filter_map(|e| {
                        let name = e.file_name().to_string_lossy().into_owned();
                        name.strip_suffix(".yaml").map(str::to_string)
                    })
                    .collect();
                names.sort();
                names
            })
            .unwrap_or_default(),
        previous: session::previous_tail(ws, session::PREVIOUS_TAIL),
        last_runs: load::last_runs(ws),
        history: session::load_history(ws),
        tod_secs: now_tod(),
        theme: Some(theme::Theme::from_env(
            project.config.ui.theme == crate::engine::ground::config::UiTheme::Light,
        )),
        notes,
    }
}

/// Open the dashboard on the project at `dir`; with `idea`, send it as the first message.
pub fn run(dir: &Path, idea: Option<&str>) -> Result<u8, Failure> {
    if let Some(i) = idea {
        if i.trim().is_empty() {
            return Err(Failure::bad_input(
                "the idea is empty; say what you want to build",
            ));
        }
        if Workspace::find(dir).is_none() {
            cmd::init::run(dir, None)?;
        }
    }
    let mut first = idea.map(str::to_string);
    if idea.is_none() && Workspace::find(dir).is_none() {
        let not_set_up = || {
            Failure::bad_input(format!(
                "clk is not set up in {}; run `clk init`, or start with an idea: clk \"what to build\"",
                dir.display()
            ))
        };
        // A newcomer at a terminal gets the dashboard's welcome, which offers to set up here.
        if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
            return Err(not_set_up());
        }
        match welcome(dir) {
            Ok(Some(tutorial)) => {
                crate::engine::store::init::init(dir, None)
                    .map_err(|e| Failure::failed(e.to_string()))?;
                if tutorial {
                    first = Some("/tutorial".into());
                }
            }
            Ok(None) => {
                println!(
                    "Nothing was set up. Run `clk` here again, or `clk init`, when you are ready."
                );
                return Ok(cmd::EXIT_OK);
            }
            Err(_) => return Err(not_set_up()),
        }
    }
    let idea = first.as_deref();
    let project = cmd::project(dir)?;
    let ws = project.ws.clone();
    let (lock, state) = SessionLock::acquire(&ws).map_err(Failure::bad_input)?;
    let mut notes = Vec::new();
    if let LockState::Recovered { prior_pid } = state {
        notes.push(session::recovery_note(&ws, prior_pid));
    }
    // A run killed mid-batch left its worktree: say so now; the next run offers to resume it.
    for rec in crate::engine::runs::isolate::leftovers(&ws) {
        notes.push(format!(
            "a run that did not finish left branch {}; your next run offers to resume it, \
             /merge takes its work, /merge discard drops it",
            rec.branch
        ));
    }
    let (width, height) = crossterm::terminal::size().unwrap_or((80, 24));
    let mut app = AppState::new(init_for(&project, width, height, notes));
    let rt = cmd::runtime()?;
    let result = rt.block_on(session(&mut app, project, idea));
    // A failure to draw is reported after the terminal is back to normal.
    lock.release();
    result.map(|()| cmd::EXIT_OK)
}

/// The welcome in a folder without `.clk/`: the dashboard's screen with one question. Some
/// when the user said to set up here (true: and start the tutorial), None when they left.
fn welcome(dir: &Path) -> std::io::Result<Option<bool>> {
    use crossterm::event::Event as TermEvent;
    let (width, height) = crossterm::terminal::size().unwrap_or((80, 24));
    let mut app = AppState::new(welcome_init(dir, width, height));
    app.show_welcome = true;
    app.pending.push_back(app::Pending::Setup {
        question: setup_question(dir),
    });
    let mut guard = terminal::TerminalGuard::enter()?;
    loop {
        guard.terminal.draw(|f| widgets::draw(f, &app))?;
        let msg = match crossterm::event::read()? {
            TermEvent::Key(k) => Msg::Key(k),
            TermEvent::Resize(width, height) => Msg::Resize { width, height },
            _ => continue,
        };
        for effect in app::update(&mut app, msg) {
            match effect {
                app::Effect::Setup { tutorial } => return Ok(Some(tutorial)),
                app::Effect::Quit => return Ok(None),
                _ => {}
            }
        }
    }
}

/// The welcome's state: no team yet, the banner, and the set-up question.
pub fn welcome_init(dir: &Path, width: u16, height: u16) -> Init {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "this folder".into());
    Init {
        project: name,
        provider: "not set up".into(),
        width,
        height,
        theme: Some(theme::Theme::from_env(false)),
        tod_secs: now_tod(),
        notes: vec![
            "Welcome to clk: a team of AI agents that builds what you describe.".into(),
            format!("clk is not set up in {} yet.", dir.display()),
        ],
        ..Init::default()
    }
}

/// The question the welcome asks.
pub fn setup_question(dir: &Path) -> String {
    format!(
        "Set clk up in {}? It adds .clk/ (settings, prompts, workflows) and a git repository \
         if there is none. Press t to set up and run the free 30-second tutorial.",
        dir.display()
    )
}

async fn session(app: &mut AppState, project: Project, idea: Option<&str>) -> Result<(), Failure> {
    let ws = project.ws.clone();
    let alert = alert::Alert::from_config(&project.config.notify);
    let bus = Bus::new(Some(ws.activity_log()));
    bus.set_interactive(true);
    let events = bus.subscribe();
    let (engine, join) = Engine::spawn_live(project, bus);
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let signals = tx.clone();
    let listener = tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut hup)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
        ) else {
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = hup.recv() => {}
        }
        let _ = signals.send(Msg::Terminate);
    });
    let mut side = event_loop::Side {
        root: Some(ws.root.clone()),
        mirror: Some(SessionLog::open(&ws)),
        alert: Some(alert),
    };
    if let Some(m) = side.mirror.as_mut() {
        m.skip_to(app.prior_entries);
    }
    if let Some(idea) = idea {
        // The idea goes in the way a typed one would: same log line, same command.
        app.input.set_text(idea);
        tx.send(Msg::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)))
            .ok();
    }
    let outcome = match terminal::TerminalGuard::enter() {
        Ok(mut guard) => {
            let keys = crossterm::event::EventStream::new();
            let r = event_loop::run(
                app,
                &engine,
                events,
                &mut guard.terminal,
                keys,
                tx,
                rx,
                &mut side,
            )
            .await;
            drop(guard);
            r.map_err(|e| Failure::failed(format!("the dashboard stopped: {e}")))
        }
        Err(e) => Err(Failure::failed(format!(
            "cannot open the dashboard on this terminal ({e}); run with --no-tui"
        ))),
    };
    listener.abort();
    // Make sure the engine winds down even when the loop ended on an error.
    let _ = engine.submit(crate::engine::ground::events::Command::Abort);
    let _ = engine.submit(crate::engine::ground::events::Command::Shutdown);
    if tokio::time::timeout(SHUTDOWN_GRACE, join).await.is_err() {
        eprintln!("clk: the engine did not stop within 5 s; leaving it");
    }
    if let Some(m) = side.mirror.take() {
        m.close(&app.log);
    }
    session::save_history(&ws, app.input.history());
    outcome
}

/// True when the user has no settings of their own yet (neither `config.json` nor
/// `providers.json` in their clk folder), so the welcome offers the guided setup.
fn setup_needed() -> bool {
    use crate::engine::store::user;
    let env = crate::engine::ground::config::Env::process();
    let exists = |f: Option<std::path::PathBuf>| f.is_some_and(|f| f.exists());
    user::config_dir(&env).is_some()
        && !exists(user::config_file(&env))
        && !exists(user::providers_file(&env))
}
