//! `RunState`: what a run looks like, folded from events.
//!
//! Every consumer (dashboard, headless summary, tests) builds its view with the same
//! [`RunState::apply`], so they can never disagree. The fold is pure and bounded in memory:
//! the log keeps the newest [`LOG_CAPACITY`] lines, each written by [`describe`] (its own file:
//! the wording of events, apart from the fold).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::Serialize;

use crate::engine::ground::events::{Decision, Event, Usage};
use crate::engine::ground::pricing::CostBasis;

mod describe;
mod text;
mod work_words;

pub use describe::describe;
use text::short;

/// Log lines kept in memory.
pub const LOG_CAPACITY: usize = 5_000;

/// What an agent is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentStatus {
    Idle,
    Working,
    Done,
    Failed,
}

/// One agent as the run sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentView {
    pub status: AgentStatus,
    pub run_id: Option<String>,
    pub pid: Option<u32>,
    pub bytes_received: u64,
    pub last_line: String,
    /// Short outcome of the last dispatch (error text or "ok").
    pub outcome: String,
    pub dispatches: u64,
    /// Files its own tools changed during the running call: how many, and the latest few.
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub changing: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changing_files: Vec<String>,
    /// The agent's current TODOS list.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub todos: Vec<crate::engine::ground::protocol::TodoItem>,
}

impl Default for AgentView {
    fn default() -> Self {
        AgentView {
            status: AgentStatus::Idle,
            run_id: None,
            pid: None,
            bytes_received: 0,
            last_line: String::new(),
            outcome: String::new(),
            dispatches: 0,
            changing: 0,
            changing_files: Vec::new(),
            todos: Vec::new(),
        }
    }
}

/// Token and cost totals.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_micros: u64,
    /// True when any figure in the total was estimated.
    pub estimated: bool,
    /// True when some dispatch had no known price: `cost_micros` leaves it out.
    pub cost_unknown: bool,
}

impl Totals {
    pub fn add(&mut self, u: &Usage, cost_micros: u64, basis: CostBasis) {
        self.input_tokens = self.input_tokens.saturating_add(u.input_tokens);
        self.output_tokens = self.output_tokens.saturating_add(u.output_tokens);
        self.cost_micros = self.cost_micros.saturating_add(cost_micros);
        self.estimated |= u.estimated;
        self.cost_unknown |= basis == CostBasis::Unknown;
    }
}

/// The folded state of a run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunState {
    pub agents: BTreeMap<String, AgentView>,
    pub totals: Totals,
    pub per_provider: BTreeMap<String, Totals>,
    pub per_agent: BTreeMap<String, Totals>,
    pub files_written: BTreeSet<String>,
    pub commits: Vec<(String, String)>,
    pub actions_applied: u64,
    pub actions_refused: u64,
    pub dispatch_failures: u64,
    pub done_requested: Option<String>,
    pub robustness: RobustTally,
    /// Why a spending cap stopped the run, once it did.
    pub budget_stopped: Option<String>,
    /// Work waiting for the running work to end, in the order it will start.
    pub queue: Vec<QueuedWork>,
    /// The branch the current run's agents work on (`clk/<run-id>`), while it runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_branch: Option<String>,
    /// A run branch that waits for the user to merge it, and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merge_waiting: Option<String>,
    /// How many times live reload took changed settings files in.
    #[serde(skip_serializing_if = "is_zero")]
    pub settings_reloads: u32,
    /// The settings file edit live reload refused, until a good edit replaces it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settings_rejected: Option<String>,
    /// The newest mission step, in words, while or after a mission runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mission: Option<String>,
    #[serde(skip)]
    pub log: VecDeque<String>,
}

fn is_zero_u64(n: &u64) -> bool {
    *n == 0
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// One entry of the engine's work queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueuedWork {
    pub task_id: u64,
    pub what: String,
}

/// What the robustness loops spent, for the title bar and the headless summary.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RobustTally {
    pub quality_retries: u64,
    pub refusals: u64,
    pub consensus_runs: u64,
    pub consensus_samples: u64,
    pub refine_rounds: u64,
    pub stage_retries: u64,
    /// Gauntlet dispatches: keys derived, critiques, revisions, checks and repairs.
    pub gauntlet_steps: u64,
    /// The last checkpoint verdict and loop steering step, as `<word>: <note>`.
    pub last_checkpoint: Option<String>,
    pub last_loop_step: Option<String>,
}

impl RunState {
    fn agent(&mut self, name: &str) -> &mut AgentView {
        self.agents.entry(name.to_string()).or_default()
    }

    fn log_line(&mut self, text: String) {
        // A report is several lines; each is its own log line.
        for line in text.lines() {
            if self.log.len() == LOG_CAPACITY {
                self.log.pop_front();
            }
            self.log.push_back(line.to_string());
        }
    }

    /// Fold one event.
    pub fn apply(&mut self, ev: &Event) {
        if let Some(line) = describe(ev) {
            self.log_line(line);
        }
        match ev {
            Event::WorkspaceInitialized { .. }
            | Event::IdeaCaptured { .. }
            | Event::MalformedBlock { .. }
            | Event::BatchWarning { .. }
            | Event::PostAdded { .. }
            | Event::UserChangesKept { .. }
            | Event::Warning { .. }
            | Event::TaskFinished { .. }
            | Event::BudgetReached { .. }
            | Event::BudgetOverrideApproved { .. }
            | Event::ConfirmRequested { .. }
            | Event::ConfirmAnswered { .. }
            | Event::Report { .. }
            | Event::Heartbeat { .. }
            | Event::StopRequested
            | Event::ProviderSwitched { .. }
            | Event::Undone { .. }
            | Event::TutorialFinished { .. }
            | Event::StageStarted { .. }
            | Event::RoleDecided { .. }
            | Event::CycleFinished { .. }
            | Event::DoneGate { .. }
            | Event::RunFinished { .. }
            | Event::WorkflowProposed { .. }
            | Event::ValidationRan { .. }
            | Event::StageFinished { .. }
            | Event::CommandStarted { .. }
            | Event::CommandFinished { .. }
            | Event::ProviderRetry { .. }
            | Event::RunLeftover { .. }
            | Event::ConsensusCoalesced { .. }
            | Event::Delegated { .. } => {}
            Event::TodosUpdated { agent, items } => self.agent(agent).todos = items.clone(),
            Event::MissionStep { .. } => self.mission = work_words::describe(ev),
            Event::WorktreeCreated { branch, .. } => {
                self.run_branch = Some(branch.clone());
                self.merge_waiting = None;
            }
            Event::WorktreeRemoved { .. } => self.run_branch = None,
            Event::MergeDone { branch, .. } => {
                if self
                    .merge_waiting
                    .as_ref()
                    .is_some_and(|w| w.starts_with(branch.as_str()))
                {
                    self.merge_waiting = None;
                }
            }
            Event::MergeWaiting { branch, reason, .. } => {
                self.merge_waiting = Some(format!("{branch}: {reason}"));
            }
            Event::SettingsReloaded { .. } => {
                self.settings_reloads += 1;
                self.settings_rejected = None;
            }
            Event::SettingsRejected { file, line, .. } => {
                self.settings_rejected = Some(match line {
                    Some(l) => format!("{file} line {l}"),
                    None => file.clone(),
                });
            }
            Event::QualityRetry { .. } => self.robustness.quality_retries += 1,
            Event::ReplyRefused { .. } => self.robustness.refusals += 1,
            Event::ConsensusStarted { .. } => self.robustness.consensus_runs += 1,
            Event::ConsensusSampleFinished { .. } => self.robustness.consensus_samples += 1,
            Event::RefineRound { .. } => self.robustness.refine_rounds += 1,
            Event::StageRetry { .. } => self.robustness.stage_retries += 1,
            Event::Gauntlet { step, .. } => {
                if !matches!(step.as_str(), "kept" | "finished" | "budget") {
                    self.robustness.gauntlet_steps += 1;
                }
            }
            Event::CheckpointVerdict { verdict, note, .. } => {
                self.robustness.last_checkpoint = Some(format!("{verdict}: {}", short(note, 80)));
            }
            Event::LoopSteered { step, message, .. } => {
                self.robustness.last_loop_step = Some(format!("{step}: {}", short(message, 80)));
            }
            Event::DispatchStarted { agent, run_id, .. } => {
                let a = self.agent(agent);
                a.status = AgentStatus::Working;
                a.run_id = Some(run_id.clone());
                a.pid = None;
                a.bytes_received = 0;
                a.last_line.clear();
                a.dispatches += 1;
                a.changing = 0;
                a.changing_files.clear();
            }
            Event::FilesChanging {
                agent,
                count,
                files,
                ..
            } => {
                let a = self.agent(agent);
                a.changing = *count;
                a.changing_files = files.clone();
            }
            Event::ProcessStarted { agent, pid, .. } => self.agent(agent).pid = Some(*pid),
            Event::AgentOutput { agent, line, .. } => {
                let a = self.agent(agent);
                a.bytes_received += line.len() as u64 + 1;
                if !line.trim().is_empty() {
                    a.last_line = line.clone();
                }
            }
            Event::DispatchFinished {
                agent, ok, error, ..
            } => {
                let a = self.agent(agent);
                a.status = if *ok {
                    AgentStatus::Done
                } else {
                    AgentStatus::Failed
                };
                a.pid = None;
                a.outcome = error.clone().unwrap_or_else(|| "ok".into());
                if !ok {
                    self.dispatch_failures += 1;
                }
            }
            Event::UsageRecorded {
                agent,
                provider,
                usage,
                cost_micros,
                cost_basis,
                ..
            } => {
                self.totals.add(usage, *cost_micros, *cost_basis);
                self.per_provider.entry(provider.clone()).or_default().add(
                    usage,
                    *cost_micros,
                    *cost_basis,
                );
                self.per_agent.entry(agent.clone()).or_default().add(
                    usage,
                    *cost_micros,
                    *cost_basis,
                );
            }
            Event::Action {
                kind,
                target,
                decision,
                ..
            } => match decision {
                Decision::Applied => {
                    self.actions_applied += 1;
                    if matches!(kind.as_str(), "write" | "edit" | "append" | "delete") {
                        self.files_written.insert(target.clone());
                    }
                }
                Decision::Skipped | Decision::Rejected => self.actions_refused += 1,
            },
            Event::Queued { task_id, what, .. } => self.queue.push(QueuedWork {
                task_id: *task_id,
                what: what.clone(),
            }),
            Event::QueueStarted { task_id, .. } | Event::QueueDropped { task_id, .. } => {
                self.queue.retain(|q| q.task_id != *task_id)
            }
            Event::DoneRequested { reason, .. } => self.done_requested = Some(reason.clone()),
            Event::BudgetStopped { reason, .. } => self.budget_stopped = Some(reason.clone()),
            Event::ChangesUndone { files, .. } => {
                for f in files {
                    self.files_written.remove(f);
                }
            }
            Event::Committed { sha, subject, .. } => {
                self.commits.push((sha.clone(), subject.clone()));
            }
        }
    }
}

#[cfg(test)]
mod tests;
