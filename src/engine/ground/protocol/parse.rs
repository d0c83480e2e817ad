//! The top-level walk over a reply's lines, and how far a block reaches.

use super::lex::{Top, classify, split_lines};
use super::span::{clip, report};
use super::types::{BlockKind, Parsed};
use super::{action, answer_key, blocks, footer};

/// Parses every block, footer signal and TODOS list in `text`. Never panics; anything that does
/// not follow the grammar is skipped or reported in [`Parsed::problems`].
pub fn parse(text: &str) -> Parsed {
    let lines = split_lines(text);
    let mut out = Parsed::default();
    let mut i = 0;
    while let Some(line) = lines.get(i) {
        let next = match classify(line.trim()) {
            Top::Action { word, kind } => action::parse_action(&lines, i, word, kind, &mut out),
            Top::Post(Ok(name)) => blocks::parse_post(&lines, i, name, &mut out),
            Top::Role(Ok(name)) => blocks::parse_role(&lines, i, name, &mut out),
            Top::Workflow(Ok(name)) => blocks::parse_workflow(&lines, i, name, &mut out),
            Top::Consensus(Ok(name)) => blocks::parse_consensus(&lines, i, name, &mut out),
            Top::Post(Err(raw)) => nameless(&mut out, i, BlockKind::Post, raw),
            Top::Role(Err(raw)) => nameless(&mut out, i, BlockKind::Role, raw),
            Top::Workflow(Err(raw)) => nameless(&mut out, i, BlockKind::Workflow, raw),
            Top::Consensus(Err(raw)) => nameless(&mut out, i, BlockKind::Consensus, raw),
            Top::Delegate(rest) => blocks::parse_delegate(&lines, i, rest, &mut out),
            Top::Todos => footer::parse_todos(&lines, i, &mut out),
            Top::AnswerKey => answer_key::parse_answer_key(&lines, i, &mut out),
            Top::Footer(signal, value) => {
                footer::apply_signal(signal, value, i + 1, &mut out);
                i + 1
            }
            Top::Other => i + 1,
        };
        // Every parser consumes at least its head line; the max keeps the walk finite even if
        // one of them is ever wrong about that.
        i = next.max(i + 1);
    }
    out
}

/// A head whose name is not `[A-Za-z][A-Za-z0-9_-]*`: it opens nothing, but the agent meant a
/// block, so it is reported for the repair prompt.
fn nameless(out: &mut Parsed, i: usize, block: BlockKind, raw: &str) -> usize {
    let (head, what) = match block {
        BlockKind::Post => ("POST", "type"),
        BlockKind::Role => ("PROPOSE_ROLE", "name"),
        BlockKind::Workflow => ("PROPOSE_WORKFLOW", "name"),
        BlockKind::Consensus => ("PROPOSE_CONSENSUS", "name"),
        BlockKind::Action
        | BlockKind::Delegate
        | BlockKind::Todos
        | BlockKind::AnswerKey
        | BlockKind::Footer => ("header", "name"),
    };
    let message = if raw.is_empty() {
        format!("{head} header at line {} has no {what}", i + 1)
    } else {
        format!(
            "{head} header at line {} has an invalid {what} \"{}\" (use letters, digits, _ and -)",
            i + 1,
            clip(raw)
        )
    };
    report(out, i + 1, block, message);
    i + 1
}
