//! From YAML text to a [`Workflow`], checking each key by hand so every error names its field.
//!
//! The text is first read into a plain YAML tree (syntax errors keep their line and column),
//! then each stage is converted key by key. Doing it by hand rather than with a serde derive is
//! what lets a message say `stage "qa": commit must be true or false` instead of a bare type
//! error, and lets an unknown key such as `depend_on` be named with a suggestion. This file
//! checks shapes only; roster, references and cycles are [`super::validate`]'s job.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Value};

use super::error::{Problem, StageRef, WorkflowError, suggest};
use super::spec::{Refine, Stage, Workflow};

const TOP_KEYS: &[&str] = &["name", "description", "stages"];
const STAGE_KEYS: &[&str] = &[
    "id",
    "agent",
    "objective",
    "depends_on",
    "validation",
    "commit",
    "careful",
    "phase",
    "inputs",
    "outputs",
    "refine",
    "rounds",
    "metadata",
];
const REFINE_KEYS: &[&str] = &[
    "critic",
    "max_rounds",
    "accept_threshold",
    "mode",
    "critics",
];

static ID: LazyLock<Regex> =
    LazyLock::new(|| crate::engine::ground::fixed::regex(r"^[a-z0-9][a-z0-9_-]*$"));

/// A parsed text and which top-level keys it wrote (proposals add the missing ones).
pub(crate) struct Parsed {
    pub workflow: Workflow,
    pub has_name: bool,
    pub has_description: bool,
}

/// True when `id` is a valid stage id.
pub(crate) fn valid_id(id: &str) -> bool {
    ID.is_match(id)
}

/// Parse `yaml`; `default_name` is used when the text has no `name:`.
pub(crate) fn parse(file: &str, default_name: &str, yaml: &str) -> Result<Parsed, WorkflowError> {
    let err = |problem| WorkflowError::invalid(file, problem);
    // YAML 1.1 would read `id: y` or `agent: no` as booleans and `id: 01` as the number 1;
    // those are names here, so only true/false are booleans and numbers keep their spelling.
    let options = serde_saphyr::options! {
        strict_booleans: true,
        leading_zero_numbers_as_strings: true,
        underscored_numbers_as_strings: true,
    };
    let tree: Value =
        serde_saphyr::from_str_with_options(yaml, options).map_err(|e| err(yaml_problem(&e)))?;
    let top = match tree {
        Value::Object(map) => map,
        Value::Null => return Err(err(Problem::NoStages)),
        Value::Bool(_) | Value::Number(_) | Value::String(_) | Value::Array(_) => {
            return Err(err(Problem::NotMapping));
        }
    };
    if let Some(key) = top.keys().find(|k| !TOP_KEYS.contains(&k.as_str())) {
        return Err(err(Problem::UnknownTopKey {
            key: key.clone(),
            suggestion: suggest(key, TOP_KEYS).map(str::to_string),
        }));
    }
    let top_text = |field: &str| -> Result<Option<String>, WorkflowError> {
        match top.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => scalar(v)
                .map(|s| Some(s.trim().to_string()))
                .ok_or_else(|| {
                    err(Problem::TopField {
                        field: field.into(),
                        message: format!("must be text, got {}", shown(v)),
                    })
                }),
        }
    };
    let name = top_text("name")?.filter(|n| !n.is_empty());
    let description = top_text("description")?.filter(|d| !d.is_empty());
    let items = match top.get("stages") {
        None | Some(Value::Null) => return Err(err(Problem::NoStages)),
        Some(Value::Array(items)) if items.is_empty() => return Err(err(Problem::NoStages)),
        Some(Value::Array(items)) => items,
        Some(other) => {
            return Err(err(Problem::TopField {
                field: "stages".into(),
                message: format!("must be a list of stages, got {}", shown(other)),
            }));
        }
    };
    let mut stages = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        stages.push(
            stage(i + 1, item)
                .map_err(|(stage, message)| err(Problem::Stage { stage, message }))?,
        );
    }
    Ok(Parsed {
        // Whether the key is written at all, even empty: adding a second one would be a
        // duplicate-key error.
        has_name: top.contains_key("name"),
        has_description: top.contains_key("description"),
        workflow: Workflow {
            name: name.unwrap_or_else(|| default_name.to_string()),
            description,
            stages,
        },
    })
}

/// One stage; on error, which stage and what is wrong with it.
fn stage(position: usize, item: &Value) -> Result<Stage, (StageRef, String)> {
    let here = StageRef::Position(position);
    let Value::Object(map) = item else {
        return Err((
            here,
            format!(
                "must be a mapping with id, agent and objective, got {}",
                shown(item)
            ),
        ));
    };
    let id = match map.get("id") {
        None | Some(Value::Null) => return Err((here, "missing id".into())),
        Some(v) => match scalar(v) {
            Some(id) if id.trim().is_empty() => return Err((here, "missing id".into())),
            Some(id) if valid_id(id.trim()) => id.trim().to_string(),
            Some(id) => {
                return Err((
                    here,
                    format!(
                        "id \"{id}\" must match [a-z0-9][a-z0-9_-]* (lower-case letters, digits, '_', '-')"
                    ),
                ));
            }
            None => return Err((here, format!("id must be text, got {}", shown(v)))),
        },
    };
    let at = StageRef::Id(id.clone());
    let fail = |message: String| (at.clone(), message);
    unknown_key(map, STAGE_KEYS, "").map_err(fail)?;
    let agent = text(map, "agent").map_err(fail)?.unwrap_or_default();
    if agent.is_empty() {
        return Err(fail("missing agent".into()));
    }
    let objective = text(map, "objective").map_err(fail)?.unwrap_or_default();
    if objective.is_empty() {
        return Err(fail("objective is empty".into()));
    }
    let mut depends_on: Vec<String> = Vec::new();
    for dep in list(map, "depends_on", "stage ids").map_err(fail)? {
        // A repeated dependency means the same thing as one; keep the first.
        if !depends_on.contains(&dep) {
            depends_on.push(dep);
        }
    }
    let refine = match map.get("refine") {
        None | Some(Value::Null) | Some(Value::Bool(false)) => None,
        Some(Value::Bool(true)) => Some(Refine::default()),
        Some(Value::Object(r)) => Some(refine(r).map_err(fail)?),
        Some(other) => {
            return Err(fail(format!(
                "refine must be true, false or a mapping (critic, max_rounds, accept_threshold, mode, critics), got {}",
                shown(other)
            )));
        }
    };
    let metadata = match map.get("metadata") {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(Value::Object(m)) => m.clone().into_iter().collect(),
        Some(other) => {
            return Err(fail(format!(
                "metadata must be a mapping, got {}",
                shown(other)
            )));
        }
    };
    Ok(Stage {
        agent,
        objective,
        depends_on,
        validation: text(map, "validation").map_err(fail)?,
        commit: flag(map, "commit", true).map_err(fail)?,
        careful: flag(map, "careful", false).map_err(fail)?,
        phase: text(map, "phase").map_err(fail)?.map(|p| p.to_lowercase()),
        inputs: list(map, "inputs", "selectors").map_err(fail)?,
        outputs: list(map, "outputs", "contract keys").map_err(fail)?,
        refine,
        rounds: count(map, "rounds").map_err(fail)?,
        metadata,
        id,
    })
}

fn refine(map: &Map<String, Value>) -> Result<Refine, String> {
    unknown_key(map, REFINE_KEYS, "refine: ")?;
    let accept_threshold = match map.get("accept_threshold") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_f64() {
            Some(t) if (0.0..=1.0).contains(&t) => Some(t),
            _ => {
                return Err(format!(
                    "refine: accept_threshold must be a number from 0 to 1, got {}",
                    shown(v)
                ));
            }
        },
    };
    let mode = text(map, "mode")
        .map_err(|m| format!("refine: {m}"))?
        .map(|m| m.to_lowercase());
    if let Some(m) = &mode
        && m != "refine"
        && m != "debate"
    {
        return Err(format!(
            "refine: mode must be \"refine\" or \"debate\", got \"{m}\""
        ));
    }
    let prefixed = |m: String| format!("refine: {m}");
    Ok(Refine {
        critic: text(map, "critic").map_err(prefixed)?,
        max_rounds: count(map, "max_rounds").map_err(prefixed)?,
        accept_threshold,
        mode,
        critics: list(map, "critics", "lens names").map_err(prefixed)?,
    })
}

fn unknown_key(map: &Map<String, Value>, known: &[&str], prefix: &str) -> Result<(), String> {
    let Some(key) = map.keys().find(|k| !known.contains(&k.as_str())) else {
        return Ok(());
    };
    Err(match suggest(key, known) {
        Some(s) => format!("{prefix}unknown key \"{key}\" (did you mean \"{s}\"?)"),
        None => format!(
            "{prefix}unknown key \"{key}\" (known: {})",
            known.join(", ")
        ),
    })
}

/// A scalar as text: YAML reads `id: 1` or `phase: yes` as a number or a bool, and a person
/// writing them meant the text.
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

/// An optional text field, trimmed; blank counts as absent.
fn text(map: &Map<String, Value>, key: &str) -> Result<Option<String>, String> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match scalar(v) {
            Some(s) => Ok(Some(s.trim().to_string()).filter(|s| !s.is_empty())),
            None => Err(format!("{key} must be text, got {}", shown(v))),
        },
    }
}

/// A list of words; a single word is read as a one-item list (`depends_on: build`).
fn list(map: &Map<String, Value>, key: &str, what: &str) -> Result<Vec<String>, String> {
    let bad = |v: &Value| {
        format!(
            "{key} must be a list of {what}, like [a, b], got {}",
            shown(v)
        )
    };
    let items = match map.get(key) {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items.iter().collect::<Vec<_>>(),
        Some(v @ (Value::String(_) | Value::Number(_) | Value::Bool(_))) => vec![v],
        Some(v @ Value::Object(_)) => return Err(bad(v)),
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        match scalar(item) {
            Some(s) if !s.trim().is_empty() => out.push(s.trim().to_string()),
            Some(_) => return Err(format!("{key} has an empty entry")),
            None => return Err(bad(item)),
        }
    }
    Ok(out)
}

fn flag(map: &Map<String, Value>, key: &str, default: bool) -> Result<bool, String> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(v) => Err(format!("{key} must be true or false, got {}", shown(v))),
    }
}

/// A whole number of at least 1.
fn count(map: &Map<String, Value>, key: &str) -> Result<Option<u32>, String> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_u64().and_then(|n| u32::try_from(n).ok()) {
            Some(n) if n >= 1 => Ok(Some(n)),
            _ => Err(format!(
                "{key} must be a whole number of at least 1, got {}",
                shown(v)
            )),
        },
    }
}

/// A value as it would read in the file, cut short so the message stays one line.
fn shown(v: &Value) -> String {
    let text = match v {
        Value::String(s) => format!("\"{s}\""),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "a mapping".into(),
        Value::Null | Value::Bool(_) | Value::Number(_) => v.to_string(),
    };
    let one_line = text.replace('\n', " ");
    if one_line.chars().count() > 40 {
        let cut: String = one_line.chars().take(40).collect();
        format!("{cut}…")
    } else {
        one_line
    }
}

/// The parser's message without its source snippet, location suffix or API advice.
fn yaml_problem(e: &serde_saphyr::Error) -> Problem {
    static AT: LazyLock<Regex> = LazyLock::new(|| {
        crate::engine::ground::fixed::regex(
            r"^(?:error: )?(?:line \d+ column \d+: )?(.*?)(?: at line \d+, column \d+)?$",
        )
    });
    let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
    let plain = e.without_snippet().to_string();
    let first = plain.lines().next().unwrap_or("invalid YAML").trim();
    let mut message = AT
        .captures(first)
        .and_then(|c| c.get(1))
        .map_or(first, |m| m.as_str())
        .to_string();
    // The library's own advice names its Rust API, which means nothing to whoever wrote the file.
    if message.starts_with("duplicate mapping key")
        && let Some((head, _)) = message.split_once(", set ")
    {
        message = head.to_string();
    }
    if message.starts_with("multiple YAML documents") {
        message = "more than one YAML document (remove the extra `---` line)".into();
    }
    Problem::Yaml {
        line,
        column,
        message,
    }
}
