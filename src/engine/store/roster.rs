//! Who is on the team: the roster as it is on disk, and what a reply's proposals changed.

use std::collections::BTreeSet;

use crate::engine::ground::bundled;
use crate::engine::ground::config::AgentsFile;
use crate::engine::store::workspace::{Project, Workspace, read_json};

/// Every agent name a workflow may use: the roster, prompt files on disk, bundled prompts.
pub fn roster_names(ws: &Workspace, agents: &AgentsFile) -> BTreeSet<String> {
    let mut names: BTreeSet<String> = agents.agents.keys().cloned().collect();
    if let Ok(rd) = std::fs::read_dir(ws.prompts_dir()) {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(stem) = name.strip_suffix(".md") {
                names.insert(stem.to_string());
            }
        }
    }
    for (file, _) in bundled::PROMPTS {
        if let Some(stem) = file.strip_suffix(".md") {
            names.insert(stem.to_string());
        }
    }
    names
}

/// The roster as it is on disk now (casting may have changed it since the project loaded).
pub fn current_agents(project: &Project) -> AgentsFile {
    read_json(&project.ws.agents_file())
        .ok()
        .flatten()
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_else(|| project.agents.clone())
}

/// What the proposals of one reply changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProposalsOutcome {
    pub roles_accepted: Vec<String>,
    pub roles_refused: Vec<String>,
    pub workflows_written: Vec<String>,
    /// `name: reason` for each refused workflow.
    pub workflows_refused: Vec<String>,
    pub commit: Option<String>,
}

impl ProposalsOutcome {
    /// Adds a later reply's decisions after these; the later commit wins.
    pub fn extend(&mut self, later: ProposalsOutcome) {
        self.roles_accepted.extend(later.roles_accepted);
        self.roles_refused.extend(later.roles_refused);
        self.workflows_written.extend(later.workflows_written);
        self.workflows_refused.extend(later.workflows_refused);
        if later.commit.is_some() {
            self.commit = later.commit;
        }
    }
}
