//! What the engine keeps between commands: the project it was started on, the session's
//! active provider, and the folded state that `/status` reports.

use std::sync::{Arc, Mutex};

use crate::engine::ground::state::RunState;
use crate::engine::store::bus::Bus;
use crate::engine::store::live;
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
}

impl Session {
    pub(super) fn new(project: Project, state: Arc<Mutex<RunState>>) -> Session {
        Session {
            active: Mutex::new(project.providers.active.clone()),
            base: project,
            state,
            good: Mutex::new(None),
        }
    }

    /// Keep `project` as the settings in force.
    pub(super) fn keep(&self, project: &Project) {
        *self.good.lock().unwrap_or_else(|e| e.into_inner()) = Some(project.clone());
    }

    /// The project with its config files read again (casting and `/roles` change them), and
    /// the session's active provider. Files that no longer load are told once on `bus` and the
    /// last settings that loaded stay in force (at worst the ones the session started on).
    pub(super) fn project(&self, bus: &Bus) -> Project {
        let (ws, env) = (&self.base.ws, &self.base.env);
        let mut p = match ws.load(env) {
            Ok(p) => {
                self.keep(&p);
                p
            }
            Err(e) => {
                live::tell(ws, env, bus, live::rejected(ws, &e));
                self.good
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .clone()
                    .unwrap_or_else(|| self.base.clone())
            }
        };
        p.providers.active = self
            .active
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        p
    }
}
