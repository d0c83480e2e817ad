//! The second half of a dispatch: apply a reply that came back (posts, ACTION blocks, the
//! commit) or only record it, then write the run's meta record.

use std::collections::BTreeSet;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::account::record_turned_down;
use super::message::batch_commit_message;
use super::native::{merge_batches, undo_native};
use super::{
    Called, CommitPolicy, DispatchError, DispatchOutcome, DispatchRequest, Effects, FollowUp,
    FollowUps,
};
use crate::engine::act::actions::{self, BatchOutcome, GateContext, RunLimits};
use crate::engine::act::confine;
use crate::engine::ground::events::{Event, Usage};
use crate::engine::ground::protocol::Parsed;
use crate::engine::store::blackboard;
use crate::engine::store::bus::Bus;
use crate::engine::store::git;
use crate::engine::store::records::{self, RunMeta};
use crate::engine::store::workspace::Project;

/// The second half: apply the reply (or only record it) and write the run's meta record.
pub async fn finish(
    project: &Project,
    bus: &Bus,
    req: &DispatchRequest,
    called: Called,
    effects: Effects,
    cancel: &CancellationToken,
) -> Result<DispatchOutcome, DispatchError> {
    let ws = &project.ws;
    let Called {
        run_id,
        run_dir,
        provider: provider_name,
        model,
        ok,
        error,
        reply,
        parsed,
        usage,
        started_at,
        elapsed_ms,
        cost,
        native_batch,
    } = called;
    let cost_micros = cost.micros;
    let mut batch = BatchOutcome::default();
    let mut commit = None;
    if !ok {
        batch = native_batch.clone();
    } else if effects != Effects::Apply && !req.dry_run {
        // A consensus sample or a turned-down attempt keeps no changes, not even those its
        // provider made with its own tools.
        undo_native(project, bus, &req.agent, &native_batch);
        if effects == Effects::TurnedDown {
            record_turned_down(&run_dir, &reply)?;
        }
    }
    let mut follow_ups = FollowUps::default();
    if ok && !req.dry_run && effects == Effects::Apply {
        for p in &parsed.problems {
            bus.emit(Event::MalformedBlock {
                agent: req.agent.clone(),
                run_id: run_id.clone(),
                kind: format!("{:?}", p.block).to_lowercase(),
                line: p.line,
                problem: p.message.clone(),
            });
        }
        if let Some(items) = &parsed.todos {
            record_todos(project, bus, &req.agent, items);
        }
        follow_ups = FollowUps(vec![FollowUp {
            request: req.clone(),
            posts: post_to_blackboard(project, bus, req, &parsed),
            roles: parsed.roles.clone(),
            workflows: parsed.workflows.clone(),
            delegations: parsed.delegations.clone(),
        }]);
        (batch, commit) = apply_and_commit(
            project,
            bus,
            req,
            &run_id,
            &parsed,
            native_batch,
            &usage,
            cancel,
        )
        .await;
    }

    let meta = RunMeta {
        agent: req.agent.clone(),
        run_id: run_id.clone(),
        stage: req.stage.clone(),
        objective: req.objective.clone(),
        provider: provider_name.clone(),
        model,
        ok,
        error: error.as_ref().map(|e| e.message.clone()),
        dry_run: req.dry_run,
        started_at: started_at.to_rfc3339(),
        finished_at: chrono::Local::now().to_rfc3339(),
        elapsed_ms,
        usage: usage.clone(),
        cost_micros,
        cost_basis: cost.basis,
        files_written: batch.changed_paths(),
        text_preview: reply.chars().take(500).collect(),
        applied: effects == Effects::Apply && ok && !req.dry_run,
    };
    records::write_meta(ws, &run_dir, &meta)?;

    Ok(DispatchOutcome {
        run_id,
        provider: provider_name,
        ok,
        error,
        reply,
        parsed,
        batch,
        commit,
        usage,
        cost,
        proposals: Default::default(),
        follow_ups,
    })
}

/// The reply's TODOS list replaces the agent's stored one.
fn record_todos(
    project: &Project,
    bus: &Bus,
    agent: &str,
    items: &[crate::engine::ground::protocol::TodoItem],
) {
    match crate::engine::store::todos::set(&project.ws, agent, items) {
        Ok(()) => bus.emit(Event::TodosUpdated {
            agent: agent.to_string(),
            items: items.to_vec(),
        }),
        Err(e) => bus.emit(Event::Warning {
            message: format!("cannot store {agent}'s todo list: {e}"),
        }),
    }
}

fn post_to_blackboard(
    project: &Project,
    bus: &Bus,
    req: &DispatchRequest,
    parsed: &Parsed,
) -> Vec<blackboard::Post> {
    let mut stored = Vec::new();
    let origin = blackboard::Origin {
        author: &req.agent,
        stage_id: req.stage.as_deref(),
        workflow: req.workflow.as_deref(),
    };
    for block in &parsed.posts {
        match blackboard::add(&project.ws, &origin, block) {
            Ok(post) => {
                bus.emit(Event::PostAdded {
                    agent: req.agent.clone(),
                    post_id: post.id.clone(),
                    post_type: post.post_type.clone(),
                    to: post.target_agent.clone(),
                    urgency: post.urgency.clone(),
                });
                stored.push(post);
            }
            Err(e) => bus.emit(Event::Warning {
                message: format!("cannot store a post from {}: {e}", req.agent),
            }),
        }
    }
    stored
}

#[allow(clippy::too_many_arguments)]
async fn apply_and_commit(
    project: &Project,
    bus: &Bus,
    req: &DispatchRequest,
    run_id: &str,
    parsed: &Parsed,
    native: BatchOutcome,
    usage: &Usage,
    cancel: &CancellationToken,
) -> (BatchOutcome, Option<git::CommitInfo>) {
    let ws = &project.ws;
    let cfg = &project.config;
    if parsed.actions.is_empty() && native.changed_paths().is_empty() {
        return (native, None);
    }
    let root = ws.work.canonicalize().unwrap_or_else(|_| ws.work.clone());
    let native_paths = native.changed_paths();
    // Files the user changed by hand are off limits while clk commits for agents; the ones
    // this agent just changed with its own tools are its own.
    let user_dirty: BTreeSet<String> = if cfg.auto_commit || req.commit == CommitPolicy::Later {
        // The repository stays open for the commit below: its index is read once.
        git::with_repo(&root, |repo| {
            git::dirty_among(repo, &actions::file_targets(&root, &parsed.actions))
        })
        .unwrap_or_default()
        .into_iter()
        .filter(|p| !native_paths.contains(p))
        .collect()
    } else {
        BTreeSet::new()
    };
    if !user_dirty.is_empty() {
        bus.emit(Event::UserChangesKept {
            agent: req.agent.clone(),
            files: user_dirty.iter().cloned().collect(),
        });
    }
    let ctx = GateContext {
        root: root.clone(),
        agent: req.agent.clone(),
        run_id: run_id.to_string(),
        backups: ws.backups_dir().join(run_id),
        warn_files: cfg.validation.warn_files_per_batch,
        max_files: cfg.validation.max_files_per_batch,
        run_timeout: Duration::from_secs(cfg.validation.run_timeout_s),
        user_dirty,
        done_file: ws.state_dir().join("done.md"),
        limits: RunLimits {
            max_runs: cfg.validation.max_runs_per_reply,
            budget: Duration::from_secs(cfg.validation.runs_budget_s),
            keep_output_bytes: cfg.validation.output_keep_bytes as usize,
        },
        sandbox: confine::for_commands(&cfg.sandbox, &root),
    };
    let gate = if parsed.actions.is_empty() {
        BatchOutcome::default()
    } else {
        actions::apply(&ctx, bus, &parsed.actions, cancel).await
    };
    let batch = merge_batches(native, gate);
    let changed = batch.changed_paths();
    if changed.is_empty() || !cfg.auto_commit || req.commit == CommitPolicy::Later {
        return (batch, None);
    }
    let message = batch_commit_message(
        &req.agent,
        &root,
        &req.objective,
        &batch,
        usage,
        run_id,
        &[],
    );
    let Some(committed) = git::with_repo(&root, |repo| {
        git::commit_paths(repo, &req.agent, &changed, &message)
    }) else {
        bus.emit(Event::Warning {
            message: "the project is not a git repository; changes were not committed".into(),
        });
        return (batch, None);
    };
    match committed {
        Ok(Some(info)) => {
            bus.emit(Event::Committed {
                agent: req.agent.clone(),
                sha: info.sha.clone(),
                subject: info.subject.clone(),
                files: changed,
            });
            (batch, Some(info))
        }
        Ok(None) => (batch, None),
        Err(e) => {
            bus.emit(Event::Warning {
                message: format!("commit of {}'s changes failed: {e}", req.agent),
            });
            (batch, None)
        }
    }
}
