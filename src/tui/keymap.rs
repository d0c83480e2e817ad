//! The one key map: for each place focus can be, which keys do what. `keys.rs` looks keys up
//! here and `hint.rs` builds the hint bar from the same table, so the bar never promises a
//! key that does nothing (the way gitui derives its command bar).

use crossterm::event::KeyCode;

/// Where focus is (the input box keeps its own editing keys and is not in this table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ctx {
    Card,
    Log,
    Transcript,
    Diff,
    /// The Tasks view's table.
    Tasks,
    /// One task's timeline.
    Timeline,
}

/// What a key does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    Next,
    Prev,
    /// Enter on a card: the agent's transcript.
    Open,
    Diff,
    /// Back to the input (from a card or the log), or back to the cards (from a view).
    Back,
    LineUp,
    LineDown,
    PageUp,
    PageDown,
    Top,
    Bottom,
    OlderRun,
    NewerRun,
    Help,
    /// Show or fold each dispatch's steps.
    Verbose,
    /// The diff of the run so far (its branch against where it started), or back.
    RunDiff,
    /// Open the Tasks view.
    Tasks,
    /// The task under the cursor: approve (asks first), pause, resume, cancel (asks first).
    Approve,
    Pause,
    Resume,
    Cancel,
}

pub struct Binding {
    pub keys: &'static [KeyCode],
    /// The keys as the hint bar names them; empty keeps the binding out of the bar.
    pub label: &'static str,
    pub what: &'static str,
    pub act: Act,
}

const fn b(keys: &'static [KeyCode], label: &'static str, what: &'static str, act: Act) -> Binding {
    Binding {
        keys,
        label,
        what,
        act,
    }
}

use KeyCode::{BackTab, Char, Down, End, Enter, Esc, Home, Left, PageDown, PageUp, Right, Tab, Up};

const CARD: &[Binding] = &[
    b(
        &[Tab, Char('j'), Down, Right, Char('l')],
        "Tab/j/k",
        "move",
        Act::Next,
    ),
    b(
        &[BackTab, Char('k'), Up, Left, Char('h')],
        "",
        "",
        Act::Prev,
    ),
    b(&[Enter], "Enter", "transcript", Act::Open),
    b(&[Char('d')], "d", "diff", Act::Diff),
    b(&[Char('D')], "D", "run diff", Act::RunDiff),
    b(&[Esc], "Esc", "type", Act::Back),
    b(&[Char('?')], "?", "help", Act::Help),
    b(&[Char('T')], "", "", Act::Tasks),
];

const LOG: &[Binding] = &[
    b(&[Tab], "Tab", "next", Act::Next),
    b(&[BackTab], "", "", Act::Prev),
    b(&[Char('k'), Up], "j/k", "line", Act::LineUp),
    b(&[Char('j'), Down], "", "", Act::LineDown),
    b(&[Enter], "Enter", "steps", Act::Open),
    b(&[PageUp], "", "", Act::PageUp),
    b(&[PageDown], "", "", Act::PageDown),
    b(&[Home, Char('g')], "g/G", "ends", Act::Top),
    b(&[End, Char('G')], "", "", Act::Bottom),
    b(&[Char('v')], "v", "all", Act::Verbose),
    b(&[Esc], "Esc", "type", Act::Back),
    b(&[Char('?')], "?", "help", Act::Help),
    b(&[Char('T')], "", "", Act::Tasks),
];

const TRANSCRIPT: &[Binding] = &[
    b(&[Char('k')], "j/k", "scroll", Act::LineUp),
    b(&[Char('j')], "", "", Act::LineDown),
    b(&[PageUp, Char('b')], "PgUp/PgDn", "page", Act::PageUp),
    b(&[PageDown, Char(' ')], "", "", Act::PageDown),
    b(&[Home, Char('g')], "g/G", "ends", Act::Top),
    b(&[End, Char('G')], "", "", Act::Bottom),
    b(&[Up], "↑/↓", "other runs", Act::OlderRun),
    b(&[Down], "", "", Act::NewerRun),
    b(&[Char('d')], "d", "diff", Act::Diff),
    b(&[Esc, Char('q')], "Esc", "back", Act::Back),
];

/// A scrolling view's keys (j/k and arrows, pages, ends), then the view's own.
macro_rules! scrolling {
    ($($own:expr),* $(,)?) => {
        &[
            b(&[Char('k'), Up], "j/k", "scroll", Act::LineUp),
            b(&[Char('j'), Down], "", "", Act::LineDown),
            b(&[PageUp, Char('b')], "PgUp/PgDn", "page", Act::PageUp),
            b(&[PageDown, Char(' ')], "", "", Act::PageDown),
            b(&[Home, Char('g')], "g/G", "ends", Act::Top),
            b(&[End, Char('G')], "", "", Act::Bottom),
            $($own),*
        ]
    };
}

const DIFF: &[Binding] = scrolling![
    b(&[Char('D')], "D", "run", Act::RunDiff),
    b(&[Enter], "Enter", "transcript", Act::Open),
    b(&[Esc, Char('q')], "Esc", "back", Act::Back),
];

const TASKS: &[Binding] = &[
    b(&[Char('j'), Down], "j/k", "", Act::LineDown),
    b(&[Char('k'), Up], "", "", Act::LineUp),
    b(&[PageUp], "", "", Act::PageUp),
    b(&[PageDown], "", "", Act::PageDown),
    b(&[Home, Char('g')], "", "", Act::Top),
    b(&[End, Char('G')], "", "", Act::Bottom),
    b(&[Enter], "Enter", "timeline", Act::Open),
    b(&[Char('a')], "a", "approve", Act::Approve),
    b(&[Char('p')], "p", "pause", Act::Pause),
    b(&[Char('r')], "r", "resume", Act::Resume),
    b(&[Char('x')], "x", "cancel", Act::Cancel),
    b(&[Esc, Char('q')], "Esc", "back", Act::Back),
    b(&[Char('?')], "", "", Act::Help),
];

const TIMELINE: &[Binding] = scrolling![b(&[Esc, Char('q')], "Esc", "back to tasks", Act::Back)];

pub fn bindings(ctx: Ctx) -> &'static [Binding] {
    match ctx {
        Ctx::Card => CARD,
        Ctx::Log => LOG,
        Ctx::Transcript => TRANSCRIPT,
        Ctx::Diff => DIFF,
        Ctx::Tasks => TASKS,
        Ctx::Timeline => TIMELINE,
    }
}

/// Every context, for checks over the whole map.
pub const ALL: &[Ctx] = &[
    Ctx::Card,
    Ctx::Log,
    Ctx::Transcript,
    Ctx::Diff,
    Ctx::Tasks,
    Ctx::Timeline,
];

/// What `code` does in `ctx`, if anything.
pub fn action(ctx: Ctx, code: KeyCode) -> Option<Act> {
    bindings(ctx)
        .iter()
        .find(|b| b.keys.contains(&code))
        .map(|b| b.act)
}

/// The hint bar for `ctx`: `Tab/j/k move · Enter transcript · …`.
pub fn hint(ctx: Ctx) -> String {
    bindings(ctx)
        .iter()
        .filter(|b| !b.label.is_empty())
        .map(|b| {
            if b.what.is_empty() {
                b.label.to_string()
            } else {
                format!("{} {}", b.label, b.what)
            }
        })
        .collect::<Vec<_>>()
        .join(" · ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_labelled_key_does_something_and_no_key_is_bound_twice() {
        for &ctx in ALL {
            let all: Vec<KeyCode> = bindings(ctx).iter().flat_map(|b| b.keys.to_vec()).collect();
            for (i, k) in all.iter().enumerate() {
                assert!(!all[i + 1..].contains(k), "{ctx:?}: {k:?} bound twice");
            }
            for b in bindings(ctx) {
                assert_eq!(action(ctx, b.keys[0]), Some(b.act));
            }
        }
        assert_eq!(
            hint(Ctx::Card),
            "Tab/j/k move · Enter transcript · d diff · D run diff · Esc type · ? help"
        );
        assert_eq!(
            hint(Ctx::Tasks),
            "j/k · Enter timeline · a approve · p pause · r resume · x cancel · Esc back"
        );
    }

    #[test]
    fn every_hint_fits_an_80_column_terminal() {
        for &ctx in ALL {
            let h = hint(ctx);
            assert!(h.chars().count() <= 78, "{ctx:?}: {h}");
        }
    }
}
