//! The full-screen views opened from a focused card: an agent's transcript (prompt and full
//! reply of one of its recorded dispatches) and the diff of its last commit; and from the
//! Tasks view, a task's timeline.
//!
//! The reducer asks for the text with `Effect::Load`; the driver reads it off the draw path
//! (`load.rs`) and hands it back as `Msg::Loaded`. Until then the view says it is loading.
//! Text is kept as whole lines and wrapped only for the rows on screen, so a 1 MB reply
//! scrolls as cheaply as a short one; the scroll position is the first line shown.

/// Which view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewKind {
    Transcript,
    Diff,
    /// The run so far: its branch against where it started.
    RunDiff,
    /// A task's timeline and turns (opened from the Tasks view).
    Timeline,
}

/// How a line is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    Plain,
    /// A section rule (`── prompt ──`).
    Heading,
    /// Facts about the record or commit.
    Meta,
    /// The prompt, quieter than the reply.
    Quiet,
    Added,
    Removed,
    Hunk,
    Error,
}

/// What the driver is asked to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub kind: ViewKind,
    pub agent: String,
    /// Transcript: which dispatch, 0 = the newest. Timeline: the task's id.
    pub index: usize,
    /// Diff: the commit seen in this session's events, if any (else the newest by the agent).
    /// Run diff: the run's branch, if a run is going (else the newest run branch).
    pub sha: Option<String>,
}

/// The text read for a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    pub request: Request,
    /// Transcript: how many dispatches the agent has on record.
    pub runs: usize,
    /// A short label for the border (`run r-12 · implement`, `commit 1a2b3c`).
    pub label: String,
    pub lines: Vec<(LineKind, String)>,
}

/// An open view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct View {
    pub request: Request,
    pub loaded: Option<Loaded>,
    /// First line shown.
    pub scroll: usize,
}

impl View {
    pub fn new(request: Request) -> View {
        View {
            request,
            loaded: None,
            scroll: 0,
        }
    }

    pub fn kind(&self) -> ViewKind {
        self.request.kind
    }

    fn len(&self) -> usize {
        self.loaded.as_ref().map_or(0, |l| l.lines.len())
    }

    /// Take text read by the driver; text for an older request is dropped.
    pub fn accept(&mut self, loaded: Loaded) -> bool {
        if loaded.request != self.request {
            return false;
        }
        self.loaded = Some(loaded);
        self.scroll = 0;
        true
    }

    pub fn scroll_by(&mut self, delta: isize) {
        let max = self.len().saturating_sub(1);
        self.scroll = self.scroll.saturating_add_signed(delta).min(max);
    }

    pub fn to_top(&mut self) {
        self.scroll = 0;
    }

    /// The last page: the final line at the bottom of a pane `width` x `rows`, counting the
    /// rows each line wraps to (only the lines of that last page are wrapped).
    pub fn to_end(&mut self, rows: usize, width: usize) {
        let Some(l) = &self.loaded else {
            return;
        };
        let mut used = 0;
        let mut first = l.lines.len();
        while first > 0 {
            let n = wrapped(&l.lines[first - 1].1, width.max(1)).len();
            if used + n > rows.max(1) && used > 0 {
                break;
            }
            used += n;
            first -= 1;
        }
        self.scroll = first.min(self.len().saturating_sub(1));
    }

    /// The request for an older (`+1`) or newer (`-1`) dispatch, when there is one.
    pub fn step_run(&self, delta: isize) -> Option<Request> {
        let runs = self.loaded.as_ref()?.runs;
        if self.request.kind != ViewKind::Transcript {
            return None;
        }
        let next = self.request.index.checked_add_signed(delta)?;
        (next < runs).then(|| Request {
            index: next,
            ..self.request.clone()
        })
    }

    /// Rows to draw in a pane `width` x `height`: lines from `scroll`, word-wrapped.
    pub fn visible(&self, width: usize, height: usize) -> Vec<(LineKind, String)> {
        let width = width.max(1);
        let mut rows = Vec::with_capacity(height);
        let Some(l) = &self.loaded else {
            return rows;
        };
        for (kind, text) in l.lines.iter().skip(self.scroll) {
            for r in wrapped(text, width) {
                if rows.len() == height {
                    return rows;
                }
                rows.push((*kind, r));
            }
        }
        rows
    }
}

/// One line as rows `width` wide. Indentation is kept (code and diffs need it) and
/// continuation rows hang under it.
fn wrapped(text: &str, width: usize) -> Vec<String> {
    let body = text.trim_start_matches(' ');
    let indent = (text.len() - body.len()).min(width / 2);
    let pad = " ".repeat(indent);
    super::log::wrap(body, width - indent, width - indent)
        .into_iter()
        .map(|r| format!("{pad}{r}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(lines: usize, runs: usize) -> View {
        let request = Request {
            kind: ViewKind::Transcript,
            agent: "engineer".into(),
            index: 0,
            sha: None,
        };
        let mut v = View::new(request.clone());
        let stale = Loaded {
            request: Request {
                index: 3,
                ..request.clone()
            },
            runs,
            label: String::new(),
            lines: Vec::new(),
        };
        assert!(!v.accept(stale), "text for another request is dropped");
        assert!(
            v.accept(Loaded {
                request,
                runs,
                label: String::new(),
                lines: (0..lines)
                    .map(|i| (LineKind::Plain, format!("line {i} aaaa bbbb")))
                    .collect(),
            })
        );
        v
    }

    #[test]
    fn scrolling_stays_inside_the_text_and_wraps_only_what_shows() {
        let mut v = view(100, 1);
        v.scroll_by(-5);
        assert_eq!(v.scroll, 0);
        v.scroll_by(500);
        assert_eq!(v.scroll, 99);
        v.to_end(10, 40);
        assert_eq!(v.scroll, 90);
        // At 10 columns each line takes two rows: the last page starts five lines up.
        v.to_end(10, 10);
        assert_eq!(v.scroll, 95);
        let rows = v.visible(10, 10);
        assert_eq!(rows[0].1, "line 95");
        assert_eq!(rows[1].1, "aaaa bbbb");
        assert_eq!(rows[9].1, "aaaa bbbb");
        assert_eq!(rows.len(), 10);
        v.to_top();
        assert_eq!(v.visible(40, 1)[0].1, "line 0 aaaa bbbb");
        let mut code = view(0, 1);
        if let Some(l) = code.loaded.as_mut() {
            l.lines = vec![(LineKind::Plain, "    return 'hello world'".into())];
        }
        assert_eq!(
            code.visible(14, 3),
            vec![
                (LineKind::Plain, "    return".into()),
                (LineKind::Plain, "    'hello".into()),
                (LineKind::Plain, "    world'".into()),
            ],
            "indentation kept, continuation rows under it"
        );
    }

    #[test]
    fn runs_step_between_the_newest_and_the_oldest() {
        let v = view(1, 3);
        assert_eq!(v.step_run(-1), None);
        assert_eq!(v.step_run(1).map(|r| r.index), Some(1));
        let mut last = v.clone();
        last.request.index = 2;
        assert_eq!(last.step_run(1), None);
    }
}
