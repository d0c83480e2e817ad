//! `RunState`: what a run looks like, folded from events.
//!
//! Every consumer (dashboard, headless summary, tests) builds its view with the same
//! [`RunState::apply`], so they can never disagree. The fold is pure and bounded in memory:
//! the log keeps the newest [`LOG_CAPACITY`] lines.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::Serialize;

use crate::engine::ground::events::{Decision, Event, Usage};
use crate::engine::ground::pricing::{CostBasis, format_usd};

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
    #[serde(skip)]
    pub log: VecDeque<String>,
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
            | Event::CommandFinished { .. }
            | Event::ProviderRetry { .. }
            | Event::ConsensusCoalesced { .. } => {}
            Event::QualityRetry { .. } => self.robustness.quality_retries += 1,
            Event::ReplyRefused { .. } => self.robustness.refusals += 1,
            Event::ConsensusStarted { .. } => self.robustness.consensus_runs += 1,
            Event::ConsensusSampleFinished { .. } => self.robustness.consensus_samples += 1,
            Event::RefineRound { .. } => self.robustness.refine_rounds += 1,
            Event::StageRetry { .. } => self.robustness.stage_retries += 1,
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

fn sha7(sha: &str) -> &str {
    sha.get(..7).unwrap_or(sha)
}

/// `1m05s`-style durations for log lines.
fn clock(ms: u64) -> String {
    let s = ms / 1000;
    if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

fn short(s: &str, n: usize) -> String {
    let first = s.lines().next().unwrap_or_default();
    if first.chars().count() > n {
        format!("{}…", first.chars().take(n).collect::<String>())
    } else {
        first.to_string()
    }
}

/// One readable line for an event, or None for events too fine-grained to log.
pub fn describe(ev: &Event) -> Option<String> {
    Some(match ev {
        Event::WorkspaceInitialized { root, .. } => format!("initialized clk in {root}"),
        Event::IdeaCaptured { title } => format!("idea captured: {title}"),
        Event::DispatchStarted {
            agent,
            stage,
            provider,
            objective,
            dry_run,
            ..
        } => format!(
            "{agent}{} → {provider}{}: {}",
            stage
                .as_ref()
                .map(|s| format!(" [{s}]"))
                .unwrap_or_default(),
            if *dry_run { " (dry run)" } else { "" },
            short(objective, 80)
        ),
        Event::ProcessStarted { agent, pid, .. } => format!("{agent}: process {pid} started"),
        Event::AgentOutput { .. } => return None,
        Event::ProviderRetry {
            agent,
            attempt,
            max_attempts,
            delay_ms,
            error,
            ..
        } => format!(
            "{agent}: attempt {attempt}/{max_attempts} failed ({}); retrying in {:.1}s",
            short(error, 100),
            *delay_ms as f64 / 1000.0
        ),
        Event::DispatchFinished {
            agent,
            ok,
            error,
            elapsed_ms,
            response_chars,
            ..
        } => {
            if *ok {
                format!(
                    "{agent}: replied, {response_chars} chars in {:.1}s",
                    *elapsed_ms as f64 / 1000.0
                )
            } else {
                format!(
                    "{agent}: failed: {}",
                    error.as_deref().unwrap_or("unknown error")
                )
            }
        }
        Event::UsageRecorded {
            agent,
            usage,
            cost_micros,
            cost_basis,
            ..
        } => format!(
            "{agent}: {} tokens in, {} out{}{}",
            usage.input_tokens,
            usage.output_tokens,
            if usage.estimated { " (estimated)" } else { "" },
            match cost_basis {
                CostBasis::Free => String::new(),
                CostBasis::Unknown => ", cost unknown".to_string(),
                CostBasis::Table | CostBasis::Configured | CostBasis::Reported => {
                    format!(", {}", format_usd(*cost_micros))
                }
            }
        ),
        Event::BudgetReached {
            agent,
            cap_key,
            spent_micros,
            cap_micros,
        } => format!(
            "budget: {agent} took spend to {} of the {} cap ({cap_key})",
            format_usd(*spent_micros),
            format_usd(*cap_micros)
        ),
        Event::BudgetOverrideApproved {
            agent,
            cap_key,
            spent_micros,
            cap_micros,
        } => format!(
            "budget: over {cap_key} ({} of {}); you let {agent} go ahead",
            format_usd(*spent_micros),
            format_usd(*cap_micros)
        ),
        Event::BudgetStopped { reason, .. } => format!("budget: stopped: {reason}"),
        Event::MalformedBlock { agent, problem, .. } => {
            format!("{agent}: malformed block: {problem}")
        }
        Event::Action {
            agent,
            kind,
            target,
            decision,
            reason,
            ..
        } => match decision {
            Decision::Applied => format!("{agent}: {kind} {}", short(target, 80)),
            Decision::Skipped => format!("{agent}: skipped {kind} {}: {reason}", short(target, 60)),
            Decision::Rejected => {
                format!("{agent}: refused {kind} {}: {reason}", short(target, 60))
            }
        },
        Event::CommandFinished {
            agent,
            command,
            exit_code,
            timed_out,
            ..
        } => {
            let how = if *timed_out {
                "timed out".to_string()
            } else {
                match exit_code {
                    Some(c) => format!("exit {c}"),
                    None => "killed".to_string(),
                }
            };
            format!("{agent}: $ {} ({how})", short(command, 80))
        }
        Event::BatchWarning { agent, message, .. } => format!("{agent}: {message}"),
        Event::DoneRequested { agent, reason } => {
            format!("{agent} asks to finish: {}", short(reason, 100))
        }
        Event::PostAdded {
            agent,
            post_type,
            to,
            ..
        } => format!(
            "{agent} posted a {post_type}{}",
            to.as_ref().map(|t| format!(" to {t}")).unwrap_or_default()
        ),
        Event::Committed {
            sha,
            subject,
            files,
            ..
        } => format!(
            "commit {} {} ({} file{})",
            &sha[..sha.len().min(8)],
            short(subject, 80),
            files.len(),
            if files.len() == 1 { "" } else { "s" }
        ),
        Event::UserChangesKept { agent, files } => format!(
            "{agent}: left your uncommitted changes alone: {}",
            files.join(", ")
        ),
        Event::Warning { message } => format!("warning: {message}"),
        Event::StageStarted {
            workflow,
            stage,
            agent,
        } => format!("stage {workflow}/{stage} started ({agent})"),
        Event::CycleFinished {
            workflow,
            cycle,
            max_cycles,
            progress,
            stages_ok,
            stages_failed,
        } => format!(
            "{workflow} cycle {cycle}/{max_cycles}: {stages_ok} stage(s) ok, {stages_failed} failed{}",
            if *progress { "" } else { ", no progress" }
        ),
        Event::DoneGate { granted, unmet } => {
            if *granted {
                "done gate: granted".to_string()
            } else {
                format!("done gate: refused: {}", short(&unmet.join("; "), 140))
            }
        }
        Event::RunFinished {
            workflow,
            outcome,
            reason,
            cycles,
        } => format!(
            "{workflow} run {outcome} after {cycles} cycle(s): {}",
            short(reason, 120)
        ),
        Event::RoleDecided {
            by,
            name,
            decision,
            reason,
        } => match reason {
            Some(r) => format!("{by} proposed role {name}: refused: {}", short(r, 100)),
            None => format!("{by} cast role {name} ({decision})"),
        },
        Event::WorkflowProposed {
            by,
            name,
            accepted,
            reason,
        } => {
            if *accepted {
                format!("{by} wrote workflow {name}")
            } else {
                format!(
                    "{by} proposed workflow {name}: refused: {}",
                    short(reason.as_deref().unwrap_or("invalid"), 120)
                )
            }
        }
        Event::ValidationRan {
            stage,
            command,
            exit_code,
            timed_out,
            ..
        } => format!(
            "stage {stage}: validation `{}` {}",
            short(command, 60),
            match (timed_out, exit_code) {
                (true, _) => "timed out".to_string(),
                (false, Some(0)) => "passed".to_string(),
                (false, Some(c)) => format!("failed (exit {c})"),
                (false, None) => "was stopped".to_string(),
            }
        ),
        Event::ChangesUndone {
            agent,
            files,
            reason,
        } => format!(
            "undid {agent}'s changes to {} file(s): {}",
            files.len(),
            short(reason, 80)
        ),
        Event::StageFinished {
            workflow,
            stage,
            ok,
            reason,
            ..
        } => format!(
            "stage {workflow}/{stage} {}{}",
            if *ok { "done" } else { "failed" },
            reason
                .as_ref()
                .map(|r| format!(": {}", short(r, 100)))
                .unwrap_or_default()
        ),
        Event::QualityRetry {
            agent,
            attempt,
            max_retries,
            score,
            reasons,
            ..
        } => format!(
            "{agent}: reply scored {score:.2}, repair {attempt}/{max_retries}: {}",
            short(&reasons.join("; "), 120)
        ),
        Event::ReplyRefused { agent, reason, .. } => {
            format!("{agent} declined the task: {}", short(reason, 120))
        }
        Event::ConsensusStarted {
            agent,
            name,
            trigger,
            samples,
            max_parallel,
        } => format!(
            "consensus {name} for {agent} ({trigger}): {samples} samples, {max_parallel} at a time"
        ),
        Event::ConsensusSampleFinished {
            agent,
            name,
            sample,
            samples,
            ok,
            score,
            elapsed_ms,
            ..
        } => format!(
            "consensus {name}: sample {sample}/{samples} from {agent} {} (score {score:.2}, {elapsed_ms} ms)",
            if *ok { "back" } else { "failed" }
        ),
        Event::ConsensusCoalesced {
            name,
            by,
            ok,
            samples_ok,
            samples,
            elapsed_ms,
            ..
        } => format!(
            "consensus {name}: {by} {} {samples_ok}/{samples} samples in {elapsed_ms} ms",
            if *ok { "merged" } else { "could not merge" }
        ),
        Event::RefineRound {
            agent,
            critic,
            round,
            max_rounds,
            verdict,
            score,
            accepted,
            ..
        } => format!(
            "{critic} on {agent}'s work, round {round}/{max_rounds}: {verdict} (score {score:.2}){}",
            if *accepted { ", accepted" } else { "" }
        ),
        Event::CheckpointVerdict {
            workflow,
            stage,
            verdict,
            note,
        } => format!(
            "checkpoint after {workflow}/{stage}: {verdict}{}",
            if note.is_empty() {
                String::new()
            } else {
                format!(": {}", short(note, 100))
            }
        ),
        Event::StageRetry {
            workflow,
            stage,
            attempt,
            max_retries,
            delay_ms,
            error,
        } => format!(
            "stage {workflow}/{stage}: retry {attempt}/{max_retries} in {delay_ms} ms after: {}",
            short(error, 80)
        ),
        Event::LoopSteered {
            loop_name,
            iteration,
            step,
            message,
        } => format!(
            "{loop_name} loop after iteration {iteration}: {step}: {}",
            short(message, 100)
        ),
        Event::ConfirmRequested { question, .. } => format!("question: {question} (y/N)"),
        Event::ConfirmAnswered { approve, by, .. } => {
            format!("answered {} ({by})", if *approve { "yes" } else { "no" })
        }
        Event::Report { topic, lines } => {
            let mut text = format!("── {topic} ──");
            for l in lines {
                text.push('\n');
                text.push_str(l);
            }
            text
        }
        Event::Heartbeat {
            agent,
            elapsed_ms,
            silent_ms,
            bytes,
            ..
        } => {
            let working = clock(*elapsed_ms);
            if *silent_ms >= 120_000 {
                format!(
                    "{agent}: working {working}, silent for {}; /abort stops it",
                    clock(*silent_ms)
                )
            } else if *silent_ms >= 15_000 {
                format!(
                    "{agent}: working {working}, silent for {}",
                    clock(*silent_ms)
                )
            } else {
                format!("{agent}: working {working}, streaming ({bytes} bytes)")
            }
        }
        Event::StopRequested => {
            "stop requested: the current step finishes, then the work stops".to_string()
        }
        Event::ProviderSwitched {
            name,
            usable,
            reason,
        } => {
            if *usable {
                format!("provider is now {name} (reachable)")
            } else {
                format!("provider is now {name}, but it is not usable: {reason}")
            }
        }
        Event::Undone {
            reverted,
            sha,
            files,
            ..
        } => format!(
            "reverted {} with commit {} ({} file(s))",
            sha7(reverted),
            sha7(sha),
            files.len()
        ),
        Event::TutorialFinished { ok, scratch } => {
            if *ok {
                format!("tutorial finished; its project is kept in {scratch}")
            } else {
                format!("tutorial did not finish; look in {scratch}")
            }
        }
        Event::TaskFinished {
            task, ok, summary, ..
        } => format!(
            "{task} {}: {summary}",
            if *ok { "finished" } else { "failed" }
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dispatch_folds_into_agent_and_totals() {
        let mut s = RunState::default();
        s.apply(&Event::DispatchStarted {
            agent: "engineer".into(),
            stage: None,
            run_id: "r".into(),
            provider: "shell".into(),
            objective: "x".into(),
            prompt_chars: 10,
            dry_run: false,
        });
        assert_eq!(s.agents["engineer"].status, AgentStatus::Working);
        s.apply(&Event::AgentOutput {
            agent: "engineer".into(),
            run_id: "r".into(),
            stream: crate::engine::ground::events::Stream::Model,
            line: "hello".into(),
        });
        s.apply(&Event::UsageRecorded {
            agent: "engineer".into(),
            run_id: "r".into(),
            provider: "shell".into(),
            model: String::new(),
            usage: Usage {
                input_tokens: 5,
                output_tokens: 7,
                ..Default::default()
            },
            cost_micros: 3,
            cost_basis: CostBasis::Table,
        });
        s.apply(&Event::DispatchFinished {
            agent: "engineer".into(),
            run_id: "r".into(),
            ok: true,
            error: None,
            error_kind: None,
            response_chars: 5,
            elapsed_ms: 1,
        });
        let a = &s.agents["engineer"];
        assert_eq!(a.status, AgentStatus::Done);
        assert_eq!(a.last_line, "hello");
        assert_eq!(a.bytes_received, 6);
        assert_eq!(s.totals.input_tokens, 5);
        assert_eq!(s.per_provider["shell"].cost_micros, 3);
        assert_eq!(s.per_agent["engineer"].output_tokens, 7);
        assert!(
            s.log
                .iter()
                .any(|l| l == "engineer: 5 tokens in, 7 out, <$0.0001")
        );
        assert_eq!(s.log.len(), 3);
    }

    #[test]
    fn the_log_is_bounded() {
        let mut s = RunState::default();
        for i in 0..(LOG_CAPACITY + 10) {
            s.apply(&Event::Warning {
                message: i.to_string(),
            });
        }
        assert_eq!(s.log.len(), LOG_CAPACITY);
        assert_eq!(s.log.front().unwrap(), "warning: 10");
    }
}
