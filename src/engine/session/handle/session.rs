//! What the engine keeps between commands: the project it was started on, the session's
//! active provider, and the folded state that `/status` reports.

use std::sync::atomic::{AtomicBool, Ordering};
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
    /// The last settings that passed their checks.
    pub(super) good: Mutex<Option<Project>>,
    /// Live reload is on: a broken settings file was reported when it was saved, and the
    /// settings before it stay in force instead of failing every command.
    pub(super) live: AtomicBool,
}

impl Session {
    pub(super) fn new(project: Project, state: Arc<Mutex<RunState>>) -> Session {
        Session {
            active: Mutex::new(project.providers.active.clone()),
            base: project,
            state,
            good: Mutex::new(None),
            live: AtomicBool::new(false),
        }
    }

    /// Keep `project` as the settings in force.
    pub(super) fn keep(&self, project: &Project) {
        *self.good.lock().unwrap_or_else(|e| e.into_inner()) = Some(project.clone());
    }

    /// The project with its config files read again (casting and `/roles` change them), and
    /// the session's active provider.
    pub(super) fn project(&self) -> Result<Project, String> {
        let mut p = match self.base.ws.load(&self.base.env) {
            Ok(p) => {
                self.keep(&p);
                p
            }
            Err(e) => {
                let kept = self.good.lock().unwrap_or_else(|e| e.into_inner()).clone();
                match kept {
                    Some(p) if self.live.load(Ordering::Relaxed) => p,
                    _ => return Err(format!("{e}; /doctor can help")),
                }
            }
        };
        p.providers.active = self
            .active
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        Ok(p)
    }
}
