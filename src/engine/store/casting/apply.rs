//! Applying casting decisions: prompt files, the roster in agents.json, and casting.log.
//!
//! Invariants: proposals are decided in order against the roster as it stands after the
//! previous ones, so a batch cannot slip two near-identical roles past the rules; every
//! decision, accepted or rejected, is one line in `.clk/state/casting.log` (the rejected ones
//! are what `$casting_feedback` shows the chief); prompt files and agents.json are written
//! atomically, agents.json once per batch, and also when a later proposal fails to write so
//! the roster never points at prompts it does not know about; every written prompt holds the
//! shared protocol section.

use std::fs;

use serde::Serialize;
use serde_json::{Value, json};

use super::rules::{Decision, RejectReason, decide, normalize, valid_name};
use super::{log_path, one_line, timestamp};
use crate::engine::ground::bundled;
use crate::engine::ground::config::agents::BASELINE;
use crate::engine::ground::config::{AgentSpec, AgentsFile};
use crate::engine::ground::protocol::RoleProposal;
use crate::engine::store::prompts::{PROTOCOL_MARKER, protocol_section};
use crate::engine::store::workspace::{Workspace, append_jsonl, write_atomic, write_json};

/// Where agents.json lives, relative to the project root (for `files_written`).
const AGENTS_REL: &str = ".clk/config/agents.json";
/// Who `add_manual` and `remove` are logged as.
const USER: &str = "user";

/// What happened to one proposal.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CastOutcome {
    /// The normalized role name (the proposal's own, tidied, when it could not be normalized).
    pub name: String,
    pub decision: Decision,
    /// Files written for it, relative to the project root.
    pub files_written: Vec<String>,
}

/// The prompt file of `agent`: the roster's entry when it is a plain file name, else
/// `<agent>.md`. A roster edited by hand must not make us write outside `.clk/prompts/`.
pub fn prompt_file(roster: &AgentsFile, agent: &str) -> String {
    let file = roster.spec(agent).prompt;
    let plain = !file.is_empty()
        && !file.starts_with('.')
        && file
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if plain { file } else { format!("{agent}.md") }
}

/// The prompt `agent` would be dispatched with: its file on disk, else the bundled one.
pub fn current_prompt(ws: &Workspace, roster: &AgentsFile, agent: &str) -> Option<String> {
    let file = prompt_file(roster, agent);
    fs::read_to_string(ws.prompts_dir().join(&file))
        .ok()
        .or_else(|| bundled::prompt(&file).map(str::to_string))
}

/// `text` with the shared protocol section appended unless it already has it.
fn with_protocol(text: &str) -> String {
    let text = text.trim_start_matches(['\n', '\r']).trim_end();
    if text.contains(PROTOCOL_MARKER) {
        format!("{text}\n")
    } else {
        format!("{text}\n\n{}\n", protocol_section().trim_end())
    }
}

/// A plain prompt for a role proposed without a body. `$` in the role text is doubled so
/// rendering shows it as written instead of treating it as a placeholder.
fn scaffold(name: &str, role: &str) -> String {
    let title: Vec<String> = name
        .split('_')
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect();
    let role = one_line(role);
    let role = role.trim_end_matches('.').replace('$', "$$");
    format!(
        "# {title}\n\n\
         You are the {who} on $project_name. Your job: {role}.\n\n\
         ## Context\n\n\
         Idea: $idea_title\n\n\
         State summary:\n$state_summary\n\n\
         $blackboard_digest\n\n\
         $outputs_contract\n\n\
         ## Your objective\n\n$objective\n\n\
         ## What to send\n\n\
         Do the objective within your job and nothing else. Write what you produce as files \
         with ACTION blocks, post a short summary of it to the blackboard, and say what you \
         could not do and why.\n",
        title = title.join(" "),
        who = name.replace('_', " ")
    )
}

/// The text to write for an accepted proposal, or None when the file on disk is already
/// right. Without a body an existing prompt is kept (healed with the protocol if it lacks
/// it), so an update that only changes ROLE does not wipe a prompt the chief wrote.
fn prompt_text(existing: Option<&str>, name: &str, role: &str, body: &str) -> Option<String> {
    if !body.trim().is_empty() {
        return Some(with_protocol(body));
    }
    match existing {
        Some(text) if text.contains(PROTOCOL_MARKER) => None,
        Some(text) => Some(with_protocol(text)),
        None => Some(with_protocol(&scaffold(name, role))),
    }
}

/// A role line for a proposal that gave only a prompt: its first line of prose.
fn role_from_prompt(body: &str) -> String {
    let line = body
        .lines()
        .map(|l| l.trim().trim_start_matches(['#', '*', '-', ' ']).trim())
        .find(|l| !l.is_empty())
        .unwrap_or("(no role given)");
    let mut role: String = line.chars().take(120).collect();
    if role.len() < line.len() {
        role.push('…');
    }
    role
}

fn save_roster(ws: &Workspace, roster: &AgentsFile) -> std::io::Result<()> {
    let value = serde_json::to_value(roster).map_err(std::io::Error::other)?;
    write_json(&ws.agents_file(), &value)
}

/// Decide `proposals` in order and apply the accepted ones. One outcome per proposal.
pub fn apply(
    ws: &Workspace,
    roster: &mut AgentsFile,
    proposals: &[RoleProposal],
    source_agent: &str,
    max_dynamic_roles: u32,
) -> std::io::Result<Vec<CastOutcome>> {
    let mut outcomes: Vec<CastOutcome> = Vec::with_capacity(proposals.len());
    let mut failure = None;
    for proposal in proposals {
        match apply_one(ws, roster, proposal, source_agent, max_dynamic_roles) {
            Ok(outcome) => outcomes.push(outcome),
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    let changed = outcomes.iter().any(|o| o.decision.is_accepted());
    let saved = if changed {
        save_roster(ws, roster)
    } else {
        Ok(())
    };
    if let Some(e) = failure {
        return Err(e);
    }
    saved?;
    for o in outcomes.iter_mut().filter(|o| o.decision.is_accepted()) {
        o.files_written.push(AGENTS_REL.to_string());
    }
    Ok(outcomes)
}

fn apply_one(
    ws: &Workspace,
    roster: &mut AgentsFile,
    proposal: &RoleProposal,
    source_agent: &str,
    max_dynamic_roles: u32,
) -> std::io::Result<CastOutcome> {
    let decision = {
        let lookup = |agent: &str| current_prompt(ws, roster, agent);
        decide(roster, &lookup, proposal, max_dynamic_roles)
    };
    let mut name = normalize(&proposal.name);
    if let Decision::Reject {
        reason: RejectReason::InvalidName { name: shown },
    } = &decision
    {
        name = shown.clone();
    }
    let mut files_written = Vec::new();
    let mut logged_role = proposal.role.trim().to_string();
    if decision.is_accepted() && valid_name(&name) {
        let file = match decision {
            Decision::RefreshBaselinePrompt => prompt_file(roster, &name),
            Decision::Add | Decision::Update | Decision::Reject { .. } => format!("{name}.md"),
        };
        let path = ws.prompts_dir().join(&file);
        let existing = fs::read_to_string(&path)
            .ok()
            .or_else(|| bundled::prompt(&file).map(str::to_string));
        let entry = roster.agents.entry(name.clone()).or_insert_with(|| {
            baseline_spec(&name).unwrap_or_else(|| AgentSpec {
                prompt: file.clone(),
                ..AgentSpec::default()
            })
        });
        if decision != Decision::RefreshBaselinePrompt {
            update_spec(entry, proposal, &file);
        }
        logged_role = entry.role.clone();
        if let Some(text) = prompt_text(existing.as_deref(), &name, &entry.role, &proposal.prompt) {
            write_atomic(&path, text.as_bytes())?;
            files_written.push(format!(".clk/prompts/{file}"));
        }
    }
    let mut record = json!({
        "ts": timestamp(),
        "event": decision.event(),
        "agent": source_agent,
        "name": name,
        "role": logged_role,
        "provider": proposal.provider.as_deref().filter(|p| !p.trim().is_empty()),
        "capabilities": proposal.capabilities,
        "prompt_chars": proposal.prompt.chars().count(),
    });
    if let (Decision::Reject { reason }, Value::Object(map)) = (&decision, &mut record) {
        map.insert("reason".into(), reason.message().into());
        map.insert("code".into(), reason.code().into());
    }
    append_jsonl(&log_path(ws), &record)?;
    Ok(CastOutcome {
        name,
        decision,
        files_written,
    })
}

/// The roster entry a baseline agent starts with, for rosters written before it existed.
fn baseline_spec(name: &str) -> Option<AgentSpec> {
    BASELINE
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(n, role)| AgentSpec {
            prompt: format!("{n}.md"),
            role: role.to_string(),
            ..AgentSpec::default()
        })
}

/// Fold an accepted Add or Update into the roster entry. An update changes only what the
/// proposal gives: an empty ROLE, PROVIDER or CAPABILITIES keeps the old value.
fn update_spec(spec: &mut AgentSpec, proposal: &RoleProposal, file: &str) {
    spec.prompt = file.to_string();
    spec.dynamic = true;
    let role = one_line(&proposal.role);
    if !role.is_empty() {
        spec.role = role;
    } else if spec.role.is_empty() {
        spec.role = role_from_prompt(&proposal.prompt);
    }
    if let Some(provider) = proposal.provider.as_deref().map(str::trim) {
        if !provider.is_empty() {
            spec.provider = Some(provider.to_string());
        }
    }
    if !proposal.capabilities.is_empty() {
        spec.capabilities = proposal.capabilities.clone();
    }
}

/// Remove a dynamic role (`clk roles remove NAME`). Its prompt file stays, so a workflow
/// that still names the role keeps a usable prompt and the file's history stays in git.
pub fn remove(ws: &Workspace, roster: &mut AgentsFile, name: &str) -> Result<(), String> {
    let name = normalize(name);
    if AgentsFile::is_baseline(&name) {
        return Err(format!(
            "'{name}' is a baseline role and cannot be removed; baseline roles are {}",
            BASELINE
                .iter()
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let Some(spec) = roster.agents.remove(&name) else {
        return Err(format!(
            "there is no role named '{name}' in the roster; `clk roles list` shows the roster"
        ));
    };
    if let Err(e) = save_roster(ws, roster) {
        roster.agents.insert(name.clone(), spec);
        return Err(format!(
            "cannot write {}: {e}; '{name}' was not removed",
            ws.agents_file().display()
        ));
    }
    let record = json!({
        "ts": timestamp(),
        "event": "role_removed",
        "agent": USER,
        "name": name,
        "role": spec.role,
    });
    append_jsonl(&log_path(ws), &record).map_err(|e| {
        format!(
            "'{name}' was removed but {} could not be written: {e}",
            log_path(ws).display()
        )
    })
}

/// Add (or update) a role by hand (`clk roles add NAME "description"`), under the same rules
/// as the chief's proposals. The prompt is the existing file, or a scaffold.
pub fn add_manual(
    ws: &Workspace,
    roster: &mut AgentsFile,
    name: &str,
    role: &str,
    max_dynamic_roles: u32,
) -> Result<CastOutcome, String> {
    let proposal = RoleProposal {
        line: 0,
        name: name.to_string(),
        role: role.to_string(),
        provider: None,
        capabilities: Vec::new(),
        prompt: String::new(),
    };
    let outcome = apply(ws, roster, &[proposal], USER, max_dynamic_roles)
        .map_err(|e| format!("cannot save the role in {}: {e}", ws.clk().display()))?
        .pop()
        .ok_or_else(|| "no decision was made for the role; try again".to_string())?;
    match &outcome.decision {
        Decision::Reject { reason } => Err(format!(
            "role '{}' not added: {}",
            outcome.name,
            reason.message()
        )),
        Decision::Add | Decision::Update | Decision::RefreshBaselinePrompt => Ok(outcome),
    }
}
