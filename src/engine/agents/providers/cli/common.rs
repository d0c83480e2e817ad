//! What the four CLIs share: the parser trait and the line reader around it, error
//! classification from the CLIs' own words, the shape of a live line, building an invocation,
//! and setting up a private home folder.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use regex::Regex;

use super::Cli;
use crate::engine::agents::providers::{ErrorKind, ProviderError};
use crate::engine::ground::events::{Stream, Usage};

/// What a CLI's output came to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Folded {
    pub text: String,
    pub usage: Usage,
    pub model: String,
    /// Tool calls the CLI was not allowed to make, as (what, why); see `refusals.rs`.
    pub refused: Vec<(String, String)>,
}

/// Whether a run printed any JSON line at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Printed {
    Json,
    NoJson,
}

/// Folds one CLI's JSON lines as they arrive.
pub trait JsonStream: Send {
    /// Take one JSON object from stdout; call `show` for what a person should see of it.
    fn event(&mut self, v: serde_json::Value, show: &mut dyn FnMut(Stream, &str));

    /// The program ended: the reply, or the failure classified.
    fn finish(&mut self, exit: &Exit<'_>) -> Result<Folded, ProviderError>;
    /// The tool calls seen and which were refused.
    fn tools(&self) -> &super::refusals::Tools;
}

/// How a CLI run ended.
#[derive(Debug, Clone, Copy)]
pub struct Exit<'a> {
    /// Its exit code; None when a signal killed it.
    pub code: Option<i32>,
    /// The tail of its stderr.
    pub stderr: &'a str,
    pub printed: Printed,
}

/// A CLI's stdout, line by line, into its parser: JSON objects to the parser, any other line
/// that is not blank (a banner, a warning) shown as the program printed it.
pub struct Folder {
    parser: Box<dyn JsonStream>,
    printed: Printed,
}

impl Folder {
    pub fn new(parser: Box<dyn JsonStream>) -> Folder {
        Folder {
            parser,
            printed: Printed::NoJson,
        }
    }

    /// Take one stdout line; call `show` for what a person should see of it, if anything.
    pub fn feed(&mut self, line: &str, show: &mut dyn FnMut(Stream, &str)) {
        match json_line(line) {
            Some(v) => {
                self.printed = Printed::Json;
                self.parser.event(v, show);
            }
            None if !line.trim().is_empty() => show(Stream::Stdout, line),
            None => {}
        }
    }

    /// See [`JsonStream::finish`].
    /// The reply, or the failure; a run whose every tool call was refused is a failure too.
    pub fn finish(&mut self, code: Option<i32>, stderr: &str) -> Result<Folded, ProviderError> {
        let folded = self.parser.finish(&Exit {
            code,
            stderr,
            printed: self.printed,
        })?;
        let tools = self.parser.tools();
        match tools.all_refused() {
            Some(why) => Err(ProviderError::new(
                crate::engine::agents::providers::ErrorKind::Fatal,
                why,
            )),
            None => Ok(Folded {
                refused: tools.refused().to_vec(),
                ..folded
            }),
        }
    }
}

/// Parse a line as a JSON object, or None (blank lines, banners, partial lines).
fn json_line(line: &str) -> Option<serde_json::Value> {
    let t = line.trim();
    if !t.starts_with('{') {
        return None;
    }
    serde_json::from_str::<serde_json::Value>(t)
        .ok()
        .filter(|v| v.is_object())
}

/// Streamed reply text, shown a whole line at a time.
#[derive(Debug, Default)]
pub struct Pending(String);

impl Pending {
    /// Add a streamed piece and show the lines it completes.
    pub fn push(&mut self, piece: &str, show: &mut dyn FnMut(Stream, &str)) {
        self.0.push_str(piece);
        if let Some(pos) = self.0.rfind('\n') {
            let done: String = self.0.drain(..=pos).collect();
            show_text(&done, show);
        }
    }

    /// Show the unfinished last line, if any (before a tool line or at the reply's end).
    pub fn flush(&mut self, show: &mut dyn FnMut(Stream, &str)) {
        if !self.0.is_empty() {
            show_text(&std::mem::take(&mut self.0), show);
        }
    }
}

/// A number field, 0 when absent.
pub fn num(v: &serde_json::Value, key: &str) -> u64 {
    v.get(key).and_then(serde_json::Value::as_u64).unwrap_or(0)
}

/// A string field, "" when absent.
pub fn text<'a>(v: &'a serde_json::Value, key: &str) -> &'a str {
    v.get(key).and_then(serde_json::Value::as_str).unwrap_or("")
}

/// Show each line of `s` as model text.
pub fn show_text(s: &str, show: &mut dyn FnMut(Stream, &str)) {
    for l in s.lines() {
        show(Stream::Model, l);
    }
}

/// `tool: edit src/x.py` from a tool's name and a likely argument.
pub fn tool_line(name: &str, input: &serde_json::Value) -> String {
    let arg = [
        "file_path",
        "path",
        "command",
        "cmd",
        "pattern",
        "url",
        "query",
        "description",
    ]
    .iter()
    .find_map(|k| match input.get(*k) {
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(serde_json::Value::Array(a)) => Some(
            a.iter()
                .filter_map(|x| x.as_str())
                .collect::<Vec<_>>()
                .join(" "),
        ),
        _ => None,
    })
    .unwrap_or_default();
    let arg = arg.lines().next().unwrap_or_default();
    let arg: String = arg.chars().take(120).collect();
    if arg.is_empty() {
        format!("tool: {name}")
    } else {
        format!("tool: {name} {arg}")
    }
}

fn status_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| crate::engine::ground::fixed::regex(r"\b(429|500|502|503|504|529)\b"))
}

/// What kind of failure a CLI's error message describes. The CLIs report HTTP trouble in
/// prose, so this reads their words: auth first (retrying a refused key never helps), then
/// the passing kinds (rate limits, overload, server errors, a dropped connection).
pub fn classify(message: &str) -> ErrorKind {
    let m = message.to_ascii_lowercase();
    let any = |words: &[&str]| words.iter().any(|w| m.contains(w));
    if m.contains("401")
        || m.contains("403")
        || any(&[
            "unauthorized",
            "authentication",
            "invalid api key",
            "invalid x-api-key",
            "api key not valid",
            "api_key_invalid",
            "invalid_api_key",
            "incorrect api key",
            "permission_denied",
            "forbidden",
            "not logged in",
            "please run /login",
            "invalid auth",
            "missing api key",
            "no api key",
        ])
    {
        return ErrorKind::Auth;
    }
    if status_re().is_match(&m)
        || any(&[
            "rate limit",
            "rate_limit",
            "too many requests",
            "overloaded",
            "resource_exhausted",
            "resource exhausted",
            "internal server error",
            "service unavailable",
            "bad gateway",
            "server_error",
            "connection",
            "econnrefused",
            "econnreset",
            "fetch failed",
            "network",
            "timed out",
            "stream disconnected",
            "socket hang up",
        ])
    {
        return ErrorKind::Retryable;
    }
    if m.contains("404") || any(&["model not found", "not_found_error", "no such model"]) {
        return ErrorKind::NotFound;
    }
    ErrorKind::Fatal
}

/// A failure with its kind read from the message.
pub fn failure(message: &str) -> ProviderError {
    ProviderError::new(classify(message), message)
}

/// The last few non-empty stderr lines, joined, for an error message.
pub fn stderr_tail(stderr: &str) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("at "))
        .collect();
    let start = lines.len().saturating_sub(3);
    let tail = lines[start..].join(" | ");
    tail.chars().take(400).collect()
}

/// The error for a run that produced no usable JSON.
pub fn no_reply(exit: &Exit<'_>) -> ProviderError {
    let tail = stderr_tail(exit.stderr);
    match exit.code {
        Some(0) if exit.printed == Printed::NoJson => ProviderError::new(
            ErrorKind::BadReply,
            format!(
                "printed no JSON reply; check that the installed version supports its JSON \
                 output mode{}",
                if tail.is_empty() {
                    String::new()
                } else {
                    format!(" ({tail})")
                }
            ),
        ),
        Some(0) => ProviderError::new(ErrorKind::BadReply, "ended without a final reply"),
        code => {
            let how = code.map_or("a signal".to_string(), |c| format!("code {c}"));
            let msg = if tail.is_empty() {
                format!("exited with {how}")
            } else {
                format!("exited with {how}: {tail}")
            };
            ProviderError::new(classify(&msg), msg)
        }
    }
}

/// One program run, ready to start.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Invocation {
    pub args: Vec<String>,
    pub env: BTreeMap<String, String>,
}

impl Invocation {
    /// A run that starts with these arguments.
    pub(crate) fn with_args(args: &[&str]) -> Invocation {
        Invocation {
            args: args.iter().map(|a| a.to_string()).collect(),
            env: BTreeMap::new(),
        }
    }

    /// `flag value`, when there is a value.
    pub(crate) fn option(&mut self, flag: &str, value: &str) {
        if !value.is_empty() {
            self.args.push(flag.into());
            self.args.push(value.into());
        }
    }

    /// A private `home` as HOME, and the program's own folder variable `var` at `sub` below
    /// it (the home itself when `sub` is empty).
    pub(crate) fn home(&mut self, home: Option<PathBuf>, var: &str, sub: &str) {
        let Some(home) = home else { return };
        let dir = if sub.is_empty() {
            home.clone()
        } else {
            home.join(sub)
        };
        self.env.insert("HOME".into(), home.display().to_string());
        self.env.insert(var.into(), dir.display().to_string());
    }
}

/// Create the folders a CLI expects under a private `home`.
pub fn prepare_home(cli: Cli, home: &Path) -> std::io::Result<()> {
    let sub = match cli {
        Cli::Claude => ".claude",
        Cli::Codex => ".codex",
        Cli::Gemini => ".gemini",
        Cli::Pi => ".pi/agent",
    };
    std::fs::create_dir_all(home.join(sub))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_the_clis_words() {
        for (m, k) in [
            (
                "API Error: 401 {\"error\":\"invalid api key\"}",
                ErrorKind::Auth,
            ),
            ("Invalid API key · Please run /login", ErrorKind::Auth),
            (
                "unexpected status 429 Too Many Requests",
                ErrorKind::Retryable,
            ),
            ("API Error: 503 overloaded", ErrorKind::Retryable),
            ("Connection error.", ErrorKind::Retryable),
            (
                "[API Error: exception TypeError: fetch failed sending request]",
                ErrorKind::Retryable,
            ),
            ("model not found: gpt-9", ErrorKind::NotFound),
            ("credit balance is too low", ErrorKind::Fatal),
            ("max_tokens 5000 exceeded", ErrorKind::Fatal),
        ] {
            assert_eq!(classify(m), k, "{m}");
        }
    }

    #[test]
    fn tool_lines_are_short() {
        let v = serde_json::json!({"file_path": "src/x.py", "content": "..."});
        assert_eq!(tool_line("Write", &v), "tool: Write src/x.py");
        let v = serde_json::json!({"command": "cargo test\nmore"});
        assert_eq!(tool_line("Bash", &v), "tool: Bash cargo test");
        assert_eq!(tool_line("Read", &serde_json::json!({})), "tool: Read");
    }

    #[test]
    fn no_reply_errors_say_why() {
        let e = no_reply(&Exit {
            code: Some(0),
            stderr: "",
            printed: Printed::NoJson,
        });
        assert_eq!(e.kind, ErrorKind::BadReply);
        let e = no_reply(&Exit {
            code: Some(1),
            stderr: "boom\nError: 429 rate limited\n",
            printed: Printed::NoJson,
        });
        assert_eq!(e.kind, ErrorKind::Retryable);
        assert!(e.message.contains("code 1"), "{}", e.message);
        let e = no_reply(&Exit {
            code: None,
            stderr: "",
            printed: Printed::Json,
        });
        assert_eq!(e.kind, ErrorKind::Fatal);
    }
}
