//! Providers: the things that turn a prompt into a reply.
//!
//! Every provider sits behind [`Provider`]. A dispatch hands it a [`Request`] (the fully
//! rendered prompt, a timeout, a cancel token) and an [`OutputSink`] for live lines; it returns
//! a [`Reply`] with the text and the token usage the protocol reported (or an estimate, marked
//! as such). Errors are classified by [`ErrorKind`] so the retry policy in [`retry`] can decide
//! without string matching. Providers never touch the project: applying the reply is the gate's
//! job.

pub mod anthropic;
pub mod apikey;
pub mod cli;
pub mod gemini;
pub mod http;
pub mod ollama;
pub mod openwebui;
#[cfg(test)]
mod recorded;
pub mod registry;
pub mod responses;
pub mod retry;
pub mod shell;

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

pub use crate::engine::act::confine::Isolation;
use crate::engine::ground::events::{Stream, Usage};

/// `CLK_<NAME>_…` spelling of a provider name, as the config's environment overrides use it.
pub(crate) fn env_name(name: &str) -> String {
    name.to_ascii_uppercase().replace('-', "_")
}

/// A boxed future, so providers can be chosen at run time as `Arc<dyn Provider>`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One prompt for one agent.
#[derive(Debug, Clone)]
pub struct Request {
    pub agent: String,
    pub stage: Option<String>,
    pub run_id: String,
    /// The objective alone, for providers that report it (the prompt already contains it).
    pub objective: String,
    /// The whole rendered prompt; its first line is the `[clk] agent=… stage=… run=…` trace line.
    pub prompt: String,
    /// Where CLI providers run (the project root).
    pub workdir: PathBuf,
    /// The whole dispatch must finish within this.
    pub timeout: Duration,
    /// Give up when no output arrived for this long (None: no silence limit).
    pub idle_timeout: Option<Duration>,
    /// Cancelled by `/abort`: the provider stops at once (killing its process group).
    pub cancel: CancellationToken,
    /// The sandbox a provider that runs a program (the agent CLIs) starts it in.
    pub sandbox: Isolation,
}

/// What a provider answered.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub text: String,
    pub usage: Usage,
    /// The model that answered, as the provider knows it (may be empty).
    pub model: String,
    /// Tool calls an agent CLI was not allowed to make, as (what it tried, why not);
    /// empty for other providers.
    pub refused: Vec<(String, String)>,
}

/// How a failure should be treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Worth another attempt after a pause: HTTP 429 and 5xx, a connection cut or refused.
    Retryable,
    /// The key or login was refused (401, 403). Retrying will not help.
    Auth,
    /// The model, endpoint path or program does not exist (404, CLI not on PATH).
    NotFound,
    /// clk's own time limit (whole dispatch or silence) ran out.
    Timeout,
    /// The user aborted the dispatch.
    Cancelled,
    /// The provider answered with something that is not its protocol.
    BadReply,
    /// Anything else: bad request, a process that failed with its own message.
    Fatal,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Retryable => "retryable",
            ErrorKind::Auth => "auth",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Cancelled => "cancelled",
            ErrorKind::BadReply => "bad_reply",
            ErrorKind::Fatal => "fatal",
        }
    }
}

/// A classified provider failure. The message is already redacted and fits on one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ProviderError {
    pub kind: ErrorKind,
    pub message: String,
    /// How long the server asked us to wait before trying again (`Retry-After` on a 429 or
    /// 503), if it said.
    pub retry_after: Option<std::time::Duration>,
}

impl ProviderError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        let message = crate::engine::ground::redact::redact_text(&message.into());
        let one_line = message.split_whitespace().collect::<Vec<_>>().join(" ");
        ProviderError {
            kind,
            message: one_line,
            retry_after: None,
        }
    }

    /// The same error, with the wait the server asked for.
    pub fn with_retry_after(mut self, wait: Option<std::time::Duration>) -> Self {
        self.retry_after = wait;
        self
    }

    pub fn is_retryable(&self) -> bool {
        self.kind == ErrorKind::Retryable
    }
}

/// Can this provider be used right now, and if not, why not. Checked without a model call.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Availability {
    pub usable: bool,
    /// When not usable, what is wrong and what to do; when usable, a caution worth a warning
    /// (a model the server does not list), or empty.
    pub reason: String,
}

impl Availability {
    pub fn ok() -> Self {
        Availability {
            usable: true,
            reason: String::new(),
        }
    }

    pub fn no(reason: impl Into<String>) -> Self {
        Availability {
            usable: false,
            reason: reason.into(),
        }
    }
}

/// The callback behind an [`OutputSink`].
type SinkFn = dyn Fn(Stream, &str) + Send + Sync;
/// Told the PID and a redacted command line when a provider starts a process.
type StartFn = dyn Fn(u32, &str) + Send + Sync;

/// Where live output goes while a provider works. Cheap to clone.
#[derive(Clone)]
pub struct OutputSink {
    f: Arc<SinkFn>,
    started: Option<Arc<StartFn>>,
}

impl OutputSink {
    pub fn new(f: impl Fn(Stream, &str) + Send + Sync + 'static) -> Self {
        OutputSink {
            f: Arc::new(f),
            started: None,
        }
    }

    /// Also be told when a provider starts a process (its PID and command line).
    pub fn on_process_start(mut self, f: impl Fn(u32, &str) + Send + Sync + 'static) -> Self {
        self.started = Some(Arc::new(f));
        self
    }

    /// Report that a process started; `command` must already be redacted and short.
    pub fn process_started(&self, pid: u32, command: &str) {
        if let Some(f) = &self.started {
            f(pid, command)
        }
    }

    /// A sink that drops everything.
    pub fn discard() -> Self {
        OutputSink::new(|_, _| {})
    }

    /// Report one complete line (without its newline).
    pub fn line(&self, stream: Stream, line: &str) {
        (self.f)(stream, line)
    }
}

impl std::fmt::Debug for OutputSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OutputSink")
    }
}

/// Turns streamed text fragments into whole lines for an [`OutputSink`].
///
/// Models stream tokens, not lines; the dashboard shows lines. Fragments are buffered until a
/// newline arrives; `finish` flushes the last partial line.
#[derive(Debug, Default)]
pub struct LineSplitter {
    pending: String,
}

impl LineSplitter {
    pub fn push(&mut self, fragment: &str, sink: &OutputSink, stream: Stream) {
        self.pending.push_str(fragment);
        while let Some(pos) = self.pending.find('\n') {
            let line: String = self.pending.drain(..=pos).collect();
            sink.line(stream, line.trim_end_matches(['\n', '\r']));
        }
    }

    pub fn finish(&mut self, sink: &OutputSink, stream: Stream) {
        if !self.pending.is_empty() {
            let line = std::mem::take(&mut self.pending);
            sink.line(stream, line.trim_end_matches('\r'));
        }
    }
}

/// A model provider. Implementations live one per file in this folder.
pub trait Provider: Send + Sync {
    /// The provider's name as in providers.json (`shell`, `ollama`, ...).
    fn name(&self) -> &str;

    /// The model this provider will ask for (may be empty when the provider has no choice).
    fn model(&self) -> &str;

    /// Send one prompt and return the reply. Must honour `req.timeout` and `req.cancel`.
    fn dispatch<'a>(
        &'a self,
        req: &'a Request,
        out: &'a OutputSink,
    ) -> BoxFuture<'a, Result<Reply, ProviderError>>;

    /// Whether the provider can be used now (program on PATH, endpoint reachable, key present).
    /// Quick: no model call, at most a short connect.
    fn check(&self) -> BoxFuture<'_, Availability>;

    /// Whether the provider's program may change project files itself (an agent CLI with its
    /// own edit tools). The dispatch then checks every change after the fact.
    fn edits_files(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn splitter_emits_whole_lines_across_fragments() {
        let seen = Arc::new(Mutex::new(Vec::<String>::new()));
        let s2 = seen.clone();
        let sink = OutputSink::new(move |_, l| s2.lock().unwrap().push(l.to_string()));
        let mut sp = LineSplitter::default();
        for frag in ["he", "llo\nwor", "ld\r\n", "\n", "tail"] {
            sp.push(frag, &sink, Stream::Model);
        }
        assert_eq!(*seen.lock().unwrap(), vec!["hello", "world", ""]);
        sp.finish(&sink, Stream::Model);
        assert_eq!(seen.lock().unwrap().last().unwrap(), "tail");
    }

    #[test]
    fn errors_are_one_line() {
        let e = ProviderError::new(ErrorKind::Fatal, "bad\n  request\n");
        assert_eq!(e.message, "bad request");
    }
}
