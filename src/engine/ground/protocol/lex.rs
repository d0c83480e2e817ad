//! Line-level recognition shared by every block parser: what a trimmed line is at top level,
//! and the small text helpers that turn collected lines into values.

use super::types::{TodoItem, TodoState};

/// The action kinds the grammar knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ActionKind {
    Write,
    Edit,
    Append,
    Delete,
    Run,
    Done,
}

impl ActionKind {
    const ALL: [(&'static str, ActionKind); 6] = [
        ("write", ActionKind::Write),
        ("edit", ActionKind::Edit),
        ("append", ActionKind::Append),
        ("delete", ActionKind::Delete),
        ("run", ActionKind::Run),
        ("done", ActionKind::Done),
    ];

    pub(super) fn from_word(word: &str) -> Option<ActionKind> {
        lookup(&Self::ALL, word)
    }

    pub(super) fn name(self) -> &'static str {
        match self {
            ActionKind::Write => "write",
            ActionKind::Edit => "edit",
            ActionKind::Append => "append",
            ActionKind::Delete => "delete",
            ActionKind::Run => "run",
            ActionKind::Done => "done",
        }
    }
}

/// The single-line footer signals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Signal {
    Confidence,
    NeedsReview,
    Progress,
    RoundStatus,
    Verdict,
    Score,
    Checkpoint,
    Gate,
    MaterialDefects,
}

impl Signal {
    const ALL: [(&'static str, Signal); 9] = [
        ("CONFIDENCE", Signal::Confidence),
        ("NEEDS_REVIEW", Signal::NeedsReview),
        ("PROGRESS", Signal::Progress),
        ("ROUND_STATUS", Signal::RoundStatus),
        ("VERDICT", Signal::Verdict),
        ("SCORE", Signal::Score),
        ("CHECKPOINT", Signal::Checkpoint),
        ("GATE", Signal::Gate),
        ("MATERIAL_DEFECTS", Signal::MaterialDefects),
    ];

    pub(super) fn name(self) -> &'static str {
        match self {
            Signal::Confidence => "CONFIDENCE",
            Signal::NeedsReview => "NEEDS_REVIEW",
            Signal::Progress => "PROGRESS",
            Signal::RoundStatus => "ROUND_STATUS",
            Signal::Verdict => "VERDICT",
            Signal::Score => "SCORE",
            Signal::Checkpoint => "CHECKPOINT",
            Signal::Gate => "GATE",
            Signal::MaterialDefects => "MATERIAL_DEFECTS",
        }
    }
}

/// What a trimmed line means when it is not inside a block body.
/// `Err` carries the raw text after the colon when a head has no usable name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Top<'a> {
    Action {
        word: &'a str,
        kind: Option<ActionKind>,
    },
    Post(Result<&'a str, &'a str>),
    Role(Result<&'a str, &'a str>),
    Workflow(Result<&'a str, &'a str>),
    Consensus(Result<&'a str, &'a str>),
    /// `DELEGATE:` with whatever follows the colon (the target may come in a `TO:` line instead).
    Delegate(&'a str),
    Todos,
    AnswerKey,
    Footer(Signal, &'a str),
    Other,
}

impl Top<'_> {
    /// Heads that open a block with a body. Only these cut short a block that lost its
    /// terminator; an `ACTION:` with an unknown kind or a nameless head does not, so that a
    /// stray word in content cannot split a block.
    pub(super) fn opens_block(&self) -> bool {
        match self {
            Top::Action { kind, .. } => kind.is_some(),
            Top::Post(name) | Top::Role(name) | Top::Workflow(name) | Top::Consensus(name) => {
                name.is_ok()
            }
            Top::Delegate(_) => true,
            Top::Todos | Top::AnswerKey | Top::Footer(..) | Top::Other => false,
        }
    }
}

pub(super) fn classify(trimmed: &str) -> Top<'_> {
    let Some((key, rest)) = split_key(trimmed) else {
        return Top::Other;
    };
    // POST is the one case-sensitive head: "post:" in prose is too common to take as a block.
    if key == "POST" {
        return Top::Post(ident(rest));
    }
    if key.eq_ignore_ascii_case("ACTION") {
        let word = rest.split_whitespace().next().unwrap_or("");
        return Top::Action {
            word,
            kind: ActionKind::from_word(word),
        };
    }
    if key.eq_ignore_ascii_case("PROPOSE_ROLE") {
        return Top::Role(ident(rest));
    }
    if key.eq_ignore_ascii_case("PROPOSE_WORKFLOW") {
        return Top::Workflow(ident(rest));
    }
    if key.eq_ignore_ascii_case("PROPOSE_CONSENSUS") {
        return Top::Consensus(ident(rest));
    }
    if key.eq_ignore_ascii_case("DELEGATE") {
        return Top::Delegate(rest.trim());
    }
    if key.eq_ignore_ascii_case("TODOS") {
        return Top::Todos;
    }
    if key.eq_ignore_ascii_case("ANSWER_KEY") {
        return Top::AnswerKey;
    }
    match lookup(&Signal::ALL, key) {
        Some(signal) => Top::Footer(signal, rest.trim()),
        None => Top::Other,
    }
}

/// Splits every line on `\n`, dropping the `\r` of CRLF endings and a leading byte-order mark.
pub(super) fn split_lines(text: &str) -> Vec<&str> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    text.split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect()
}

/// `KEY:` or `KEY :` at the start of a trimmed line, as (KEY, text after the colon).
pub(super) fn split_key(trimmed: &str) -> Option<(&str, &str)> {
    if !trimmed.as_bytes().first()?.is_ascii_alphabetic() {
        return None;
    }
    let len = trimmed
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
        .count();
    let (key, after) = trimmed.split_at_checked(len)?;
    let rest = after.trim_start_matches([' ', '\t']).strip_prefix(':')?;
    Some((key, rest))
}

/// True when the trimmed line is the terminator `word`, in any case.
pub(super) fn is_end(trimmed: &str, word: &str) -> bool {
    trimmed.eq_ignore_ascii_case(word)
}

/// Case-insensitive lookup of a keyword in a small table.
pub(super) fn lookup<T: Copy>(table: &[(&str, T)], word: &str) -> Option<T> {
    table
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(word))
        .map(|(_, value)| *value)
}

/// The leading `[A-Za-z][A-Za-z0-9_-]*` of a head's value; anything after it is ignored.
fn ident(rest: &str) -> Result<&str, &str> {
    let rest = rest.trim();
    let starts_with_letter = rest.as_bytes().first().is_some_and(u8::is_ascii_alphabetic);
    let len = rest
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-')
        .count();
    match rest.get(..len) {
        Some(name) if starts_with_letter => Ok(name),
        Some(_) | None => Err(rest),
    }
}

/// Joins a value's lines with `\n` after dropping blank lines at both ends; the lines in
/// between, indentation included, are kept exactly.
pub(super) fn join_block(lines: &[&str]) -> String {
    let Some(first) = lines.iter().position(|l| !l.trim().is_empty()) else {
        return String::new();
    };
    let last = lines
        .iter()
        .rposition(|l| !l.trim().is_empty())
        .unwrap_or(first);
    lines
        .get(first..=last)
        .map(|kept| kept.join("\n"))
        .unwrap_or_default()
}

/// The first non-blank line, trimmed: for values that cannot span lines, such as a path, where
/// a stray following line is noise rather than part of the value.
pub(super) fn first_line(lines: &[&str]) -> String {
    lines
        .iter()
        .map(|l| l.trim())
        .find(|l| !l.is_empty())
        .map(|l| unquote(l).to_string())
        .unwrap_or_default()
}

/// Drops one pair of backticks or quotes wrapped around a whole value, as models like to write
/// ``PATH: `src/app.py` ``.
pub(super) fn unquote(value: &str) -> &str {
    for mark in ['`', '"', '\''] {
        if let Some(inner) = value.strip_prefix(mark).and_then(|v| v.strip_suffix(mark)) {
            return inner.trim();
        }
    }
    value
}

/// Splits a list written with commas, spaces or both.
pub(super) fn split_list(value: &str) -> Vec<String> {
    value
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|item| !item.is_empty())
        .map(str::to_string)
        .collect()
}

/// The first word of a value, lowercased and without surrounding punctuation, so that
/// `accept.` or `**done**` still read as keywords.
pub(super) fn keyword(value: &str) -> String {
    value
        .split_whitespace()
        .next()
        .unwrap_or("")
        .trim_matches(|c: char| !c.is_alphanumeric())
        .to_lowercase()
}

/// `- [ ] text`, `- [~] text`, `- [x] text` (or `*`/`+` bullets); `None` for anything else.
/// A `[required]` tag right after the box (or in its place, meaning an open item) marks an
/// item the done gate waits for: `- [ ] [required] text`, `- [required] text`.
pub(super) fn todo_item(trimmed: &str) -> Option<TodoItem> {
    let rest = trimmed.strip_prefix(['-', '*', '+'])?.trim_start();
    let (mark, text) = rest.strip_prefix('[')?.split_once(']')?;
    let (state, text, required) = match mark.trim() {
        "" => (TodoState::Todo, text, false),
        "~" => (TodoState::Doing, text, false),
        "x" | "X" => (TodoState::Done, text, false),
        m if m.eq_ignore_ascii_case("required") => (TodoState::Todo, text, true),
        _ => return None,
    };
    let text = text.trim();
    let (text, required) = match required_tag(text) {
        Some(after) => (after, true),
        None => (text, required),
    };
    (!text.is_empty()).then(|| TodoItem {
        text: text.to_string(),
        state,
        required,
    })
}

/// The text after a leading `[required]` tag (any case), if there is one.
fn required_tag(text: &str) -> Option<&str> {
    let (tag, after) = text.strip_prefix('[')?.split_once(']')?;
    tag.trim()
        .eq_ignore_ascii_case("required")
        .then(|| after.trim())
}
