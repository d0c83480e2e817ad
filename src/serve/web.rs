//! The web dashboard's files and the OpenAPI document, built into the binary: no Node, no
//! build step. The page is the terminal dashboard's picture: title with cost, agent cards, the
//! log with a filter, tasks with their buttons, an input for ideas and slash commands; it
//! redraws from `/api/state` and `/api/tasks` whenever `/events` says something happened.

use axum::http::header;
use axum::response::{IntoResponse, Response};

const INDEX: &str = include_str!("web/index.html");
const SCRIPT: &str = include_str!("web/app.js");
const STYLE: &str = include_str!("web/app.css");
/// The API's description; a test checks it names every route and nothing else.
pub const OPENAPI: &str = include_str!("openapi.json");

/// Only this origin's files and requests; no frames.
const CSP: &str = "default-src 'self'; connect-src 'self'; frame-ancestors 'none'";

fn file(kind: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

pub async fn index() -> Response {
    file("text/html; charset=utf-8", INDEX)
}

pub async fn script() -> Response {
    file("text/javascript; charset=utf-8", SCRIPT)
}

pub async fn style() -> Response {
    file("text/css; charset=utf-8", STYLE)
}

pub async fn openapi() -> Response {
    file("application/json", OPENAPI)
}
