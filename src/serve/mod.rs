//! `clk serve`: the engine behind an HTTP API, an event stream and a web dashboard.
//!
//! One engine session (as the terminal dashboard has) takes commands from the REST handlers
//! (`api.rs`, `tasks.rs`) and reports on the one bus; `/events` streams the activity log
//! (`events.rs`). Safe by default: loopback only unless told, a bearer token on every route but
//! `/health`, the dashboard's static files (`auth.rs`) and, with `--discord`, the route Discord
//! posts to (its requests are signed instead: `discord.rs`); bodies capped, no CORS headers
//! (so no other site's page can read an answer).

pub mod api;
pub mod auth;
pub mod chat;
pub mod discord;
pub mod discord_do;
pub mod events;
pub mod notify;
pub mod reply;
pub mod tasks;
pub mod telegram;
pub mod telegram_do;
pub mod web;

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use tokio_util::sync::CancellationToken;

use crate::engine::EngineHandle;
use crate::engine::store::bus::Bus;
use reply::ApiError;

/// Largest request body taken, in bytes.
pub const BODY_LIMIT: usize = 64 * 1024;

/// What every handler shares. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The project folder (handlers load the project from it, as the CLI does).
    pub dir: PathBuf,
    pub engine: EngineHandle,
    pub bus: Bus,
    pub hub: events::Hub,
    pub notices: notify::Notices,
    pub token: Arc<str>,
    /// Cancelled when the server stops: open event streams end.
    pub stop: CancellationToken,
}

/// Every route that needs the token: method, path (as in `/openapi.json`), handler.
pub fn api_routes() -> Vec<(&'static str, &'static str, MethodRouter<AppState>)> {
    vec![
        ("get", "/openapi.json", get(web::openapi)),
        ("get", "/events", get(events::stream)),
        ("get", "/api/project", get(api::project)),
        ("get", "/api/status", get(api::status)),
        ("get", "/api/state", get(api::state)),
        ("post", "/api/idea", post(api::idea)),
        ("post", "/api/input", post(api::input)),
        ("post", "/api/cast", post(api::cast)),
        ("post", "/api/plan", post(api::plan)),
        ("post", "/api/run", post(api::run)),
        ("post", "/api/loop", post(api::run_loop)),
        ("post", "/api/work", post(api::work)),
        ("post", "/api/stop", post(api::stop)),
        ("post", "/api/abort", post(api::abort)),
        ("get", "/api/undo", get(api::undo_preview)),
        ("post", "/api/undo", post(api::undo)),
        ("get", "/api/doctor", get(api::doctor)),
        ("get", "/api/budget", get(api::budget)),
        ("post", "/api/budget", post(api::set_cap)),
        ("post", "/api/confirm", post(api::confirm)),
        ("get", "/api/notices", get(api::notices)),
        ("get", "/api/tasks", get(tasks::list)),
        ("post", "/api/tasks", post(tasks::add)),
        ("get", "/api/tasks/{id}", get(tasks::show)),
        ("get", "/api/tasks/{id}/timeline", get(tasks::timeline)),
        ("post", "/api/tasks/{id}/approve", post(tasks::approve)),
        ("post", "/api/tasks/{id}/pause", post(tasks::pause)),
        ("post", "/api/tasks/{id}/resume", post(tasks::resume)),
        ("post", "/api/tasks/{id}/cancel", post(tasks::cancel)),
    ]
}

/// Routes open without the token: the health check and the dashboard's files (they hold no
/// data; the page asks for the token before it asks for anything).
pub fn open_routes() -> Vec<(&'static str, &'static str, MethodRouter<AppState>)> {
    vec![
        ("get", "/health", get(health)),
        ("get", "/", get(web::index)),
        ("get", "/app.js", get(web::script)),
        ("get", "/app.css", get(web::style)),
    ]
}

/// The route Discord posts its signed interactions to (`discord.rs`): open, because the
/// request's Ed25519 signature is its credential and Discord cannot send our token.
pub const DISCORD_PATH: &str = "/discord/interactions";

/// The whole server, with the Discord bot's route when it is on.
pub fn router(app: AppState, discord: Option<discord::Bot>) -> Router {
    let mut guarded = Router::new();
    for (_, path, handler) in api_routes() {
        guarded = guarded.route(path, handler);
    }
    let guarded = guarded.route_layer(middleware::from_fn_with_state(app.clone(), auth::require));
    let mut open = Router::new();
    for (_, path, handler) in open_routes() {
        open = open.route(path, handler);
    }
    let mut all = open.merge(guarded).with_state(app.clone());
    if let Some(bot) = discord {
        all = all.merge(
            Router::new()
                .route(DISCORD_PATH, post(discord::interactions))
                .with_state(bot),
        );
    }
    all.fallback(not_found)
        .layer(middleware::from_fn_with_state(
            app.clone(),
            auth::no_token_in_url,
        ))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn(cap_body))
}

async fn health() -> Response {
    axum::Json(serde_json::json!({"ok": true})).into_response()
}

async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such endpoint; GET /openapi.json lists them",
    )
}

/// A body declared larger than the cap is refused before it is read (and before the token is
/// checked: nothing is spent on it either way).
async fn cap_body(req: Request, next: Next) -> Response {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > BODY_LIMIT) {
        return reply::too_large().into_response();
    }
    next.run(req).await
}

/// Whether `ip` only reaches this machine.
pub fn is_loopback(ip: std::net::IpAddr) -> bool {
    ip.is_loopback()
}
