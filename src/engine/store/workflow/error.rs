//! Why a workflow could not be loaded, as one line a person (or the chief) can act on.
//!
//! Every message names the file, then the stage (by id, or by 1-based position when the id is
//! missing or malformed) and the field at fault. Only the first problem is reported: a file is
//! fixed one line at a time, and a chief told five things at once tends to fix none.

use std::fmt;

/// A workflow that could not be found, read, parsed or validated.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WorkflowError {
    /// `load_named` found no `<name>.yaml`; `available` lists the names there, sorted.
    #[error("workflow \"{name}\" does not exist; available: {}", list_or_none(.available))]
    NotFound {
        name: String,
        available: Vec<String>,
    },
    /// The name cannot be a file name (path separators, dots, empty).
    #[error(
        "workflow name \"{name}\" is not valid: use letters, digits, '_' and '-' (like engineering)"
    )]
    BadName { name: String },
    /// The file exists but could not be read.
    #[error("{file}: cannot read: {reason}")]
    Read { file: String, reason: String },
    /// The text was read but is not a valid workflow.
    #[error("{file}: {problem}")]
    Invalid { file: String, problem: Problem },
}

/// What is wrong inside a workflow text.
#[derive(Debug, Clone, PartialEq)]
pub enum Problem {
    /// Not YAML; line and column are 1-based (0 when the parser did not say).
    Yaml {
        line: u64,
        column: u64,
        message: String,
    },
    /// The document is YAML but not a mapping (a list, a bare string).
    NotMapping,
    /// A top-level key other than name, description, stages.
    UnknownTopKey {
        key: String,
        suggestion: Option<String>,
    },
    /// A top-level key with a value of the wrong shape.
    TopField {
        field: String,
        message: String,
    },
    /// `stages` is absent, null or empty.
    NoStages,
    /// Something wrong inside one stage; `message` names the field.
    Stage {
        stage: StageRef,
        message: String,
    },
    DuplicateId {
        id: String,
    },
    /// The ids around a dependency cycle, first id repeated at the end (`a -> b -> a`).
    Cycle {
        path: Vec<String>,
    },
}

/// How a message points at a stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StageRef {
    /// The stage's id (when it has a valid one).
    Id(String),
    /// 1-based position in the `stages` list.
    Position(usize),
}

impl fmt::Display for StageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StageRef::Id(id) => write!(f, "stage \"{id}\""),
            StageRef::Position(n) => write!(f, "stage {n}"),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Yaml {
                line,
                column,
                message,
            } => {
                if *line > 0 {
                    write!(f, "line {line} column {column}: ")?;
                }
                write!(f, "{message}")
            }
            Problem::NotMapping => write!(
                f,
                "not a workflow: the top level must be a mapping with name, description and stages"
            ),
            Problem::UnknownTopKey { key, suggestion } => {
                write!(f, "unknown top-level key \"{key}\"")?;
                match suggestion {
                    Some(s) => write!(f, " (did you mean \"{s}\"?)"),
                    None => write!(f, " (expected: name, description, stages)"),
                }
            }
            Problem::TopField { field, message } => write!(f, "{field}: {message}"),
            Problem::NoStages => write!(
                f,
                "no stages (add a `stages:` list with at least one stage)"
            ),
            Problem::Stage { stage, message } => write!(f, "{stage}: {message}"),
            Problem::DuplicateId { id } => write!(f, "duplicate stage id \"{id}\""),
            Problem::Cycle { path } => write!(f, "dependency cycle: {}", path.join(" -> ")),
        }
    }
}

impl WorkflowError {
    pub(crate) fn invalid(file: &str, problem: Problem) -> Self {
        WorkflowError::Invalid {
            file: file.to_string(),
            problem,
        }
    }

    /// The problem inside the text, when there is one (None for not found / unreadable).
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            WorkflowError::Invalid { problem, .. } => Some(problem),
            WorkflowError::NotFound { .. }
            | WorkflowError::BadName { .. }
            | WorkflowError::Read { .. } => None,
        }
    }
}

fn list_or_none(names: &[String]) -> String {
    if names.is_empty() {
        "(none)".into()
    } else {
        names.join(", ")
    }
}

/// The closest of `known` to `word`, when it is close enough to be a likely typo.
pub(crate) fn suggest<'a>(word: &str, known: &[&'a str]) -> Option<&'a str> {
    let word = word.to_ascii_lowercase();
    known
        .iter()
        .map(|k| (edit_distance(&word, k), *k))
        // One edit, or two for longer keys (`agnet`); short keys like `id` would otherwise
        // be suggested for any two-letter word.
        .filter(|(d, k)| *d == 1 || (*d == 2 && k.len() >= 5))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Levenshtein distance; the words compared are short keys, so the O(n*m) table is fine.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}
