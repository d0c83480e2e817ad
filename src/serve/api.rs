//! The REST handlers that drive the engine: each turns a request into the same `Command` the
//! dashboard and the CLI send (checked the way the CLI checks it), then either answers at once
//! with the task id (work that goes on: idea, cast, plan, run, loop) or waits for the command's
//! end and answers with its report (status, budget, doctor, undo, stop).

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use super::reply::{Answer, ApiError, Body, accepted, ok, round_trip, submit};
use crate::cmd::{self, orchestrate};
use crate::engine::ground::events::{Command, LoopKind};
use crate::engine::ground::slash::{self, Slash};

/// `GET /api/status`: what `clk status --json` prints, and the live state of this session.
pub async fn status(State(app): State<AppState>) -> Answer {
    let p = cmd::project(&app.dir)?;
    let mut doc = cmd::status::gather(&p);
    doc["live"] = live(&app);
    ok(doc)
}

/// `GET /api/state`: the session's folded state (agents, totals, queue) with the cost as
/// people read it and the newest log lines, for the web dashboard.
pub async fn state(State(app): State<AppState>) -> Answer {
    ok(live(&app))
}

/// Newest log lines sent with the state.
const LOG_LINES: usize = 300;

fn live(app: &AppState) -> serde_json::Value {
    let s = app.engine.snapshot();
    let skip = s.log.len().saturating_sub(LOG_LINES);
    let log: Vec<&String> = s.log.iter().skip(skip).collect();
    json!({
        "state": s,
        "cost": crate::engine::ground::pricing::format_usd(s.totals.cost_micros),
        "summary": crate::headless::summary(&s),
        "log": log,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Idea {
    statement: String,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
}

/// `POST /api/idea`: record the idea (`clk idea --no-cast`; cast with `/api/cast`).
pub async fn idea(State(app): State<AppState>, Body(b): Body<Idea>) -> Answer {
    if b.statement.trim().is_empty() {
        return Err(ApiError::bad("`statement` is empty; say what to build"));
    }
    cmd::project(&app.dir)?;
    let id = submit(
        &app,
        Command::CaptureIdea {
            statement: b.statement,
            title: b.title,
            tags: b.tags,
        },
    )?;
    accepted(id)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Input {
    text: String,
}

/// `POST /api/input`: a line as typed in the dashboard: free text (the idea, or a message to
/// the team) or a slash command.
pub async fn input(State(app): State<AppState>, Body(b): Body<Input>) -> Answer {
    let text = b.text.trim().to_string();
    if text.is_empty() {
        return Err(ApiError::bad("`text` is empty"));
    }
    let cmd = if text.starts_with('/') {
        match slash::parse(&text).map_err(ApiError::bad)? {
            Slash::Engine(cmd) => cmd,
            _ => {
                return Err(ApiError::bad(format!(
                    "{text} only works in the terminal dashboard"
                )));
            }
        }
    } else {
        Command::Message { text }
    };
    accepted(submit(&app, cmd)?)
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct DryRun {
    #[serde(default)]
    dry_run: bool,
}

/// `POST /api/cast`.
pub async fn cast(State(app): State<AppState>, Body(b): Body<DryRun>) -> Answer {
    orchestrate::need_idea(&app.dir)?;
    accepted(submit(&app, Command::Cast { dry_run: b.dry_run })?)
}

/// `POST /api/plan`.
pub async fn plan(State(app): State<AppState>, Body(b): Body<DryRun>) -> Answer {
    for wf in ["discovery", "product"] {
        orchestrate::check_workflow(&app.dir, wf)?;
    }
    accepted(submit(&app, Command::Plan { dry_run: b.dry_run })?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Run {
    #[serde(default = "engineering")]
    workflow: String,
    #[serde(default)]
    max_cycles: Option<u32>,
    #[serde(default)]
    dry_run: bool,
}

fn engineering() -> String {
    "engineering".into()
}

/// `POST /api/run`.
pub async fn run(State(app): State<AppState>, Body(b): Body<Run>) -> Answer {
    if b.max_cycles == Some(0) {
        return Err(ApiError::bad("`max_cycles` must be at least 1"));
    }
    orchestrate::check_workflow(&app.dir, &b.workflow)?;
    let cmd = Command::Run {
        workflow: b.workflow,
        max_cycles: b.max_cycles,
        dry_run: b.dry_run,
    };
    accepted(submit(&app, cmd)?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Loop {
    #[serde(default = "ralph")]
    mode: LoopKind,
    #[serde(default)]
    iterations: Option<u32>,
    #[serde(default)]
    dry_run: bool,
}

fn ralph() -> LoopKind {
    LoopKind::Ralph
}

/// `POST /api/loop`.
pub async fn run_loop(State(app): State<AppState>, Body(b): Body<Loop>) -> Answer {
    if b.iterations == Some(0) {
        return Err(ApiError::bad("`iterations` must be at least 1"));
    }
    cmd::project(&app.dir)?;
    let cmd = Command::Loop {
        kind: b.mode,
        iterations: b.iterations.unwrap_or(0),
        dry_run: b.dry_run,
    };
    accepted(submit(&app, cmd)?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Workers {
    #[serde(default)]
    workers: Option<u32>,
}

/// `POST /api/work`: run the queued tasks in this session (`clk work`).
pub async fn work(State(app): State<AppState>, Body(b): Body<Workers>) -> Answer {
    if b.workers == Some(0) {
        return Err(ApiError::bad("`workers` must be at least 1"));
    }
    let cmd = Command::Work {
        workers: b.workers,
        until_idle: false,
    };
    accepted(submit(&app, cmd)?)
}

/// `POST /api/stop`: finish the current step, then stop.
pub async fn stop(State(app): State<AppState>) -> Answer {
    round_trip(&app, Command::Stop).await
}

/// `POST /api/abort`: stop everything at once.
pub async fn abort(State(app): State<AppState>) -> Answer {
    submit(&app, Command::Abort)?;
    ok(json!({"summary": "aborting every running task"}))
}

/// `GET /api/undo`: what an undo would take back.
pub async fn undo_preview(State(app): State<AppState>) -> Answer {
    round_trip(&app, Command::Undo { confirm: false }).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Confirm {
    #[serde(default)]
    confirm: bool,
}

/// `POST /api/undo` with `{"confirm": true}`: revert it with a new commit.
pub async fn undo(State(app): State<AppState>, Body(b): Body<Confirm>) -> Answer {
    if !b.confirm {
        return Err(ApiError::bad(
            "send {\"confirm\": true} to undo; GET /api/undo shows what it takes back",
        ));
    }
    round_trip(&app, Command::Undo { confirm: true }).await
}

/// `GET /api/doctor`: the checkup (repairs are asked in a terminal: `clk doctor --fix`).
pub async fn doctor(State(app): State<AppState>) -> Answer {
    round_trip(&app, Command::Doctor { fix: false }).await
}

/// `GET /api/budget`: the caps and the spend against them.
pub async fn budget(State(app): State<AppState>) -> Answer {
    round_trip(&app, Command::ShowBudget).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cap {
    key: String,
    usd: f64,
}

/// `POST /api/budget`: set a cap for this session (`/budget set`). The engine refuses only a
/// key or an amount that is wrong, so its refusal is a 400.
pub async fn set_cap(State(app): State<AppState>, Body(b): Body<Cap>) -> Answer {
    round_trip(
        &app,
        Command::SetCap {
            key: b.key,
            usd: b.usd,
        },
    )
    .await
    .map_err(|e| match e.status {
        StatusCode::CONFLICT => ApiError::bad(e.message),
        _ => e,
    })
}

/// `GET /api/project`: the project this server works on (one `clk serve` per project).
pub async fn project(State(app): State<AppState>) -> Answer {
    let p = cmd::project(&app.dir)?;
    ok(json!({
        "name": p.config.project_name.clone().unwrap_or_default(),
        "root": p.ws.root,
        "provider": p.providers.active,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuestionAnswer {
    id: u64,
    approve: bool,
}

/// `POST /api/confirm`: answer a question the work asked (`confirm_requested`).
pub async fn confirm(State(app): State<AppState>, Body(b): Body<QuestionAnswer>) -> Answer {
    round_trip(
        &app,
        Command::Confirm {
            id: b.id,
            approve: b.approve,
        },
    )
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct After {
    #[serde(default)]
    after: u64,
}

/// `GET /api/notices?after=N`: what a person should hear about, each thing once.
pub async fn notices(
    State(app): State<AppState>,
    q: Result<axum::extract::Query<After>, axum::extract::rejection::QueryRejection>,
) -> Answer {
    let after = q
        .map_err(|_| ApiError::bad("`after` is the seq of the last notice you saw"))?
        .after;
    ok(json!({"notices": app.notices.after(after)}))
}
