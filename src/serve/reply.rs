//! What every handler answers with: JSON bodies, errors as `{code, message}` with the status
//! that fits (bad input is 400 and says what to fix; nothing the client sends is a 500), and
//! the round trip of one engine command: submit it, collect its reports, wait for its end.

use std::time::Duration;

use axum::Json;
use axum::extract::FromRequest;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;

use super::AppState;
use crate::cmd::Failure;
use crate::engine::ground::events::{Command, Event};

/// An error answer: an HTTP status, a short machine code and one line for a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn bad(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"code": self.code, "message": self.message});
        (self.status, Json(body)).into_response()
    }
}

impl From<Failure> for ApiError {
    fn from(f: Failure) -> Self {
        if f.code == crate::cmd::EXIT_BAD_INPUT {
            ApiError::bad(f.message)
        } else {
            ApiError::new(StatusCode::CONFLICT, "failed", f.message)
        }
    }
}

pub type Answer = Result<Response, ApiError>;

/// A JSON body whose rejections are 400s in our error shape. An empty body reads as `{}`, so
/// a command with only optional fields can be posted bare.
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        let h = req.headers();
        let empty = match h.get(axum::http::header::CONTENT_LENGTH) {
            Some(v) => v == "0",
            None => !h.contains_key(axum::http::header::TRANSFER_ENCODING),
        };
        if empty {
            return serde_json::from_value(json!({}))
                .map(Body)
                .map_err(|e| ApiError::bad(format!("the request needs a JSON body: {e}")));
        }
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(Body(v)),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(ApiError::bad(
                "send the body as JSON with `Content-Type: application/json`",
            )),
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(too_large()),
            Err(e) => Err(ApiError::bad(format!(
                "the JSON body is not right: {}",
                e.body_text()
            ))),
        }
    }
}

pub fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        format!(
            "the request body is over {} KB; send less",
            super::BODY_LIMIT / 1024
        ),
    )
}

/// `200` with `value` as the body.
pub fn ok(value: Value) -> Answer {
    Ok(Json(value).into_response())
}

/// `202 Accepted` for work that goes on after the answer: its task id names its
/// `task_finished` event on `/events`.
pub fn accepted(task_id: u64) -> Answer {
    Ok((StatusCode::ACCEPTED, Json(json!({"task_id": task_id}))).into_response())
}

/// Send `cmd` to the engine without waiting.
pub fn submit(app: &AppState, cmd: Command) -> Result<u64, ApiError> {
    app.engine.submit(cmd).map_err(|e| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "engine_gone",
            e.to_string(),
        )
    })
}

/// How long a quick command (status, budget, doctor, undo, stop) may take.
const QUICK: Duration = Duration::from_secs(120);

/// Send `cmd`, then answer with its outcome and the report lines it produced: 200 when it
/// did its job, 409 with its summary when it could not.
pub async fn round_trip(app: &AppState, cmd: Command) -> Answer {
    let mut events = app.bus.subscribe();
    let id = submit(app, cmd)?;
    let mut lines = Vec::new();
    let wait = async {
        loop {
            match events.recv().await {
                Ok(Event::Report { lines: l, .. }) => lines.extend(l),
                Ok(Event::TaskFinished {
                    task_id,
                    ok,
                    summary,
                    ..
                }) if task_id == id => return Some((ok, summary)),
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return None,
            }
        }
    };
    match tokio::time::timeout(QUICK, wait).await {
        Ok(Some((true, summary))) => ok(json!({"task_id": id, "summary": summary, "lines": lines})),
        Ok(Some((false, summary))) => Err(ApiError::new(StatusCode::CONFLICT, "failed", summary)),
        Ok(None) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "engine_gone",
            "the engine has stopped",
        )),
        Err(_) => Err(ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "timeout",
            format!("task {id} is still running; watch /events for its task_finished"),
        )),
    }
}
