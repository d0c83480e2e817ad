//! Applying the PROPOSE_ROLE and PROPOSE_WORKFLOW blocks of a reply.
//!
//! Roles go through the casting rules (aliases of engineer, near-duplicates and the cap are
//! refused, and every decision lands in `.clk/state/casting.log`, which feeds the chief's
//! `$casting_feedback`). A proposed workflow replaces the project's file only when it parses
//! and validates against the roster as it stands after this reply's roles; otherwise the old
//! file stays and the refusal is logged for the chief. Accepted changes are committed as the
//! proposing agent's casting commit.

use crate::engine::ground::events::Event;
use crate::engine::ground::protocol::{RoleProposal, WorkflowProposal};
use crate::engine::store::bus::Bus;
use crate::engine::store::casting;
use crate::engine::store::git;
use crate::engine::store::roster::{ProposalsOutcome, current_agents, roster_names};
use crate::engine::store::workflow::propose;
use crate::engine::store::workspace::Project;

/// Apply the reply's role and workflow proposals, report each decision, commit the result.
pub fn apply(
    project: &Project,
    bus: &Bus,
    by: &str,
    roles: &[RoleProposal],
    workflows: &[WorkflowProposal],
) -> ProposalsOutcome {
    let ws = &project.ws;
    let mut out = ProposalsOutcome::default();
    if roles.is_empty() && workflows.is_empty() {
        return out;
    }
    // Proposals become files clk commits (prompts, workflows, agents.json, casting.log):
    // mask any key a model put in them first.
    let roles = crate::engine::ground::redact::redacted(&roles.to_vec());
    let workflows = crate::engine::ground::redact::redacted(&workflows.to_vec());
    let mut files: Vec<String> = Vec::new();
    let mut roster = current_agents(project);
    // `ROLE: remove` (or retire) with no prompt retires a role the chief cast earlier.
    let (removals, additions): (Vec<_>, Vec<_>) = roles.into_iter().partition(|r| {
        let role = r.role.trim().to_ascii_lowercase();
        (role == "remove" || role == "retire") && r.prompt.trim().is_empty()
    });
    for r in &removals {
        let name = casting::rules::normalize(&r.name);
        let (decision, reason) = match casting::remove(ws, &mut roster, &name) {
            Ok(()) => {
                out.roles_accepted.push(name.clone());
                ("removed".to_string(), None)
            }
            Err(why) => {
                out.roles_refused.push(name.clone());
                ("reject".to_string(), Some(why))
            }
        };
        let note = match &reason {
            Some(r) => format!("refused to remove role {name}: {r}"),
            None => format!("removed role {name}"),
        };
        crate::engine::store::records::note_decision(ws, by, &note);
        bus.emit(Event::RoleDecided {
            by: by.to_string(),
            name,
            decision,
            reason,
        });
    }
    if !removals.is_empty() && out.roles_refused.len() < removals.len() {
        files.push(".clk/config/agents.json".into());
    }
    if !additions.is_empty() {
        let max = project.config.casting.max_dynamic_roles;
        match casting::apply(ws, &mut roster, &additions, by, max) {
            Ok(outcomes) => {
                for o in outcomes {
                    let (decision, reason) = match &o.decision {
                        casting::Decision::Reject { reason } => {
                            out.roles_refused.push(o.name.clone());
                            ("reject".to_string(), Some(reason.message()))
                        }
                        d @ (casting::Decision::Add
                        | casting::Decision::Update
                        | casting::Decision::RefreshBaselinePrompt) => {
                            out.roles_accepted.push(o.name.clone());
                            let word = d.event().trim_start_matches("role_").to_string();
                            (word, None)
                        }
                    };
                    files.extend(o.files_written.iter().cloned());
                    let note = match &reason {
                        Some(r) => format!("refused role {}: {r}", o.name),
                        None => format!("role {} ({decision})", o.name),
                    };
                    crate::engine::store::records::note_decision(ws, by, &note);
                    bus.emit(Event::RoleDecided {
                        by: by.to_string(),
                        name: o.name,
                        decision,
                        reason,
                    });
                }
                if !out.roles_accepted.is_empty()
                    && !files.iter().any(|f| f.ends_with("agents.json"))
                {
                    files.push(".clk/config/agents.json".into());
                }
            }
            Err(e) => bus.emit(Event::Warning {
                message: format!("cannot record the roles {by} proposed: {e}"),
            }),
        }
    }
    let names = roster_names(ws, &roster);
    for proposal in &workflows {
        let result = propose::prepare(proposal, &names).and_then(|(file, yaml, _)| {
            let name = file.trim_end_matches(".yaml").to_string();
            propose::write(ws, &name, &yaml)
                .map(|()| name)
                .map_err(|e| crate::engine::store::workflow::WorkflowError::Read {
                    file,
                    reason: e.to_string(),
                })
        });
        match result {
            Ok(name) => {
                crate::engine::store::records::note_decision(
                    ws,
                    by,
                    &format!("wrote workflow {name}"),
                );
                files.push(format!(".clk/config/workflows/{name}.yaml"));
                out.workflows_written.push(name.clone());
                bus.emit(Event::WorkflowProposed {
                    by: by.to_string(),
                    name,
                    accepted: true,
                    reason: None,
                });
            }
            Err(e) => {
                let reason = e.to_string();
                let _ = casting::log_workflow_rejected(ws, by, &proposal.name, &reason);
                crate::engine::store::records::note_decision(
                    ws,
                    by,
                    &format!("refused workflow {}: {reason}", proposal.name),
                );
                out.workflows_refused
                    .push(format!("{}: {reason}", proposal.name));
                bus.emit(Event::WorkflowProposed {
                    by: by.to_string(),
                    name: proposal.name.clone(),
                    accepted: false,
                    reason: Some(reason),
                });
            }
        }
    }
    if !files.is_empty() && project.config.auto_commit {
        let mut subject = Vec::new();
        if !out.roles_accepted.is_empty() {
            subject.push(format!("roles {}", out.roles_accepted.join(", ")));
        }
        if !out.workflows_written.is_empty() {
            subject.push(format!("workflow {}", out.workflows_written.join(", ")));
        }
        let message = format!(
            "[{by}] casting: {}\n\nFiles changed:\n{}\n\nGenerated by clk\n",
            subject.join("; "),
            files
                .iter()
                .map(|f| format!("  - {f}"))
                .collect::<Vec<_>>()
                .join("\n")
        );
        match git::worktree::commit_own_files(&ws.root, &ws.work, by, &files, &message) {
            Ok(Some(info)) => {
                bus.emit(Event::Committed {
                    agent: by.to_string(),
                    sha: info.sha.clone(),
                    subject: info.subject,
                    files,
                });
                out.commit = Some(info.sha);
            }
            Ok(None) => {}
            Err(e) => bus.emit(Event::Warning {
                message: format!("commit of {by}'s casting failed: {e}"),
            }),
        }
    }
    out
}
