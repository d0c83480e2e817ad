//! What every HTTP provider shares above the wire: who it is ([`Endpoint`]), the one
//! [`Provider`] implementation over [`HttpVendor`], sending a request and turning a failed
//! status into a classified error ([`send`]), and the short look at a server that `check`
//! takes ([`probe`]).
//!
//! Invariants: every HTTP dispatch runs under [`guard`] (the whole-dispatch time limit and
//! cancel) because the trait is implemented here and nowhere else; a status other than
//! success is classified in one place ([`super::status_error`]), and a provider only adds
//! words to the message through [`Hints`], never a kind of its own.

use std::future::Future;
use std::time::Duration;

use super::{guard, human, idle, read_some, request_error, status_error, tcp_reachable};
use crate::engine::agents::providers::{
    Availability, BoxFuture, ErrorKind, OutputSink, Provider, ProviderError, Reply, Request,
};

/// Largest part of an error body read for its message.
const ERROR_BODY_BYTES: usize = 8192;
/// `check` budgets: together well under the one second a status screen can wait.
const PROBE_CONNECT: Duration = Duration::from_millis(250);
const PROBE_ANSWER: Duration = Duration::from_millis(700);

/// A provider's name, the model it asks for and the server it talks to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub name: String,
    pub model: String,
    /// Base URL without a trailing slash.
    pub base: String,
}

impl Endpoint {
    /// "claude at https://api.anthropic.com", for messages.
    pub fn label(&self) -> String {
        format!("{} at {}", self.name, self.base)
    }
}

/// A provider that talks HTTP: what is its own. [`Provider`] is implemented once for all of
/// them, with the names from [`Endpoint`] and `call` run under the time limit and cancel.
pub trait HttpVendor: Send + Sync {
    /// Who this provider is and where it asks.
    fn endpoint(&self) -> &Endpoint;

    /// One request and its whole reply; [`guard`] is applied around it.
    fn call(
        &self,
        req: &Request,
        out: &OutputSink,
    ) -> impl Future<Output = Result<Reply, ProviderError>> + Send;

    /// Whether the provider can be used now; quick, as [`Provider::check`] promises.
    fn availability(&self) -> impl Future<Output = Availability> + Send;
}

impl<T: HttpVendor> Provider for T {
    fn name(&self) -> &str {
        &self.endpoint().name
    }

    fn model(&self) -> &str {
        &self.endpoint().model
    }

    fn dispatch<'a>(
        &'a self,
        req: &'a Request,
        out: &'a OutputSink,
    ) -> BoxFuture<'a, Result<Reply, ProviderError>> {
        Box::pin(async move {
            let label = self.endpoint().label();
            guard(req, &label, self.call(req, out)).await
        })
    }

    fn check(&self) -> BoxFuture<'_, Availability> {
        Box::pin(self.availability())
    }
}

/// What a provider adds to a failed request's message; each is empty when it has nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Hints<'a> {
    /// After a failed connection: "is `ollama serve` running?".
    pub unreachable: &'a str,
    /// After a refused key: "check OPENAI_API_KEY or CLK_CODEX_API_KEY".
    pub refused_key: &'a str,
    /// After a "not found" about the model: "run `ollama pull llama3.1`".
    pub missing_model: &'a str,
}

/// Send `rb` under the silence limit and return the response when its status is a success.
/// Otherwise read the start of the body and return the classified error, with what `hints`
/// has to say about it.
pub async fn send(
    req: &Request,
    label: &str,
    rb: reqwest::RequestBuilder,
    hints: &Hints<'_>,
) -> Result<reqwest::Response, ProviderError> {
    let resp = idle(req.idle_timeout, label, rb.send())
        .await?
        .map_err(|e| request_error(label, &e, hints.unreachable))?;
    if resp.status().is_success() {
        return Ok(resp);
    }
    let status = resp.status().as_u16();
    let retry_after = retry_after(status, resp.headers());
    let body = read_some(resp, ERROR_BODY_BYTES, req.idle_timeout).await;
    let err = status_error(label, status, &body).with_retry_after(retry_after);
    let hint = match err.kind {
        ErrorKind::Auth => hints.refused_key,
        ErrorKind::NotFound if body.contains("not found") => hints.missing_model,
        ErrorKind::NotFound
        | ErrorKind::Retryable
        | ErrorKind::Timeout
        | ErrorKind::Cancelled
        | ErrorKind::BadReply
        | ErrorKind::Fatal => "",
    };
    Err(if hint.is_empty() {
        err
    } else {
        ProviderError::new(err.kind, format!("{}; {hint}", err.message))
            .with_retry_after(err.retry_after)
    })
}

/// The wait a 429 or 503 asks for: whole seconds (`Retry-After: 7`) or a date
/// (`Retry-After: Wed, 21 Oct 2026 07:28:00 GMT`, a past one meaning now).
fn retry_after(status: u16, headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    if status != 429 && status != 503 {
        return None;
    }
    let v = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    wait_for(v, chrono::Utc::now())
}

/// A `Retry-After` value as a wait from `now`; None when it is neither form.
fn wait_for(value: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let ms = (at.with_timezone(&chrono::Utc) - now).num_milliseconds();
    Some(Duration::from_millis(ms.max(0) as u64))
}

/// `check`'s look at a server: can a connection to `base` be opened, and what does `rb` (a GET
/// of `what`) answer, each within a short budget. Err is why the provider is not usable now.
pub async fn probe(
    label: &str,
    base: &str,
    rb: reqwest::RequestBuilder,
    what: &str,
    unreachable: &str,
) -> Result<(u16, String), String> {
    if let Err(e) = tcp_reachable(base, PROBE_CONNECT).await {
        return Err(format!("{label}: {e}; {unreachable}"));
    }
    let get = async {
        let resp = rb.send().await?;
        let status = resp.status().as_u16();
        Ok::<_, reqwest::Error>((status, resp.text().await?))
    };
    match tokio::time::timeout(PROBE_ANSWER, get).await {
        Err(_) => Err(format!(
            "{label}: {what} gave no answer within {}",
            human(PROBE_ANSWER)
        )),
        Ok(Err(e)) => Err(request_error(label, &e, unreachable).message),
        Ok(Ok(v)) => Ok(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_read_as_seconds_or_as_a_date() {
        let now = chrono::DateTime::parse_from_rfc2822("Wed, 21 Oct 2026 07:28:00 GMT")
            .map(|d| d.with_timezone(&chrono::Utc))
            .unwrap();
        let wait = |v: &str| wait_for(v, now);
        assert_eq!(wait("7"), Some(Duration::from_secs(7)));
        assert_eq!(wait(" 0 "), Some(Duration::ZERO));
        assert_eq!(
            wait("Wed, 21 Oct 2026 07:28:12 GMT"),
            Some(Duration::from_secs(12))
        );
        assert_eq!(wait("Wed, 21 Oct 2026 07:27:00 GMT"), Some(Duration::ZERO));
        for bad in ["", "soon", "-3", "1.5"] {
            assert_eq!(wait(bad), None, "{bad}");
        }
    }
}
