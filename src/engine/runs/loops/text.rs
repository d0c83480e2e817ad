//! Reading the loops' inputs out of agent replies: ralph's objective line, the autoresearch
//! question, qa's verdict. Pure and total: any text gives an answer, never a panic.
//!
//! Only prose counts. Lines inside a block (an `ACTION:` … `END_ACTION` body, a POST, a
//! proposal, a TODOS list) and single-line protocol signals (`CONFIDENCE: 0.8`) are never taken
//! for an objective, and the shell provider's stub text (`[shell] …`) is never one either, so
//! a commit subject cannot become `[ralph] [shell] …` (the reference's bug).

use std::sync::OnceLock;

use regex::Regex;

use crate::engine::ground::protocol::PostBlock;

/// Longest objective or question kept, in characters.
const MAX_LINE: usize = 200;

/// Heads that open a block whose body runs to a terminator line.
const BLOCK_HEADS: &[&str] = &[
    "ACTION",
    "POST",
    "PROPOSE_ROLE",
    "PROPOSE_WORKFLOW",
    "PROPOSE_CONSENSUS",
    "TODOS",
];

/// `KEY:` at the start of a trimmed line, KEY being two or more of `[A-Z_]` (so `Q:` is prose).
fn protocol_key(trimmed: &str) -> Option<&str> {
    let (key, _) = trimmed.split_once(':')?;
    (key.len() >= 2 && key.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')).then_some(key)
}

/// The reply's prose lines, trimmed and non-empty, in order.
pub fn prose_lines(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut in_block = false;
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with("END_") && t[4..].bytes().all(|b| b.is_ascii_uppercase() || b == b'_') {
            in_block = false;
            continue;
        }
        if let Some(key) = protocol_key(t) {
            if BLOCK_HEADS.contains(&key) {
                in_block = true;
            }
            continue;
        }
        if !in_block && !t.is_empty() {
            out.push(t);
        }
    }
    out
}

fn clip(line: &str) -> String {
    let mut s: String = line.chars().take(MAX_LINE).collect();
    if s.len() < line.len() {
        s.push('…');
    }
    s
}

/// Markdown decoration a model puts in front of a sentence.
fn undecorate(line: &str) -> &str {
    line.trim_start_matches(['#', '*', '-', '>', ' ', '\t'])
        .trim_end_matches(['*', ' '])
}

/// True for text the shell provider's stub produced, which names no improvement.
pub fn is_stub(line: &str) -> bool {
    line.trim_start().starts_with("[shell")
}

/// Ralph's improvement: the first prose line, undecorated; None when there is none or it is
/// the shell stub.
pub fn objective_line(reply: &str) -> Option<String> {
    let line = prose_lines(reply)
        .into_iter()
        .map(undecorate)
        .find(|l| !l.is_empty())?;
    (!is_stub(line)).then(|| clip(line))
}

/// The open question of an autoresearch survey: the first prose line starting with `Q:`,
/// `Question:` or `Hypothesis:` (any case), with its text; None when there is none.
pub fn question_line(reply: &str) -> Option<String> {
    for line in prose_lines(reply) {
        let l = undecorate(line);
        let Some((key, rest)) = l.split_once(':') else {
            continue;
        };
        let key = key.trim().to_ascii_lowercase();
        let rest = rest.trim();
        if matches!(key.as_str(), "q" | "question" | "hypothesis") && !rest.is_empty() {
            return Some(clip(rest));
        }
    }
    None
}

fn pass_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| crate::engine::ground::fixed::regex(r"\bPASS(ED)?\b"))
}

fn fail_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| crate::engine::ground::fixed::regex(r"\bFAIL(ED|URE|S)?\b"))
}

/// Qa's verdict from its `POST: qa` blocks, the last one deciding: Some(true) for PASS,
/// Some(false) for FAIL (a FAIL anywhere in the body wins), None when it gave neither.
pub fn qa_verdict(posts: &[PostBlock]) -> Option<bool> {
    posts
        .iter()
        .rev()
        .filter(|p| p.post_type.eq_ignore_ascii_case("qa"))
        .find_map(|p| {
            if fail_re().is_match(&p.body) {
                Some(false)
            } else if pass_re().is_match(&p.body) {
                Some(true)
            } else {
                None
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::ground::protocol::parse;

    #[test]
    fn the_objective_is_the_first_prose_line() {
        let reply = "\n## Add a --json flag to `clk status`\nbecause scripts need it\n";
        assert_eq!(
            objective_line(reply).as_deref(),
            Some("Add a --json flag to `clk status`")
        );
    }

    #[test]
    fn block_bodies_and_signals_are_not_prose() {
        let reply = "ACTION: write\nPATH: a.txt\nCONTENT:\nnot me\nEND_ACTION\nCONFIDENCE: 0.9\n\
                     POST: finding\nBODY:\nnor me\nEND_POST\nTighten the parser\n";
        assert_eq!(objective_line(reply).as_deref(), Some("Tighten the parser"));
        assert_eq!(objective_line("CONFIDENCE: 1\nPROGRESS: no\n"), None);
        assert_eq!(objective_line(""), None);
    }

    #[test]
    fn the_shell_stub_is_no_objective() {
        assert_eq!(
            objective_line("[shell] ralph received a prompt of 10 chars.\nmore\n"),
            None
        );
        assert_eq!(objective_line("[shell-provider] agent=ralph\n"), None);
    }

    #[test]
    fn long_lines_are_cut_on_a_character_boundary() {
        let line = "é".repeat(300);
        let got = objective_line(&line).unwrap();
        assert_eq!(got.chars().count(), MAX_LINE + 1);
        assert!(got.ends_with('…'));
    }

    #[test]
    fn questions_come_from_their_markers() {
        let reply = "Survey: things\nQ: does the cache help?\nHypothesis: yes\n";
        assert_eq!(
            question_line(reply).as_deref(),
            Some("does the cache help?")
        );
        assert_eq!(
            question_line("- **Hypothesis: it is slow").as_deref(),
            Some("it is slow")
        );
        assert_eq!(question_line("Question:\nnothing here"), None);
        assert_eq!(
            question_line("ACTION: run\nCMD: echo Q: x\nEND_ACTION"),
            None
        );
    }

    #[test]
    fn qa_verdicts() {
        let p = |t: &str| parse(t).posts;
        assert_eq!(
            qa_verdict(&p("POST: qa\nBODY:\nPASS all good\nEND_POST\n")),
            Some(true)
        );
        assert_eq!(
            qa_verdict(&p(
                "POST: qa\nBODY:\nPASSED, but one test FAILED\nEND_POST\n"
            )),
            Some(false)
        );
        assert_eq!(
            qa_verdict(&p("POST: review\nBODY:\nFAIL\nEND_POST\n")),
            None
        );
        assert_eq!(
            qa_verdict(&p("POST: qa\nBODY:\nlooks fine\nEND_POST\n")),
            None
        );
    }
}
