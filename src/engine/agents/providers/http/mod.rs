//! Shared plumbing for the HTTP providers: the client, endpoints, time limits, and below it
//! error classification (`errors`), the two streaming formats (`stream`: NDJSON for Ollama,
//! SSE for the rest), the JSON reply grammars' reader (`reply`) and the one `Provider`
//! implementation with request sending (`vendor`).
//!
//! Invariants: the reqwest client has no overall timeout; [`guard`] enforces `req.timeout` and
//! `req.cancel` around a whole dispatch and [`idle`] enforces `req.idle_timeout` around every
//! wait for bytes. Every error leaving this module is a [`ProviderError`] whose message is one
//! redacted line naming the endpoint. Nothing here panics on what a server sends.

use std::future::Future;
use std::sync::Once;
use std::time::Duration;

use super::{ErrorKind, ProviderError, Request};
use crate::engine::ground::config::ProviderSettings;

mod client;
mod errors;
mod reply;
mod stream;
mod vendor;
pub use crate::engine::store::roots::root_loads;
pub use client::client;
use errors::describe_io;
pub use errors::{
    classify_reqwest, classify_status, describe_error, ended_early, excerpt, json_error_message,
    request_error, status_error,
};
#[cfg(test)]
pub(crate) use reply::read_sse;
pub use reply::{Decoder, Facts, read_reply};
pub use stream::{NdjsonLines, SseEvents, read_all, read_some};
pub use vendor::{Endpoint, Hints, HttpVendor, probe, send};

/// Install rustls' ring crypto provider once. reqwest is built with `rustls-no-provider`, so
/// building a client before this would panic.
pub fn ensure_tls() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Err means another part of the process installed one first; that one serves as well.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// `localhost:11434/` → `http://localhost:11434`.
pub fn normalize_endpoint(s: &str) -> String {
    let s = s.trim();
    let with_scheme = if s.contains("://") {
        s.to_string()
    } else {
        format!("http://{s}")
    };
    with_scheme.trim_end_matches('/').to_string()
}

/// `raw` as a base URL ([`normalize_endpoint`]), or why provider `name` cannot use it.
pub fn base_url(name: &str, raw: &str) -> Result<String, String> {
    let base = normalize_endpoint(raw);
    host_port(&base).map_err(|e| format!("{name}: endpoint {base}: {e}"))?;
    Ok(base)
}

/// The `endpoint` setting, or `default` when it is blank, as a base URL ([`base_url`]).
pub fn endpoint_setting(
    name: &str,
    settings: &ProviderSettings,
    default: &str,
) -> Result<String, String> {
    let raw = settings
        .endpoint
        .as_deref()
        .filter(|e| !e.trim().is_empty());
    base_url(name, raw.unwrap_or(default))
}

/// The `model` setting, or `default` when unset, trimmed; empty is an error that names what
/// to set (and the default as an example, when there is one).
pub fn model_setting(
    name: &str,
    settings: &ProviderSettings,
    default: &str,
) -> Result<String, String> {
    let model = settings.model.as_deref().unwrap_or(default).trim();
    if !model.is_empty() {
        return Ok(model.to_string());
    }
    let example = if default.is_empty() {
        String::new()
    } else {
        format!(" (e.g. {default})")
    };
    Err(format!(
        "{name}: no model set; set CLK_{}_MODEL or \"model\" in .clk/config/providers.json\
         {example}",
        super::env_name(name)
    ))
}

/// Host and port of an endpoint, with the scheme's default port when none is given.
pub fn host_port(endpoint: &str) -> Result<(String, u16), String> {
    let norm = normalize_endpoint(endpoint);
    let (scheme, rest) = norm.split_once("://").unwrap_or(("http", norm.as_str()));
    let default_port = match scheme.to_ascii_lowercase().as_str() {
        "http" => 80,
        "https" => 443,
        other => return Err(format!("unsupported scheme {other:?} (use http or https)")),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let hostport = authority.rsplit('@').next().unwrap_or_default();
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (host, after) = v6.split_once(']').ok_or("unclosed [ in the address")?;
        (host, after.strip_prefix(':'))
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        }
    };
    if host.is_empty() {
        return Err(format!("no host in {norm:?}"));
    }
    let port = match port {
        Some(p) => p
            .parse::<u16>()
            .map_err(|_| format!("bad port {p:?} in {norm:?}"))?,
        None => default_port,
    };
    Ok((host.to_string(), port))
}

/// Can a TCP connection to the endpoint be opened within `within`? For `Provider::check`.
pub async fn tcp_reachable(endpoint: &str, within: Duration) -> Result<(), String> {
    let (host, port) = host_port(endpoint)?;
    match tokio::time::timeout(
        within,
        tokio::net::TcpStream::connect((host.as_str(), port)),
    )
    .await
    {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(describe_io(&e)),
        Err(_) => Err(format!("no answer within {}", human(within))),
    }
}

/// "300 ms" or "12 s", for messages.
pub fn human(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{} s", d.as_secs())
    }
}

/// Run a whole dispatch under `req.timeout` and `req.cancel`.
pub async fn guard<T>(
    req: &Request,
    label: &str,
    fut: impl Future<Output = Result<T, ProviderError>>,
) -> Result<T, ProviderError> {
    tokio::select! {
        biased;
        _ = req.cancel.cancelled() => {
            Err(ProviderError::new(ErrorKind::Cancelled, format!("{label}: aborted")))
        }
        _ = tokio::time::sleep(req.timeout) => Err(ProviderError::new(
            ErrorKind::Timeout,
            format!("{label}: no complete reply within {}", human(req.timeout)),
        )),
        r = fut => r,
    }
}

/// Wait for `fut` at most `limit` (the silence limit), when there is one.
pub async fn idle<T>(
    limit: Option<Duration>,
    label: &str,
    fut: impl Future<Output = T>,
) -> Result<T, ProviderError> {
    match limit {
        None => Ok(fut.await),
        Some(d) => tokio::time::timeout(d, fut).await.map_err(|_| {
            ProviderError::new(
                ErrorKind::Timeout,
                format!("{label}: no output for {}", human(d)),
            )
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_get_a_scheme_and_lose_trailing_slashes() {
        assert_eq!(
            normalize_endpoint("localhost:11434/"),
            "http://localhost:11434"
        );
        assert_eq!(
            normalize_endpoint(" https://x.io/api// "),
            "https://x.io/api"
        );
    }

    #[test]
    fn host_and_port_come_from_the_endpoint() {
        assert_eq!(
            host_port("localhost:11434").unwrap(),
            ("localhost".into(), 11434)
        );
        assert_eq!(
            host_port("https://u:p@x.io/v1").unwrap(),
            ("x.io".into(), 443)
        );
        assert_eq!(
            host_port("http://[::1]:8080/").unwrap(),
            ("::1".into(), 8080)
        );
        assert_eq!(host_port("http://h").unwrap(), ("h".into(), 80));
        assert!(host_port("ftp://h").is_err());
        assert!(host_port("http://h:notaport").is_err());
        assert!(host_port("http://").is_err());
    }

    #[tokio::test]
    async fn a_closed_port_is_unreachable_quickly() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap();
        let t = std::time::Instant::now();
        let e = tcp_reachable(&format!("127.0.0.1:{port}"), Duration::from_millis(300))
            .await
            .unwrap_err();
        assert!(e.contains("refused"), "{e}");
        assert!(t.elapsed() < Duration::from_millis(500));
    }
}
