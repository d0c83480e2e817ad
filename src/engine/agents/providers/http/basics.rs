//! The words and the wait that the HTTP client code and the stream readers share: the most
//! specific description of an error chain, a redacted excerpt of a server's body, the error
//! for a reply cut short, durations for messages, and [`idle`], the silence limit around every
//! wait for bytes. Kept apart from `http.rs` so the stream readers need nothing from it.

use std::future::Future;
use std::time::Duration;

use crate::engine::agents::providers::{ErrorKind, ProviderError};

/// The most specific words an error chain has, e.g. "connection refused".
pub fn describe_error(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    let mut last = err.to_string();
    while let Some(e) = cur {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return describe_io(io);
        }
        last = e.to_string();
        cur = e.source();
    }
    last
}

pub(super) fn describe_io(e: &std::io::Error) -> String {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::ConnectionRefused => "connection refused".into(),
        K::ConnectionReset => "connection reset".into(),
        K::ConnectionAborted => "connection aborted".into(),
        K::TimedOut => "connect timed out".into(),
        K::UnexpectedEof => "connection closed early".into(),
        _ => e.to_string(),
    }
}

/// One redacted line of at most 200 characters from a server's error body.
pub fn excerpt(body: &str) -> String {
    let flat = body.split_whitespace().collect::<Vec<_>>().join(" ");
    let cut: String = flat.chars().take(200).collect();
    let cut = if cut.len() < flat.len() {
        format!("{}…", cut.chars().take(199).collect::<String>())
    } else {
        cut
    };
    crate::engine::ground::redact::redact_text(&cut)
}

/// The error for a reply cut before its protocol's final marker.
pub fn ended_early(label: &str, detail: &str) -> ProviderError {
    if detail.is_empty() {
        ProviderError::new(ErrorKind::Retryable, format!("{label}: stream ended early"))
    } else {
        ProviderError::new(
            ErrorKind::Retryable,
            format!("{label}: stream ended early ({detail})"),
        )
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
