//! Plateau detection for the improvement loops: pure decisions, no IO.
//!
//! [`assess`] reads the recent outcomes (true = the iteration improved the project) and names
//! the trend; [`PlateauGuard`] turns a sequence of trends into what the loop should do next.
//! The ladder is fixed: a first plateau escalates (the next iteration is dispatched as careful),
//! a second consecutive one asks the chief to reframe the approach, a third stops the loop with
//! reason "plateau". A regression (the last iteration failed after an earlier one in the window
//! improved) resets the ladder and asks for a critique of what failed. Invariants: both
//! functions are total — any history and any window give an answer, never a panic — and the
//! guard never stops the loop without having escalated and reframed first.

/// The smallest window that can tell a plateau from a single bad iteration.
pub const MIN_WINDOW: usize = 2;

/// Where the recent outcomes are heading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trend {
    /// Too few outcomes to judge, or the last one improved.
    Improving,
    /// Nothing improved in the last `window` iterations.
    Plateau,
    /// The last iteration did not improve, but an earlier one in the window did.
    Regressing,
}

/// The window actually used: a configured window below [`MIN_WINDOW`] is raised to it.
pub fn effective_window(plateau_window: u32) -> usize {
    (plateau_window as usize).max(MIN_WINDOW)
}

/// The trend of `history` (oldest first) over the last `window` outcomes.
pub fn assess(history: &[bool], window: usize) -> Trend {
    let window = window.max(MIN_WINDOW);
    if history.len() < window {
        return Trend::Improving;
    }
    let recent = &history[history.len() - window..];
    let last_improved = recent.last().copied().unwrap_or(true);
    if !recent.iter().any(|&b| b) {
        Trend::Plateau
    } else if !last_improved {
        Trend::Regressing
    } else {
        Trend::Improving
    }
}

/// What the loop does after an iteration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Carry on as before.
    Continue,
    /// First plateau: dispatch the next iteration as careful.
    Escalate,
    /// Second consecutive plateau: the chief re-casts roles or rewrites the workflow.
    Reframe,
    /// Third consecutive plateau: stop with reason "plateau".
    Stop,
    /// A regression: the critic critiques the failing change before the next plan.
    Critique,
}

/// Counts consecutive plateau verdicts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlateauGuard {
    streak: u32,
}

impl PlateauGuard {
    pub fn new() -> PlateauGuard {
        PlateauGuard::default()
    }

    /// Consecutive plateau verdicts so far; while above zero the loop works carefully.
    pub fn streak(&self) -> u32 {
        self.streak
    }

    /// Fold one trend in and say what to do.
    pub fn next(&mut self, trend: Trend) -> Step {
        match trend {
            Trend::Improving => {
                self.streak = 0;
                Step::Continue
            }
            Trend::Regressing => {
                self.streak = 0;
                Step::Critique
            }
            Trend::Plateau => {
                self.streak = self.streak.saturating_add(1);
                match self.streak {
                    1 => Step::Escalate,
                    2 => Step::Reframe,
                    _ => Step::Stop,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn too_few_outcomes_count_as_improving() {
        assert_eq!(assess(&[], 3), Trend::Improving);
        assert_eq!(assess(&[false, false], 3), Trend::Improving);
    }

    #[test]
    fn nothing_improved_in_the_window_is_a_plateau() {
        assert_eq!(assess(&[false, false, false], 3), Trend::Plateau);
        // An old success outside the window does not count.
        assert_eq!(assess(&[true, false, false, false], 3), Trend::Plateau);
    }

    #[test]
    fn a_late_failure_after_an_improvement_is_a_regression() {
        assert_eq!(assess(&[true, false, false], 3), Trend::Regressing);
        assert_eq!(assess(&[false, true, false], 3), Trend::Regressing);
    }

    #[test]
    fn a_last_improvement_is_improving() {
        assert_eq!(assess(&[false, false, true], 3), Trend::Improving);
        assert_eq!(assess(&[true, true, true], 3), Trend::Improving);
    }

    #[test]
    fn the_window_is_at_least_two() {
        assert_eq!(effective_window(0), 2);
        assert_eq!(effective_window(1), 2);
        assert_eq!(effective_window(5), 5);
        // A window of 0 or 1 passed straight in is raised too: one failure is not a plateau.
        assert_eq!(assess(&[false], 0), Trend::Improving);
        assert_eq!(assess(&[false, false], 1), Trend::Plateau);
        assert_eq!(assess(&[true, false], 1), Trend::Regressing);
    }

    #[test]
    fn the_guard_escalates_then_reframes_then_stops() {
        let mut g = PlateauGuard::new();
        assert_eq!(g.next(Trend::Plateau), Step::Escalate);
        assert_eq!(g.streak(), 1);
        assert_eq!(g.next(Trend::Plateau), Step::Reframe);
        assert_eq!(g.next(Trend::Plateau), Step::Stop);
        assert_eq!(g.next(Trend::Plateau), Step::Stop);
    }

    #[test]
    fn improving_and_regressing_reset_the_ladder() {
        let mut g = PlateauGuard::new();
        assert_eq!(g.next(Trend::Plateau), Step::Escalate);
        assert_eq!(g.next(Trend::Improving), Step::Continue);
        assert_eq!(g.streak(), 0);
        assert_eq!(g.next(Trend::Plateau), Step::Escalate);
        assert_eq!(g.next(Trend::Regressing), Step::Critique);
        assert_eq!(g.streak(), 0);
        assert_eq!(g.next(Trend::Plateau), Step::Escalate);
    }

    #[test]
    fn a_never_improving_history_stops_after_window_plus_two() {
        let window = effective_window(3);
        let mut g = PlateauGuard::new();
        let mut history = Vec::new();
        let mut steps = Vec::new();
        for _ in 0..10 {
            history.push(false);
            let step = g.next(assess(&history, window));
            steps.push(step);
            if step == Step::Stop {
                break;
            }
        }
        assert_eq!(
            steps,
            vec![
                Step::Continue,
                Step::Continue,
                Step::Escalate,
                Step::Reframe,
                Step::Stop
            ]
        );
    }
}
