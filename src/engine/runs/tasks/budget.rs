//! The daily budgets of the task queue (`budget.daily.tasks`, `.turns`, `.usd`): whether a task
//! may start, or take another turn, today. A task that would cross one waits (held, with the
//! limit named) instead of failing; it goes on the next day or when the limit is raised.

use crate::engine::ground::config::DailyBudget;
use crate::engine::ground::pricing::{cap_micros, format_usd};
use crate::engine::store::tasks::DayUsage;

/// Why nothing more may start today, or None. `starting` also checks the task limit.
pub fn blocked(limits: &DailyBudget, used: &DayUsage, starting: bool) -> Option<String> {
    let tail = "; it goes on tomorrow (UTC) or when you raise it";
    if starting && limits.tasks > 0 && used.tasks_started >= limits.tasks {
        return Some(format!(
            "waits for the daily budget: {} of budget.daily.tasks = {} tasks started today{tail}",
            used.tasks_started, limits.tasks
        ));
    }
    if limits.turns > 0 && used.turns >= limits.turns {
        return Some(format!(
            "waits for the daily budget: {} of budget.daily.turns = {} turns taken today{tail}",
            used.turns, limits.turns
        ));
    }
    let usd = cap_micros(limits.usd);
    if usd == 0 {
        return None;
    }
    if used.cost_micros >= usd {
        return Some(format!(
            "waits for the daily budget: {} of budget.daily.usd = {} spent today{tail}",
            format_usd(used.cost_micros),
            format_usd(usd)
        ));
    }
    // A turn holds what it may cost until its real cost is known, so workers racing for the
    // last dollars never pass the limit together.
    match used.next_turn_micros {
        Some(est) if used.cost_micros + used.reserved_micros + est > usd => Some(format!(
            "waits for the daily budget: {} spent and {} held by running turns of budget.daily.usd = {}, and a turn may cost {} (the largest lately){tail}",
            format_usd(used.cost_micros),
            format_usd(used.reserved_micros),
            format_usd(usd),
            format_usd(est)
        )),
        None if used.reserved_turns > 0 => Some(
            "waits for the turn running now: under budget.daily.usd one turn runs at a time until one shows what a turn costs"
                .into(),
        ),
        _ => None,
    }
}

/// `clk budget`'s lines for the daily limits.
pub fn lines(limits: &DailyBudget, used: &DayUsage, day: &str) -> Vec<String> {
    let of = |n: String, cap: String| {
        if cap == "0" || cap == "$0.00" {
            format!("{n} (no limit)")
        } else {
            format!("{n} of {cap}")
        }
    };
    vec![
        format!("Today     {day} (UTC), the task queue:"),
        format!(
            "  {:<34} {}",
            "budget.daily.tasks",
            of(used.tasks_started.to_string(), limits.tasks.to_string())
        ),
        format!(
            "  {:<34} {}",
            "budget.daily.turns",
            of(used.turns.to_string(), limits.turns.to_string())
        ),
        format!(
            "  {:<34} {}{}",
            "budget.daily.usd",
            of(
                format_usd(used.cost_micros),
                format_usd(cap_micros(limits.usd))
            ),
            if used.reserved_turns > 0 {
                format!(
                    " ({} held by {} running turn(s))",
                    format_usd(used.reserved_micros),
                    used.reserved_turns
                )
            } else {
                String::new()
            }
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_limit_blocks_when_reached() {
        let used = DayUsage {
            tasks_started: 3,
            turns: 10,
            cost_micros: 2_000_000,
            ..DayUsage::default()
        };
        let none = DailyBudget::default();
        assert_eq!(blocked(&none, &used, true), None);
        let tasks = DailyBudget {
            tasks: 3,
            ..none.clone()
        };
        assert!(
            blocked(&tasks, &used, true)
                .unwrap()
                .contains("budget.daily.tasks = 3")
        );
        assert_eq!(
            blocked(&tasks, &used, false),
            None,
            "a running task may go on"
        );
        let turns = DailyBudget {
            turns: 10,
            ..none.clone()
        };
        assert!(
            blocked(&turns, &used, false)
                .unwrap()
                .contains("budget.daily.turns = 10")
        );
        let usd = DailyBudget {
            usd: 2.0,
            ..none.clone()
        };
        assert!(
            blocked(&usd, &used, false)
                .unwrap()
                .contains("budget.daily.usd")
        );
        let roomy = DailyBudget {
            tasks: 4,
            turns: 11,
            usd: 2.5,
        };
        assert_eq!(blocked(&roomy, &used, true), None);
        // $2 spent, $0.30 held by running turns, a turn may cost $0.25: $2.55 > $2.50.
        let racing = DayUsage {
            reserved_micros: 300_000,
            reserved_turns: 1,
            next_turn_micros: Some(250_000),
            ..used
        };
        let why = blocked(&roomy, &racing, false).unwrap();
        assert!(why.contains("$0.30 held by running turns"), "{why}");
        let room = DayUsage {
            next_turn_micros: Some(200_000),
            ..racing
        };
        assert_eq!(blocked(&roomy, &room, false), None, "$2.50 fits exactly");
        let unknown = DayUsage {
            next_turn_micros: None,
            ..racing
        };
        assert!(
            blocked(&roomy, &unknown, false)
                .unwrap()
                .contains("one turn runs at a time")
        );
        let idle = DayUsage {
            reserved_turns: 0,
            reserved_micros: 0,
            ..unknown
        };
        assert_eq!(blocked(&roomy, &idle, false), None);
    }
}
