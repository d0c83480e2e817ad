//! What the gauntlet asks: derive a key, attack a result, revise, verify, repair.

use crate::engine::agents::dispatch::DispatchOutcome;
use crate::engine::ground::protocol::KeyCheck;

/// Longest piece of a reply quoted to the other side, in characters.
const MAX_QUOTE: usize = 4000;

fn quote(text: &str) -> String {
    if text.chars().count() > MAX_QUOTE {
        let cut: String = text.chars().take(MAX_QUOTE).collect();
        format!("{cut}\n… (cut)")
    } else {
        text.to_string()
    }
}

/// The key as the agents write it, one check a line.
pub fn key_text(key: &[KeyCheck]) -> String {
    key.iter()
        .map(|c| format!("- {}: {}", c.id, c.condition))
        .collect::<Vec<_>>()
        .join("\n")
}

fn files(work: &DispatchOutcome) -> String {
    let files = work.batch.changed_paths();
    if files.is_empty() {
        "(none)".into()
    } else {
        files.join(", ")
    }
}

/// What a covered stage's worker is told at the end of its objective.
pub fn brief(critic: &str, rounds: u32) -> String {
    format!(
        "GAUNTLET: {critic} will attack your result (up to {rounds} round(s)) and then check it \
         against an answer key. State the checks your result must pass at the end of your \
         reply:\nANSWER_KEY:\n- k1: <a concrete check, e.g. a command that must pass>\n\
         END_ANSWER_KEY"
    )
}

pub fn derive(agent: &str, objective: &str) -> String {
    format!(
        "GAUNTLET answer key: before {agent}'s result is judged, write the checks it must pass \
         to meet the task below. Each check is concrete and decidable from the files and the \
         reply (a command that must pass, a behaviour, a file that must say something). Reply \
         with:\nANSWER_KEY:\n- k1: <check>\n- k2: <check>\nEND_ANSWER_KEY\n\nTask:\n{objective}"
    )
}

pub fn critique(
    agent: &str,
    objective: &str,
    key: &[KeyCheck],
    round: u32,
    rounds: u32,
    work: &DispatchOutcome,
) -> String {
    format!(
        "GAUNTLET critique, round {round}/{rounds}: attack {agent}'s result. Look for every way \
         it fails the task or a check of the answer key: wrong behaviour, missing cases, \
         claims the files do not back. Name each material defect (one a user would hit) with \
         what to change. End with `VERDICT: accept` (nothing material left) or `VERDICT: \
         revise`, `SCORE: <0..1>` and `MATERIAL_DEFECTS: <count>`.\n\nTask:\n{objective}\n\n\
         Answer key:\n{}\n\nFiles changed: {}\n\n{agent}'s reply:\n{}",
        key_text(key),
        files(work),
        quote(&work.reply)
    )
}

pub fn revision(objective: &str, key: &[KeyCheck], critic: &str, critique: &str) -> String {
    format!(
        "GAUNTLET revision: {critic} found material defects in your result. Your earlier reply \
         was applied; its files are as you left them. Fix every defect named below with ACTION \
         blocks, and send again any POST the task requires.\n\nCritique:\n{}\n\nAnswer key:\n{}\
         \n\nOriginal objective:\n{objective}",
        quote(critique),
        key_text(key)
    )
}

pub fn verify(agent: &str, objective: &str, key: &[KeyCheck], work: &DispatchOutcome) -> String {
    format!(
        "GAUNTLET final check: verify {agent}'s result against each check of the answer key. \
         Write one line per check, `PASS <id>` or `FAIL <id>: <why>`. End with `VERDICT: \
         accept` only when every check passes, else `VERDICT: revise`, then `SCORE: <0..1>` \
         and `MATERIAL_DEFECTS: <number of failed checks>`.\n\nTask:\n{objective}\n\nAnswer \
         key:\n{}\n\nFiles changed: {}\n\n{agent}'s last reply:\n{}",
        key_text(key),
        files(work),
        quote(&work.reply)
    )
}

pub fn repair(objective: &str, key: &[KeyCheck], critic: &str, check: &str) -> String {
    format!(
        "GAUNTLET repair (one attempt): {critic}'s final check found checks of the answer key \
         your result fails. Fix exactly those with ACTION blocks; change nothing else.\n\n\
         Final check:\n{}\n\nAnswer key:\n{}\n\nOriginal objective:\n{objective}",
        quote(check),
        key_text(key)
    )
}
