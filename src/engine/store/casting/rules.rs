//! The casting rules: whether one PROPOSE_ROLE adds a role, updates one, refreshes a
//! baseline prompt, or is rejected, and why.
//!
//! Pure: the roster and a prompt lookup go in, a [`Decision`] comes out; nothing is read or
//! written. Invariants: a baseline role is never added, replaced or removed (only its prompt
//! may be refreshed); no variant of `engineer` is ever created; a name whose key clashes with
//! an existing role, a bundled specialist or a retired name is refused unless it is that
//! role's exact name; the dynamic roster never grows past the cap. Every rejection carries a
//! one-line message the chief can act on in its next reply.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::engine::ground::bundled;
use crate::engine::ground::config::AgentsFile;
use crate::engine::ground::config::agents::BASELINE;
use crate::engine::ground::protocol::RoleProposal;

pub use super::names::{keys_clash, name_key, names_engineer, normalize, prompt_similarity};

/// Prompts at least this similar to an existing agent's prompt are near-duplicates.
pub const SIMILAR_PROMPT_THRESHOLD: f64 = 0.45;
/// Longest accepted role name; it becomes a file name and a roster key.
pub const MAX_NAME_LEN: usize = 48;
/// The one canonical engineering role; its aliases and variants are refused.
pub const ENGINEER: &str = "engineer";
/// Names that once were roles and must not come back (ralph runs research loops now).
pub const RETIRED: &[&str] = &["autoresearch"];

/// What to do with one proposal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    /// A new dynamic role.
    Add,
    /// The exact name of an existing non-baseline role: replace its role, prompt and pins.
    Update,
    /// A baseline name with a PROMPT body: rewrite that prompt, keep the role.
    RefreshBaselinePrompt,
    Reject {
        reason: RejectReason,
    },
}

impl Decision {
    pub fn is_accepted(&self) -> bool {
        match self {
            Decision::Add | Decision::Update | Decision::RefreshBaselinePrompt => true,
            Decision::Reject { .. } => false,
        }
    }

    /// The `event` field of the casting.log line for this decision.
    pub fn event(&self) -> &'static str {
        match self {
            Decision::Add => "role_added",
            Decision::Update => "role_updated",
            Decision::RefreshBaselinePrompt => "baseline_prompt_refreshed",
            Decision::Reject { .. } => "role_rejected",
        }
    }
}

/// Why a proposal was refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum RejectReason {
    /// A baseline name without a PROMPT body: there is nothing to change.
    BaselineProtected { name: String },
    /// A synonym or variant of `canonical` (always `engineer`).
    EngineerAlias { name: String, canonical: String },
    /// The name key clashes with an existing role's.
    SimilarName { existing: String },
    /// The prompt's content words overlap too much with an existing agent's prompt.
    SimilarPrompt { existing: String, score: f64 },
    /// The dynamic roster is full.
    CapReached { max: u32 },
    /// Not usable as a role name even after normalization (`name` is the proposal's, tidied).
    InvalidName { name: String },
    /// Neither a ROLE line nor a PROMPT body.
    EmptyRole,
    /// A retired name, or a near-duplicate of one.
    RetiredName { name: String },
}

impl RejectReason {
    /// Stable short code for logs and filters.
    pub fn code(&self) -> &'static str {
        match self {
            RejectReason::BaselineProtected { .. } => "baseline_protected",
            RejectReason::EngineerAlias { .. } => "engineer_alias",
            RejectReason::SimilarName { .. } => "similar_name",
            RejectReason::SimilarPrompt { .. } => "similar_prompt",
            RejectReason::CapReached { .. } => "cap_reached",
            RejectReason::InvalidName { .. } => "invalid_name",
            RejectReason::EmptyRole => "empty_role",
            RejectReason::RetiredName { .. } => "retired_name",
        }
    }

    /// One line for the chief (it reads these as `$casting_feedback`) or a person.
    pub fn message(&self) -> String {
        match self {
            RejectReason::BaselineProtected { name } => format!(
                "'{name}' is a baseline role and always exists; leave it out, or send \
                 PROPOSE_ROLE: {name} with a PROMPT body to rewrite its prompt"
            ),
            RejectReason::EngineerAlias { name, canonical } => format!(
                "'{name}' is a reserved alias of '{canonical}'; use '{canonical}' directly \
                 and do not create variants"
            ),
            RejectReason::SimilarName { existing } => format!(
                "too close to the existing role '{existing}'; use '{existing}' (send its exact \
                 name to update it) or propose a role with a clearly different job"
            ),
            RejectReason::SimilarPrompt { existing, score } => format!(
                "its prompt overlaps {score:.2} with the prompt of '{existing}' (limit \
                 {SIMILAR_PROMPT_THRESHOLD:.2}); use or update '{existing}', or write a prompt \
                 for a clearly different job"
            ),
            RejectReason::CapReached { max } => format!(
                "the roster already holds {max} dynamic roles, the cap \
                 (casting.max_dynamic_roles); reuse or update an existing role instead"
            ),
            RejectReason::InvalidName { name } => format!(
                "'{name}' is not a usable role name; use letters, digits and _, starting with \
                 a letter, at most {MAX_NAME_LEN} characters"
            ),
            RejectReason::EmptyRole => {
                "the proposal has neither a ROLE line nor a PROMPT body; give at least a \
                 one-line ROLE"
                    .to_string()
            }
            RejectReason::RetiredName { name } if RETIRED.contains(&name.as_str()) => format!(
                "'{name}' is a retired role: ralph runs research loops, so give that work to \
                 ralph"
            ),
            RejectReason::RetiredName { name } => format!(
                "'{name}' is too close to the retired role '{}': ralph runs research loops, \
                 so give that work to ralph",
                RETIRED.join("', '")
            ),
        }
    }
}

/// Names a role must not clash with besides the roster itself: the baseline, the bundled
/// specialists (researcher, analyst, ...: they exist without casting), engineer and the
/// retired names.
fn reserved_names() -> BTreeSet<String> {
    let mut names: BTreeSet<String> = BASELINE.iter().map(|(n, _)| n.to_string()).collect();
    names.extend(bundled_specialists());
    names.insert(ENGINEER.to_string());
    names.extend(RETIRED.iter().map(|n| n.to_string()));
    names
}

/// Agents that have a bundled prompt, by name.
pub fn bundled_specialists() -> impl Iterator<Item = String> {
    bundled::PROMPTS
        .iter()
        .filter_map(|(file, _)| file.strip_suffix(".md"))
        .map(str::to_string)
}

/// `name` is a normalized name that can be a roster key and a file name.
pub fn valid_name(name: &str) -> bool {
    name.len() <= MAX_NAME_LEN && name.as_bytes().first().is_some_and(u8::is_ascii_alphabetic)
}

/// A raw name made safe to quote in a one-line message.
fn tidy(raw: &str) -> String {
    let one_line: String = raw
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let one_line = one_line.trim();
    if one_line.is_empty() {
        return "(empty)".to_string();
    }
    let mut clipped: String = one_line.chars().take(40).collect();
    if clipped.len() < one_line.len() {
        clipped.push('…');
    }
    clipped
}

/// The first existing or reserved name (not `name` itself) whose key clashes with `name`'s;
/// exact key matches are preferred over prefix matches.
fn similar_name(roster: &AgentsFile, name: &str) -> Option<String> {
    let key = name_key(name);
    let mut others = reserved_names();
    others.extend(roster.agents.keys().cloned());
    others.remove(name);
    let keyed: Vec<(String, String)> = others.into_iter().map(|n| (name_key(&n), n)).collect();
    let flat = |k: &str| k.replace('_', "");
    keyed
        .iter()
        .find(|(k, _)| flat(k) == flat(&key))
        .or_else(|| keyed.iter().find(|(k, _)| keys_clash(k, &key)))
        .map(|(_, n)| n.clone())
}

/// The existing agent whose prompt is most similar to `body`, when at or over the threshold.
/// `name` (the agent being updated or refreshed) is not compared with itself.
fn similar_prompt(
    roster: &AgentsFile,
    prompts: &dyn Fn(&str) -> Option<String>,
    name: &str,
    body: &str,
) -> Option<(String, f64)> {
    let mut others: BTreeSet<String> = BASELINE.iter().map(|(n, _)| n.to_string()).collect();
    others.extend(bundled_specialists());
    others.extend(roster.agents.keys().cloned());
    others.remove(name);
    others
        .into_iter()
        .filter_map(|other| prompts(&other).map(|text| (prompt_similarity(body, &text), other)))
        .filter(|(score, _)| *score >= SIMILAR_PROMPT_THRESHOLD)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(score, other)| (other, score))
}

/// Roles that count against the cap: everything in the roster but the baseline.
pub fn dynamic_count(roster: &AgentsFile) -> usize {
    roster
        .agents
        .keys()
        .filter(|n| !AgentsFile::is_baseline(n))
        .count()
}

fn reject(reason: RejectReason) -> Decision {
    Decision::Reject { reason }
}

/// Decide one proposal against the roster as it stands. `prompts` returns an agent's
/// current prompt text by agent name (None when it has none).
pub fn decide(
    roster: &AgentsFile,
    prompts: &dyn Fn(&str) -> Option<String>,
    proposal: &RoleProposal,
    max_dynamic_roles: u32,
) -> Decision {
    let name = normalize(&proposal.name);
    if !valid_name(&name) {
        return reject(RejectReason::InvalidName {
            name: tidy(&proposal.name),
        });
    }
    if RETIRED.contains(&name.as_str()) {
        return reject(RejectReason::RetiredName { name });
    }
    let body = proposal.prompt.trim();
    let similar_body = |name: &str| {
        if body.is_empty() {
            return None;
        }
        similar_prompt(roster, prompts, name, body)
            .map(|(existing, score)| reject(RejectReason::SimilarPrompt { existing, score }))
    };
    if AgentsFile::is_baseline(&name) {
        if body.is_empty() {
            return reject(RejectReason::BaselineProtected { name });
        }
        return similar_body(&name).unwrap_or(Decision::RefreshBaselinePrompt);
    }
    let exists = roster.agents.contains_key(&name);
    if !exists {
        if names_engineer(&name) {
            return reject(RejectReason::EngineerAlias {
                name,
                canonical: ENGINEER.to_string(),
            });
        }
        if let Some(existing) = similar_name(roster, &name) {
            if RETIRED.contains(&existing.as_str()) {
                return reject(RejectReason::RetiredName { name });
            }
            if existing == ENGINEER {
                return reject(RejectReason::EngineerAlias {
                    name,
                    canonical: existing,
                });
            }
            return reject(RejectReason::SimilarName { existing });
        }
    }
    if body.is_empty() && proposal.role.trim().is_empty() {
        return reject(RejectReason::EmptyRole);
    }
    if !exists && dynamic_count(roster) >= max_dynamic_roles as usize {
        return reject(RejectReason::CapReached {
            max: max_dynamic_roles,
        });
    }
    if let Some(rejection) = similar_body(&name) {
        return rejection;
    }
    if exists {
        Decision::Update
    } else {
        Decision::Add
    }
}
