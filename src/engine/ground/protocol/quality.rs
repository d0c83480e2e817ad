//! A pure quality score for one reply, so the engine can decide whether to accept it, ask the
//! agent to repair it, or give up on it (a refusal is not worth a repair round).
//!
//! Every flag costs a fixed deduction; the score is 1 minus their sum, floored at 0. The scan of
//! the raw text is bounded (a prefix for refusals, `min_chars` for emptiness), so the cost does
//! not grow with the reply beyond what [`super::parse`] already spent.

use std::sync::OnceLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

use super::types::{BlockKind, Parsed};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreOptions {
    /// A reply with fewer characters than this, once trimmed, counts as empty.
    pub min_chars: usize,
    /// Output keys some post must declare in PRODUCES (compared case-insensitively).
    pub expected_outputs: Vec<String>,
    pub require_confidence: bool,
    /// The step was meant to change files, so a reply without a file action did nothing.
    pub expect_file_action: bool,
    pub min_confidence: f64,
}

impl Default for ScoreOptions {
    fn default() -> Self {
        ScoreOptions {
            min_chars: 40,
            expected_outputs: Vec::new(),
            require_confidence: false,
            expect_file_action: false,
            min_confidence: 0.5,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Quality {
    /// No flags at all.
    pub ok: bool,
    /// 0..=1, three decimals.
    pub score: f64,
    /// False when asking the agent again is pointless (it refused).
    pub recoverable: bool,
    pub flags: Vec<Flag>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flag {
    Empty,
    Refusal,
    MalformedAction,
    MalformedPost,
    OutputsMissing(Vec<String>),
    NoOp,
    LowConfidence(f64),
    NeedsReviewSelf,
    ConfidenceMissing,
    /// Problems in blocks other than ACTION and POST (proposals, TODOS, footer values).
    ProblemsReported(usize),
}

impl Flag {
    /// What the flag costs the score.
    pub fn deduction(&self) -> f64 {
        match self {
            Flag::Empty => 0.6,
            Flag::Refusal => 0.5,
            Flag::MalformedAction => 0.4,
            Flag::MalformedPost => 0.3,
            Flag::OutputsMissing(_) => 0.4,
            Flag::NoOp => 0.5,
            Flag::LowConfidence(_) => 0.3,
            Flag::NeedsReviewSelf => 0.2,
            Flag::ConfidenceMissing => 0.1,
            Flag::ProblemsReported(_) => 0.1,
        }
    }

    /// One line for a repair preamble. The line-by-line detail is in [`Parsed::problems`].
    pub fn reason(&self) -> String {
        match self {
            Flag::Empty => "the reply is empty or too short to be an answer".to_string(),
            Flag::Refusal => "the reply declines the task".to_string(),
            Flag::MalformedAction => {
                "an ACTION block is malformed: each needs `ACTION: <kind>`, its fields and a closing END_ACTION line".to_string()
            }
            Flag::MalformedPost => {
                "a POST block is malformed: each needs `POST: <type>`, a non-empty BODY: and a closing END_POST line".to_string()
            }
            Flag::OutputsMissing(keys) => format!("declared outputs missing: {}", keys.join(", ")),
            Flag::NoOp => "no file was written, edited, appended or deleted, but this step must change files".to_string(),
            Flag::LowConfidence(c) => format!("self-reported confidence {c:.2} is below the bar"),
            Flag::NeedsReviewSelf => "the reply says it needs review (NEEDS_REVIEW: true)".to_string(),
            Flag::ConfidenceMissing => "the reply has no CONFIDENCE: line".to_string(),
            Flag::ProblemsReported(n) => {
                format!("{n} block{} could not be read as written", if *n == 1 { "" } else { "s" })
            }
        }
    }
}

/// How far into a reply refusal phrases are looked for; a refusal comes first, and later text
/// is more likely to quote such phrases than to mean them.
const REFUSAL_WINDOW_BYTES: usize = 2000;

fn refusal() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        crate::engine::ground::fixed::regex(
            r"(?ix)
            \bi \s+ (?:cannot|can[’']?t|can \s+ not) \s+ (?:help|assist|do|comply|fulfil|fulfill|complete|provide|proceed|continue)\b
            | \bi (?:\s+am|[’']m) \s+ sorry\b [^\n]{0,120}? \b(?:unable|cannot|can[’']?t|won[’']?t)\b
            | \bas \s+ an \s+ ai (?:\s+ language)? \s+ model\b
            | \bi \s+ do \s+ not \s+ have \s+ the \s+ ability\b",
        )
    })
}

/// Scores a reply that [`super::parse`] has already turned into `parsed`.
pub fn score(text: &str, parsed: &Parsed, opts: &ScoreOptions) -> Quality {
    let mut flags = Vec::new();

    let trimmed = text.trim();
    if trimmed.chars().take(opts.min_chars).count() < opts.min_chars {
        flags.push(Flag::Empty);
    }
    // Code an agent writes can contain refusal-like strings; a reply that acts is not refusing.
    if parsed.counts.action_heads == 0 && refusal().is_match(prefix(trimmed, REFUSAL_WINDOW_BYTES))
    {
        flags.push(Flag::Refusal);
    }

    let problems_of = |kind: BlockKind| {
        parsed
            .problems
            .iter()
            .filter(move |p| p.block == kind)
            .count()
    };
    let c = &parsed.counts;
    // One unclosed block is tolerated: a reply cut off at the end still applied its last action.
    // Each unclosed block that still yielded an action reported exactly one problem (the missing
    // END_ACTION); those are judged by the count above, not as malformed blocks.
    let unclosed_but_applied = parsed.actions.iter().filter(|a| !a.terminated).count();
    let action_problems = problems_of(BlockKind::Action).saturating_sub(unclosed_but_applied);
    if c.action_heads.saturating_sub(c.action_ends) > 1 || action_problems > 0 {
        flags.push(Flag::MalformedAction);
    }
    if c.post_heads > c.post_ends || problems_of(BlockKind::Post) > 0 {
        flags.push(Flag::MalformedPost);
    }

    let missing: Vec<String> = opts
        .expected_outputs
        .iter()
        .filter(|want| {
            !parsed
                .posts
                .iter()
                .flat_map(|p| &p.produces)
                .any(|have| have.eq_ignore_ascii_case(want.trim()))
        })
        .cloned()
        .collect();
    if !missing.is_empty() {
        flags.push(Flag::OutputsMissing(missing));
    }

    if opts.expect_file_action && !parsed.actions.iter().any(|a| a.action.is_file_change()) {
        flags.push(Flag::NoOp);
    }
    match parsed.footer.confidence {
        Some(c) if c < opts.min_confidence => flags.push(Flag::LowConfidence(c)),
        Some(_) => {}
        None if opts.require_confidence => flags.push(Flag::ConfidenceMissing),
        None => {}
    }
    if parsed.footer.needs_review == Some(true) {
        flags.push(Flag::NeedsReviewSelf);
    }
    let other_problems = parsed
        .problems
        .iter()
        .filter(|p| match p.block {
            BlockKind::Action | BlockKind::Post => false,
            BlockKind::Role
            | BlockKind::Workflow
            | BlockKind::Consensus
            | BlockKind::Delegate
            | BlockKind::Todos
            | BlockKind::AnswerKey
            | BlockKind::Footer => true,
        })
        .count();
    if other_problems > 0 {
        flags.push(Flag::ProblemsReported(other_problems));
    }

    let total: f64 = flags.iter().map(Flag::deduction).sum();
    let score = ((1.0 - total).max(0.0) * 1000.0).round() / 1000.0;
    Quality {
        ok: flags.is_empty(),
        score,
        recoverable: !flags.contains(&Flag::Refusal),
        flags,
    }
}

/// The longest prefix of `text` of at most `max` bytes that ends on a character boundary.
fn prefix(text: &str, max: usize) -> &str {
    let mut end = max.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.get(..end).unwrap_or(text)
}
