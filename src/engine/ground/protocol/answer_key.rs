//! The `ANSWER_KEY:` block: the checks a worker says its own result must pass, for the
//! gauntlet's critique and final verification.
//!
//! ```text
//! ANSWER_KEY:
//! - k1: `cargo test` passes
//! k2 | the README shows the new flag
//! END_ANSWER_KEY
//! ```
//!
//! A check is `- id: condition` or `id | condition` (the dash is optional in both). Lines that
//! are neither are ignored, like prose in a list. Only a closed block counts and the last one
//! wins; an open one is reported and only its head is taken, so the lines after it are read as
//! usual.

use super::footer::{apply_signal, list_end};
use super::lex::{Top, classify};
use super::span::report;
use super::types::{BlockKind, KeyCheck, Parsed};

/// Longest id kept; longer words are not ids but prose.
const MAX_ID: usize = 40;

/// Reads the block whose head is at index `head`; returns where the walk resumes.
pub(super) fn parse_answer_key(lines: &[&str], head: usize, out: &mut Parsed) -> usize {
    let line = head + 1;
    let Some(end) = list_end(lines, head, "END_ANSWER_KEY", Top::AnswerKey) else {
        report(
            out,
            line,
            BlockKind::AnswerKey,
            format!("ANSWER_KEY at line {line} has no END_ANSWER_KEY; it was ignored"),
        );
        return line;
    };
    let mut checks: Vec<KeyCheck> = Vec::new();
    for (j, l) in lines.iter().enumerate().take(end).skip(head + 1) {
        let trimmed = l.trim();
        if let Some(check) = key_check(trimmed) {
            // A repeated id replaces the earlier condition: the agent corrected itself.
            checks.retain(|c| c.id != check.id);
            checks.push(check);
        } else if let Top::Footer(signal, value) = classify(trimmed) {
            apply_signal(signal, value, j + 1, out);
        }
    }
    out.answer_key = Some(checks);
    end + 1
}

/// `- id: condition`, `id: condition`, `- id | condition` or `id | condition`.
fn key_check(trimmed: &str) -> Option<KeyCheck> {
    let rest = trimmed
        .strip_prefix(['-', '*'])
        .map(str::trim_start)
        .unwrap_or(trimmed);
    let cut = rest.find(['|', ':'])?;
    let (id, condition) = (rest.get(..cut)?.trim(), rest.get(cut + 1..)?.trim());
    let id = id.trim_matches('`');
    let well_formed = !id.is_empty()
        && id.len() <= MAX_ID
        && id.starts_with(|c: char| c.is_ascii_alphanumeric())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.');
    // A footer signal inside the block (`SCORE: 1`) is a signal, not a check.
    let is_signal =
        rest.get(cut..cut + 1) == Some(":") && matches!(classify(rest), Top::Footer(..));
    (well_formed && !is_signal && !condition.is_empty()).then(|| KeyCheck {
        id: id.to_string(),
        condition: condition.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use crate::engine::ground::protocol::{BlockKind, KeyCheck, parse};

    fn check(id: &str, condition: &str) -> KeyCheck {
        KeyCheck {
            id: id.into(),
            condition: condition.into(),
        }
    }

    #[test]
    fn both_line_shapes_are_read() {
        let p = parse(
            "Built it.\nANSWER_KEY:\n- k1: `cargo test` passes\nk2 | README: shows --json\n\
             some prose the agent wrote\n- k3 | exit code 2 on bad input\nEND_ANSWER_KEY\n",
        );
        assert_eq!(
            p.answer_key,
            Some(vec![
                check("k1", "`cargo test` passes"),
                check("k2", "README: shows --json"),
                check("k3", "exit code 2 on bad input"),
            ])
        );
        assert!(p.problems.is_empty(), "{:?}", p.problems);
    }

    #[test]
    fn an_open_block_is_reported_and_ignored() {
        let p = parse("ANSWER_KEY:\n- k1: it works\nCONFIDENCE: 0.9\n");
        assert_eq!(p.answer_key, None);
        assert_eq!(p.problems.len(), 1);
        assert_eq!(p.problems[0].block, BlockKind::AnswerKey);
        assert!(p.problems[0].message.contains("END_ANSWER_KEY"));
        // The lines after the head are still read.
        assert_eq!(p.footer.confidence, Some(0.9));
    }

    #[test]
    fn the_last_block_wins_and_a_repeated_id_is_replaced() {
        let p = parse(
            "ANSWER_KEY:\n- a: first\nEND_ANSWER_KEY\nANSWER_KEY:\n- b: old\n- b: new\n\
             END_ANSWER_KEY\n",
        );
        assert_eq!(p.answer_key, Some(vec![check("b", "new")]));
    }

    #[test]
    fn a_block_inside_a_file_body_is_content() {
        let p = parse(
            "ACTION: write\nPATH: notes.md\nCONTENT:\nANSWER_KEY:\n- k1: x\nEND_ANSWER_KEY\n\
             END_ACTION\n",
        );
        assert_eq!(p.answer_key, None);
        assert_eq!(p.actions.len(), 1);
    }

    #[test]
    fn an_empty_block_is_an_empty_key_and_signals_inside_still_count() {
        let p = parse("ANSWER_KEY:\nnothing to check\nSCORE: 0.5\nEND_ANSWER_KEY\n");
        assert_eq!(p.answer_key, Some(vec![]));
        assert_eq!(p.footer.score, Some(0.5));
    }

    #[test]
    fn ids_must_look_like_ids() {
        let p = parse(
            "ANSWER_KEY:\n- : no id\n- two words: bad\n- k1:\n- k-2.a | ok\nEND_ANSWER_KEY\n",
        );
        assert_eq!(p.answer_key, Some(vec![check("k-2.a", "ok")]));
    }

    #[test]
    fn material_defects_is_a_count() {
        let d = |v: &str| parse(&format!("VERDICT: revise\nMATERIAL_DEFECTS: {v}\n")).footer;
        assert_eq!(d("3").material_defects, Some(3));
        assert_eq!(d("0 (none left)").material_defects, Some(0));
        assert_eq!(d("none").material_defects, Some(0));
        let bad = parse("MATERIAL_DEFECTS: many\n");
        assert_eq!(bad.footer.material_defects, None);
        assert_eq!(bad.problems.len(), 1);
    }
}
