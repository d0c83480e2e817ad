//! The task endpoints: the same requests as `clk task ...` and `/task`, answered from the task
//! store by the same code (`runs::tasks::ops`), with the JSON `clk task --json` prints. What a
//! request changed is also put on the event stream, so every dashboard sees it.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;

use super::AppState;
use super::reply::{Answer, ApiError, Body, ok};
use crate::cmd;
use crate::engine::ground::events::Event;
use crate::engine::ground::task::TaskCommand;
use crate::engine::runs::tasks::ops;

/// Run one task request; a refusal (no such task, not in a state that allows it) is a 400
/// with the same line the CLI prints, or a 404 when the task does not exist.
pub fn apply(app: &AppState, cmd: TaskCommand, report: bool) -> Answer {
    let p = cmd::project(&app.dir)?;
    let reply = ops::apply(&p, cmd).map_err(|e| {
        if e.starts_with("there is no task") {
            ApiError::new(StatusCode::NOT_FOUND, "not_found", e)
        } else {
            ApiError::bad(e)
        }
    })?;
    if report {
        app.bus.emit(Event::Report {
            topic: "task".into(),
            lines: reply.lines,
        });
    }
    ok(reply.json)
}

/// The task id from the path, or a 400 that says what an id looks like.
fn id(p: Result<Path<i64>, PathRejection>) -> Result<i64, ApiError> {
    match p {
        Ok(Path(id)) if id > 0 => Ok(id),
        _ => Err(ApiError::bad(
            "a task id is a positive number, as GET /api/tasks lists them",
        )),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Add {
    #[serde(default)]
    prompt: String,
    #[serde(default)]
    flow: Option<String>,
    #[serde(default)]
    agent: Option<String>,
    #[serde(default)]
    autonomy: Option<String>,
    #[serde(default)]
    template: Option<String>,
}

/// `POST /api/tasks`: queue a task.
pub async fn add(State(app): State<AppState>, Body(b): Body<Add>) -> Answer {
    if b.prompt.trim().is_empty() && b.template.is_none() {
        return Err(ApiError::bad(
            "`prompt` is empty; say what the task should do",
        ));
    }
    let cmd = TaskCommand::Add {
        prompt: b.prompt,
        flow: b.flow,
        agent: b.agent,
        autonomy: b.autonomy,
        template: b.template,
        requested_by: Some("api".into()),
    };
    apply(&app, cmd, true)
}

/// `GET /api/tasks`.
pub async fn list(State(app): State<AppState>) -> Answer {
    apply(&app, TaskCommand::List, false)
}

/// `GET /api/tasks/{id}`.
pub async fn show(State(app): State<AppState>, p: Result<Path<i64>, PathRejection>) -> Answer {
    apply(&app, TaskCommand::Show { id: id(p)? }, false)
}

/// `GET /api/tasks/{id}/timeline`.
pub async fn timeline(State(app): State<AppState>, p: Result<Path<i64>, PathRejection>) -> Answer {
    apply(&app, TaskCommand::Timeline { id: id(p)? }, false)
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Note {
    #[serde(default)]
    note: Option<String>,
}

/// `POST /api/tasks/{id}/approve`.
pub async fn approve(
    State(app): State<AppState>,
    p: Result<Path<i64>, PathRejection>,
    Body(b): Body<Note>,
) -> Answer {
    let cmd = TaskCommand::Approve {
        id: id(p)?,
        note: b.note,
    };
    apply(&app, cmd, true)
}

/// `POST /api/tasks/{id}/pause`.
pub async fn pause(State(app): State<AppState>, p: Result<Path<i64>, PathRejection>) -> Answer {
    apply(&app, TaskCommand::Pause { id: id(p)? }, true)
}

/// `POST /api/tasks/{id}/resume`.
pub async fn resume(
    State(app): State<AppState>,
    p: Result<Path<i64>, PathRejection>,
    Body(b): Body<Note>,
) -> Answer {
    let cmd = TaskCommand::Resume {
        id: id(p)?,
        note: b.note,
    };
    apply(&app, cmd, true)
}

/// `POST /api/tasks/{id}/cancel`.
pub async fn cancel(State(app): State<AppState>, p: Result<Path<i64>, PathRejection>) -> Answer {
    apply(&app, TaskCommand::Cancel { id: id(p)? }, true)
}
