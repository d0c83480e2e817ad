//! What the dashboard is told (`Msg`) and what the driver must do after an update (`Effect`).

use super::view::{Loaded, Request};
use crate::engine::ground::events::{Command, Event};
use crate::engine::ground::state::RunState;
use crate::engine::session::tasks::TaskRow;
use crossterm::event::KeyEvent;

/// Something the dashboard was told.
#[derive(Debug, Clone)]
pub enum Msg {
    /// The clock: monotonic milliseconds since the session started and local time of day.
    Tick {
        now_ms: u64,
        tod_secs: u32,
    },
    Key(KeyEvent),
    Paste(String),
    /// Mouse wheel: positive scrolls towards older lines.
    Wheel(i8),
    Resize {
        width: u16,
        height: u16,
    },
    Engine(Event),
    /// The screen fell behind the engine by this many events; `RunState` is replaced by the
    /// engine's snapshot so cards and totals are right again.
    Lagged {
        missed: u64,
        snapshot: Box<RunState>,
    },
    /// The driver handed a command to the engine; its `TaskFinished` will carry `task_id`.
    Submitted {
        task_id: u64,
        what: String,
    },
    /// The engine is gone: nothing more will happen.
    EngineGone,
    /// Facts re-read from the project after a commit or an undo: commits not pushed (None:
    /// no remote) and the recorded idea's title (an undo may have taken it back).
    Refreshed {
        ahead: Option<u64>,
        idea: Option<String>,
    },
    /// SIGTERM or SIGHUP: leave now.
    Terminate,
    /// A left click at this cell.
    Click {
        column: u16,
        row: u16,
    },
    /// Text the driver read for an open view.
    Loaded(Box<Loaded>),
    /// The task queue as the driver read it (the Tasks view, the title's approval count,
    /// Tab completion of task ids); Err is the one line that says why it could not be read.
    Tasks(Result<Vec<TaskRow>, String>),
}

/// What the driver must do after an update.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Submit(Command),
    Quit,
    /// Read a transcript or a diff off the draw path; the answer comes back as `Msg::Loaded`.
    Load(Request),
    /// Ctrl-L: clear the terminal and draw everything again.
    Redraw,
    /// Read the task queue off the draw path; the answer comes back as `Msg::Tasks`.
    LoadTasks,
    /// Set clk up in this folder (the welcome's yes); `tutorial` starts it afterwards.
    Setup {
        tutorial: bool,
    },
    /// Tell the person something without their watching: the bell and a desktop notification
    /// (as the settings allow). Each notice comes once (`ground::notice::Told`).
    Notify(String),
}
