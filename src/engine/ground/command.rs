//! Commands: requests to the engine, imperative. Front ends (dashboard, CLI, scripts, chat
//! bridges) only ever send these; like events they are serde wire types, tagged `command`.

use serde::{Deserialize, Serialize};

/// A request to the engine. Front ends (dashboard, CLI, scripts) only ever send these.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    /// Store the idea (and commit it).
    CaptureIdea {
        statement: String,
        title: Option<String>,
        #[serde(default)]
        tags: Vec<String>,
    },
    /// Give one agent one objective.
    Dispatch {
        agent: String,
        objective: String,
        #[serde(default)]
        stage: Option<String>,
        #[serde(default)]
        dry_run: bool,
    },
    /// Have the chief cast the team for the recorded idea.
    Cast {
        #[serde(default)]
        dry_run: bool,
    },
    /// Supervise the discovery then the product workflow.
    Plan {
        #[serde(default)]
        dry_run: bool,
    },
    /// Supervise a workflow (the engineering one by default) until done or stalled.
    Run {
        workflow: String,
        #[serde(default)]
        max_cycles: Option<u32>,
        #[serde(default)]
        dry_run: bool,
    },
    /// Start a mission for `text` (or the idea), or continue the stored one.
    Mission {
        #[serde(default)]
        text: Option<String>,
        #[serde(default)]
        resume: bool,
    },
    /// Run an improvement loop (0 iterations: the configured `max_iterations`).
    Loop {
        kind: LoopKind,
        #[serde(default)]
        iterations: u32,
        #[serde(default)]
        dry_run: bool,
    },
    /// Free text from the user. With no idea yet it becomes the idea and starts casting and
    /// the engineering run; later it joins the conversation and starts another cycle.
    Message { text: String },
    /// List, add or drop roles.
    Roles {
        #[serde(flatten)]
        action: RolesCommand,
    },
    /// Finish the current step, then stop the running work.
    Stop,
    /// Show or change the work waiting to start (`/queue`).
    Queue {
        #[serde(flatten)]
        action: QueueCommand,
    },
    /// Queue a task or look at and steer the queued ones (`clk task`, `/task`).
    Task {
        #[serde(flatten)]
        action: crate::engine::ground::task::TaskCommand,
    },
    /// Run the queued tasks (`clk work`): `workers` at once (default `tasks.max_concurrent`);
    /// with `until_idle`, end when nothing can run.
    Work {
        #[serde(default)]
        workers: Option<u32>,
        #[serde(default)]
        until_idle: bool,
    },
    /// Make `name` the active provider (saved in providers.json) and check it can be reached.
    SwitchProvider { name: String },
    /// Merge the run branches that wait for the user; with `discard`, drop them instead.
    Merge {
        #[serde(default)]
        discard: bool,
    },
    /// Show the last clk commit; with `confirm`, revert it with a new commit.
    Undo {
        #[serde(default)]
        confirm: bool,
    },
    /// Check providers, config, git, user settings, the pre-push hook, remotes and disk room;
    /// with `fix`, offer each repair (asked every time).
    Doctor {
        #[serde(default)]
        fix: bool,
    },
    /// Install a tool clk drives (`/install NAME`): show the command; with `confirm`, run it
    /// and check the tool answers. An empty name lists the tools.
    Install {
        #[serde(default)]
        name: String,
        #[serde(default)]
        confirm: bool,
    },
    /// What the guided setup finds (`/setup`): agent CLIs and logins, local servers, API key
    /// names, and the provider it would suggest. Changes nothing.
    Setup,
    /// A narrative snapshot: idea, agents, tokens, files, cost.
    Status,
    /// Write a bug-report bundle in the project's folder (`/diag`).
    Diag,
    /// List the projects clk knows (`/workspaces`).
    Workspaces,
    /// Show the spending caps in force and what was spent this session and today (`/budget`).
    ShowBudget,
    /// Set a spending cap for the rest of this session (`/budget set`): `key` is
    /// `budget.session_usd_cap` or `budget.agent_usd_caps.<agent>`; 0 turns it off. The next
    /// dispatch checks it, including one in work already running.
    SetCap { key: String, usd: f64 },
    /// `/gauntlet`: turn it on or off or pick its preset for this session, or show its state.
    Gauntlet { action: GauntletAction },
    /// Run the sample idea on the built-in provider in a scratch project.
    Tutorial,
    /// The answer to a `ConfirmRequested` question.
    Confirm { id: u64, approve: bool },
    /// Stop every running task at once, killing provider processes.
    Abort,
    /// Finish: no new tasks are accepted; the engine ends when running tasks are done.
    Shutdown,
}

/// What `Command::Gauntlet` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GauntletAction {
    On,
    Off,
    /// On, with one critique round at most.
    Quick,
    /// On, with three.
    Standard,
    /// On, with five.
    Rigorous,
    Status,
}

/// What `Command::Roles` does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum RolesCommand {
    List,
    Add { name: String, description: String },
    Drop { name: String },
}

/// Which loop is running; also the commit author and the workflow name in events.
/// What `/queue` asks for: work typed while other work runs waits in the engine's queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum QueueCommand {
    /// List what waits, in the order it will start.
    List,
    /// Take entry `n` (1-based, as listed) off the queue.
    Drop { n: usize },
    /// Take everything off the queue.
    Clear,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoopKind {
    Ralph,
    Autoresearch,
}

impl LoopKind {
    pub fn name(self) -> &'static str {
        match self {
            LoopKind::Ralph => "ralph",
            LoopKind::Autoresearch => "autoresearch",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            LoopKind::Ralph => "Ralph loop",
            LoopKind::Autoresearch => "autoresearch loop",
        }
    }
}
