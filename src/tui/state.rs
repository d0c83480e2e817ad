//! The dashboard's state: what it shows and what it waits for. Only `app::update` (and the
//! folds it calls) change it; widgets read it.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::input::{InputBox, Words};
use super::layout::{self, Areas, Needs};
use super::log::{Level, Log};
pub use super::msg::{Effect, Msg};
use super::tasks::Board;
use super::theme::Theme;
use super::view::View;
use crate::engine::ground::config::agents::BASELINE;
use crate::engine::ground::state::{AgentStatus, RunState};
use crate::engine::ground::task::TaskCommand;

/// Where keys go besides the global ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Focus {
    /// The input box (the start, and wherever typing returns).
    #[default]
    Input,
    /// A card, by its index in `AppState::cards`.
    Card(usize),
    Log,
}

/// A yes/no question on screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pending {
    /// The engine waits for `Command::Confirm { id }`.
    Engine {
        id: u64,
        question: String,
        /// The agent it is about, whose card says "waiting for you".
        about: Option<String>,
    },
    /// Ctrl-C (or /quit while work runs): leave the dashboard?
    Quit { question: String },
    /// `clk` in a folder without `.clk/`: set up here (y), and start the tutorial (t)?
    Setup { question: String },
    /// A step from the Tasks view that wants a yes first (approve, cancel): y sends it.
    Task {
        question: String,
        action: TaskCommand,
    },
}

impl Pending {
    pub fn question(&self) -> &str {
        match self {
            Pending::Engine { question, .. }
            | Pending::Quit { question }
            | Pending::Setup { question }
            | Pending::Task { question, .. } => question,
        }
    }
}

/// A card on the grid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Card {
    pub name: String,
    pub baseline: bool,
    pub role: String,
}

/// A provider call that failed and waits to be tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    pub attempt: u32,
    pub max_attempts: u32,
    /// When the next attempt starts (monotonic ms).
    pub next_at_ms: u64,
}

/// What a running dispatch's one log line will say when it finishes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DispatchLine {
    /// The log group its lines share (the seq of its first log line).
    pub group: u64,
    pub stage: Option<String>,
    pub provider: String,
    pub tokens: u64,
    pub cost_micros: u64,
}

/// The last provider failure worth a hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorHint {
    pub provider: String,
    /// `not_found`, `auth`, `timeout` or `retryable` (ErrorKind::as_str).
    pub kind: String,
}

/// How the session starts: read from the project by the driver.
#[derive(Debug, Clone, Default)]
pub struct Init {
    pub project: String,
    pub provider: String,
    /// (name, role) of every roster agent.
    pub roster: Vec<(String, String)>,
    pub idea: Option<String>,
    pub tutorial_done: bool,
    /// No user-level settings exist yet: the welcome points at `clk setup` and `/setup`.
    pub setup_needed: bool,
    /// Tokens and micro-dollars of earlier sessions (`.clk/state/usage.json`).
    pub base_tokens: u64,
    pub base_cost_micros: u64,
    /// Earlier sessions had calls with no known price (the cost shown is a lower bound).
    pub base_cost_unknown: bool,
    pub width: u16,
    pub height: u16,
    pub theme: Option<Theme>,
    /// Lines to show first (crash recovery, startup notes).
    pub notes: Vec<String>,
    /// The end of the last session's log, shown above a "previous session" rule.
    pub previous: Vec<(Level, u32, String)>,
    /// What was typed in earlier sessions, oldest first (Up walks it).
    pub history: Vec<String>,
    /// Local time of day at start, so the first lines are stamped before the clock ticks.
    pub tod_secs: u32,
    /// Provider and workflow names, for Tab completion.
    pub providers: Vec<String>,
    pub workflows: Vec<String>,
    /// Each agent's last recorded dispatch: (ok, what came of it), for cards after a restart.
    pub last_runs: BTreeMap<String, (bool, String)>,
}

pub struct AppState {
    pub theme: Theme,
    pub project: String,
    pub provider: String,
    pub run: RunState,
    pub cards: Vec<Card>,
    pub log: Log,
    pub input: InputBox,
    pub help_open: bool,
    /// First help line shown (the help scrolls when the screen is short).
    pub help_scroll: usize,
    pub focus: Focus,
    /// The transcript, diff or task timeline view over everything else.
    pub view: Option<View>,
    /// The task queue: the Tasks view when open, else the title's approval count.
    pub board: Board,
    /// Each agent's newest commit seen this session (for the diff view).
    pub last_commit: BTreeMap<String, String>,
    pub pending: VecDeque<Pending>,
    pub idea: Option<String>,
    pub show_welcome: bool,
    /// The welcome also offers `/setup` (no user-level settings yet).
    pub setup_needed: bool,
    pub tutorial_running: bool,
    pub stop_requested: bool,
    /// Tasks the engine is running: id -> what.
    pub tasks: BTreeMap<u64, String>,
    /// The workflow stage running now, for the title bar.
    pub stage: Option<String>,
    pub error_hint: Option<ErrorHint>,
    /// Why the last run stopped at a spending cap, until new work starts.
    pub budget_stop: Option<String>,
    /// The last work was aborted (a dispatch ended cancelled), until new work starts.
    pub aborted: bool,
    /// The stage of the latest dispatch (casting has one but no workflow stage).
    pub dispatch_stage: Option<String>,
    /// A run, loop or message cycle finished since the last input: suggest what next.
    pub work_finished: bool,
    pub engine_gone: bool,
    pub base_tokens: u64,
    pub base_cost_micros: u64,
    pub base_cost_unknown: bool,
    pub ahead: Option<u64>,
    pub now_ms: u64,
    pub tod_secs: u32,
    /// When each working agent started (monotonic ms).
    pub working_since: BTreeMap<String, u64>,
    /// Silence reported by the latest heartbeat of each working agent.
    pub silent_ms: BTreeMap<String, u64>,
    pub agent_provider: BTreeMap<String, String>,
    /// Each agent's last dispatch before this session: (ok, what came of it).
    pub last_runs: BTreeMap<String, (bool, String)>,
    /// How long each agent's last dispatch took.
    pub last_run_ms: BTreeMap<String, u64>,
    /// Agents whose provider failed and is tried again after a pause.
    pub retrying: BTreeMap<String, Retry>,
    /// Agents whose last dispatch the user aborted.
    pub aborted_agents: BTreeSet<String>,
    /// Tokens and micro-dollars each agent spent this session.
    pub agent_spend: BTreeMap<String, (u64, u64)>,
    /// Lines and bytes of standard output in each working agent's current dispatch.
    pub reply_flow: BTreeMap<String, (u32, u64)>,
    /// What each agent's last call came to, for its done card: the commit's subject, else
    /// the reply's last line of prose (`fold_lines::said`).
    pub said: BTreeMap<String, crate::tui::fold_lines::Said>,
    pub width: u16,
    pub height: u16,
    pub frame: u64,
    /// Log entries that came from the last session (not written to the session log again).
    pub prior_entries: u64,
    /// A report was printed since the last task finished.
    pub reported: bool,
    /// What Tab completes arguments from.
    pub words: Words,
    /// Tab found several candidates: shown in a popup until the next key.
    pub completions: Vec<String>,
    /// Running dispatches, for their summary lines.
    pub dispatch_lines: BTreeMap<String, DispatchLine>,
    /// Each agent's last finished dispatch's log group: its writes come after its line.
    pub last_group: BTreeMap<String, u64>,
    /// The notices rung so far.
    pub told: crate::engine::ground::notice::Told,
}

impl AppState {
    pub fn new(init: Init) -> AppState {
        let mut s = AppState {
            theme: init.theme.unwrap_or_else(Theme::colored),
            project: init.project,
            provider: init.provider,
            run: RunState::default(),
            cards: Vec::new(),
            log: Log::default(),
            input: InputBox::default(),
            help_open: false,
            help_scroll: 0,
            focus: Focus::Input,
            view: None,
            board: Board::default(),
            last_commit: BTreeMap::new(),
            pending: VecDeque::new(),
            // The banner is for newcomers: gone once the tutorial ran or an idea exists.
            show_welcome: !init.tutorial_done && init.idea.is_none(),
            setup_needed: init.setup_needed,
            idea: init.idea,
            tutorial_running: false,
            stop_requested: false,
            tasks: BTreeMap::new(),
            stage: None,
            error_hint: None,
            budget_stop: None,
            aborted: false,
            dispatch_stage: None,
            work_finished: false,
            engine_gone: false,
            base_tokens: init.base_tokens,
            base_cost_micros: init.base_cost_micros,
            base_cost_unknown: init.base_cost_unknown,
            ahead: None,
            now_ms: 0,
            tod_secs: init.tod_secs,
            working_since: BTreeMap::new(),
            silent_ms: BTreeMap::new(),
            agent_provider: BTreeMap::new(),
            last_run_ms: BTreeMap::new(),
            last_runs: init.last_runs,
            retrying: BTreeMap::new(),
            aborted_agents: BTreeSet::new(),
            agent_spend: BTreeMap::new(),
            reply_flow: BTreeMap::new(),
            said: BTreeMap::new(),
            width: init.width,
            height: init.height,
            frame: 0,
            prior_entries: 0,
            reported: false,
            words: Words {
                providers: init.providers,
                workflows: init.workflows,
                agents: Vec::new(),
                tasks: Vec::new(),
            },
            completions: Vec::new(),
            dispatch_lines: BTreeMap::new(),
            last_group: BTreeMap::new(),
            told: Default::default(),
        };
        for (name, role) in init.roster {
            s.ensure_card(&name, &role);
        }
        s.input.set_history(init.history);
        if !init.previous.is_empty() {
            let first = init.previous.first().map_or(0, |p| p.1);
            s.log
                .push(Level::System, first, "──── previous session ────");
            for (level, tod, text) in init.previous {
                s.log.push(level, tod, &text);
            }
            s.log
                .push(Level::System, s.tod_secs, "──── this session ────");
            s.prior_entries = s.log.next_seq();
        }
        for n in init.notes {
            s.note(Level::System, &n);
        }
        s
    }

    pub fn note(&mut self, level: Level, text: &str) {
        for line in text.lines() {
            self.log.push(level, self.tod_secs, line);
        }
    }

    /// Add a card unless there is one; baseline first in their fixed order, then by name.
    pub fn ensure_card(&mut self, name: &str, role: &str) {
        if let Some(c) = self.cards.iter_mut().find(|c| c.name == name) {
            if !role.is_empty() {
                c.role = role.to_string();
            }
            return;
        }
        self.cards.push(Card {
            name: name.to_string(),
            baseline: BASELINE.iter().any(|(n, _)| *n == name),
            role: role.to_string(),
        });
        self.cards.sort_by_key(|c| {
            let rank = BASELINE
                .iter()
                .position(|(n, _)| *n == c.name)
                .unwrap_or(BASELINE.len());
            (rank, c.name.clone())
        });
    }

    pub fn remove_card(&mut self, name: &str) {
        self.cards.retain(|c| c.baseline || c.name != name);
    }

    pub fn status(&self, name: &str) -> AgentStatus {
        self.run
            .agents
            .get(name)
            .map_or(AgentStatus::Idle, |a| a.status)
    }

    pub fn working(&self) -> impl Iterator<Item = &str> {
        self.run
            .agents
            .iter()
            .filter(|(_, a)| a.status == AgentStatus::Working)
            .map(|(n, _)| n.as_str())
    }

    /// Work is under way: an engine task runs or an agent works.
    pub fn busy(&self) -> bool {
        !self.tasks.is_empty() || self.working().next().is_some()
    }

    /// The dashboard needs clock ticks (elapsed times, the spinner) only while busy.
    pub fn animating(&self) -> bool {
        self.busy() && !self.engine_gone
    }

    pub fn total_tokens(&self) -> u64 {
        self.base_tokens
            .saturating_add(self.run.totals.input_tokens)
            .saturating_add(self.run.totals.output_tokens)
    }

    pub fn total_cost_micros(&self) -> u64 {
        self.base_cost_micros
            .saturating_add(self.run.totals.cost_micros)
    }

    /// Some call had no known price: the total is a lower bound.
    pub fn cost_unknown(&self) -> bool {
        self.base_cost_unknown || self.run.totals.cost_unknown
    }

    /// What the title bar calls the phase.
    pub fn phase(&self) -> String {
        if let Some(st) = &self.stage {
            return st.clone();
        }
        if let Some(st) = self
            .dispatch_stage
            .as_ref()
            .filter(|_| !self.tasks.is_empty())
        {
            return st.clone();
        }
        // The newest task that runs: queued work has not started yet.
        let queued = |id: &u64| self.run.queue.iter().any(|q| q.task_id == *id);
        match self.tasks.iter().rev().find(|(id, _)| !queued(id)) {
            Some((_, t)) => t.clone(),
            None => "ready".to_string(),
        }
    }

    pub fn areas(&self) -> Areas {
        let screen = ratatui::layout::Rect::new(0, 0, self.width, self.height);
        let input_rows = self.input.rows(usize::from(self.width.saturating_sub(2))) as u16;
        layout::compute(
            screen,
            Needs {
                cards: self.cards.len(),
                input_rows,
                welcome: self.show_welcome,
            },
        )
    }

    /// The focused card, if focus is on one that still exists.
    pub fn focused_card(&self) -> Option<&Card> {
        match self.focus {
            Focus::Card(i) => self.cards.get(i),
            _ => None,
        }
    }

    /// The first card drawn and how many card slots show cards (the rest of a full grid
    /// says how many more there are); the window moves so the focused card is on screen.
    pub fn card_window(&self, g: &layout::Grid) -> (usize, usize) {
        let all = self.cards.len();
        if g.slots >= all {
            return (0, all);
        }
        let shown = g.slots.saturating_sub(1);
        let start = match self.focus {
            Focus::Card(i) if shown > 0 && i >= shown => (i + 1 - shown).min(all - shown),
            _ => 0,
        };
        (start, shown)
    }

    /// Where an open view is drawn: everything between the title bar and the hint bar.
    pub fn view_area(&self) -> ratatui::layout::Rect {
        let a = self.areas();
        let top = a.title.y + a.title.height;
        let bottom = if a.hint.height > 0 {
            a.hint.y
        } else {
            a.input.y
        };
        ratatui::layout::Rect::new(0, top, self.width, bottom.saturating_sub(top))
    }

    /// Lines of text an open view shows at once (inside its top border).
    pub fn view_rows(&self) -> usize {
        usize::from(self.view_area().height.saturating_sub(1)).max(1)
    }

    /// The reply has started to flow: more than a CLI's startup line on standard output.
    pub fn streaming(&self, agent: &str) -> bool {
        self.reply_flow
            .get(agent)
            .is_some_and(|(lines, bytes)| *lines >= 2 || *bytes >= 200)
    }

    /// Rows and columns of the log's text (inside its top border).
    pub(crate) fn log_page(&self) -> (usize, usize) {
        let a = self.areas().log;
        (
            usize::from(a.height.saturating_sub(1)).max(1),
            usize::from(a.width).max(1),
        )
    }
}
