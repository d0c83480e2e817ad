//! The decisions of the robustness loops, as pure functions: whether a dispatch fans out,
//! whether a critic reviews it, what to do after a reply is scored, how a critic's verdict and
//! a checkpoint verdict read. No IO here, so each rule is tested on its own.

use crate::engine::ground::config::{AutoConsensus, AutoRefine, RobustnessConfig};
use crate::engine::ground::protocol::{Checkpoint, Flag, Footer, Parsed, Quality, Verdict};
use crate::engine::store::workflow::Refine;

/// The agent that coalesces consensus samples and judges checkpoints. It is never fanned out
/// itself: its answers are the merge step.
pub const CHIEF: &str = "chief";

/// The critic used when a `refine:` block names none.
pub const DEFAULT_CRITIC: &str = "critic";

/// Agents that review others; the automatic critic loop never reviews them (a critic
/// reviewing a critic, or the chief's own verdicts, would loop without adding evidence).
const REVIEWERS: &[&str] = &["chief", "qa", "critic"];

/// Why a dispatch fans out before its first reply, or None.
pub fn consensus_trigger(mode: AutoConsensus, agent: &str, careful: bool) -> Option<&'static str> {
    if agent == CHIEF {
        return None;
    }
    match mode {
        AutoConsensus::Off => None,
        AutoConsensus::OnCareful => careful.then_some("careful"),
        AutoConsensus::Always => Some("always"),
    }
}

/// The lenses of a debate panel whose `refine:` block names none.
pub const DEFAULT_LENSES: &[&str] = &["correctness", "security", "simplicity"];

/// A critic loop to run after a dispatch.
#[derive(Debug, Clone, PartialEq)]
pub struct RefinePlan {
    pub critic: String,
    pub max_rounds: u32,
    pub accept_threshold: f64,
    /// Empty: one critic per round. Otherwise `mode: debate`: the critic reviews once per lens,
    /// in parallel, and the panel decides.
    pub lenses: Vec<String>,
}

/// What a reviewer with `lens` looks for, one sentence for its objective.
pub fn lens_guidance(lens: &str) -> String {
    match lens {
        "correctness" => "Does it do what the task asks, for every input a user will give it, \
                          and do the tests prove it?"
            .into(),
        "security" => "Can input, paths, commands or secrets be abused, leaked or escape \
                       where they should stay?"
            .into(),
        "simplicity" => "Is there a simpler design with the same behaviour; is anything \
                         unused, duplicated or premature?"
            .into(),
        "performance" => "Where does time or memory grow faster than the input, and does it \
                          matter at the sizes this project meets?"
            .into(),
        "robustness" => "What happens on bad input, missing files, timeouts and partial \
                         failure; is every error clear and recoverable?"
            .into(),
        "tests" => "Which behaviour has no test, and which test could pass while the code is \
                    wrong?"
            .into(),
        "ux" => "Can a new user get from nothing to a working result by following the README \
                 and the messages alone?"
            .into(),
        other => format!("Judge the work for {other}."),
    }
}

/// A debate panel's decision: accepted when at most half of the lenses ask for a revision and
/// the mean score reaches the threshold. Returns (accepted, mean score).
pub fn panel_decision(judgements: &[Judgement], threshold: f64) -> (bool, f64) {
    if judgements.is_empty() {
        return (false, 0.0);
    }
    let revise = judgements
        .iter()
        .filter(|j| j.verdict == Verdict::Revise)
        .count();
    let mean = judgements.iter().map(|j| j.score).sum::<f64>() / judgements.len() as f64;
    let mean = (mean * 1000.0).round() / 1000.0;
    (revise * 2 <= judgements.len() && mean >= threshold, mean)
}

/// The critic loop for `agent`'s reply. `auto_refine: off` turns every critic loop off, so the
/// cost-minimal setting really is one call per stage; otherwise a stage's own `refine:` block
/// runs (unless the critic would review itself), and `careful_only` / `all` add careful or all
/// other stages, never for reviewers.
pub fn refine_plan(
    cfg: &RobustnessConfig,
    explicit: Option<&Refine>,
    agent: &str,
    careful: bool,
) -> Option<RefinePlan> {
    let wanted = match explicit {
        _ if cfg.auto_refine == AutoRefine::Off => false,
        Some(_) => true,
        None => {
            !REVIEWERS.contains(&agent)
                && match cfg.auto_refine {
                    AutoRefine::Off => false,
                    AutoRefine::CarefulOnly => careful,
                    AutoRefine::All => true,
                }
        }
    };
    let critic = explicit
        .and_then(|r| r.critic.clone())
        .unwrap_or_else(|| DEFAULT_CRITIC.to_string());
    if !wanted || critic == agent {
        return None;
    }
    Some(RefinePlan {
        critic,
        max_rounds: explicit
            .and_then(|r| r.max_rounds)
            .unwrap_or(cfg.refine_max_rounds)
            .max(1),
        accept_threshold: explicit
            .and_then(|r| r.accept_threshold)
            .unwrap_or(cfg.refine_accept_threshold),
        lenses: match explicit {
            Some(r) if r.mode.as_deref() == Some("debate") && r.critics.is_empty() => {
                DEFAULT_LENSES.iter().map(|l| l.to_string()).collect()
            }
            Some(r) if r.mode.as_deref() == Some("debate") => r.critics.clone(),
            Some(_) | None => Vec::new(),
        },
    })
}

/// Flags worth a repair round. A self-reported NEEDS_REVIEW is an honest signal for a
/// reviewer, not a defect to repair; a refusal is not retried at all.
pub fn repairable(flag: &Flag) -> bool {
    match flag {
        Flag::Empty
        | Flag::MalformedAction
        | Flag::MalformedPost
        | Flag::OutputsMissing(_)
        | Flag::NoOp
        | Flag::LowConfidence(_)
        | Flag::ConfidenceMissing
        | Flag::ProblemsReported(_) => true,
        Flag::Refusal | Flag::NeedsReviewSelf => false,
    }
}

/// What to do after attempt `attempt` (1-based: 1 is the first reply) scored `q`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QualityStep {
    /// Good enough: apply it.
    Accept,
    /// The agent declined: apply what it said (nothing to act on) and tell the chief.
    Refused,
    /// Ask the same agent again with the reasons quoted.
    Repair,
    /// The last retry: fan out into consensus instead of one more repair.
    Escalate,
    /// Retries are used up: apply the best reply seen.
    GiveUp,
}

/// The quality ladder: up to `max_retries` retries after the first reply; the last of them is
/// a consensus fan-out when consensus is enabled, a plain repair otherwise.
pub fn quality_step(
    q: &Quality,
    attempt: u32,
    max_retries: u32,
    consensus_enabled: bool,
) -> QualityStep {
    if !q.recoverable {
        return QualityStep::Refused;
    }
    if !q.flags.iter().any(repairable) {
        return QualityStep::Accept;
    }
    let retries_used = attempt.saturating_sub(1);
    if retries_used >= max_retries {
        QualityStep::GiveUp
    } else if consensus_enabled && retries_used + 1 == max_retries {
        QualityStep::Escalate
    } else {
        QualityStep::Repair
    }
}

/// The reasons a reply failed, one line each, for events and the repair preamble.
pub fn reasons(q: &Quality, parsed: &Parsed) -> Vec<String> {
    let mut out: Vec<String> = q
        .flags
        .iter()
        .filter(|f| repairable(f))
        .map(Flag::reason)
        .collect();
    // The parser's own words say which line is wrong; they are the most useful detail.
    out.extend(parsed.problems.iter().take(6).map(|p| p.message.clone()));
    out
}

/// The objective of a repair dispatch: what was wrong, then the task again.
pub fn repair_objective(reasons: &[String], objective: &str) -> String {
    let mut text = String::from(
        "Your previous reply was turned down by the harness's quality check for these reasons:\n",
    );
    for r in reasons {
        text.push_str(&format!("- {r}\n"));
    }
    text.push_str(
        "Send a complete new reply that fixes every item above (the previous one was not \
         applied).\n\nOriginal objective:\n",
    );
    text.push_str(objective);
    text
}

/// A critic's judgement: the verdict, the score, and whether the work is accepted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Judgement {
    pub verdict: Verdict,
    pub score: f64,
    pub accepted: bool,
}

/// Read a critic's footer: no VERDICT means revise; no SCORE means 1.0 for accept and 0.4 for
/// revise. The work is accepted on `VERDICT: accept` or a score at or above the threshold.
pub fn judge(footer: &Footer, threshold: f64) -> Judgement {
    let verdict = footer.verdict.unwrap_or(Verdict::Revise);
    let score = footer.score.unwrap_or(match verdict {
        Verdict::Accept => 1.0,
        Verdict::Revise => 0.4,
    });
    Judgement {
        verdict,
        score,
        accepted: verdict == Verdict::Accept || score >= threshold,
    }
}

/// The word for a verdict in events.
pub fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Accept => "accept",
        Verdict::Revise => "revise",
    }
}

/// The word for a checkpoint verdict in events.
pub fn checkpoint_word(c: Checkpoint) -> &'static str {
    match c {
        Checkpoint::Continue => "continue",
        Checkpoint::Redirect => "redirect",
        Checkpoint::Abort => "abort",
    }
}

/// Longest checkpoint note carried into the next stages' objectives, in characters.
const MAX_NOTE_CHARS: usize = 1200;

/// What the chief said around its CHECKPOINT line: the lines after it up to a blank line or
/// block, or, when there are none, the reply's prose outside blocks and footer lines.
pub fn checkpoint_note(reply: &str) -> String {
    let lines: Vec<&str> = reply.lines().collect();
    let is_signal = |l: &str| {
        let head = l.split(':').next().unwrap_or_default().trim();
        head.len() > 2
            && head.len() < 20
            && head
                .chars()
                .all(|c| c.is_ascii_uppercase() || c == '_' || c == ' ')
            && l.contains(':')
    };
    let after: Option<usize> = lines.iter().rposition(|l| {
        l.trim_start()
            .to_ascii_uppercase()
            .starts_with("CHECKPOINT:")
    });
    let mut picked: Vec<&str> = Vec::new();
    if let Some(i) = after {
        for l in &lines[i + 1..] {
            let t = l.trim();
            if t.is_empty() && !picked.is_empty() {
                break;
            }
            if t.is_empty() || is_signal(t) {
                if is_signal(t) {
                    break;
                }
                continue;
            }
            picked.push(t);
        }
    }
    if picked.is_empty() {
        let mut depth_in_block = false;
        for l in &lines {
            let t = l.trim();
            if t.starts_with("END_") {
                depth_in_block = false;
                continue;
            }
            if depth_in_block {
                continue;
            }
            if is_signal(t) {
                let head = t.split(':').next().unwrap_or_default();
                depth_in_block = matches!(
                    head,
                    "ACTION" | "POST" | "PROPOSE_ROLE" | "PROPOSE_WORKFLOW" | "PROPOSE_CONSENSUS"
                );
                continue;
            }
            if !t.is_empty() {
                picked.push(t);
            }
        }
    }
    let note = picked.join(" ");
    if note.chars().count() > MAX_NOTE_CHARS {
        format!("{}…", note.chars().take(MAX_NOTE_CHARS).collect::<String>())
    } else {
        note
    }
}

#[cfg(test)]
mod tests;
