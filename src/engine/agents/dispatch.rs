//! One dispatch: objective in, applied and committed batch out.
//!
//! Steps, each reported as events: choose and build the provider, reserve a run id, render
//! the prompt (trace line first) and keep it, call the provider with retries and clk's own
//! time limit, keep the reply and usage, parse it, post POST blocks to the blackboard, apply
//! ACTION blocks through the gate, and commit the agent's changed files. A provider failure is
//! an outcome (`ok: false`), not an error: errors are only for setup problems a person must fix.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::engine::act::actions::{self, BatchOutcome, GateContext, native};
use crate::engine::agents::context;
use crate::engine::agents::providers::retry::{RetryPolicy, with_retries};
use crate::engine::agents::providers::{ErrorKind, OutputSink, ProviderError, Request, registry};
use crate::engine::ground::config::ConfigError;
use crate::engine::ground::events::{Event, Usage};
use crate::engine::ground::pricing;
use crate::engine::ground::protocol::{self, Parsed};
use crate::engine::ground::redact::redact_text;
use crate::engine::store::blackboard;
use crate::engine::store::bus::Bus;
use crate::engine::store::git;
use crate::engine::store::prompts;
use crate::engine::store::records::{self, RunMeta, UsageTotals};
use crate::engine::store::workspace::Project;

/// What to ask of whom.
#[derive(Debug, Clone, Default)]
pub struct DispatchRequest {
    pub agent: String,
    pub objective: String,
    pub stage: Option<String>,
    pub workflow: Option<String>,
    /// Extra template variables (stage_id, phase, iteration, ...).
    pub vars: BTreeMap<String, String>,
    /// Render and record the prompt, but call no provider and apply nothing.
    pub dry_run: bool,
    /// When the applied batch is committed.
    pub commit: CommitPolicy,
}

/// When an agent's batch becomes a commit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CommitPolicy {
    /// Right after the batch is applied (when `auto_commit` is on).
    #[default]
    Now,
    /// Not here: the caller commits (or undoes) the batch after validating it.
    Later,
}

/// What came of it.
#[derive(Debug, Clone)]
pub struct DispatchOutcome {
    pub run_id: String,
    pub provider: String,
    pub ok: bool,
    pub error: Option<ProviderError>,
    pub reply: String,
    pub parsed: Parsed,
    pub batch: BatchOutcome,
    pub commit: Option<git::CommitInfo>,
    pub usage: Usage,
    /// What the dispatch cost and where the figure came from.
    pub cost: pricing::Cost,
    /// What the reply's PROPOSE_ROLE and PROPOSE_WORKFLOW blocks changed; filled in by the
    /// runs layer when it applies [`DispatchOutcome::follow_ups`].
    pub proposals: crate::engine::store::roster::ProposalsOutcome,
    /// What the reply asks of the run beyond its own batch, left for the runs layer.
    pub follow_ups: FollowUps,
}

/// The parts of applied replies that reach beyond the agent's own batch, oldest first: posts
/// that may ask other agents blocking questions, and role and workflow proposals. Dispatch only
/// records them; the runs layer routes the questions and applies the proposals.
#[derive(Debug, Clone, Default)]
pub struct FollowUps(pub Vec<FollowUp>);

/// One applied reply's follow-ups, with the request it answered (the asker of its questions).
#[derive(Debug, Clone)]
pub struct FollowUp {
    pub request: DispatchRequest,
    /// The posts as written to the blackboard, with their ids.
    pub posts: Vec<crate::engine::store::blackboard::Post>,
    pub roles: Vec<crate::engine::ground::protocol::RoleProposal>,
    pub workflows: Vec<crate::engine::ground::protocol::WorkflowProposal>,
}

impl FollowUps {
    /// Adds a later reply's follow-ups after these.
    pub fn extend(&mut self, later: FollowUps) {
        self.0.extend(later.0);
    }
}

/// A problem that stops a dispatch before any provider is called.
#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot write the run record: {0}")]
    Io(#[from] std::io::Error),
    /// A spending cap was reached and no one let the dispatch go ahead: the run must stop.
    #[error(transparent)]
    Budget(#[from] crate::engine::agents::budget::BudgetStop),
}

/// Backstop on top of the provider's own timeout handling.
const TIMEOUT_GRACE: Duration = Duration::from_secs(5);

/// A reply that came back but has not been acted on yet: the provider was called, the prompt,
/// reply and usage are recorded, the reply is parsed. [`finish`] decides whether it is applied.
#[derive(Debug, Clone)]
pub struct Called {
    pub run_id: String,
    run_dir: std::path::PathBuf,
    pub provider: String,
    model: String,
    pub ok: bool,
    pub error: Option<ProviderError>,
    pub reply: String,
    pub parsed: Parsed,
    pub usage: Usage,
    started_at: chrono::DateTime<chrono::Local>,
    pub elapsed_ms: u64,
    cost: pricing::Cost,
    /// Files the provider's own tools changed during the call (native tools), already judged
    /// by the gate's rules; empty for providers that only answer in text.
    native_batch: BatchOutcome,
}

impl Called {
    /// Put back what the provider's own tools changed, and forget it: the reply was turned
    /// down for now and the next attempt must start from the tree as it was, or its edits
    /// would look like the user's. If this reply is applied after all, only its text (its
    /// ACTION blocks) takes effect.
    pub fn put_back_native(&mut self, project: &Project, bus: &Bus, agent: &str) {
        undo_native(project, bus, agent, &self.native_batch);
        self.native_batch = BatchOutcome::default();
    }

    /// True when the provider's own tools changed files during the call: the work is in the
    /// files, so a short reply text is not an empty answer.
    pub fn made_native_changes(&self) -> bool {
        !self.native_batch.changed_paths().is_empty()
    }
}

/// Whether [`finish`] lets a reply change anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effects {
    /// Posts, questions, proposals, actions and the commit: the normal path.
    Apply,
    /// Only the run record: a consensus sample, or an attempt the quality check turned down.
    RecordOnly,
}

/// Run one dispatch to the end.
pub async fn dispatch(
    project: &Project,
    bus: &Bus,
    req: &DispatchRequest,
    cancel: &CancellationToken,
) -> Result<DispatchOutcome, DispatchError> {
    let called = call(project, bus, req, cancel).await?;
    finish(project, bus, req, called, Effects::Apply, cancel).await
}

/// The first half of a dispatch: ask the provider and record what it said, change nothing.
pub async fn call(
    project: &Project,
    bus: &Bus,
    req: &DispatchRequest,
    cancel: &CancellationToken,
) -> Result<Called, DispatchError> {
    let ws = &project.ws;
    let cfg = &project.config;
    let provider_name = registry::choose(project, &req.agent);
    let provider = registry::for_agent(project, &req.agent)?;
    let settings = project.providers.get(&provider_name)?;
    let spec = project.agents.spec(&req.agent);
    if !req.dry_run {
        // Before anything is recorded: a refused dispatch leaves no run behind.
        crate::engine::agents::budget::before_dispatch(project, bus, &req.agent).await?;
    }

    let (run_id, run_dir) = ws.reserve_run(&req.agent)?;
    let mut vars = context::vars(project, &req.agent, &req.objective, &req.vars);
    if let Some(s) = &req.stage {
        vars.insert("stage_id".into(), s.clone());
    }
    if let Some(w) = &req.workflow {
        vars.insert("workflow".into(), w.clone());
    }
    let template = prompts::load_template(ws, &req.agent, &spec.prompt);
    let prompt = prompts::build(&template, &vars, &req.agent, req.stage.as_deref(), &run_id);
    records::write_text(&run_dir, "prompt.txt", &prompt)?;

    tracing::info!(agent = %req.agent, run_id = %run_id, provider = %provider_name, "dispatch");
    let started_at = chrono::Local::now();
    let clock = Instant::now();
    bus.emit(Event::DispatchStarted {
        agent: req.agent.clone(),
        stage: req.stage.clone(),
        run_id: run_id.clone(),
        provider: provider_name.clone(),
        objective: redact_text(&req.objective),
        prompt_chars: prompt.chars().count(),
        dry_run: req.dry_run,
    });

    let timeout = Duration::from_secs(settings.timeout_s.unwrap_or(cfg.provider_timeout_s));
    // Agents that edit files with their own tools are checked after the call.
    let native = (provider.edits_files() && !req.dry_run).then(|| watch_native(project, bus));
    let result = if req.dry_run {
        Ok(None)
    } else {
        let preq = Request {
            agent: req.agent.clone(),
            stage: req.stage.clone(),
            run_id: run_id.clone(),
            objective: req.objective.clone(),
            prompt: prompt.clone(),
            workdir: ws.root.clone(),
            timeout,
            idle_timeout: (cfg.provider_no_output_timeout_s > 0)
                .then(|| Duration::from_secs(cfg.provider_no_output_timeout_s)),
            cancel: cancel.clone(),
        };
        let pulse = Arc::new(Pulse::new());
        let sink = {
            let (bus, agent, run_id) = (bus.clone(), req.agent.clone(), run_id.clone());
            let (bus2, agent2, run_id2) = (bus.clone(), agent.clone(), run_id.clone());
            let pulse = pulse.clone();
            OutputSink::new(move |stream, line| {
                pulse.output(line.len() as u64 + 1);
                bus.emit(Event::AgentOutput {
                    agent: agent.clone(),
                    run_id: run_id.clone(),
                    stream,
                    line: redact_text(line),
                })
            })
            .on_process_start(move |pid, command| {
                bus2.emit(Event::ProcessStarted {
                    agent: agent2.clone(),
                    run_id: run_id2.clone(),
                    pid,
                    command: redact_text(command),
                })
            })
        };
        let policy = RetryPolicy::from_config(&cfg.provider_retry);
        let call = with_retries(
            &policy,
            cancel,
            |n| {
                bus.emit(Event::ProviderRetry {
                    agent: req.agent.clone(),
                    run_id: run_id.clone(),
                    attempt: n.attempt,
                    max_attempts: n.max_attempts,
                    delay_ms: n.delay.as_millis() as u64,
                    error: n.error.message.clone(),
                })
            },
            || provider.dispatch(&preq, &sink),
        );
        // The backstop covers the whole retry sequence plus its pauses.
        let backstop = timeout
            .saturating_mul(policy.max_attempts())
            .saturating_add(Duration::from_millis(policy.max_backoff_ms) * policy.max_retries)
            .saturating_add(TIMEOUT_GRACE);
        let heartbeat = (cfg.heartbeat_s > 0).then(|| {
            tokio::spawn(heartbeats(
                bus.clone(),
                req.agent.clone(),
                run_id.clone(),
                pulse,
                Duration::from_secs(cfg.heartbeat_s),
            ))
        });
        let outcome = tokio::time::timeout(backstop, call).await;
        if let Some(h) = heartbeat {
            h.abort();
        }
        match outcome {
            Ok(r) => r.map(Some),
            Err(_) => Err(ProviderError::new(
                ErrorKind::Timeout,
                format!(
                    "{provider_name} did not finish within {}s",
                    backstop.as_secs()
                ),
            )),
        }
    };

    let native_batch = match native.flatten() {
        Some(watch) => watch.finish(
            &native::Judge {
                agent: &req.agent,
                run_id: &run_id,
                max_files: cfg.validation.max_files_per_batch,
                keep: result.is_ok(),
            },
            bus,
        ),
        None => BatchOutcome::default(),
    };
    let (ok, error, reply, usage, model) = match result {
        Ok(Some(r)) => (true, None, r.text, r.usage, r.model),
        Ok(None) => (true, None, String::new(), Usage::default(), String::new()),
        Err(e) => (
            false,
            Some(e),
            String::new(),
            Usage::default(),
            String::new(),
        ),
    };
    let elapsed_ms = clock.elapsed().as_millis() as u64;
    if let Some(e) = &error {
        tracing::warn!(agent = %req.agent, run_id = %run_id, kind = e.kind.as_str(), "dispatch failed: {}", e.message);
    }
    let response_file = if req.dry_run {
        "(dry run: the prompt was not sent)\n".to_string()
    } else if let Some(e) = &error {
        format!("(no reply: {e})\n")
    } else {
        reply.clone()
    };
    records::write_text(&run_dir, "response.txt", &response_file)?;

    let priced_model = pricing::effective_model(settings, &model).to_string();
    let cost = pricing::cost(settings, &priced_model, &usage);
    let cost_micros = cost.micros;
    if !req.dry_run && ok {
        bus.emit(Event::UsageRecorded {
            agent: req.agent.clone(),
            run_id: run_id.clone(),
            provider: provider_name.clone(),
            model: model.clone(),
            usage: usage.clone(),
            cost_micros,
            cost_basis: cost.basis,
        });
        let totals = UsageTotals::record(ws, &provider_name, &req.agent, &usage, cost)?;
        crate::engine::agents::budget::after_dispatch(
            project,
            bus,
            &req.agent,
            &provider_name,
            &priced_model,
            cost,
            &totals,
        );
    }
    bus.emit(Event::DispatchFinished {
        agent: req.agent.clone(),
        run_id: run_id.clone(),
        ok,
        error: error.as_ref().map(|e| e.message.clone()),
        error_kind: error.as_ref().map(|e| e.kind.as_str().to_string()),
        response_chars: reply.chars().count(),
        elapsed_ms,
    });

    let parsed = protocol::parse(&reply);
    Ok(Called {
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
    })
}

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
    } else if effects == Effects::RecordOnly && !req.dry_run {
        // A consensus sample or a turned-down attempt keeps no changes, not even those its
        // provider made with its own tools.
        undo_native(project, bus, &req.agent, &native_batch);
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
        follow_ups = FollowUps(vec![FollowUp {
            request: req.clone(),
            posts: post_to_blackboard(project, bus, req, &parsed),
            roles: parsed.roles.clone(),
            workflows: parsed.workflows.clone(),
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

/// Start watching the tree for an agent that edits files itself; None (with a warning)
/// when its changes cannot be told from the user's.
fn watch_native(project: &Project, bus: &Bus) -> Option<native::Watch> {
    let root = project.ws.root.canonicalize().ok()?;
    let watch = native::Watch::begin(&root);
    if watch.is_none() {
        bus.emit(Event::Warning {
            message: "the project is not a git repository, so changes an agent makes with its \
                      own tools cannot be checked or committed; run `clk init`"
                .into(),
        });
    }
    watch
}

/// Put back the files a provider's own tools changed, when its reply is not to be kept.
fn undo_native(project: &Project, bus: &Bus, agent: &str, native: &BatchOutcome) {
    let paths = native.changed_paths();
    if paths.is_empty() {
        return;
    }
    let Some(repo) = git::open(&project.ws.root) else {
        return;
    };
    match git::restore_paths(&repo, None, &paths) {
        Ok(files) => bus.emit(Event::ChangesUndone {
            agent: agent.to_string(),
            files,
            reason: "this reply is only recorded (a consensus sample or a repaired attempt), \
                     so the edits its own tools made are put back"
                .into(),
        }),
        Err(e) => bus.emit(Event::Warning {
            message: format!("could not put back {agent}'s own edits: {e}"),
        }),
    }
}

/// The agent's own-tool changes first, then what its ACTION blocks did.
fn merge_batches(mut native: BatchOutcome, gate: BatchOutcome) -> BatchOutcome {
    for w in gate.written {
        native.deleted.retain(|d| d != &w);
        if !native.written.contains(&w) {
            native.written.push(w);
        }
    }
    for d in gate.deleted {
        native.written.retain(|w| w != &d);
        if !native.deleted.contains(&d) {
            native.deleted.push(d);
        }
    }
    native.commands = gate.commands;
    native.refused.extend(gate.refused);
    native.done = gate.done;
    native
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
    let root = ws.root.canonicalize().unwrap_or_else(|_| ws.root.clone());
    let native_paths = native.changed_paths();
    // Files the user changed by hand are off limits while clk commits for agents; the ones
    // this agent just changed with its own tools are its own.
    let user_dirty: BTreeSet<String> = if cfg.auto_commit || req.commit == CommitPolicy::Later {
        git::open(&root)
            .map(|repo| git::dirty_among(&repo, &actions::file_targets(&root, &parsed.actions)))
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
    let Some(repo) = git::open(&root) else {
        bus.emit(Event::Warning {
            message: "the project is not a git repository; changes were not committed".into(),
        });
        return (batch, None);
    };
    let message = commit_message(&req.agent, &req.objective, &batch, usage, run_id, &[]);
    match git::commit_paths(&repo, &req.agent, &changed, &message) {
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

/// When a working agent last produced output, and how much, for heartbeats.
struct Pulse {
    started: Instant,
    /// Milliseconds after `started` of the last output line (0: none yet).
    last_ms: AtomicU64,
    bytes: AtomicU64,
}

impl Pulse {
    fn new() -> Pulse {
        Pulse {
            started: Instant::now(),
            last_ms: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
        }
    }

    fn output(&self, bytes: u64) {
        let now = self.started.elapsed().as_millis() as u64;
        self.last_ms.store(now.max(1), Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }
}

/// Every `every`, tell the front ends whether the agent is streaming or silent. Aborted when
/// the dispatch ends.
async fn heartbeats(bus: Bus, agent: String, run_id: String, pulse: Arc<Pulse>, every: Duration) {
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    loop {
        tick.tick().await;
        let elapsed_ms = pulse.started.elapsed().as_millis() as u64;
        let last = pulse.last_ms.load(Ordering::Relaxed);
        bus.emit(Event::Heartbeat {
            agent: agent.clone(),
            run_id: run_id.clone(),
            elapsed_ms,
            silent_ms: elapsed_ms.saturating_sub(last),
            bytes: pulse.bytes.load(Ordering::Relaxed),
        });
    }
}

/// `[agent] objective` and a body that says what happened, redacted.
pub fn commit_message(
    agent: &str,
    objective: &str,
    batch: &BatchOutcome,
    usage: &Usage,
    run_id: &str,
    notes: &[String],
) -> String {
    let first = objective
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("changes");
    let mut title = format!("[{agent}] {first}");
    if title.chars().count() > 120 {
        title = format!("{}…", title.chars().take(119).collect::<String>());
    }
    let mut body = String::from("Files changed:\n");
    for f in &batch.written {
        body.push_str(&format!("  - {f}\n"));
    }
    for f in &batch.deleted {
        body.push_str(&format!("  - deleted: {f}\n"));
    }
    body.push_str(&format!("\nValidation: {}\n", batch.summary()));
    if !batch.commands.is_empty() {
        body.push_str("\nCommands run:\n");
        for c in batch.commands.iter().take(8) {
            let how = match (c.timed_out, c.exit_code) {
                (true, _) => "timed out".to_string(),
                (false, Some(code)) => format!("exit {code}"),
                (false, None) => "stopped".to_string(),
            };
            body.push_str(&format!("  $ {} ({how})\n", c.cmd));
        }
    }
    if !batch.refused.is_empty() {
        body.push_str("\nRefused actions:\n");
        for r in batch.refused.iter().take(8) {
            body.push_str(&format!("  - {r}\n"));
        }
    }
    for n in notes {
        body.push_str(&format!("\n{n}\n"));
    }
    body.push_str(&format!(
        "\nTokens: total={} in={} out={}{}\nRun: {run_id}\n\nGenerated by clk",
        usage.total(),
        usage.input_tokens,
        usage.output_tokens,
        if usage.estimated { " (estimated)" } else { "" }
    ));
    redact_text(&format!("{title}\n\n{body}\n"))
}
