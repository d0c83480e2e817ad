//! What every HTTP provider shares above the wire: sending a request and turning a failed
//! status into a classified error ([`send`]), and the short look at a server that `check`
//! takes ([`probe`]).
//!
//! Invariant: a status other than success is classified in one place ([`super::status_error`]);
//! a provider only adds words to the message through [`Hints`], never a kind of its own.

use std::time::Duration;

use super::{human, idle, read_some, request_error, status_error, tcp_reachable};
use crate::engine::agents::providers::{ErrorKind, ProviderError, Request};

/// Largest part of an error body read for its message.
const ERROR_BODY_BYTES: usize = 8192;
/// `check` budgets: together well under the one second a status screen can wait.
const PROBE_CONNECT: Duration = Duration::from_millis(250);
const PROBE_ANSWER: Duration = Duration::from_millis(700);

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
    let body = read_some(resp, ERROR_BODY_BYTES, req.idle_timeout).await;
    let err = status_error(label, status, &body);
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
    })
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
