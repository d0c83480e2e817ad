//! The terminal guard: raw mode, the alternate screen, mouse wheel and bracketed paste on
//! entry; all of it undone on every way out.
//!
//! `Drop` restores on normal returns and on errors; a panic hook restores before the panic message
//! prints (so it is readable) and before unwinding drops anything. Restoring twice is harmless. The
//! hook acts only for a panic on the thread that owns the screen: the engine catches panics in its
//! own tasks (they end as failed tasks), and those must not pull the terminal out from under a
//! dashboard that keeps running. Signals (SIGTERM, SIGHUP) are turned into a normal quit by the
//! event loop, which then drops the guard.

use std::io::{self, Stdout};
use std::sync::{Mutex, Once};
use std::thread::ThreadId;

use crossterm::event::{
    DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture,
};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

pub type Term = Terminal<CrosstermBackend<Stdout>>;

/// Owns the terminal while the dashboard runs.
pub struct TerminalGuard {
    pub terminal: Term,
}

static HOOK: Once = Once::new();
/// The thread drawing the dashboard, while a guard lives.
static SCREEN_THREAD: Mutex<Option<ThreadId>> = Mutex::new(None);

fn screen_thread() -> std::sync::MutexGuard<'static, Option<ThreadId>> {
    SCREEN_THREAD.lock().unwrap_or_else(|p| p.into_inner())
}

/// Put the terminal back the way the shell expects it: cooked mode, main screen, cursor.
pub fn restore() {
    let _ = disable_raw_mode();
    let _ = execute!(
        io::stdout(),
        DisableBracketedPaste,
        DisableMouseCapture,
        LeaveAlternateScreen,
        crossterm::cursor::Show
    );
}

fn install_panic_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if *screen_thread() == Some(std::thread::current().id()) {
                restore();
            }
            previous(info);
        }));
    });
}

impl TerminalGuard {
    pub fn enter() -> io::Result<TerminalGuard> {
        install_panic_hook();
        *screen_thread() = Some(std::thread::current().id());
        enable_raw_mode()?;
        let mut stdout = io::stdout();
        if let Err(e) = execute!(
            stdout,
            EnterAlternateScreen,
            EnableMouseCapture,
            EnableBracketedPaste,
            crossterm::cursor::Hide
        ) {
            restore();
            return Err(e);
        }
        let terminal = match Terminal::new(CrosstermBackend::new(stdout)) {
            Ok(t) => t,
            Err(e) => {
                restore();
                return Err(e);
            }
        };
        Ok(TerminalGuard { terminal })
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        *screen_thread() = None;
        restore();
    }
}
