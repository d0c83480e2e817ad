//! How an event lands in the dashboard's log: how loud its line is, which dispatch steps fold
//! under a one-line summary, and that summary (`engineer · implement · shell · 1.6k tok · …`);
//! and what a done card says the call came to.

use super::log::Level;
use super::state::{AppState, DispatchLine};
use crate::engine::ground::events::{Decision, Event};

/// How loud an event's log line is.
pub fn level(ev: &Event) -> Level {
    match ev {
        Event::DispatchFinished {
            ok: false,
            error_kind,
            ..
        } => {
            if error_kind.as_deref() == Some("cancelled") {
                Level::Warn
            } else {
                Level::Error
            }
        }
        Event::TaskFinished { ok: false, .. } | Event::StageFinished { ok: false, .. } => {
            Level::Error
        }
        Event::RunFinished { outcome, .. } => match outcome.as_str() {
            "done" | "dry_run" => Level::Info,
            _ => Level::Warn,
        },
        Event::Action { decision, .. } => match decision {
            Decision::Applied => Level::Info,
            Decision::Skipped | Decision::Rejected => Level::Warn,
        },
        Event::Heartbeat { silent_ms, .. } if *silent_ms >= 120_000 => Level::Warn,
        Event::ProviderSwitched { usable: false, .. } => Level::Warn,
        Event::TutorialFinished { ok: false, .. } => Level::Warn,
        Event::BudgetStopped { .. } => Level::Error,
        Event::Gauntlet { ok: false, .. } => Level::Warn,
        Event::BudgetReached { .. }
        | Event::BudgetOverrideApproved { .. }
        | Event::Warning { .. }
        | Event::BatchWarning { .. }
        | Event::MalformedBlock { .. }
        | Event::ProviderRetry { .. }
        | Event::ChangesUndone { .. }
        | Event::UserChangesKept { .. }
        | Event::ConfirmRequested { .. }
        | Event::QualityRetry { .. }
        | Event::ReplyRefused { .. }
        | Event::StageRetry { .. }
        | Event::MergeWaiting { .. }
        | Event::SettingsRejected { .. }
        | Event::RunLeftover { .. }
        | Event::Delegated {
            dispatched: false, ..
        } => Level::Warn,
        Event::WorkspaceInitialized { .. }
        | Event::SettingsReloaded { .. }
        | Event::FilesChanging { .. }
        | Event::IdeaCaptured { .. }
        | Event::DispatchStarted { .. }
        | Event::ProcessStarted { .. }
        | Event::AgentOutput { .. }
        | Event::DispatchFinished { ok: true, .. }
        | Event::UsageRecorded { .. }
        | Event::CommandStarted { .. }
        | Event::CommandFinished { .. }
        | Event::DoneRequested { .. }
        | Event::PostAdded { .. }
        | Event::Committed { .. }
        | Event::RoleDecided { .. }
        | Event::WorkflowProposed { .. }
        | Event::StageStarted { .. }
        | Event::ValidationRan { .. }
        | Event::StageFinished { ok: true, .. }
        | Event::CycleFinished { .. }
        | Event::DoneGate { .. }
        | Event::ConfirmAnswered { .. }
        | Event::Report { .. }
        | Event::Heartbeat { .. }
        | Event::StopRequested
        | Event::Queued { .. }
        | Event::QueueStarted { .. }
        | Event::QueueDropped { .. }
        | Event::ProviderSwitched { usable: true, .. }
        | Event::Undone { .. }
        | Event::TutorialFinished { ok: true, .. }
        | Event::TaskFinished { ok: true, .. }
        | Event::ConsensusStarted { .. }
        | Event::ConsensusSampleFinished { .. }
        | Event::ConsensusCoalesced { .. }
        | Event::RefineRound { .. }
        | Event::CheckpointVerdict { .. }
        | Event::LoopSteered { .. }
        | Event::TodosUpdated { .. }
        | Event::Delegated {
            dispatched: true, ..
        }
        | Event::MissionStep { .. }
        | Event::Gauntlet { ok: true, .. }
        | Event::WorktreeCreated { .. }
        | Event::WorktreeRemoved { .. }
        | Event::MergeDone { .. } => Level::Info,
    }
}

/// A step inside a dispatch, folded under its summary line unless the log is verbose.
pub fn is_detail(ev: &Event) -> bool {
    matches!(
        ev,
        Event::DispatchStarted { .. }
            | Event::ProcessStarted { .. }
            | Event::UsageRecorded { .. }
            | Event::DispatchFinished { ok: true, .. }
            | Event::Action {
                decision: Decision::Applied,
                ..
            }
    ) || matches!(ev, Event::Heartbeat { silent_ms, .. } if *silent_ms < 120_000)
}

/// Whether `ev` is a failed dispatch whose summary line will say why (so the event's own
/// "failed" line is not needed; a good one's "replied" line stays as a folded step).
pub fn summarized(s: &AppState, ev: &Event) -> bool {
    matches!(ev, Event::DispatchFinished { agent, ok: false, .. } if s.dispatch_lines.contains_key(agent))
}

/// The agent a dispatch step is about.
pub fn event_agent(ev: &Event) -> Option<&str> {
    match ev {
        Event::DispatchStarted { agent, .. }
        | Event::ProcessStarted { agent, .. }
        | Event::UsageRecorded { agent, .. }
        | Event::DispatchFinished { agent, .. }
        | Event::Action { agent, .. }
        | Event::Heartbeat { agent, .. } => Some(agent),
        _ => None,
    }
}

/// Keep what a dispatch's summary needs, and write the summary when it finishes:
/// `engineer · implement · shell · 1.6k tok · $0.00 · 0.1s · ok` (the commit line that
/// follows names the files), or `… · failed: <reason>`, or `… · aborted by you`.
pub fn summarize(s: &mut AppState, ev: &Event, group: u64) {
    match ev {
        Event::DispatchStarted {
            agent,
            stage,
            provider,
            ..
        } => {
            s.dispatch_lines.insert(
                agent.clone(),
                DispatchLine {
                    group,
                    stage: stage.clone(),
                    provider: provider.clone(),
                    ..DispatchLine::default()
                },
            );
        }
        Event::UsageRecorded {
            agent,
            usage,
            cost_micros,
            ..
        } => {
            if let Some(d) = s.dispatch_lines.get_mut(agent) {
                d.tokens += usage.input_tokens + usage.output_tokens;
                d.cost_micros += cost_micros;
            }
        }
        Event::DispatchFinished {
            agent,
            ok,
            error,
            error_kind,
            elapsed_ms,
            ..
        } => {
            let Some(d) = s.dispatch_lines.remove(agent) else {
                return;
            };
            s.last_group.insert(agent.clone(), d.group);
            let outcome = match (ok, error_kind.as_deref()) {
                (true, _) => "ok".to_string(),
                (false, Some("cancelled")) => "aborted by you".to_string(),
                (false, _) => format!(
                    "failed: {}",
                    error
                        .as_deref()
                        .map(str::trim)
                        .filter(|e| !e.is_empty())
                        .unwrap_or("unknown error")
                ),
            };
            let mut line = agent.to_string();
            if let Some(stage) = &d.stage {
                line.push_str(&format!(" · {stage}"));
            }
            line.push_str(&format!(
                " · {} · {} tok · {} · {} · {outcome}",
                d.provider,
                super::fmt::tokens(d.tokens),
                super::fmt::usd(d.cost_micros),
                super::fmt::seconds_ms(*elapsed_ms)
            ));
            s.log.push_summary(level(ev), s.tod_secs, &line, d.group);
        }
        _ => {}
    }
}

/// What an agent's last call came to, as its done card shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Said {
    /// The commit's subject, or the reply's last line of prose.
    pub text: String,
    /// Inside an ACTION block (file content, not something the agent said).
    in_action: bool,
    committed: bool,
}

/// A line a person would call the agent's words: not a protocol line (`CONFIDENCE: 0.9`,
/// `PROGRESS: yes`, `END_ACTION`), not a CLI's JSON event, not a code fence.
fn is_prose(line: &str) -> bool {
    let keyword = line.split_once(':').is_some_and(|(k, _)| {
        !k.is_empty() && k.chars().all(|c| c.is_ascii_uppercase() || c == '_')
    });
    !line.is_empty()
        && !keyword
        && line != "END_ACTION"
        && !line.starts_with(['{', '[', '`'])
        && line.chars().any(char::is_alphabetic)
}

/// Keep what a done card says: a new call starts empty, reply lines of prose replace each
/// other, and a commit's subject (what changed) wins over them.
pub fn said(s: &mut AppState, ev: &Event) {
    match ev {
        Event::DispatchStarted { agent, .. } => {
            s.said.insert(agent.clone(), Said::default());
        }
        Event::AgentOutput {
            agent,
            stream: crate::engine::ground::events::Stream::Stdout,
            line,
            ..
        } => {
            let said = s.said.entry(agent.clone()).or_default();
            let line = line.trim();
            if line.starts_with("ACTION:") {
                said.in_action = true;
            } else if line == "END_ACTION" {
                said.in_action = false;
            } else if !said.in_action && !said.committed && is_prose(line) {
                said.text = line.to_string();
            }
        }
        Event::Committed { agent, subject, .. } => {
            let what = subject
                .strip_prefix(&format!("[{agent}] "))
                .unwrap_or(subject);
            let said = s.said.entry(agent.clone()).or_default();
            said.text = format!("committed: {what}");
            said.committed = true;
        }
        _ => {}
    }
}
