//! The first half of a dispatch: render the prompt, ask the provider (with retries, heartbeats
//! and clk's own time limit) and record what it said. Nothing in the project changes here
//! except the run record; [`super::finish`] decides what the reply may do.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::account::{account, record_response};
use super::live_files::LiveFiles;
use super::native::{report_refused, watch_native};
use super::{Called, DispatchError, DispatchRequest};
use crate::engine::act::actions::{BatchOutcome, OutputCap, native};
use crate::engine::act::confine;
use crate::engine::agents::context;
use crate::engine::agents::providers::retry::{RetryPolicy, with_retries};
use crate::engine::agents::providers::{
    ErrorKind, OutputSink, Provider, ProviderError, Reply, Request, registry,
};
use crate::engine::ground::events::{Event, Usage};
use crate::engine::ground::protocol;
use crate::engine::ground::redact::redact_text;
use crate::engine::store::bus::Bus;
use crate::engine::store::prompts;
use crate::engine::store::records;
use crate::engine::store::workspace::Project;

/// Bytes of one call's streamed output that reach the event stream and the activity log: the
/// first half is sent as it comes, then only the size of the whole. The reply itself is kept
/// in the run folder (`response.txt`, under the providers' own caps); a huge or refused reply
/// costs the log no more than this.
const STREAM_LOG_KEEP: usize = 128 * 1024;

/// Backstop on top of the provider's own timeout handling.
const TIMEOUT_GRACE: Duration = Duration::from_secs(5);

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
        crate::engine::agents::budget::before_dispatch(project, bus, req.billed_to()).await?;
    }

    let (run_id, run_dir) = ws.reserve_run(&req.agent)?;
    crate::engine::store::prune::now_and_then(ws, cfg.records.keep_runs);
    let template = prompts::load_template(ws, &req.agent, &spec.prompt);
    // Only what the prompt shows is read: the roster and casting notes only the chief uses.
    let mut used = prompts::names_used(&template);
    used.extend(prompts::names_used(prompts::protocol_section()));
    let mut vars = context::vars(project, &req.agent, &req.objective, &req.vars, &|n| {
        used.contains(n)
    });
    if let Some(s) = &req.stage {
        vars.insert("stage_id".into(), s.clone());
    }
    if let Some(w) = &req.workflow {
        vars.insert("workflow".into(), w.clone());
    }
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
    // ...and their card shows the files they touch while the call runs.
    let live = match (&native, ws.work.canonicalize()) {
        (Some(Some(_)), Ok(root)) => LiveFiles::start(&root, bus, &req.agent, &run_id),
        _ => None,
    };
    let result = if req.dry_run {
        Ok(None)
    } else {
        // Where the CLI works is what its sandbox makes writable: one path, set once.
        let workdir = ws.work.clone();
        let preq = Request {
            agent: req.agent.clone(),
            stage: req.stage.clone(),
            run_id: run_id.clone(),
            objective: req.objective.clone(),
            prompt: prompt.clone(),
            sandbox: confine::for_commands(&cfg.sandbox, &workdir),
            workdir,
            timeout,
            idle_timeout: (cfg.provider_no_output_timeout_s > 0)
                .then(|| Duration::from_secs(cfg.provider_no_output_timeout_s)),
            cancel: cancel.clone(),
        };
        ask(
            project,
            bus,
            provider.as_ref(),
            &provider_name,
            &preq,
            cancel,
        )
        .await
        .map(Some)
    };

    if let Some(live) = live {
        live.stop().await;
    }
    let mut native_batch = match native.flatten() {
        Some(watch) => watch.finish(
            &native::Judge {
                kind: "native_change",
                agent: &req.agent,
                run_id: &run_id,
                max_files: cfg.validation.max_files_per_batch,
                keep: result.is_ok(),
            },
            bus,
        ),
        None => BatchOutcome::default(),
    };
    if let Ok(Some(r)) = &result {
        report_refused(bus, &req.agent, &run_id, &r.refused, &mut native_batch);
    }
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
    record_response(&run_dir, req, error.as_ref(), &reply)?;
    let cost = account(
        project,
        bus,
        req,
        &run_id,
        &provider_name,
        settings,
        &model,
        &usage,
        ok,
    )?;
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

/// One provider call with retries, streaming its output and heartbeats to the bus, under a
/// backstop that covers the whole retry sequence.
async fn ask(
    project: &Project,
    bus: &Bus,
    provider: &dyn Provider,
    provider_name: &str,
    preq: &Request,
    cancel: &CancellationToken,
) -> Result<Reply, ProviderError> {
    let cfg = &project.config;
    let pulse = Arc::new(Pulse::new());
    let cap = Arc::new(std::sync::Mutex::new(OutputCap::new(STREAM_LOG_KEEP)));
    let sink = {
        let (bus, agent, run_id) = (bus.clone(), preq.agent.clone(), preq.run_id.clone());
        let (bus2, agent2, run_id2) = (bus.clone(), agent.clone(), run_id.clone());
        let pulse = pulse.clone();
        let cap = cap.clone();
        OutputSink::new(move |stream, line| {
            pulse.output(line.len() as u64 + 1);
            let now = cap
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .line(stream, line);
            if let Some(line) = now {
                bus.emit(Event::AgentOutput {
                    agent: agent.clone(),
                    run_id: run_id.clone(),
                    stream,
                    line: redact_text(&line),
                })
            }
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
    let policy = RetryPolicy::from_config(&cfg.provider_retry).with_retry_after_cap(preq.timeout);
    let call = with_retries(
        &policy,
        cancel,
        |n| {
            bus.emit(Event::ProviderRetry {
                agent: preq.agent.clone(),
                run_id: preq.run_id.clone(),
                attempt: n.attempt,
                max_attempts: n.max_attempts,
                delay_ms: n.delay.as_millis() as u64,
                error: n.error.message.clone(),
            })
        },
        || provider.dispatch(preq, &sink),
    );
    // The backstop covers the whole retry sequence plus its pauses.
    let backstop = preq
        .timeout
        .saturating_mul(policy.max_attempts())
        .saturating_add(
            Duration::from_millis(policy.max_backoff_ms).max(policy.retry_after_cap)
                * policy.max_retries,
        )
        .saturating_add(TIMEOUT_GRACE);
    let heartbeat = (cfg.heartbeat_s > 0).then(|| {
        tokio::spawn(heartbeats(
            bus.clone(),
            preq.agent.clone(),
            preq.run_id.clone(),
            pulse,
            Duration::from_secs(cfg.heartbeat_s),
        ))
    });
    let outcome = tokio::time::timeout(backstop, call).await;
    if let Some(h) = heartbeat {
        h.abort();
    }
    let note = std::mem::replace(
        &mut *cap.lock().unwrap_or_else(|p| p.into_inner()),
        OutputCap::new(0),
    )
    .finish_head_only();
    if let Some(note) = note {
        bus.emit(Event::AgentOutput {
            agent: preq.agent.clone(),
            run_id: preq.run_id.clone(),
            stream: crate::engine::ground::events::Stream::Stderr,
            line: note,
        });
    }
    match outcome {
        Ok(r) => r,
        Err(_) => Err(ProviderError::new(
            ErrorKind::Timeout,
            format!(
                "{provider_name} did not finish within {}s",
                backstop.as_secs()
            ),
        )),
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
