//! The `clk` binary: parse arguments, pick the front end, choose the exit code.

use std::io::IsTerminal;
use std::process::ExitCode;

use clk::cli::{Cli, Command};
use clk::cmd::{self, Failure};
use clk::engine::ground::events::Command as EngineCommand;
use clk::headless::Format;

fn main() -> ExitCode {
    let _ = rustls::crypto::ring::default_provider().install_default();
    clk::engine::ground::redact::register_env_secrets();
    let cli = match Cli::parse_args() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() {
                cmd::EXIT_BAD_INPUT
            } else {
                cmd::EXIT_OK
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let result = run(cli);
    // A run's index clk kept in memory reaches the disk before the process ends.
    let _ = clk::engine::store::git::deferred::flush_all();
    match result {
        Ok(code) => ExitCode::from(code),
        Err(Failure { code, message }) => {
            eprintln!("clk: {message}");
            ExitCode::from(code)
        }
    }
}

/// Log to `.clk/logs/clk.log` (level from `CLK_LOG_LEVEL`, default info) when in a project.
/// The screen shows events; the log file is for diagnosing clk itself.
fn start_logging(dir: &std::path::Path) {
    let Some(ws) = clk::engine::store::workspace::Workspace::find(dir) else {
        return;
    };
    let logs = ws.logs_dir();
    if std::fs::create_dir_all(&logs).is_err() {
        return;
    }
    let path = logs.join("clk.log");
    // A full log is kept as clk.log.1 and a new one starts.
    let _ = clk::engine::store::prune::roll_if_over(&path, clk::engine::store::prune::LOG_MAX);
    let Ok(file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
    else {
        return;
    };
    // Each line is one write to a file opened for appending, from the thread that logs it:
    // nothing is queued, so nothing is lost when the process ends, and no writer thread is
    // started for a command that logs two lines. Secrets are masked before a line reaches the
    // file, whatever code logged it.
    let writer = std::sync::Mutex::new(clk::engine::ground::redact::RedactingWriter::new(file));
    let level = std::env::var("CLK_LOG_LEVEL").unwrap_or_else(|_| "info".into());
    let filter = tracing_subscriber::EnvFilter::try_new(format!("clk={}", level.to_lowercase()))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("clk=info"));
    let _ = tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(false)
        .with_env_filter(filter)
        .try_init();
}

/// The words a command holding the project lock is named by, or `None` for a command that
/// changes nothing (status, providers, `--show`, `--dry-run`, doctor without `--fix`).
fn lock_label(command: &Command) -> Option<String> {
    use clk::cli::{RemoteAction, RolesAction};
    let what = match command {
        Command::Idea { .. } => "clk idea",
        Command::Cast { dry_run: false } => "clk cast",
        Command::Plan { dry_run: false } => "clk plan",
        Command::Run { dry_run: false, .. } => "clk run",
        Command::Loop { dry_run: false, .. } => "clk loop",
        Command::Mission { action: None, .. } => "clk mission",
        Command::Ask { dry_run: false, .. } => "clk ask",
        Command::Roles {
            action: RolesAction::Add { .. },
        } => "clk roles add",
        Command::Roles {
            action: RolesAction::Remove { .. },
        } => "clk roles remove",
        Command::Undo { confirm: true } => "clk undo",
        Command::Doctor { fix: true } => "clk doctor --fix",
        Command::Configure {
            set, user: false, ..
        } if !set.is_empty() => "clk configure --set",
        Command::Budget { reset: true } => "clk budget --reset",
        Command::Tutorial => "clk tutorial",
        Command::Work { .. } => "clk work",
        Command::Remote {
            action: RemoteAction::Link { .. } | RemoteAction::Create { .. },
        } => "clk remote",
        Command::Serve { .. } => "clk serve",
        _ => return None,
    };
    Some(what.to_string())
}

fn run(cli: Cli) -> Result<u8, Failure> {
    let dir = cmd::start_dir(cli.dir.as_deref())?;
    start_logging(&dir);
    // Arguments are not logged: `configure --set` values may be keys.
    tracing::info!(command = ?std::env::args().nth(1).unwrap_or_default(), "clk started");
    let format = if cli.json {
        Format::Json
    } else {
        Format::Human
    };
    // The dashboard needs a terminal to draw on; anything else (a pipe, CI, --json) runs the
    // same work headless.
    let dashboard = !cli.no_tui && !cli.json && std::io::stdout().is_terminal();
    let command = match (cli.command, cli.idea) {
        (Some(_), Some(idea)) => {
            return Err(Failure::bad_input(format!(
                "an idea ({idea:?}) and a command cannot be given together"
            )));
        }
        (None, Some(idea)) if dashboard => {
            note_use(&dir);
            return clk::tui::run(&dir, Some(&idea));
        }
        (None, Some(idea)) => {
            let result = cmd::start::run(&dir, &idea, format);
            note_use(&dir);
            return result;
        }
        (None, None) if dashboard => {
            note_use(&dir);
            return clk::tui::run(&dir, None);
        }
        (None, None) => {
            return Err(Failure::bad_input(
                "give an idea (clk \"a journaling app\") or a command; `clk --help` lists them \
                 (the dashboard opens when clk runs in a terminal without --no-tui)",
            ));
        }
        (Some(c), None) => c,
    };
    // One writer per project: held until this command returns, released by the OS on a crash.
    let _lock = match lock_label(&command) {
        Some(what) => cmd::hold(&dir, &what)?,
        None => None,
    };
    let used = _lock.is_some() && !matches!(command, Command::Init { .. });
    let result = match command {
        Command::Init { name, kickoff } => cmd::init::run_marked(&dir, name.as_deref(), kickoff),
        Command::Workspaces { action } => cmd::workspaces::run(action, format),
        Command::Remote { action } => cmd::remote::run(&dir, action),
        Command::ScanSecrets { pre_push, .. } => cmd::scan::run(&dir, pre_push),
        Command::Idea {
            statement,
            title,
            tags,
            no_cast,
        } => cmd::idea::run(&dir, &statement, title.as_deref(), tags, no_cast, format),
        Command::Cast { dry_run } => cmd::orchestrate::cast(&dir, dry_run, format),
        Command::Roles { action } => cmd::roles::run(&dir, &action),
        Command::Plan { dry_run } => cmd::orchestrate::plan(&dir, dry_run, format),
        Command::Run {
            workflow,
            max_cycles,
            dry_run,
        } => cmd::orchestrate::run(&dir, &workflow, max_cycles, dry_run, format),
        Command::Mission {
            action,
            text,
            resume,
        } => match action {
            Some(clk::cli::MissionAction::Status) => cmd::mission::status(&dir, format),
            None => cmd::mission::run(&dir, text, resume, format),
        },
        Command::Loop {
            mode,
            max_iterations,
            iterations,
            dry_run,
        } => cmd::orchestrate::run_loop(&dir, mode, max_iterations.or(iterations), dry_run, format),
        Command::Ask {
            agent,
            objective,
            stage,
            dry_run,
        } => cmd::ask::run(&dir, &agent, &objective.join(" "), stage, dry_run, format),
        Command::Status => cmd::status::run(&dir, format),
        Command::Budget { reset } => cmd::budget::run(&dir, reset),
        Command::Providers => cmd::providers::run(&dir),
        Command::Undo { confirm } => cmd::undo::run(&dir, confirm),
        Command::Merge { discard } => cmd::merge::run(&dir, discard, format),
        Command::Doctor { fix } => cmd::doctor::run(&dir, fix),
        Command::Diag { out, lines } => cmd::diag::run(&dir, out, lines),
        Command::Tutorial => cmd::orchestrate::submit(&dir, EngineCommand::Tutorial, format),
        Command::Configure { set, show, user } => cmd::configure::run(&dir, &set, show, user),
        Command::Install { name, list, yes } => cmd::install::run(name.as_deref(), list, yes),
        Command::Setup {
            non_interactive,
            provider,
            install,
            reset,
        } => cmd::setup::run(&dir, non_interactive, provider.as_deref(), install, reset),
        Command::Task { action, store } => cmd::task::run(&dir, action, store, format),
        Command::Workers { store } => cmd::workers::run(&dir, store, format),
        Command::Context { action } => cmd::task::context(&dir, action, format),
        Command::Template { action } => cmd::task::template(&dir, action, format),
        Command::Work {
            workers,
            until_idle,
            store,
            repo,
        } => cmd::work::run(&dir, workers, until_idle, store, repo, format),
        Command::Serve {
            bind,
            port,
            allow_remote,
            telegram,
            discord,
            discord_register,
        } => {
            let bots = cmd::serve::Bots {
                telegram,
                discord,
                discord_register,
            };
            cmd::serve::run(&dir, bind, port, allow_remote, bots)
        }
    };
    if used {
        note_use(&dir);
    }
    result
}

/// Note in `clk workspaces` that this project was just worked in (best effort: the list is a
/// convenience and never stops a command).
fn note_use(dir: &std::path::Path) {
    use clk::engine::ground::config::Env;
    use clk::engine::store::workspace::Workspace;
    if let Some(ws) = Workspace::find(dir) {
        let _ = clk::engine::store::workspaces::touch(&ws, &Env::process(), None, false);
    }
}
