//! Where a block's body lies in a reply, and how problems found on the way are reported.
//! Shared by the top-level walk in `parse` and the block readers below it.

use std::ops::Range;

use super::lex::{Top, classify, is_end, todo_item};
use super::types::{BlockKind, Parsed, Problem};

pub(super) fn report(out: &mut Parsed, line: usize, block: BlockKind, message: String) {
    out.problems.push(Problem {
        line,
        block,
        message,
    });
}

/// Shortens quoted input in problem messages so one runaway line cannot bloat the log.
pub(super) fn clip(text: &str) -> String {
    const MAX_CHARS: usize = 40;
    match text.char_indices().nth(MAX_CHARS) {
        Some((cut, _)) => format!("{}…", text.get(..cut).unwrap_or(text)),
        None => text.to_string(),
    }
}

/// Where a block's body lies and where the top-level walk resumes after it.
pub(super) struct Extent {
    /// Line indices strictly between the head and the terminator (or the cut-off).
    pub body: Range<usize>,
    pub next: usize,
    pub terminated: bool,
}

impl Extent {
    /// The tail of a problem message for a block without its terminator, saying where it was
    /// taken to end so the agent can see what was applied.
    pub(super) fn unterminated(&self, terminator: &str) -> String {
        // `body.end` is the index just past the body, which is the body's last 1-based line.
        format!("has no {terminator} (read up to line {})", self.body.end)
    }

    pub(super) fn lines<'a, 'b>(&self, lines: &'b [&'a str]) -> &'b [&'a str] {
        lines.get(self.body.clone()).unwrap_or_default()
    }
}

/// Finds the end of the block whose head is at index `head`.
///
/// A block ends at its own terminator, or unterminated at the next head of its own type (a
/// forgotten `END_POST` must not swallow the next post). Inside a terminated block every line is
/// body, whatever it looks like. An unterminated block would otherwise run to the end of the
/// reply, so it is cut before the first line that opens any block, and footer signals or a TODOS
/// list trailing it are handed back to the top level: the agent forgot a terminator, it did not
/// mean its confidence line to be part of a file.
pub(super) fn extent(
    lines: &[&str],
    head: usize,
    terminator: &str,
    own_head: fn(&Top<'_>) -> bool,
) -> Extent {
    let start = head + 1;
    let mut stop = lines.len();
    for (j, line) in lines.iter().enumerate().skip(start) {
        let trimmed = line.trim();
        if is_end(trimmed, terminator) {
            return Extent {
                body: start..j,
                next: j + 1,
                terminated: true,
            };
        }
        if own_head(&classify(trimmed)) {
            stop = j;
            break;
        }
    }
    let start = start.min(stop);
    let cut = (start..stop)
        .find(|&k| {
            lines
                .get(k)
                .is_some_and(|l| classify(l.trim()).opens_block())
        })
        .unwrap_or(stop);
    let end = peel_trailer(lines, start, cut);
    Extent {
        body: start..end,
        next: end,
        terminated: false,
    }
}

/// Walks back from `cut` over blank lines, footer signals and complete TODOS lists; returns the
/// index just past the last line that is none of these, which is where the body ends.
fn peel_trailer(lines: &[&str], start: usize, cut: usize) -> usize {
    let mut k = cut;
    while k > start {
        let trimmed = lines.get(k - 1).map_or("", |l| l.trim());
        if trimmed.is_empty() || matches!(classify(trimmed), Top::Footer(..)) {
            k -= 1;
        } else if let Some(todos_head) = is_end(trimmed, "END_TODOS")
            .then(|| todos_head_before(lines, start, k - 1))
            .flatten()
        {
            k = todos_head;
        } else {
            break;
        }
    }
    k
}

/// The `TODOS:` line that a complete list ending just before `end_line` starts at, provided only
/// items and blank lines lie between (anything else means this is not a trailing list).
fn todos_head_before(lines: &[&str], start: usize, end_line: usize) -> Option<usize> {
    let mut k = end_line;
    while k > start {
        k -= 1;
        let trimmed = lines.get(k).map_or("", |l| l.trim());
        if let Top::Todos = classify(trimmed) {
            return Some(k);
        }
        if !trimmed.is_empty() && todo_item(trimmed).is_none() {
            return None;
        }
    }
    None
}
