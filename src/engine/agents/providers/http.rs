//! Shared plumbing for the HTTP providers: the client, time limits, error classification and
//! the two streaming formats (NDJSON for Ollama, SSE for OpenAI-compatible servers).
//!
//! Invariants: the reqwest client has no overall timeout; [`guard`] enforces `req.timeout` and
//! `req.cancel` around a whole dispatch and [`idle`] enforces `req.idle_timeout` around every
//! wait for bytes. Every error leaving this module is a [`ProviderError`] whose message is one
//! redacted line naming the endpoint. Nothing here panics on what a server sends.

use std::future::Future;
use std::sync::Once;
use std::time::Duration;

use super::{ErrorKind, ProviderError, Request};

mod basics;
mod stream;
use basics::describe_io;
pub use basics::{describe_error, ended_early, excerpt, human, idle};
pub use stream::{NdjsonLines, SseEvents, read_all, read_some};

/// Install rustls' ring crypto provider once. reqwest is built with `rustls-no-provider`, so
/// building a client before this would panic.
pub fn ensure_tls() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Err means another part of the process installed one first; that one serves as well.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// A client for one provider. Only the connect step has a limit here; see the module docs.
pub fn client(connect_timeout: Duration) -> Result<reqwest::Client, String> {
    ensure_tls();
    reqwest::Client::builder()
        .connect_timeout(connect_timeout)
        .tcp_nodelay(true)
        .user_agent(concat!("clk/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("could not set up the HTTP client: {}", describe_error(&e)))
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

/// What an HTTP status means for the retry policy.
pub fn classify_status(status: u16, body: &str) -> ErrorKind {
    match status {
        408 | 429 | 500 | 502 | 503 | 504 | 529 => ErrorKind::Retryable,
        401 | 403 => ErrorKind::Auth,
        404 => ErrorKind::NotFound,
        400..=499 => {
            // Some servers answer an unknown model with 400 rather than 404.
            let lower = body.to_ascii_lowercase();
            let about_model = lower.contains("model")
                && (lower.contains("not found") || lower.contains("does not exist"));
            if about_model {
                ErrorKind::NotFound
            } else {
                ErrorKind::Fatal
            }
        }
        500..=599 => ErrorKind::Retryable,
        _ => ErrorKind::Fatal,
    }
}

/// What a reqwest failure means for the retry policy.
pub fn classify_reqwest(err: &reqwest::Error) -> ErrorKind {
    if err.is_timeout() {
        return ErrorKind::Timeout;
    }
    if err.is_connect() || err.is_body() || is_cut(err) {
        return ErrorKind::Retryable;
    }
    if err.is_decode() {
        return ErrorKind::BadReply;
    }
    ErrorKind::Fatal
}

/// A connection closed or reset under a request, found anywhere in the error's chain.
fn is_cut(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind as K;
            if matches!(
                io.kind(),
                K::ConnectionRefused
                    | K::ConnectionReset
                    | K::ConnectionAborted
                    | K::BrokenPipe
                    | K::UnexpectedEof
                    | K::NotConnected
            ) {
                return true;
            }
        }
        // hyper's "connection closed before message completed" carries no io::Error, and
        // hyper is not a direct dependency we could downcast to.
        let text = e.to_string();
        if text.contains("connection closed") || text.contains("incomplete") {
            return true;
        }
        cur = e.source();
    }
    false
}

/// The message out of the usual JSON error shapes (`{"error":"…"}`, `{"error":{"message":…}}`,
/// `{"detail":"…"}`, `{"message":"…"}`), if the body is one of them.
pub fn json_error_message(body: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    let pick = |v: &serde_json::Value| v.as_str().map(str::to_string);
    let err = v.get("error");
    err.and_then(pick)
        .or_else(|| err.and_then(|e| e.get("message")).and_then(pick))
        .or_else(|| v.get("detail").and_then(pick))
        .or_else(|| v.get("message").and_then(pick))
}

/// The error for a non-success HTTP status, with an excerpt of what the server said.
pub fn status_error(label: &str, status: u16, body: &str) -> ProviderError {
    let said = json_error_message(body).unwrap_or_else(|| body.to_string());
    let kind = classify_status(status, &said);
    let said = excerpt(&said);
    if said.is_empty() {
        ProviderError::new(kind, format!("{label}: HTTP {status}"))
    } else {
        ProviderError::new(kind, format!("{label}: HTTP {status}: {said}"))
    }
}

/// The error for a failed request; `hint` is added when the server could not be reached.
pub fn request_error(label: &str, err: &reqwest::Error, hint: &str) -> ProviderError {
    let kind = classify_reqwest(err);
    let what = describe_error(err);
    if err.is_connect() && !hint.is_empty() {
        ProviderError::new(kind, format!("{label}: {what}; {hint}"))
    } else {
        ProviderError::new(kind, format!("{label}: {what}"))
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

    #[test]
    fn statuses_map_to_kinds() {
        for s in [408, 429, 500, 502, 503, 504, 529, 599] {
            assert_eq!(classify_status(s, ""), ErrorKind::Retryable, "{s}");
        }
        assert_eq!(classify_status(401, ""), ErrorKind::Auth);
        assert_eq!(classify_status(403, ""), ErrorKind::Auth);
        assert_eq!(classify_status(404, ""), ErrorKind::NotFound);
        assert_eq!(classify_status(400, "bad json"), ErrorKind::Fatal);
        assert_eq!(
            classify_status(400, "model 'x' not found"),
            ErrorKind::NotFound
        );
    }

    #[test]
    fn error_bodies_are_cut_flattened_and_redacted() {
        let long = "x".repeat(500);
        assert_eq!(excerpt(&long).chars().count(), 200);
        assert_eq!(excerpt("a\n  b"), "a b");
        assert!(!excerpt("key sk-abcdefghijklmnopqrstu").contains("abcdefghijkl"));
        let e = status_error("p at u", 404, r#"{"error":"model 'm' not found"}"#);
        assert_eq!(e.kind, ErrorKind::NotFound);
        assert_eq!(e.message, "p at u: HTTP 404: model 'm' not found");
        let e = status_error("p", 401, r#"{"error":{"message":"bad key"}}"#);
        assert_eq!(
            (e.kind, e.message.as_str()),
            (ErrorKind::Auth, "p: HTTP 401: bad key")
        );
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
