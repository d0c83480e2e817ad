//! What the engine keeps between commands: the project it was started on, the session's
//! active provider, and the folded state that `/status` reports.

use std::sync::{Arc, Mutex};

use crate::engine::ground::state::RunState;
use crate::engine::store::workspace::Project;

/// What the engine keeps between commands.
pub(super) struct Session {
    /// The project as handed to `spawn`; each command reloads its config from disk.
    pub(super) base: Project,
    /// The active provider for this session (`/provider` changes it).
    pub(super) active: Mutex<String>,
    pub(super) state: Arc<Mutex<RunState>>,
}

impl Session {
    /// The project with its config files read again (casting and `/roles` change them), and
    /// the session's active provider.
    pub(super) fn project(&self) -> Result<Project, String> {
        let mut p = self
            .base
            .ws
            .load(&self.base.env)
            .map_err(|e| format!("{e}; /doctor can help"))?;
        p.providers.active = self
            .active
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        Ok(p)
    }
}
