//! Folding one engine event into the dashboard's state (part of the reducer).
//!
//! The engine-wide picture (agents, totals, files) comes from `RunState::apply`, the same
//! fold every front end uses; this adds what only the screen needs: cards as the chief casts,
//! the phase, questions waiting for an answer, and the facts the hint bar reads. Log lines
//! come from `describe`, so the dashboard and headless output always say the same thing.

use super::fold_lines::{event_agent, is_detail, level, said, summarize, summarized};
use super::log::Level;
use super::state::{AppState, ErrorHint, Pending, Retry};
use crate::engine::ground::events::{Event, Stream};
use crate::engine::ground::state::describe;

/// Fold `ev` into `s`.
pub fn event(s: &mut AppState, ev: &Event) {
    // The tutorial runs in a scratch project: its tokens and files are not this project's.
    let kept = s
        .tutorial_running
        .then(|| (s.run.totals.clone(), s.run.files_written.clone()));
    s.run.apply(ev);
    if let Some((totals, files)) = kept {
        s.run.totals = totals;
        s.run.files_written = files;
    }
    // A dispatch's lines share a group: the seq of its first line.
    let group = s.log.next_seq();
    // A command that printed its own answer (/status, /roles, /doctor) needs no "finished"
    // line after it.
    let echo = (matches!(ev, Event::TaskFinished { ok: true, .. }) && s.reported)
        // A finished dispatch says how it went in its one summary line.
        || summarized(s, ev);
    match ev {
        // The sample run stops at its cycle cap on purpose: no alarm about work not done.
        Event::RunFinished { .. } if s.tutorial_running => {
            s.note(Level::Info, "tutorial: the sample run is over");
        }
        Event::TutorialFinished { ok: true, scratch } => {
            s.note(
                Level::Info,
                &format!(
                    "tutorial done: that is how a run goes. Its scratch project is in {scratch}; \
                     type your own idea to start."
                ),
            );
        }
        _ => {
            if let Some(text) = describe(ev).filter(|_| !echo) {
                // The prompt's first line whole: the log wraps it to the screen's width.
                let text = match ev {
                    Event::DispatchStarted {
                        agent,
                        stage,
                        provider,
                        objective,
                        ..
                    } => objective
                        .lines()
                        .map(str::trim)
                        .find(|l| !l.is_empty())
                        .map(|first| {
                            let stage = stage.as_ref().map(|s| format!(" [{s}]"));
                            format!("{agent}{} → {provider}: {first}", stage.unwrap_or_default())
                        })
                        .unwrap_or(text),
                    _ => text,
                };
                if is_detail(ev) {
                    let group = match ev {
                        Event::DispatchStarted { .. } => Some(group),
                        _ => event_agent(ev).and_then(|a| {
                            s.dispatch_lines
                                .get(a)
                                .map(|d| d.group)
                                .or_else(|| s.last_group.get(a).copied())
                        }),
                    };
                    for line in text.lines() {
                        s.log.push_detail(level(ev), s.tod_secs, line, group);
                    }
                } else {
                    s.note(level(ev), &text);
                }
            }
        }
    }
    summarize(s, ev, group);
    said(s, ev);
    match ev {
        Event::Report { .. } => s.reported = true,
        Event::TaskFinished { .. } => s.reported = false,
        _ => {}
    }
    match ev {
        Event::DispatchStarted {
            agent,
            provider,
            stage,
            ..
        } => {
            if stage.is_some() {
                s.dispatch_stage = stage.clone();
            }
            s.ensure_card(agent, "");
            s.working_since.insert(agent.clone(), s.now_ms);
            s.silent_ms.remove(agent);
            s.retrying.remove(agent);
            s.aborted_agents.remove(agent);
            s.reply_flow.remove(agent);
            s.agent_provider.insert(agent.clone(), provider.clone());
        }
        Event::AgentOutput {
            agent,
            stream,
            line,
            ..
        } => {
            s.silent_ms.insert(agent.clone(), 0);
            s.retrying.remove(agent);
            if *stream == Stream::Stdout {
                let f = s.reply_flow.entry(agent.clone()).or_default();
                f.0 = f.0.saturating_add(1);
                f.1 = f.1.saturating_add(line.len() as u64 + 1);
            }
        }
        Event::ProviderRetry {
            agent,
            attempt,
            max_attempts,
            delay_ms,
            ..
        } => {
            s.retrying.insert(
                agent.clone(),
                Retry {
                    attempt: *attempt,
                    max_attempts: *max_attempts,
                    next_at_ms: s.now_ms.saturating_add(*delay_ms),
                },
            );
            s.reply_flow.remove(agent);
        }
        Event::UsageRecorded {
            agent,
            usage,
            cost_micros,
            ..
        } => {
            let e = s.agent_spend.entry(agent.clone()).or_default();
            e.0 =
                e.0.saturating_add(usage.input_tokens)
                    .saturating_add(usage.output_tokens);
            e.1 = e.1.saturating_add(*cost_micros);
        }
        Event::Heartbeat {
            agent, silent_ms, ..
        } => {
            s.silent_ms.insert(agent.clone(), *silent_ms);
        }
        Event::DispatchFinished {
            agent,
            ok,
            error_kind,
            elapsed_ms,
            ..
        } => {
            s.working_since.remove(agent);
            s.last_run_ms.insert(agent.clone(), *elapsed_ms);
            s.silent_ms.remove(agent);
            s.retrying.remove(agent);
            s.reply_flow.remove(agent);
            let kind = error_kind.as_deref().unwrap_or("");
            s.aborted |= kind == "cancelled";
            if kind == "cancelled" {
                s.aborted_agents.insert(agent.clone());
            }
            if *ok {
                s.error_hint = None;
            } else if matches!(kind, "not_found" | "auth" | "timeout" | "retryable") {
                s.error_hint = Some(ErrorHint {
                    provider: s
                        .agent_provider
                        .get(agent)
                        .cloned()
                        .unwrap_or_else(|| s.provider.clone()),
                    kind: kind.to_string(),
                });
            }
        }
        Event::Committed { agent, sha, .. } => {
            s.last_commit.insert(agent.clone(), sha.clone());
        }
        Event::IdeaCaptured { title } => {
            s.idea = Some(title.clone());
            s.show_welcome = false;
        }
        Event::RoleDecided {
            by, name, decision, ..
        } => match decision.as_str() {
            "added" | "updated" => s.ensure_card(name, &format!("cast by {by}")),
            "removed" => s.remove_card(name),
            _ => {}
        },
        // Stages of one batch run at once: the title names each running one.
        Event::StageStarted {
            workflow, stage, ..
        } => {
            let this = format!("{workflow}/{stage}");
            s.stage = Some(match s.stage.take() {
                Some(cur) if !cur.split(" + ").any(|r| r == this) => format!("{cur} + {this}"),
                _ => this,
            });
        }
        Event::StageFinished {
            workflow, stage, ..
        } => {
            let this = format!("{workflow}/{stage}");
            let left: Vec<String> = s
                .stage
                .take()
                .unwrap_or_default()
                .split(" + ")
                .filter(|r| !r.is_empty() && *r != this)
                .map(str::to_string)
                .collect();
            s.stage = (!left.is_empty()).then(|| left.join(" + "));
        }
        Event::RunFinished { .. } => {
            s.stage = None;
            s.work_finished = true;
        }
        Event::ConfirmRequested {
            id,
            question,
            about,
        } => {
            // Questions queue behind a quit prompt the user is looking at.
            s.pending.push_back(Pending::Engine {
                id: *id,
                question: question.clone(),
                about: about.clone(),
            });
        }
        Event::ConfirmAnswered { id, .. } => s
            .pending
            .retain(|p| !matches!(p, Pending::Engine { id: q, .. } if q == id)),
        Event::StopRequested => s.stop_requested = true,
        Event::BudgetStopped { reason, .. } => s.budget_stop = Some(reason.clone()),
        Event::ProviderSwitched { name, .. } => {
            s.provider = name.clone();
            s.error_hint = None;
        }
        Event::TutorialFinished { .. } => {
            s.tutorial_running = false;
            s.show_welcome = false;
        }
        Event::TaskFinished {
            task_id,
            task,
            ok,
            summary,
        } => {
            s.tasks.remove(task_id);
            if task == "task" {
                super::tasks::finished(s, *ok, summary);
            }
            if !s.aborted
                && (task.starts_with("run")
                    || task.ends_with("loop")
                    || task.starts_with("message")
                    || task.starts_with("plan"))
            {
                s.work_finished = true;
            }
            if s.tasks.is_empty() {
                s.stop_requested = false;
                s.tutorial_running = false;
                s.stage = None;
                s.dispatch_stage = None;
                s.working_since.clear();
            }
        }
        Event::WorkspaceInitialized { .. }
        | Event::ProcessStarted { .. }
        | Event::BudgetReached { .. }
        | Event::BudgetOverrideApproved { .. }
        | Event::MalformedBlock { .. }
        | Event::Action { .. }
        | Event::CommandStarted { .. }
        | Event::CommandFinished { .. }
        | Event::BatchWarning { .. }
        | Event::DoneRequested { .. }
        | Event::PostAdded { .. }
        | Event::UserChangesKept { .. }
        | Event::Warning { .. }
        | Event::WorkflowProposed { .. }
        | Event::ValidationRan { .. }
        | Event::ChangesUndone { .. }
        | Event::CycleFinished { .. }
        | Event::DoneGate { .. }
        | Event::Report { .. }
        | Event::Queued { .. }
        | Event::QueueStarted { .. }
        | Event::QueueDropped { .. }
        | Event::Undone { .. }
        | Event::QualityRetry { .. }
        | Event::ReplyRefused { .. }
        | Event::ConsensusStarted { .. }
        | Event::ConsensusSampleFinished { .. }
        | Event::ConsensusCoalesced { .. }
        | Event::RefineRound { .. }
        | Event::CheckpointVerdict { .. }
        | Event::StageRetry { .. }
        | Event::WorktreeCreated { .. }
        | Event::WorktreeRemoved { .. }
        | Event::MergeDone { .. }
        | Event::MergeWaiting { .. }
        | Event::RunLeftover { .. }
        | Event::SettingsReloaded { .. }
        | Event::SettingsRejected { .. }
        | Event::FilesChanging { .. }
        | Event::LoopSteered { .. }
        | Event::TodosUpdated { .. }
        | Event::Delegated { .. }
        | Event::MissionStep { .. }
        | Event::Gauntlet { .. } => {}
    }
}
