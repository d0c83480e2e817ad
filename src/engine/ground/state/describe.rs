//! One readable log line per event, shared by the fold's log, the headless printer and the
//! dashboard. Pure text: events too fine-grained to log (output lines, heartbeats that say
//! nothing new) give None.

use crate::engine::ground::events::{Decision, Event};
use crate::engine::ground::pricing::{CostBasis, format_usd};

use super::text::{clock, sha7, short};

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
        Event::AgentOutput { .. } | Event::WorktreeRemoved { .. } => return None,
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
        Event::CommandStarted { agent, command, .. } => {
            format!("{agent}: $ {}", short(command, 80))
        }
        Event::CommandFinished {
            agent,
            command,
            exit_code,
            timed_out,
            elapsed_ms,
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
            format!(
                "{agent}: `{}` ended: {how} after {:.1}s",
                short(command, 40),
                *elapsed_ms as f64 / 1000.0
            )
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
        Event::Gauntlet {
            stage,
            step,
            round,
            max_rounds,
            message,
            ..
        } => {
            let at = (*round > 0).then(|| format!(" {round}/{max_rounds}"));
            let at = at.unwrap_or_default();
            format!("gauntlet {stage} {step}{at}: {}", short(message, 100))
        }
        // Some questions (the budget's) already end in the choice: say it once.
        Event::ConfirmRequested { question, .. } if question.trim_end().ends_with("(y/N)") => {
            format!("question: {}", question.trim_end())
        }
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
            "stop requested: the current model call finishes, then the work stops".to_string()
        }
        Event::Queued { what, position, .. } => format!(
            "queued, starts after the current step: {what} (#{position}; /queue lists, \
             /queue drop {position} removes it)"
        ),
        Event::QueueStarted { what, .. } => format!("starting queued work: {what}"),
        Event::QueueDropped { what, .. } => format!("dropped from the queue: {what}"),
        Event::ProviderSwitched {
            name,
            usable,
            reason,
        } => {
            if *usable && !reason.is_empty() {
                format!("provider is now {name} (reachable; {reason})")
            } else if *usable {
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
        Event::WorktreeCreated { branch, path, .. } => {
            format!("agents work on branch {branch} in their own worktree ({path})")
        }
        Event::MergeDone {
            branch, how, files, ..
        } => format!(
            "merged {branch} into your branch ({how}): {}",
            if files.is_empty() {
                "no file changed".to_string()
            } else {
                short(&files.join(", "), 200)
            }
        ),
        Event::MergeWaiting {
            branch,
            reason,
            todo,
        } => format!("{branch} is not merged: {reason}; {todo}"),
        Event::RunLeftover { branch, path, .. } => format!(
            "a run that did not finish left branch {branch} ({path}); run `clk merge` to take \
             its work or `clk merge --discard` to drop it"
        ),
        Event::FilesChanging { .. } => return None,
        Event::TodosUpdated { .. } | Event::Delegated { .. } | Event::MissionStep { .. } => {
            return super::work_words::describe(ev);
        }
        Event::SettingsReloaded { files } => {
            format!("settings reloaded: {}", short(&files.join(", "), 200))
        }
        Event::SettingsRejected { file, line, error } => format!(
            "{file}{}: {error}; the settings before this edit stay in force",
            line.map(|l| format!(" line {l}")).unwrap_or_default()
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
