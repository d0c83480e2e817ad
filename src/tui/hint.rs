//! The hint bar's text: the next useful move for the current state, first match wins.

use super::state::{AppState, Pending};
use crate::engine::ground::state::AgentStatus;

/// The one line above the input: the next useful move for the current state.
pub fn hint(s: &AppState) -> String {
    if let Some(p) = s.pending.front() {
        return match p {
            Pending::Engine { .. } => "answer above: y for yes, any other key for no".into(),
            Pending::Quit { .. } => "y to quit, any other key to stay".into(),
            Pending::Task { .. } => "y to go ahead, any other key leaves the task as it is".into(),
            Pending::Setup { .. } => {
                "y sets clk up here · t sets up and starts the free tutorial · any other key leaves"
                    .into()
            }
        };
    }
    if s.help_open {
        return "↑/↓ scroll · any other key closes help".into();
    }
    if let Some(ctx) = super::nav::context(s) {
        return super::keymap::hint(ctx);
    }
    if s.engine_gone {
        return "the engine stopped — /quit to leave".into();
    }
    if s.tutorial_running {
        return "tutorial running — watch the cards fill in; it costs nothing".into();
    }
    let silent: Option<(&String, &u64)> = s
        .silent_ms
        .iter()
        .filter(|(a, _)| s.status(a) == AgentStatus::Working)
        .max_by_key(|(_, ms)| **ms);
    if let Some((agent, ms)) = silent
        && *ms >= 120_000
    {
        return format!(
            "{agent} has been silent for {} — /abort kills it",
            super::fmt::duration_ms(*ms)
        );
    }
    if s.stop_requested && s.busy() {
        return "stop requested — the work ends after the current step (/abort stops now)".into();
    }
    if s.busy() {
        return "agents are working — /stop after this step, /abort to kill it now".into();
    }
    if let Some(reason) = &s.budget_stop {
        return reason.clone();
    }
    if s.aborted {
        return "stopped — type a message to carry on, or /run to try again".into();
    }
    // The run's work is not in the user's folder until they act: that comes first.
    if let Some(waiting) = &s.run.merge_waiting {
        return format!("merge waits (/merge when ready, /merge discard drops it): {waiting}");
    }
    let waiting = s.board.waiting_approval();
    if waiting > 0 {
        let tasks = if waiting == 1 {
            "task waits"
        } else {
            "tasks wait"
        };
        return format!("⏸ {waiting} {tasks} for your approval — F2 shows the tasks (a approves)");
    }
    if let Some(e) = &s.error_hint {
        let p = &e.provider;
        return match e.kind.as_str() {
            "not_found" => {
                format!("{p} CLI or model not found — install it, or /provider <other>")
            }
            "auth" => format!("{p} refused the login — check its key, or /provider <other>"),
            "timeout" => format!("{p} stalled — /doctor checks it, or /provider <other>"),
            _ => format!("{p} is busy or unreachable — wait and retry, or /provider <other>"),
        };
    }
    if s.idea.is_none() {
        return "type your idea, or /tutorial for a free sample run, or /help".into();
    }
    if s.work_finished {
        return "next: /loop ralph 5 to refine, /undo to revert, or type a follow-up".into();
    }
    "type a message to continue, or /help for commands".into()
}
