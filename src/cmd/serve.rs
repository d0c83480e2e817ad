//! `clk serve`: the REST API, the event stream and the web dashboard for this project (see
//! `serve/`), until Ctrl-C or SIGTERM. It holds the project lock as the dashboard does.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{Failure, project, runtime};
use crate::engine::Engine;
use crate::engine::ground::config::ServeConfig;
use crate::engine::ground::events::{Command, Event};
use crate::engine::store::bus::Bus;
use crate::serve::telegram::{self, Bot};
use crate::serve::{self, AppState, auth, events::Hub, notify::Notices};
use crate::serve::{discord, discord_do};

/// How often the task queue is looked at for notices.
const NOTICE_TASKS_EVERY: Duration = Duration::from_secs(2);

/// How long running work gets to stop when the server ends.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The chat bots to run beside the server.
#[derive(Debug, Clone, Copy, Default)]
pub struct Bots {
    pub telegram: bool,
    pub discord: bool,
    /// Register Discord's slash commands at the start.
    pub discord_register: bool,
}

pub fn run(
    dir: &Path,
    bind: IpAddr,
    port: u16,
    allow_remote: bool,
    bots: Bots,
) -> Result<u8, Failure> {
    if !serve::is_loopback(bind) && !allow_remote {
        return Err(Failure::bad_input(format!(
            "--bind {bind} lets other machines reach clk; add --allow-remote if you mean it \
             (every request still needs the token), or leave --bind out for 127.0.0.1"
        )));
    }
    let p = project(dir)?;
    let bot_token = if bots.telegram {
        Some(telegram_token()?)
    } else {
        None
    };
    let discord_keys = if bots.discord {
        Some(discord_keys(bots.discord_register)?)
    } else {
        None
    };
    let bot_cfg = p.config.serve.clone();
    let path = auth::token_path().map_err(Failure::failed)?;
    let (token, made) = auth::load_or_create(&path).map_err(Failure::failed)?;
    let ws = p.ws.clone();
    let store_url = p.config.store.url.trim().to_string();
    runtime()?.block_on(async move {
        let addr = SocketAddr::new(bind, port);
        let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
            Failure::failed(format!(
                "cannot listen on {addr}: {e}; pick another port with --port"
            ))
        })?;
        let addr = listener.local_addr().unwrap_or(addr);
        let bus = Bus::new(Some(ws.activity_log()));
        // Questions wait for an answer through POST /api/confirm or the web dashboard.
        bus.set_interactive(true);
        let (engine, join) = Engine::spawn(p, bus.clone());
        let stop = CancellationToken::new();
        let hub = Hub::start(ws.activity_log(), &bus, stop.clone());
        // Create and migrate the task store before anything else opens it: two first opens at
        // once can both try to migrate it. A store that cannot open is reported per request.
        let _ = crate::engine::store::tasks::open(&ws);
        // A store that workers on many machines share: their tasks' timeline lines join the
        // event stream as they happen.
        if !store_url.is_empty() {
            let b = bus.clone();
            let heard = crate::engine::store::tasks::listen(&store_url, move |n| {
                b.emit(Event::Report {
                    topic: "task".into(),
                    lines: vec![format!(
                        "task {} ({}, {}): {}",
                        n.task, n.kind, n.worker, n.text
                    )],
                });
                true
            });
            if let Err(e) = heard {
                bus.emit(Event::Warning {
                    message: e.to_string(),
                });
            }
        }
        let notices = Notices::default();
        notices.watch(&hub, ws.clone(), NOTICE_TASKS_EVERY, stop.clone());
        let app = AppState {
            dir: ws.root.clone(),
            engine: engine.clone(),
            bus,
            hub,
            notices,
            token: Arc::from(token.as_str()),
            stop: stop.clone(),
        };
        println!(
            "clk serve: listening on http://{addr}/ for {}",
            ws.root.display()
        );
        if made {
            println!(
                "New token (shown this once; kept in {}): {token}",
                path.display()
            );
            println!("Dashboard: http://{addr}/#token={token}");
        } else {
            println!(
                "Token: in {} (send it as `Authorization: Bearer <token>`)",
                path.display()
            );
        }
        if let Some(t) = bot_token {
            let bot = Bot::new(
                app.clone(),
                &bot_cfg.telegram_api,
                &t,
                bot_cfg.telegram_users.clone(),
            )
            .map_err(Failure::bad_input)?;
            if bot.users().is_empty() {
                println!(
                    "Telegram bot: on, but nobody may use it yet; list your Telegram user id in \
                     serve.telegram_users (clk configure --set serve.telegram_users=[123])"
                );
            } else {
                println!("Telegram bot: on, for {} user(s)", bot.users().len());
            }
            tokio::spawn(bot.run(stop.clone()));
        }
        let discord = match discord_keys {
            Some(keys) => Some(start_discord(app.clone(), &bot_cfg, keys, &stop).await?),
            None => None,
        };
        println!("Stop with Ctrl-C.");
        let ended = stop.clone();
        let served = axum::serve(listener, serve::router(app, discord))
            .with_graceful_shutdown(async move {
                shutdown_signal().await;
                ended.cancel();
            })
            .await;
        let _ = engine.submit(Command::Abort);
        let _ = engine.submit(Command::Shutdown);
        if tokio::time::timeout(SHUTDOWN_GRACE, join).await.is_err() {
            eprintln!("clk: the engine did not stop within 5 s; leaving it");
        }
        served.map_err(|e| Failure::failed(format!("the server stopped: {e}")))?;
        println!("clk serve: stopped");
        Ok(super::EXIT_OK)
    })
}

/// The bot's token from `TELEGRAM_BOT_TOKEN`.
fn telegram_token() -> Result<String, Failure> {
    match std::env::var("TELEGRAM_BOT_TOKEN") {
        Ok(t) if !t.trim().is_empty() => {
            let t = t.trim().to_string();
            telegram::check_token(&t).map_err(Failure::bad_input)?;
            Ok(t)
        }
        _ => Err(Failure::bad_input(
            "--telegram needs the bot's token in TELEGRAM_BOT_TOKEN (from @BotFather)",
        )),
    }
}

/// What `--discord` needs from the environment: the bot token, the application's public key
/// and, to register the commands, the application's id.
struct DiscordKeys {
    token: String,
    public_key: String,
    app_id: Option<String>,
}

fn discord_keys(register: bool) -> Result<DiscordKeys, Failure> {
    let var = |name: &str| {
        std::env::var(name)
            .ok()
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let token = var("DISCORD_TOKEN").ok_or_else(|| {
        Failure::bad_input(
            "--discord needs the bot's token in DISCORD_TOKEN (Developer Portal, Bot)",
        )
    })?;
    discord::check_token(&token).map_err(Failure::bad_input)?;
    let public_key = var("DISCORD_PUBLIC_KEY").ok_or_else(|| {
        Failure::bad_input(
            "--discord needs the application's public key in DISCORD_PUBLIC_KEY (Developer \
             Portal, General Information) to check that requests come from Discord",
        )
    })?;
    discord::parse_key(&public_key).map_err(Failure::bad_input)?;
    let app_id = var("DISCORD_APPLICATION_ID");
    if register && app_id.is_none() {
        return Err(Failure::bad_input(
            "--discord-register needs the application's id in DISCORD_APPLICATION_ID",
        ));
    }
    Ok(DiscordKeys {
        token,
        public_key,
        app_id: app_id.filter(|_| register),
    })
}

/// The Discord bot: its notices started, its commands registered when asked.
async fn start_discord(
    app: AppState,
    cfg: &ServeConfig,
    keys: DiscordKeys,
    stop: &CancellationToken,
) -> Result<discord::Bot, Failure> {
    let bot =
        discord::Bot::new(app, cfg, &keys.token, &keys.public_key).map_err(Failure::bad_input)?;
    if let Some(id) = keys.app_id {
        bot.rest
            .register(&id, discord_do::commands())
            .await
            .map_err(|e| Failure::failed(format!("registering the slash commands: {e}")))?;
        println!("Discord: slash commands registered");
    }
    if bot.perms.nobody() {
        println!(
            "Discord bot: on, but nobody may use it yet; list role or user ids in \
             serve.discord_run, serve.discord_approve or serve.discord_admin"
        );
    } else {
        println!(
            "Discord bot: on; point the application's Interactions Endpoint URL at {}",
            serve::DISCORD_PATH
        );
    }
    discord_do::start_notices(bot.clone(), stop.clone());
    Ok(bot)
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut term) = signal(SignalKind::terminate()) else {
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
