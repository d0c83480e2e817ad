//! What a failed request means: the kind of error (for the retry policy) and its one-line,
//! redacted message naming the endpoint. Every HTTP status and transport failure of every
//! HTTP provider is classified here and nowhere else.

use crate::engine::agents::providers::{ErrorKind, ProviderError};

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

/// True for a 400 that is really a refused key: Google answers a bad key with
/// `400 INVALID_ARGUMENT` and reason `API_KEY_INVALID` rather than 401.
fn rejects_key(body: &str) -> bool {
    body.contains("API_KEY_INVALID") || body.to_ascii_lowercase().contains("api key not valid")
}

/// The error for a non-success HTTP status, with an excerpt of what the server said.
pub fn status_error(label: &str, status: u16, body: &str) -> ProviderError {
    let said = json_error_message(body).unwrap_or_else(|| body.to_string());
    let kind = if status == 400 && rejects_key(body) {
        ErrorKind::Auth
    } else {
        classify_status(status, &said)
    };
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

#[cfg(test)]
mod tests {
    use super::*;

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
        let google = r#"{"error":{"code":400,"status":"INVALID_ARGUMENT","message":"bad",
            "details":[{"reason":"API_KEY_INVALID"}]}}"#;
        assert_eq!(status_error("g", 400, google).kind, ErrorKind::Auth);
        assert_eq!(status_error("g", 400, "bad").kind, ErrorKind::Fatal);
    }
}
