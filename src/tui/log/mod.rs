//! The status log: every event as one readable line, bounded, word-wrapped on demand.
//!
//! Entries are stored unwrapped; wrapping happens at draw time and only for the rows that are
//! visible, so a 100,000-line log costs no more to draw than a short one. Scrolling is kept as
//! an anchor (the sequence number of the entry at the bottom of the pane) rather than a row
//! offset, so new lines arriving while the user reads older ones never move the view.

use std::collections::VecDeque;

use unicode_width::UnicodeWidthChar;

use super::fmt;

mod cursor;

/// Entries kept in memory; older ones are dropped (they stay in `.clk/logs/session.log`).
pub const LOG_CAPACITY: usize = 100_000;

/// Width of the `HH:MM:SS ` prefix; continuation rows are indented by as much.
const PREFIX_COLS: usize = 9;

/// How a line is coloured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warn,
    Error,
    /// What the user typed.
    User,
    /// The dashboard's own notes (help text, lock recovery, completions).
    System,
}

impl Level {
    pub fn tag(self) -> &'static str {
        match self {
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
            Level::User => "USER",
            Level::System => "SYSTEM",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub seq: u64,
    pub tod_secs: u32,
    pub level: Level,
    pub text: Box<str>,
    /// A step inside a dispatch (its start, process, usage, each write): folded under the
    /// dispatch's one summary line unless the log is verbose.
    pub detail: bool,
    /// The dispatch this line belongs to (its summary line and its steps share it), so the
    /// cursor can unfold one dispatch's steps.
    pub group: Option<u64>,
}

/// Which lines `/filter` keeps: a level and the ones above it, lines naming an agent, or
/// lines containing a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    Warn,
    Error,
    /// An agent's name, lower-cased: lines that name it as a whole word.
    Agent(String),
    /// Lower-cased.
    Text(String),
}

/// Whether `word` is in `text` as a whole word (`engineer` is not in `engineering`).
fn has_word(text: &str, word: &str) -> bool {
    let part = |c: char| c.is_alphanumeric() || c == '_';
    text.match_indices(word).any(|(i, _)| {
        !text[..i].chars().next_back().is_some_and(part)
            && !text[i + word.len()..].chars().next().is_some_and(part)
    })
}

impl Filter {
    pub fn parse(word: &str) -> Filter {
        match word.trim().to_lowercase().as_str() {
            "warn" | "warning" | "warnings" => Filter::Warn,
            "error" | "errors" => Filter::Error,
            other => Filter::Text(other.to_string()),
        }
    }

    pub fn keeps(&self, e: &Entry) -> bool {
        match self {
            Filter::Warn => matches!(e.level, Level::Warn | Level::Error),
            Filter::Error => e.level == Level::Error,
            Filter::Agent(a) => has_word(&e.text.to_lowercase(), a),
            Filter::Text(t) => e.text.to_lowercase().contains(t.as_str()),
        }
    }

    /// How the log's title names it.
    pub fn label(&self) -> String {
        match self {
            Filter::Warn => "warnings and errors".into(),
            Filter::Error => "errors".into(),
            Filter::Agent(a) => format!("agent {a}"),
            Filter::Text(t) => format!("\"{t}\""),
        }
    }
}

/// The bounded log with its scroll position.
#[derive(Debug, Clone, Default)]
pub struct Log {
    entries: VecDeque<Entry>,
    next_seq: u64,
    /// None: follow the tail. Some(seq): that entry is the bottom row of the pane.
    anchor: Option<u64>,
    /// Only matching entries are shown (and scrolled through).
    filter: Option<Filter>,
    /// Show dispatch details too.
    verbose: bool,
    /// The dispatch line the cursor is on (its entry's seq), moved with j/k in the log.
    cursor: Option<u64>,
    /// Dispatches whose steps are unfolded (Enter on their line), by group.
    open: std::collections::HashSet<u64>,
}

impl Log {
    pub fn push(&mut self, level: Level, tod_secs: u32, text: &str) {
        self.push_entry(level, tod_secs, text, false, None);
    }

    /// A dispatch's step: shown only when the log is verbose (`v`) or its dispatch is
    /// unfolded, always in session.log.
    pub fn push_detail(&mut self, level: Level, tod_secs: u32, text: &str, group: Option<u64>) {
        self.push_entry(level, tod_secs, text, true, group);
    }

    /// A dispatch's summary line: the cursor stops on it and Enter unfolds its steps.
    pub fn push_summary(&mut self, level: Level, tod_secs: u32, text: &str, group: u64) {
        self.push_entry(level, tod_secs, text, false, Some(group));
    }

    fn push_entry(
        &mut self,
        level: Level,
        tod_secs: u32,
        text: &str,
        detail: bool,
        group: Option<u64>,
    ) {
        if self.entries.len() >= LOG_CAPACITY {
            self.entries.pop_front();
        }
        self.entries.push_back(Entry {
            seq: self.next_seq,
            tod_secs,
            level,
            text: fmt::printable(text).into_boxed_str(),
            detail,
            group,
        });
        self.next_seq += 1;
    }

    /// Show every step of every dispatch, or fold them under one line each.
    pub fn set_verbose(&mut self, verbose: bool) {
        self.verbose = verbose;
        self.anchor = None;
    }

    pub fn verbose(&self) -> bool {
        self.verbose
    }

    pub fn set_filter(&mut self, filter: Option<Filter>) {
        self.filter = filter;
        self.anchor = None;
    }

    pub fn filter(&self) -> Option<&Filter> {
        self.filter.as_ref()
    }

    fn shown(&self, e: &Entry) -> bool {
        let unfolded = self.verbose || !e.detail || e.group.is_some_and(|g| self.open.contains(&g));
        unfolded && self.filter.as_ref().is_none_or(|f| f.keeps(e))
    }

    /// Rows entry `i` takes in a pane `width` wide (none when filtered out).
    fn rows_of(&self, i: usize, width: usize) -> usize {
        let e = &self.entries[i];
        if self.shown(e) {
            wrap_entry(e, width).len()
        } else {
            0
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Sequence number the next entry will get (for mirroring to the session log).
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Entries with `seq >= from`, oldest first.
    pub fn since(&self, from: u64) -> impl Iterator<Item = &Entry> {
        let first = self.entries.front().map_or(0, |e| e.seq);
        let skip = from.saturating_sub(first) as usize;
        self.entries.iter().skip(skip)
    }

    pub fn last(&self) -> Option<&Entry> {
        self.entries.back()
    }

    fn index_of(&self, seq: u64) -> usize {
        let first = self.entries.front().map_or(0, |e| e.seq);
        (seq.saturating_sub(first) as usize).min(self.entries.len().saturating_sub(1))
    }

    /// Index of the entry at the bottom of the pane.
    fn bottom_index(&self) -> Option<usize> {
        if self.entries.is_empty() {
            return None;
        }
        Some(match self.anchor {
            None => self.entries.len() - 1,
            Some(seq) => self.index_of(seq),
        })
    }

    pub fn following(&self) -> bool {
        self.anchor.is_none()
    }

    /// Entries below the view (0 when following the tail).
    pub fn newer_hidden(&self) -> usize {
        match self.bottom_index() {
            Some(i) if self.anchor.is_some() => self.entries.len() - 1 - i,
            _ => 0,
        }
    }

    /// Scroll towards older lines by about `rows` wrapped rows of a pane `width` wide.
    pub fn scroll_up(&mut self, rows: usize, width: usize) {
        let Some(mut i) = self.bottom_index() else {
            return;
        };
        let mut moved = 0;
        while i > 0 && moved < rows {
            moved += self.rows_of(i, width);
            i -= 1;
        }
        self.anchor = Some(self.entries[i].seq);
    }

    /// Scroll towards newer lines; reaching the newest line follows the tail again.
    pub fn scroll_down(&mut self, rows: usize, width: usize) {
        let Some(mut i) = self.bottom_index() else {
            return;
        };
        if self.anchor.is_none() {
            return;
        }
        let mut moved = 0;
        while i + 1 < self.entries.len() && moved < rows {
            i += 1;
            moved += self.rows_of(i, width);
        }
        // Less than a step shown below (the rest is short, folded or filtered out): follow the
        // tail again, so scrolling down as far as one scrolled up always gets back.
        let mut below = 0;
        let mut j = i + 1;
        while j < self.entries.len() && below < rows {
            below += self.rows_of(j, width);
            j += 1;
        }
        self.anchor = if below < rows {
            None
        } else {
            Some(self.entries[i].seq)
        };
    }

    pub fn to_tail(&mut self) {
        self.anchor = None;
    }

    /// Show the oldest lines: the pane's bottom row is the entry that fills it from the top.
    pub fn to_top(&mut self, rows: usize, width: usize) {
        let mut used = 0;
        let mut i = 0;
        while i < self.entries.len() {
            used += self.rows_of(i, width);
            if used >= rows {
                break;
            }
            i += 1;
        }
        if i + 1 >= self.entries.len() {
            self.anchor = None;
        } else if let Some(e) = self.entries.get(i) {
            self.anchor = Some(e.seq);
        }
    }

    /// The rows to draw in a pane `width` x `height`, top to bottom, with each row's level.
    pub fn visible(&self, width: usize, height: usize) -> Vec<(Level, String)> {
        self.visible_marked(width, height)
            .into_iter()
            .map(|(l, r, _)| (l, r))
            .collect()
    }

    /// As [`Log::visible`], with whether each row belongs to the line under the cursor.
    pub fn visible_marked(&self, width: usize, height: usize) -> Vec<(Level, String, bool)> {
        let mut rows: Vec<(Level, String, bool)> = Vec::with_capacity(height);
        let Some(mut i) = self.bottom_index() else {
            return rows;
        };
        loop {
            let e = &self.entries[i];
            if !self.shown(e) {
                if i == 0 {
                    break;
                }
                i -= 1;
                continue;
            }
            let wrapped = wrap_entry(e, width);
            let marked = self.cursor == Some(e.seq);
            for r in wrapped.into_iter().rev() {
                if rows.len() == height {
                    break;
                }
                rows.push((e.level, r, marked));
            }
            if rows.len() == height || i == 0 {
                break;
            }
            i -= 1;
        }
        rows.reverse();
        rows
    }
}

/// One entry as rows: `HH:MM:SS text`, word-wrapped with a hanging indent. Very narrow panes
/// drop the time.
pub fn wrap_entry(e: &Entry, width: usize) -> Vec<String> {
    let width = width.max(1);
    // Narrow panes spend no room on the time.
    if width < PREFIX_COLS + 30 {
        return wrap(&e.text, width, width);
    }
    let body = width - PREFIX_COLS;
    let mut rows = wrap(&e.text, body, body);
    let indent = " ".repeat(PREFIX_COLS);
    for (n, r) in rows.iter_mut().enumerate() {
        let prefix = if n == 0 {
            format!("{} ", fmt::clock(e.tod_secs))
        } else {
            indent.clone()
        };
        r.insert_str(0, &prefix);
    }
    rows
}

/// Greedy word wrap by display width; words wider than a row are split.
pub fn wrap(text: &str, first: usize, rest: usize) -> Vec<String> {
    let mut rows = Vec::new();
    let mut row = String::new();
    let mut used = 0usize;
    let mut limit = first.max(1);
    for word in text.split(' ') {
        let w = fmt::width(word);
        let sep = usize::from(!row.is_empty());
        if used + sep + w <= limit {
            if sep == 1 {
                row.push(' ');
            }
            row.push_str(word);
            used += sep + w;
            continue;
        }
        if !row.is_empty() {
            rows.push(std::mem::take(&mut row));
            used = 0;
            limit = rest.max(1);
        }
        if w <= limit {
            row.push_str(word);
            used = w;
            continue;
        }
        // A word longer than a row: split it by cells.
        for c in word.chars() {
            let cw = c.width().unwrap_or(0);
            if used + cw > limit && !row.is_empty() {
                rows.push(std::mem::take(&mut row));
                used = 0;
                limit = rest.max(1);
            }
            row.push(c);
            used += cw;
        }
    }
    if !row.is_empty() || rows.is_empty() {
        rows.push(row);
    }
    rows
}

#[cfg(test)]
mod tests;
