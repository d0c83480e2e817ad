//! The parsed shapes of a reply. All of them are serde wire types because they go into the JSON
//! activity log as they are.

use serde::{Deserialize, Serialize};

/// Everything [`super::parse`] found in one reply, in the order it appeared.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Parsed {
    pub actions: Vec<ActionBlock>,
    pub posts: Vec<PostBlock>,
    pub roles: Vec<RoleProposal>,
    pub workflows: Vec<WorkflowProposal>,
    pub consensus: Vec<ConsensusProposal>,
    pub footer: Footer,
    /// The last complete TODOS block; `Some(vec![])` for a complete empty one.
    pub todos: Option<Vec<TodoItem>>,
    pub delegations: Vec<Delegation>,
    /// The last complete ANSWER_KEY block: the checks the agent says its result must pass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer_key: Option<Vec<KeyCheck>>,
    pub problems: Vec<Problem>,
    /// Header and terminator lines seen, for the scorer: how many `ACTION:` heads, `END_ACTION`s,
    /// `POST:` heads, `END_POST`s.
    pub counts: BlockCounts,
}

/// One `ACTION:` block that carried everything its kind needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionBlock {
    /// 1-based line of the `ACTION:` header.
    pub line: usize,
    pub action: Action,
    /// False when the block ran to the next block or the end of the reply without `END_ACTION`.
    pub terminated: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Action {
    Write {
        path: String,
        content: String,
    },
    Edit {
        path: String,
        old: String,
        new: String,
    },
    Append {
        path: String,
        content: String,
    },
    Delete {
        path: String,
    },
    Run {
        cmd: String,
    },
    Done {
        reason: String,
    },
}

impl Action {
    /// The word that names this kind in an `ACTION:` header.
    pub fn kind(&self) -> &'static str {
        match self {
            Action::Write { .. } => "write",
            Action::Edit { .. } => "edit",
            Action::Append { .. } => "append",
            Action::Delete { .. } => "delete",
            Action::Run { .. } => "run",
            Action::Done { .. } => "done",
        }
    }

    /// What the action is about, for one-line displays: the path, the command or the reason.
    pub fn target(&self) -> &str {
        match self {
            Action::Write { path, .. }
            | Action::Edit { path, .. }
            | Action::Append { path, .. }
            | Action::Delete { path } => path,
            Action::Run { cmd } => cmd,
            Action::Done { reason } => reason,
        }
    }

    pub fn is_file_change(&self) -> bool {
        match self {
            Action::Write { .. }
            | Action::Edit { .. }
            | Action::Append { .. }
            | Action::Delete { .. } => true,
            Action::Run { .. } | Action::Done { .. } => false,
        }
    }

    /// The block as an agent would write it. Parsing the result gives this action back as long
    /// as no value line is `END_ACTION` or an `ACTION: <kind>` header, and an edit's OLD text
    /// has no `NEW:` line (the grammar has no escapes for those).
    pub fn render(&self) -> String {
        let body = match self {
            Action::Write { path, content } | Action::Append { path, content } => {
                format!("PATH: {path}\nCONTENT:\n{content}\n")
            }
            Action::Edit { path, old, new } => format!("PATH: {path}\nOLD:\n{old}\nNEW:\n{new}\n"),
            Action::Delete { path } => format!("PATH: {path}\n"),
            Action::Run { cmd } => format!("CMD: {cmd}\n"),
            Action::Done { reason } => format!("REASON: {reason}\n"),
        };
        format!("ACTION: {}\n{body}END_ACTION\n", self.kind())
    }
}

/// A message for the shared board: `POST: <type>` … `END_POST`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostBlock {
    pub line: usize,
    pub post_type: String,
    pub title: Option<String>,
    pub slug: Option<String>,
    /// Addressee, reduced to `[A-Za-z0-9_-]`.
    pub to: Option<String>,
    pub urgency: Urgency,
    pub produces: Vec<String>,
    pub consumes: Vec<String>,
    pub body: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Urgency {
    #[default]
    None,
    Blocking,
    Async,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleProposal {
    pub line: usize,
    pub name: String,
    pub role: String,
    pub provider: Option<String>,
    pub capabilities: Vec<String>,
    pub prompt: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkflowProposal {
    pub line: usize,
    pub name: String,
    pub description: Option<String>,
    /// The YAML text as written, indentation intact; validating it is the caller's business.
    pub yaml: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsensusProposal {
    pub line: usize,
    pub name: String,
    pub agents: Vec<String>,
    pub copies: u32,
    pub objective: String,
}

/// Single-line signals; each holds the last readable occurrence in the reply.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Footer {
    /// 0..=1; percentages are converted.
    pub confidence: Option<f64>,
    pub needs_review: Option<bool>,
    pub progress: Option<bool>,
    pub round_status: Option<RoundStatus>,
    pub verdict: Option<Verdict>,
    /// 0..=1, clamped.
    pub score: Option<f64>,
    pub checkpoint: Option<Checkpoint>,
    pub gate: Option<Gate>,
    /// A critic's count of defects that matter to a user (`MATERIAL_DEFECTS: 2`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub material_defects: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoundStatus {
    Continue,
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Accept,
    /// Also what `reject` means: the work goes back, it is never thrown away.
    Revise,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Checkpoint {
    Continue,
    Redirect,
    Abort,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Gate {
    Pass,
    Repeat,
    Revise,
    Done,
}

/// One line of an ANSWER_KEY: a check with its id (`k1: cargo test passes`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyCheck {
    pub id: String,
    pub condition: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TodoItem {
    pub text: String,
    pub state: TodoState,
    /// Marked `[required]`: the done gate waits until it is done.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub required: bool,
}

impl TodoItem {
    /// Required and not done yet.
    pub fn blocks_done(&self) -> bool {
        self.required && self.state != TodoState::Done
    }
}

/// A `DELEGATE:` block: a bounded sub-objective handed to another agent within the cycle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delegation {
    pub line: usize,
    /// The agent asked to do it.
    pub to: String,
    /// One line of background, if given.
    pub context: Option<String>,
    /// What to do, as written.
    pub task: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TodoState {
    Todo,
    Doing,
    Done,
}

/// Something in the reply that did not follow the grammar, told so a person (or the agent, in a
/// repair prompt) can fix it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// 1-based line the problem is about (usually the block's header).
    pub line: usize,
    pub block: BlockKind,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockKind {
    Action,
    Post,
    Role,
    Workflow,
    Consensus,
    Delegate,
    Todos,
    AnswerKey,
    Footer,
}

/// Only lines the parser treated as heads or terminators are counted: a header-like line inside
/// a body is content, and an `END_…` line that closes nothing is noise.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockCounts {
    pub action_heads: usize,
    pub action_ends: usize,
    pub post_heads: usize,
    pub post_ends: usize,
}
