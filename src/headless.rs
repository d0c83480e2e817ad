//! The headless front end: prints the event stream as readable lines (or JSON lines) and folds
//! it into the same `RunState` the dashboard uses, for the closing summary.

use tokio::sync::broadcast::error::RecvError;
use tokio::task::JoinHandle;

use crate::engine::ground::events::Event;
use crate::engine::ground::state::{RunState, describe};
use crate::engine::store::bus::Bus;

/// How events are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Human,
    Json,
}

/// A running printer; `finish` waits until it has printed everything and returns the state.
pub struct Printer {
    handle: JoinHandle<RunState>,
}

/// One line for an event in human form. Live output lines are shown indented under the agent.
pub fn human_line(ev: &Event) -> Option<String> {
    match ev {
        Event::AgentOutput { agent, line, .. } => Some(format!("  {agent} │ {line}")),
        other => describe(other),
    }
}

impl Printer {
    /// Subscribe to `bus` now (so no event is missed) and print until every sender is gone.
    pub fn start(bus: &Bus, format: Format) -> Printer {
        let mut rx = bus.subscribe();
        let handle = tokio::spawn(async move {
            let mut state = RunState::default();
            loop {
                match rx.recv().await {
                    Ok(ev) => {
                        state.apply(&ev);
                        match format {
                            Format::Json => {
                                if let Ok(s) = serde_json::to_string(&ev) {
                                    println!("{s}");
                                }
                            }
                            Format::Human => {
                                if let Some(l) = human_line(&ev) {
                                    println!("{l}");
                                }
                            }
                        }
                    }
                    Err(RecvError::Lagged(n)) => {
                        if format == Format::Human {
                            println!("({n} events not shown: output was too fast)");
                        }
                    }
                    Err(RecvError::Closed) => break,
                }
            }
            state
        });
        Printer { handle }
    }

    /// Wait for the stream to close (drop every `Bus` clone first) and return the folded state.
    pub async fn finish(self) -> RunState {
        self.handle.await.unwrap_or_default()
    }
}

/// A short closing summary.
pub fn summary(state: &RunState) -> String {
    let mut parts = vec![format!(
        "{} tokens ({} in, {} out{})",
        state
            .totals
            .input_tokens
            .saturating_add(state.totals.output_tokens),
        state.totals.input_tokens,
        state.totals.output_tokens,
        if state.totals.estimated {
            ", estimated"
        } else {
            ""
        }
    )];
    let t = &state.totals;
    if t.cost_micros > 0 || t.cost_unknown {
        let money = crate::engine::ground::pricing::format_usd(t.cost_micros);
        parts.push(match (t.cost_micros, t.cost_unknown) {
            (0, true) => "cost unknown".to_string(),
            (_, true) => format!("{money} + calls at unknown price"),
            (_, false) if t.estimated => format!("{money} (estimated)"),
            (_, false) => money,
        });
    }
    parts.push(format!("{} file(s) changed", state.files_written.len()));
    parts.push(format!("{} commit(s)", state.commits.len()));
    if state.actions_refused > 0 {
        parts.push(format!("{} action(s) refused", state.actions_refused));
    }
    let r = &state.robustness;
    for (n, what) in [
        (r.quality_retries, "quality repair(s)"),
        (r.consensus_runs, "consensus run(s)"),
        (r.refine_rounds, "critic review(s)"),
        (r.gauntlet_steps, "gauntlet step(s)"),
        (r.stage_retries, "stage retry(ies)"),
        (r.refusals, "refusal(s)"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {what}"));
        }
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::ground::events::Event;

    #[test]
    fn the_summary_counts_what_the_robustness_loops_spent() {
        let mut state = RunState::default();
        assert!(!summary(&state).contains("repair"));
        state.apply(&Event::QualityRetry {
            agent: "engineer".into(),
            run_id: "r1".into(),
            attempt: 1,
            max_retries: 2,
            score: 0.4,
            reasons: vec!["the reply is empty".into()],
        });
        state.apply(&Event::ConsensusStarted {
            agent: "engineer".into(),
            name: "auto_engineer".into(),
            trigger: "careful".into(),
            samples: 6,
            max_parallel: 4,
        });
        let s = summary(&state);
        assert!(s.contains("1 quality repair(s), 1 consensus run(s)"), "{s}");
    }
}
