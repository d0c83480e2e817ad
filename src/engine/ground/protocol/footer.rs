//! Footer signals (`CONFIDENCE: 0.8`, `VERDICT: accept`, …) and the TODOS list.
//!
//! A signal whose value cannot be read is reported and leaves the earlier value in place, so
//! "last occurrence wins" means the last readable one.

use super::lex::{Signal, Top, classify, is_end, keyword, lookup, todo_item};
use super::span::{clip, report};
use super::types::{BlockKind, Checkpoint, Gate, Parsed, RoundStatus, Verdict};

/// Applies one signal line (`line` is 1-based) to the footer.
pub(super) fn apply_signal(signal: Signal, value: &str, line: usize, out: &mut Parsed) {
    let word = keyword(value);
    let f = &mut out.footer;
    let applied = match signal {
        Signal::Confidence => number(value).map(|(x, percent)| {
            let x = if percent || x > 1.0 { x / 100.0 } else { x };
            f.confidence = Some(x.clamp(0.0, 1.0));
        }),
        Signal::Score => number(value).map(|(x, percent)| {
            let x = if percent { x / 100.0 } else { x };
            f.score = Some(x.clamp(0.0, 1.0));
        }),
        Signal::NeedsReview => boolean(&word).map(|b| f.needs_review = Some(b)),
        Signal::Progress => boolean(&word).map(|b| f.progress = Some(b)),
        Signal::RoundStatus => {
            const WORDS: [(&str, RoundStatus); 3] = [
                ("continue", RoundStatus::Continue),
                ("done", RoundStatus::Done),
                ("finished", RoundStatus::Done),
            ];
            lookup(&WORDS, &word).map(|v| f.round_status = Some(v))
        }
        Signal::Verdict => {
            const WORDS: [(&str, Verdict); 3] = [
                ("accept", Verdict::Accept),
                ("revise", Verdict::Revise),
                ("reject", Verdict::Revise),
            ];
            lookup(&WORDS, &word).map(|v| f.verdict = Some(v))
        }
        Signal::Checkpoint => {
            const WORDS: [(&str, Checkpoint); 3] = [
                ("continue", Checkpoint::Continue),
                ("redirect", Checkpoint::Redirect),
                ("abort", Checkpoint::Abort),
            ];
            lookup(&WORDS, &word).map(|v| f.checkpoint = Some(v))
        }
        Signal::Gate => {
            const WORDS: [(&str, Gate); 4] = [
                ("pass", Gate::Pass),
                ("repeat", Gate::Repeat),
                ("revise", Gate::Revise),
                ("done", Gate::Done),
            ];
            lookup(&WORDS, &word).map(|v| f.gate = Some(v))
        }
        Signal::MaterialDefects => match word.as_str() {
            "none" | "no" => Some(0),
            _ => number(value)
                .filter(|(x, _)| *x >= 0.0)
                .map(|(x, _)| x as u32),
        }
        .map(|n| f.material_defects = Some(n)),
    };
    if applied.is_none() {
        let message = format!(
            "{} at line {line} has an unreadable value \"{}\"",
            signal.name(),
            clip(value)
        );
        report(out, line, BlockKind::Footer, message);
    }
}

/// The leading number of a value and whether a `%` follows it: `0.85`, `85%`, `85 %`, `0.9.`
fn number(value: &str) -> Option<(f64, bool)> {
    let value = value.trim();
    let len = value
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+'))
        .unwrap_or(value.len());
    let (digits, rest) = value.split_at_checked(len)?;
    // Only digits, dots and signs got here, so `parse` cannot produce NaN or infinity.
    let x: f64 = digits.trim_end_matches('.').parse().ok()?;
    Some((x, rest.trim_start().starts_with('%')))
}

fn boolean(word: &str) -> Option<bool> {
    const WORDS: [(&str, bool); 8] = [
        ("true", true),
        ("yes", true),
        ("y", true),
        ("1", true),
        ("false", false),
        ("no", false),
        ("n", false),
        ("0", false),
    ];
    lookup(&WORDS, word)
}

/// Reads the TODOS list whose head is at index `head`; returns where the walk resumes.
///
/// Only a list closed by END_TODOS counts. An open one is reported and only its head is taken,
/// so the lines after it are read as usual.
pub(super) fn parse_todos(lines: &[&str], head: usize, out: &mut Parsed) -> usize {
    let line = head + 1;
    let Some(end) = list_end(lines, head, "END_TODOS", Top::Todos) else {
        report(
            out,
            line,
            BlockKind::Todos,
            format!("TODOS list at line {line} has no END_TODOS; it was ignored"),
        );
        return line;
    };
    let mut items = Vec::new();
    for (j, l) in lines.iter().enumerate().take(end).skip(head + 1) {
        let trimmed = l.trim();
        if let Some(item) = todo_item(trimmed) {
            items.push(item);
        } else if let Top::Footer(signal, value) = classify(trimmed) {
            // A list is not free text, so a signal written inside it is still a signal.
            apply_signal(signal, value, j + 1, out);
        }
    }
    out.todos = Some(items);
    end + 1
}

/// The index of the `terminator` that closes the list whose head (`own`) is at `head`; None
/// when a block head or another such list comes first, or the reply ends.
pub(super) fn list_end(lines: &[&str], head: usize, terminator: &str, own: Top) -> Option<usize> {
    for (j, l) in lines.iter().enumerate().skip(head + 1) {
        let trimmed = l.trim();
        if is_end(trimmed, terminator) {
            return Some(j);
        }
        let top = classify(trimmed);
        if top.opens_block() || top == own {
            return None;
        }
    }
    None
}
