//! The flat bench's table: each row's goal, its rounds, and the verdict on their median.

use crate::measure::{Cost, Spread};

/// A goal a row is judged by: an absolute figure, or growth over another row of the same round.
#[derive(Clone, Copy)]
pub enum Goal {
    None,
    At(f64),
    Growth(usize, f64),
}

/// One row: its per-round medians in a run's work tree (where runs work) and, where it applies,
/// in place (the user's own tree, where only projects without git or `auto_commit` work).
pub struct Row {
    label: &'static str,
    goal: Goal,
    pub run: Vec<Cost>,
    pub place: Vec<Cost>,
    /// System calls of one run, for the cold rows.
    pub syscalls: Option<u64>,
}

impl Row {
    pub fn new(label: &'static str, goal: Goal) -> Row {
        Row {
            label,
            goal,
            run: Vec::new(),
            place: Vec::new(),
            syscalls: None,
        }
    }
}

/// A row's rounds less the base row's same rounds.
fn growth(row: &[Cost], base: &[Cost]) -> Vec<Cost> {
    row.iter().zip(base).map(|(r, b)| r.minus(*b)).collect()
}

pub fn print_table(rows: &[Row]) {
    println!(
        "{:<44} {:>9} {:>24} {:>24} {:>7} {:>8} {:>24}  verdict",
        "median of rounds (lowest–highest round), ms",
        "goal",
        "wall, run's work tree",
        "CPU, run's work tree",
        "faults",
        "syscalls",
        "wall, in place"
    );
    for r in rows {
        let (run, place, goal) = match r.goal {
            Goal::Growth(base, g) => (
                Spread::of(&growth(&r.run, &rows[base].run)),
                (!r.place.is_empty()).then(|| Spread::of(&growth(&r.place, &rows[base].place))),
                Some((format!("≤ +{g}"), g)),
            ),
            Goal::At(g) => (
                Spread::of(&r.run),
                (!r.place.is_empty()).then(|| Spread::of(&r.place)),
                Some((format!("≤ {g}"), g)),
            ),
            Goal::None => (
                Spread::of(&r.run),
                (!r.place.is_empty()).then(|| Spread::of(&r.place)),
                None,
            ),
        };
        let sign = if matches!(r.goal, Goal::Growth(..)) {
            "+"
        } else {
            ""
        };
        let verdict = match &goal {
            Some((_, g)) if run.meets(*g) => "ok",
            Some(_) => "MISSED",
            None => "",
        };
        println!(
            "{:<44} {:>9} {:>24} {:>24} {:>7} {:>8} {:>24}  {verdict}",
            r.label,
            goal.map(|(t, _)| t).unwrap_or_default(),
            format!("{sign}{}", run.wall()),
            format!("{sign}{}", run.cpu()),
            run.faults(),
            r.syscalls.map(|n| n.to_string()).unwrap_or_default(),
            place
                .map(|p| format!("{sign}{}", p.wall()))
                .unwrap_or_default(),
        );
    }
}
