//! A scriptable mock model server for integration tests, speaking just enough HTTP/1.1.
//!
//! It runs on 127.0.0.1 on an ephemeral port, on its own thread with its own tokio runtime, so
//! both sync tests (running the `clk` binary) and async tests can use it; it stops on drop.
//! HTTP is hand-rolled (one request per connection, `Connection: close`) so a test controls the
//! bytes exactly: how a stream is framed and split into writes, where it is cut, when it stalls.
//!
//! Every model call (see [`Protocol::from_request`]: Ollama, OpenAI chat completions and
//! Responses, Anthropic Messages, Gemini generateContent / streamGenerateContent) takes the next
//! [`Reply`] of the [`Script`], rendered in the protocol the request used (see `render.rs`);
//! when the script is used up, the [`Fallback`] answers. Other endpoints (`/api/tags`,
//! `/api/version`, `/v1/models`, `/api/models`, `/models`, Gemini's `/v1beta/models`) answer
//! from the script's settings. Every request is recorded.
//!
//! ```ignore
//! let mock = MockServer::start(Script::new(vec![Reply::status(429, "slow"), Reply::text("hi")]));
//! let url = mock.url(); // http://127.0.0.1:PORT
//! assert_eq!(mock.model_calls(), 2);
//! ```

#![allow(dead_code)]

mod http1;
mod render;
mod routes;
mod tools;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use http1::{read_request, respond};
pub use render::Protocol;
use routes::decide;

/// One scripted answer to one model call.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A normal answer in the request's protocol, streamed in pieces of `chunk_size`
    /// characters when the request streams. `usage` is (input, output) tokens, or none.
    Text {
        text: String,
        usage: Option<(u64, u64)>,
        chunk_size: usize,
    },
    /// An error status with this body (`Retry-After: 1` is added for 429 and 503). For the
    /// Anthropic, Responses and Gemini protocols a body that is not JSON is taken as the
    /// message and wrapped in that protocol's error shape.
    Status { code: u16, body: String },
    /// Like `Status`, but with this `Retry-After` value instead of 1.
    StatusRetryAfter {
        code: u16,
        body: String,
        retry_after: String,
    },
    /// Exactly this status, content type and body (e.g. a non-JSON 200).
    Raw {
        code: u16,
        content_type: String,
        body: String,
    },
    /// Read the request, then never answer.
    Stall,
    /// Send streaming headers, then go silent.
    StallAfterHeaders,
    /// Start the streamed `text` reply, then close the socket after `bytes` body bytes.
    CutAfter { text: String, bytes: usize },
    /// Wait, then answer with `then`.
    Delay { ms: u64, then: Box<Reply> },
    /// Answer with `then`, pausing `pause_ms` after every write.
    Paced { pause_ms: u64, then: Box<Reply> },
    /// A turn that calls tools: optional `text`, then `calls`, in the request's protocol
    /// (Anthropic `tool_use`, Responses function and custom tool calls, Gemini
    /// `functionCall`, chat `tool_calls`). The program runs them and posts the results in its
    /// next request, which takes the next reply; [`Recorded::tool_results`] reads them.
    Tools { text: String, calls: Vec<ToolCall> },
    /// Start streaming `text`, then report an error inside the stream the way the protocol
    /// does after its headers are sent (Anthropic's `error` event, Responses'
    /// `response.failed`, an error chunk). `code` picks the error type: 429 rate limit,
    /// 529 overloaded, 500 server error. A non-streaming request gets the status error.
    FailMidStream {
        text: String,
        code: u16,
        message: String,
    },
}

/// One scripted tool call.
#[derive(Debug, Clone)]
pub struct ToolCall {
    pub name: String,
    /// The arguments: a JSON object, or for a custom tool (`custom`) a string, sent as is.
    pub input: Value,
    /// A Responses API custom (freeform) tool call, such as codex's `apply_patch`.
    pub custom: bool,
}

impl ToolCall {
    pub fn function(name: &str, input: Value) -> ToolCall {
        ToolCall {
            name: name.into(),
            input,
            custom: false,
        }
    }
    /// A freeform call whose input is plain text (codex's `apply_patch` grammar).
    pub fn custom(name: &str, input: &str) -> ToolCall {
        ToolCall {
            name: name.into(),
            input: Value::String(input.into()),
            custom: true,
        }
    }
    /// The arguments as the JSON text the protocols carry (a custom call's text as is).
    pub fn input_text(&self) -> String {
        match &self.input {
            Value::String(s) if self.custom => s.clone(),
            v => v.to_string(),
        }
    }
}

impl Reply {
    /// A turn of tool calls with no text.
    pub fn tools(calls: Vec<ToolCall>) -> Reply {
        Reply::Tools {
            text: String::new(),
            calls,
        }
    }
    pub fn text(text: &str) -> Reply {
        Reply::Text {
            text: text.into(),
            usage: None,
            chunk_size: 8,
        }
    }
    pub fn text_usage(text: &str, input: u64, output: u64) -> Reply {
        Reply::chunked(text, 8, Some((input, output)))
    }
    pub fn chunked(text: &str, chunk_size: usize, usage: Option<(u64, u64)>) -> Reply {
        Reply::Text {
            text: text.into(),
            usage,
            chunk_size,
        }
    }
    pub fn status(code: u16, body: &str) -> Reply {
        Reply::Status {
            code,
            body: body.into(),
        }
    }
    pub fn status_retry_after(code: u16, body: &str, retry_after: &str) -> Reply {
        Reply::StatusRetryAfter {
            code,
            body: body.into(),
            retry_after: retry_after.into(),
        }
    }
    pub fn raw(code: u16, content_type: &str, body: &str) -> Reply {
        Reply::Raw {
            code,
            content_type: content_type.into(),
            body: body.into(),
        }
    }
    pub fn cut(text: &str, bytes: usize) -> Reply {
        Reply::CutAfter {
            text: text.into(),
            bytes,
        }
    }
    pub fn delay(ms: u64, then: Reply) -> Reply {
        Reply::Delay {
            ms,
            then: Box::new(then),
        }
    }
    pub fn fail_mid_stream(text: &str, code: u16, message: &str) -> Reply {
        Reply::FailMidStream {
            text: text.into(),
            code,
            message: message.into(),
        }
    }
    pub fn paced(pause_ms: u64, then: Reply) -> Reply {
        Reply::Paced {
            pause_ms,
            then: Box::new(then),
        }
    }
}

/// What answers model calls once the script is used up.
#[derive(Debug, Clone)]
pub enum Fallback {
    /// Repeat the last scripted reply (a 500 if there was none).
    RepeatLast,
    /// Always this reply.
    Reply(Reply),
}

/// How a streamed body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// `Transfer-Encoding: chunked`; a cut is visible to the client as an incomplete body.
    Chunked,
    /// No length: the body ends when the socket closes, so a cut looks like a clean end.
    Close,
}

/// The replies for model calls and the settings for everything else.
#[derive(Debug, Clone)]
pub struct Script {
    replies: VecDeque<Reply>,
    fallback: Fallback,
    models: Vec<String>,
    api_key: Option<String>,
    version: String,
    framing: Framing,
    write_size: Option<usize>,
}

impl Script {
    /// These replies in order; the default fallback is a 500 "mock script exhausted".
    pub fn new(replies: Vec<Reply>) -> Script {
        Script {
            replies: replies.into(),
            fallback: Fallback::Reply(Reply::status(500, r#"{"error":"mock script exhausted"}"#)),
            models: vec!["llama3.1:latest".into()],
            api_key: None,
            version: "0.6.0".into(),
            framing: Framing::Chunked,
            write_size: None,
        }
    }
    pub fn fallback(mut self, f: Fallback) -> Script {
        self.fallback = f;
        self
    }
    /// Models listed by `/api/tags` and the OpenAI `models` endpoints.
    pub fn models(mut self, models: &[&str]) -> Script {
        self.models = models.iter().map(|m| m.to_string()).collect();
        self
    }
    /// Require the key on every request, sent the way the protocols send it:
    /// `Authorization: Bearer <key>`, `x-api-key` (Anthropic), `x-goog-api-key` or `?key=`
    /// (Gemini). Anything else gets a 401 in the request's protocol's error shape.
    pub fn api_key(mut self, key: &str) -> Script {
        self.api_key = Some(key.into());
        self
    }
    pub fn version(mut self, v: &str) -> Script {
        self.version = v.into();
        self
    }
    pub fn framing(mut self, f: Framing) -> Script {
        self.framing = f;
        self
    }
    /// Re-split every body into writes of `n` bytes (frames and UTF-8 characters get cut).
    pub fn split_writes(mut self, n: usize) -> Script {
        self.write_size = Some(n.max(1));
        self
    }
}

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// Without the query string.
    pub path: String,
    pub query: String,
    /// Names in lower case, in arrival order.
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub json: Option<Value>,
    pub at: Instant,
    /// Set for model calls.
    pub protocol: Option<Protocol>,
}

impl Recorded {
    /// The text of every tool result this request carries, oldest first, in whichever
    /// protocol it uses (empty for a request with none).
    pub fn tool_results(&self) -> Vec<String> {
        self.json.as_ref().map(tools::results).unwrap_or_default()
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

struct State {
    script: Script,
    last: Option<Reply>,
    requests: Vec<Recorded>,
    /// When each tool-call turn's last byte was written, with the tools it called.
    tools_sent: Vec<(std::time::SystemTime, Vec<String>)>,
}

/// A running mock server; dropping it stops the server and closes every connection.
pub struct MockServer {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: CancellationToken,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl MockServer {
    pub fn start(script: Script) -> MockServer {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        std_listener.set_nonblocking(true).expect("nonblocking");
        let addr = std_listener.local_addr().expect("local addr");
        let state = Arc::new(Mutex::new(State {
            script,
            last: None,
            requests: Vec::new(),
            tools_sent: Vec::new(),
        }));
        let stop = CancellationToken::new();
        let (st, sp) = (state.clone(), stop.clone());
        let thread = std::thread::Builder::new()
            .name(format!("mock-server-{}", addr.port()))
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("mock runtime");
                rt.block_on(async move {
                    let listener = TcpListener::from_std(std_listener).expect("listener");
                    loop {
                        tokio::select! {
                            _ = sp.cancelled() => break,
                            acc = listener.accept() => if let Ok((sock, _)) = acc {
                                tokio::spawn(handle(sock, st.clone()));
                            },
                        }
                    }
                });
                // Dropping the runtime drops stalled connections with it.
            })
            .expect("spawn mock thread");
        MockServer {
            addr,
            state,
            stop,
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
    pub fn port(&self) -> u16 {
        self.addr.port()
    }
    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.lock().requests.clone()
    }
    /// The model calls so far.
    pub fn model_requests(&self) -> Vec<Recorded> {
        let st = self.lock();
        st.requests
            .iter()
            .filter(|r| r.protocol.is_some())
            .cloned()
            .collect()
    }
    /// How many model calls arrived (including ones refused for a wrong key).
    pub fn model_calls(&self) -> usize {
        self.lock()
            .requests
            .iter()
            .filter(|r| r.protocol.is_some())
            .count()
    }
    /// The tool results the program posted in its last model call (see
    /// [`Recorded::tool_results`]).
    pub fn last_tool_results(&self) -> Vec<String> {
        self.model_requests()
            .last()
            .map(Recorded::tool_results)
            .unwrap_or_default()
    }
    /// For each tool-call turn sent, the wall-clock time its last byte left the mock and the
    /// names of the tools it called (to time how soon a file lands on disk).
    pub fn tools_sent(&self) -> Vec<(std::time::SystemTime, Vec<String>)> {
        self.lock().tools_sent.clone()
    }
    /// Add a reply to the end of the script while running.
    pub fn push(&self, reply: Reply) {
        self.lock().script.replies.push_back(reply);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.stop.cancel();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A port on 127.0.0.1 that nothing listens on (bound, then released).
pub fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local addr").port()
}

/// `http://127.0.0.1:PORT` for a [`closed_port`].
pub fn closed_url() -> String {
    format!("http://127.0.0.1:{}", closed_port())
}

async fn handle(mut sock: TcpStream, state: Arc<Mutex<State>>) {
    let _ = sock.set_nodelay(true);
    let Some(rec) = read_request(&mut sock).await else {
        return;
    };
    let plan = {
        let mut st = state.lock().unwrap_or_else(|p| p.into_inner());
        let plan = decide(&mut st, &rec);
        st.requests.push(rec);
        plan
    };
    let tools = match &plan.reply {
        Reply::Tools { calls, .. } => Some(calls.iter().map(|c| c.name.clone()).collect()),
        _ => None,
    };
    let _ = respond(&mut sock, plan).await;
    if let Some(names) = tools {
        let now = std::time::SystemTime::now();
        let mut st = state.lock().unwrap_or_else(|p| p.into_inner());
        st.tools_sent.push((now, names));
    }
}
