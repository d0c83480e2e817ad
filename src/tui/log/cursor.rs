//! The log's line cursor: with the log focused, j/k move it over dispatch lines and Enter
//! unfolds only that dispatch's steps (`v` still shows every step of every dispatch).

use super::{Entry, Log};

impl Log {
    /// A dispatch's summary line that is on screen (filters allowing).
    fn is_dispatch_line(&self, e: &Entry) -> bool {
        !e.detail && e.group.is_some() && self.shown(e)
    }

    /// The seq of the entry the cursor is on.
    pub fn cursor(&self) -> Option<u64> {
        self.cursor
    }

    fn cursor_index(&self) -> Option<usize> {
        let seq = self.cursor?;
        let i = self.index_of(seq);
        (self.entries.get(i)?.seq == seq).then_some(i)
    }

    /// The newest dispatch line at or above the bottom of the pane.
    fn last_line_in_view(&self) -> Option<usize> {
        let bottom = self.bottom_index()?;
        (0..=bottom)
            .rev()
            .find(|i| self.is_dispatch_line(&self.entries[*i]))
    }

    /// Move the cursor to the previous (`up`) or next dispatch line and scroll it into a pane
    /// `width` x `height`. With no cursor yet, it lands on the newest line in view.
    pub fn move_cursor(&mut self, up: bool, width: usize, height: usize) {
        let target = match self.cursor_index() {
            None => self.last_line_in_view(),
            Some(i) if up => (0..i)
                .rev()
                .find(|j| self.is_dispatch_line(&self.entries[*j])),
            Some(i) => {
                (i + 1..self.entries.len()).find(|j| self.is_dispatch_line(&self.entries[*j]))
            }
        };
        if let Some(t) = target {
            self.cursor = Some(self.entries[t].seq);
            self.reveal(t, width, height);
        }
    }

    /// Scroll so entry `i` is on screen.
    fn reveal(&mut self, i: usize, width: usize, height: usize) {
        let Some(bottom) = self.bottom_index() else {
            return;
        };
        let mut top = bottom;
        let mut used = self.rows_of(bottom, width);
        while top > 0 && used < height {
            top -= 1;
            used += self.rows_of(top, width);
        }
        if i < top || i > bottom {
            self.anchor = (i + 1 < self.entries.len()).then(|| self.entries[i].seq);
        }
    }

    /// Fold or unfold the steps of the dispatch under the cursor (the newest one in view when
    /// there is no cursor yet). Returns false when there is no dispatch line to act on.
    pub fn toggle_under_cursor(&mut self, width: usize, height: usize) -> bool {
        if self.cursor_index().is_none() {
            self.move_cursor(true, width, height);
        }
        let Some(group) = self.cursor_index().and_then(|i| self.entries[i].group) else {
            return false;
        };
        if !self.open.remove(&group) {
            self.open.insert(group);
        }
        true
    }

    /// Whether the steps of the dispatch line `seq` are unfolded.
    pub fn is_unfolded(&self, seq: u64) -> bool {
        let i = self.index_of(seq);
        self.entries
            .get(i)
            .and_then(|e| e.group)
            .is_some_and(|g| self.open.contains(&g))
    }
}
