//! The input box's state: a tui-textarea buffer, a bounded history and Tab completion of
//! slash commands and their arguments.
//!
//! Enter never reaches the textarea (the reducer submits instead), so the buffer is one
//! logical line; pasted newlines become spaces. Input is capped at [`MAX_INPUT_CHARS`].

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use tui_textarea::{CursorMove, TextArea, WrapMode};

use crate::engine::ground::slash;
use crate::engine::ground::task::{TaskState, transition};

/// Longest message accepted from the input box.
pub const MAX_INPUT_CHARS: usize = 1024;
/// Entries kept for Up/Down.
const HISTORY_CAP: usize = 200;

/// The words Tab completes after a command: read from the project at start.
#[derive(Debug, Clone, Default)]
pub struct Words {
    pub providers: Vec<String>,
    pub workflows: Vec<String>,
    pub agents: Vec<String>,
    /// Each task's id and state, from the last read of the queue.
    pub tasks: Vec<(i64, TaskState)>,
}

impl Words {
    /// Candidates for the argument after `command` (the text before it, e.g. `/roles drop`).
    pub fn arguments(&self, command: &str) -> Vec<String> {
        let fixed = |w: &[&str]| w.iter().map(|s| s.to_string()).collect();
        match command {
            "/loop" => fixed(&["ralph", "autoresearch"]),
            "/provider" => self.providers.clone(),
            "/run" => self.workflows.clone(),
            "/roles" => fixed(&["list", "add", "drop"]),
            "/roles drop" => self.agents.clone(),
            "/undo" => fixed(&["confirm"]),
            "/merge" => fixed(&["discard"]),
            "/queue" => fixed(&["drop", "clear"]),
            "/doctor" => fixed(&["--fix"]),
            "/task" => fixed(&[
                "add", "list", "show", "timeline", "approve", "reject", "review", "pause",
                "resume", "cancel",
            ]),
            "/task show" | "/task timeline" => {
                self.tasks.iter().map(|(id, _)| id.to_string()).collect()
            }
            // Only the tasks the action can be done to.
            c @ ("/task approve" | "/task reject" | "/task review" | "/task pause"
            | "/task resume" | "/task cancel") => {
                let action = c.trim_start_matches("/task ");
                self.tasks
                    .iter()
                    .filter(|(id, st)| transition(*id, *st, action).is_ok())
                    .map(|(id, _)| id.to_string())
                    .collect()
            }
            "/budget" => fixed(&["set"]),
            "/budget set" => {
                let mut w: Vec<String> = fixed(&["session"]);
                w.extend(self.agents.iter().cloned());
                w
            }
            "/gauntlet" => fixed(&["on", "off", "quick", "standard", "rigorous", "status"]),
            "/mission" => fixed(&["resume"]),
            "/install" => crate::engine::session::install::names()
                .into_iter()
                .map(str::to_string)
                .collect(),
            c if c
                .strip_prefix("/install ")
                .is_some_and(|n| crate::engine::session::install::find(n).is_ok()) =>
            {
                fixed(&["confirm"])
            }
            "/filter" => {
                let mut w: Vec<String> = fixed(&["warn", "error"]);
                w.extend(self.agents.iter().cloned());
                w
            }
            _ => Vec::new(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct InputBox {
    area: TextArea<'static>,
    history: Vec<String>,
    /// Index into `history` while browsing; None when editing a fresh line.
    browsing: Option<usize>,
    /// What was typed before browsing started, restored by Down past the newest entry.
    draft: String,
}

impl Default for InputBox {
    fn default() -> Self {
        let mut area = TextArea::default();
        area.set_wrap_mode(WrapMode::WordOrGlyph);
        area.set_cursor_line_style(ratatui::style::Style::new());
        area.set_max_histories(50);
        InputBox {
            area,
            history: Vec::new(),
            browsing: None,
            draft: String::new(),
        }
    }
}

impl InputBox {
    pub fn text(&self) -> String {
        self.area.lines().join(" ")
    }

    pub fn is_empty(&self) -> bool {
        self.area.is_empty()
    }

    pub fn textarea(&self) -> &TextArea<'static> {
        &self.area
    }

    pub fn set_style(&mut self, cursor: ratatui::style::Style) {
        self.area.set_cursor_style(cursor);
    }

    fn chars(&self) -> usize {
        self.area.lines().iter().map(|l| l.chars().count()).sum()
    }

    /// Replace the whole text and put the cursor at its end.
    pub fn set_text(&mut self, text: &str) {
        self.area.select_all();
        self.area.cut();
        let text: String = text.chars().take(MAX_INPUT_CHARS).collect();
        self.area.insert_str(text);
        self.area.move_cursor(CursorMove::End);
    }

    /// Take the text for submission, remember it, and clear the box.
    pub fn take(&mut self) -> String {
        let text = self.text().trim().to_string();
        self.set_text("");
        self.browsing = None;
        if !text.is_empty() && self.history.last() != Some(&text) {
            if self.history.len() == HISTORY_CAP {
                self.history.remove(0);
            }
            self.history.push(text.clone());
        }
        text
    }

    /// Insert pasted text (newlines become spaces), within the cap.
    pub fn paste(&mut self, text: &str) {
        let room = MAX_INPUT_CHARS.saturating_sub(self.chars());
        let flat: String = text
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .take(room)
            .collect();
        self.area.insert_str(flat);
    }

    /// An editing key (letters, arrows within the line, Backspace, Ctrl-A/E ...).
    pub fn key(&mut self, key: KeyEvent) {
        let inserts = matches!(key.code, KeyCode::Char(_))
            && !key
                .modifiers
                .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT);
        if inserts && self.chars() >= MAX_INPUT_CHARS {
            return;
        }
        // Ctrl-M and Ctrl-J would put a newline in the buffer: the box holds one line.
        if key.modifiers.contains(KeyModifiers::CONTROL)
            && matches!(key.code, KeyCode::Char('m' | 'j'))
        {
            return;
        }
        self.area.input(key);
    }

    /// Start with the history of earlier sessions (oldest first, the newest kept).
    pub fn set_history(&mut self, mut history: Vec<String>) {
        let skip = history.len().saturating_sub(HISTORY_CAP);
        history.drain(..skip);
        self.history = history;
    }

    pub fn history(&self) -> &[String] {
        &self.history
    }

    /// Ctrl-U: delete from the cursor back to the start of the line, as a shell does.
    pub fn delete_to_start(&mut self) {
        self.area.delete_line_by_head();
    }

    /// Ctrl-W: delete the word before the cursor.
    pub fn delete_word(&mut self) {
        self.area.delete_word();
    }

    /// Up: an older history entry.
    pub fn history_prev(&mut self) {
        if self.history.is_empty() {
            return;
        }
        let i = match self.browsing {
            None => {
                self.draft = self.text();
                self.history.len() - 1
            }
            Some(i) => i.saturating_sub(1),
        };
        self.browsing = Some(i);
        let t = self.history[i].clone();
        self.set_text(&t);
    }

    /// Down: a newer history entry, then back to the draft.
    pub fn history_next(&mut self) {
        let Some(i) = self.browsing else {
            return;
        };
        if i + 1 < self.history.len() {
            self.browsing = Some(i + 1);
            let t = self.history[i + 1].clone();
            self.set_text(&t);
        } else {
            self.browsing = None;
            let d = std::mem::take(&mut self.draft);
            self.set_text(&d);
        }
    }

    /// Tab: complete a slash command's name, or the argument being typed (loop kinds, providers,
    /// workflows, agents, task and budget actions, task ids). Returns the candidates when more than
    /// one fits.
    pub fn complete(&mut self, words: &Words) -> Vec<String> {
        let text = self.text();
        if !text.starts_with('/') {
            return Vec::new();
        }
        let (head, last) = match text.rsplit_once(' ') {
            Some((h, l)) => (format!("{h} "), l.to_string()),
            None => (String::new(), text.clone()),
        };
        let pool: Vec<String> = if head.is_empty() {
            slash::complete(&text)
                .into_iter()
                .map(str::to_string)
                .collect()
        } else {
            words.arguments(head.trim_end())
        };
        let found: Vec<String> = pool.into_iter().filter(|w| w.starts_with(&last)).collect();
        match found.as_slice() {
            [] => Vec::new(),
            [one] => {
                self.set_text(&format!("{head}{one} "));
                Vec::new()
            }
            many => {
                let refs: Vec<&str> = many.iter().map(String::as_str).collect();
                let common = common_prefix(&refs);
                if common.len() > last.len() {
                    self.set_text(&format!("{head}{common}"));
                }
                found
            }
        }
    }

    /// Rows the box needs at `width` columns (after the prompt), at least one.
    pub fn rows(&self, width: usize) -> usize {
        let w = super::fmt::width(&self.text());
        (w / width.max(1) + 1).max(1)
    }
}

fn common_prefix(words: &[&str]) -> String {
    let first = words[0];
    let mut end = first.len();
    for w in &words[1..] {
        end = end.min(
            first
                .char_indices()
                .zip(w.chars())
                .take_while(|((_, a), b)| a == b)
                .last()
                .map_or(0, |((i, a), _)| i + a.len_utf8()),
        );
    }
    first[..end].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(c: char) -> KeyEvent {
        KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
    }

    #[test]
    fn history_walks_back_and_returns_to_the_draft() {
        let mut b = InputBox::default();
        b.set_text("one");
        assert_eq!(b.take(), "one");
        b.set_text("two");
        b.take();
        b.key(k('x'));
        b.history_prev();
        assert_eq!(b.text(), "two");
        b.history_prev();
        assert_eq!(b.text(), "one");
        b.history_next();
        b.history_next();
        assert_eq!(b.text(), "x");
    }

    #[test]
    fn input_is_capped_and_pastes_are_flattened() {
        let mut b = InputBox::default();
        b.paste("a\nb");
        assert_eq!(b.text(), "a b");
        b.paste(&"z".repeat(5000));
        assert_eq!(b.text().chars().count(), MAX_INPUT_CHARS);
        b.key(k('q'));
        assert_eq!(b.text().chars().count(), MAX_INPUT_CHARS);
    }

    #[test]
    fn tab_completes_a_unique_command_and_lists_several() {
        let mut b = InputBox::default();
        let w = Words::default();
        b.set_text("/he");
        assert!(b.complete(&w).is_empty());
        assert_eq!(b.text(), "/help ");
        b.set_text("/");
        assert!(b.complete(&w).len() > 3);
        assert_eq!(common_prefix(&["/stop", "/status"]), "/st");
    }

    #[test]
    fn tab_completes_arguments() {
        let mut b = InputBox::default();
        let w = Words {
            providers: vec!["claude".into(), "codex".into(), "shell".into()],
            workflows: vec!["engineering".into(), "product".into()],
            agents: vec!["engineer".into(), "qa".into()],
            tasks: vec![
                (3, TaskState::Approval),
                (12, TaskState::Running),
                (14, TaskState::Merged),
            ],
        };
        b.set_text("/loop r");
        assert!(b.complete(&w).is_empty());
        assert_eq!(b.text(), "/loop ralph ");
        b.set_text("/provider c");
        assert_eq!(b.complete(&w), ["claude", "codex"]);
        assert_eq!(b.text(), "/provider c");
        b.set_text("/run e");
        b.complete(&w);
        assert_eq!(b.text(), "/run engineering ");
        b.set_text("/roles drop q");
        b.complete(&w);
        assert_eq!(b.text(), "/roles drop qa ");
        b.set_text("/provider ");
        assert_eq!(b.complete(&w).len(), 3);
        b.set_text("/task ap");
        b.complete(&w);
        assert_eq!(b.text(), "/task approve ");
        b.set_text("/task re");
        assert_eq!(b.complete(&w), ["reject", "review", "resume"]);
        b.set_text("/budget set e");
        b.complete(&w);
        assert_eq!(b.text(), "/budget set engineer ");
        // Task ids: every task for show, only those the action fits for the rest.
        b.set_text("/task show 1");
        assert_eq!(b.complete(&w), ["12", "14"]);
        b.set_text("/task approve ");
        assert!(b.complete(&w).is_empty());
        assert_eq!(b.text(), "/task approve 3 ");
        b.set_text("/task pause ");
        b.complete(&w);
        assert_eq!(b.text(), "/task pause 12 ");
        b.set_text("/task cancel ");
        assert_eq!(b.complete(&w), ["3", "12"]);
        b.set_text("/task resume ");
        assert!(b.complete(&w).is_empty());
        assert_eq!(b.text(), "/task resume ");
        // Every command whose help names its words completes them.
        b.set_text("/gauntlet r");
        b.complete(&w);
        assert_eq!(b.text(), "/gauntlet rigorous ");
        b.set_text("/mission r");
        b.complete(&w);
        assert_eq!(b.text(), "/mission resume ");
        let tool = crate::engine::session::install::names()[0];
        b.set_text(&format!("/install {tool}"));
        b.complete(&w);
        assert_eq!(b.text(), format!("/install {tool} "));
        b.complete(&w);
        assert_eq!(b.text(), format!("/install {tool} confirm "));
    }
}
