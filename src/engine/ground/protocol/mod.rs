//! The block protocol agents reply in, and a quality score for a reply.
//!
//! A reply is free text with line-oriented blocks in it: `ACTION:` (file changes, commands,
//! done), `POST:` (messages for the board), `PROPOSE_ROLE:`, `PROPOSE_WORKFLOW:`,
//! `PROPOSE_CONSENSUS:`, `DELEGATE:` (a sub-objective for another agent), a `TODOS:` list, an
//! `ANSWER_KEY:` (the checks a result must pass) and single-line footer signals such as
//! `CONFIDENCE: 0.8`. The grammar is the one the earlier Python tool used, so prompts written for
//! it work unchanged. Invariants: [`parse`] never panics and never fails — whatever does not fit
//! the grammar is skipped as noise or reported in [`Parsed::problems`]; a line inside a block's
//! body is never read as anything else (a file may contain `POST: x` or `CONFIDENCE: 0.1`); a
//! value's inner lines, indentation included, are kept byte for byte, with only blank lines at
//! its ends dropped and CRLF read as LF. [`score`] is pure and reads only a bounded prefix of the
//! text beyond what `parse` produced.

mod action;
mod answer_key;
mod blocks;
mod footer;
mod lex;
mod parse;
pub mod quality;
mod span;
mod types;

#[cfg(test)]
mod tests;

pub use parse::parse;
pub use quality::{Flag, Quality, ScoreOptions, score};
pub use types::{
    Action, ActionBlock, BlockCounts, BlockKind, Checkpoint, ConsensusProposal, Delegation, Footer,
    Gate, KeyCheck, Parsed, PostBlock, Problem, RoleProposal, RoundStatus, TodoItem, TodoState,
    Urgency, Verdict, WorkflowProposal,
};
