//! Agent CLIs as providers: Claude Code (`claude`), Codex (`codex`), Gemini CLI (`gemini`)
//! and pi (`pi`).
//!
//! Each dispatch runs the real program once, headless, in the project root, in its own process
//! group with stdin from /dev/null (or the prompt, when it is too long for an argument), under
//! clk's time limit, silence limit and `/abort`, all of which kill the whole group. The program
//! runs in its JSON streaming mode: every stdout line is folded by that CLI's parser (one file
//! per CLI here) into the reply text, the real token usage and a classified failure, and is
//! shown live as a readable line (assistant text, `tool: edit src/x.py`) rather than raw JSON.
//!
//! The program runs in the OS sandbox like every command clk starts for agents (`sandbox.rs` here
//! says what it may reach beyond the project: its config folder and its vendor's variables, so a
//! logged-in CLI or its usual variables still work). Settings that headless use needs fixed (no
//! retries of the CLI's own, since retrying is clk's job; no update checks; no approval prompts) go
//! in as flags and variables, never as edits to the user's config files. `home` gives the program a
//! HOME and config folder of its own instead.

mod claude;
mod codex;
mod common;
mod gemini;
mod pi;
mod refusals;
mod sandbox;

use std::path::PathBuf;
use std::sync::Mutex;

use super::{
    Availability, BoxFuture, ErrorKind, OutputSink, Provider, ProviderError, Reply, Request,
};
use crate::engine::act::process;
use crate::engine::ground::config::ProviderSettings;
use crate::engine::ground::events::Stream;
use crate::engine::ground::redact::redact_text;
pub use common::{Folded, Folder, Invocation, JsonStream, Printed};
pub use refusals::NOT_ALLOWED;

/// Prompts longer than this go to the program's stdin instead of its argument list (Linux
/// refuses a single argument over 128 KiB).
pub const MAX_ARG_PROMPT_BYTES: usize = 100_000;

/// Largest stdout line kept whole: one JSON line can carry the whole reply.
const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

/// Longest live line shown; a longer one (a huge non-JSON line, a runaway stderr line) is cut
/// for display only, so one line cannot flood the event stream.
const MAX_SHOWN_BYTES: usize = 8 * 1024;

fn clip(line: &str) -> std::borrow::Cow<'_, str> {
    if line.len() <= MAX_SHOWN_BYTES {
        return line.into();
    }
    let mut cut = MAX_SHOWN_BYTES;
    while !line.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}… ({} bytes)", &line[..cut], line.len()).into()
}

/// Which agent CLI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cli {
    Claude,
    Codex,
    Gemini,
    Pi,
}

impl Cli {
    /// The CLI for a provider type, if it is one.
    pub fn from_kind(kind: &str) -> Option<Cli> {
        match kind {
            "claude" => Some(Cli::Claude),
            "codex" => Some(Cli::Codex),
            "gemini" => Some(Cli::Gemini),
            "pi" => Some(Cli::Pi),
            _ => None,
        }
    }

    /// The program's usual name on PATH.
    pub fn program(self) -> &'static str {
        match self {
            Cli::Claude => "claude",
            Cli::Codex => "codex",
            Cli::Gemini => "gemini",
            Cli::Pi => "pi",
        }
    }

    fn npm_package(self) -> &'static str {
        match self {
            Cli::Claude => "@anthropic-ai/claude-code",
            Cli::Codex => "@openai/codex",
            Cli::Gemini => "@google/gemini-cli",
            Cli::Pi => "@mariozechner/pi-coding-agent",
        }
    }

    fn parser(self) -> Folder {
        parser(self)
    }
}

/// A fresh parser for `cli`'s output.
pub fn parser(cli: Cli) -> Folder {
    Folder::new(match cli {
        Cli::Claude => Box::new(claude::Parser::default()),
        Cli::Codex => Box::new(codex::Parser::default()),
        Cli::Gemini => Box::new(gemini::Parser::default()),
        Cli::Pi => Box::new(pi::Parser::default()),
    })
}

/// How the prompt reaches the program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptVia {
    /// As the last argument.
    Arg,
    /// On stdin, which is then closed: for prompts too long for an argument, or ones that
    /// start with `-` and would read as a flag.
    Stdin,
}

impl PromptVia {
    pub fn for_prompt(prompt: &str) -> PromptVia {
        if prompt.len() > MAX_ARG_PROMPT_BYTES || prompt.starts_with('-') {
            PromptVia::Stdin
        } else {
            PromptVia::Arg
        }
    }
}

/// A provider that runs one agent CLI.
#[derive(Debug, Clone)]
pub struct CliProvider {
    name: String,
    pub(crate) cli: Cli,
    /// What to run: the `command` setting or the usual name.
    pub(crate) program: String,
    pub(crate) settings: ProviderSettings,
}

impl CliProvider {
    pub fn new(name: &str, cli: Cli, settings: &ProviderSettings) -> CliProvider {
        let program = settings
            .command
            .clone()
            .filter(|c| !c.trim().is_empty())
            .unwrap_or_else(|| cli.program().to_string());
        CliProvider {
            name: name.to_string(),
            cli,
            program: program.trim().to_string(),
            settings: settings.clone(),
        }
    }

    /// The model setting, empty when unset (the CLI's own default).
    pub(crate) fn model_setting(&self) -> &str {
        self.settings.model.as_deref().map(str::trim).unwrap_or("")
    }

    /// The `home` setting as an absolute path (`~/x` in the user's home; another relative one
    /// is taken from the folder clk runs in, the project root), since the program runs with it
    /// as HOME.
    pub(crate) fn home(&self) -> Option<PathBuf> {
        let raw = crate::engine::act::confine::expand_home(self.settings.home.as_deref()?)?;
        if raw.is_absolute() {
            return Some(raw);
        }
        Some(std::env::current_dir().map_or(raw.clone(), |cwd| cwd.join(&raw)))
    }

    /// Is `var` set, by the user's environment or this provider's `env`?
    pub(crate) fn user_set(&self, var: &str) -> bool {
        self.settings.env.contains_key(var) || std::env::var_os(var).is_some()
    }

    /// Arguments and variables for one run. The provider's `env` is laid over clk's own
    /// settings last, so a user can override any of them; `args` come before the prompt.
    pub fn invocation(&self, prompt: &str, via: PromptVia) -> Invocation {
        let mut inv = match self.cli {
            Cli::Claude => claude::invocation(self),
            Cli::Codex => codex::invocation(self),
            Cli::Gemini => gemini::invocation(self),
            Cli::Pi => pi::invocation(self),
        };
        inv.args.extend(self.settings.args.iter().cloned());
        match (self.cli, via) {
            (Cli::Gemini, PromptVia::Arg) => inv.args.push(format!("--prompt={prompt}")),
            // An empty -p makes gemini headless and take the prompt from stdin.
            (Cli::Gemini, PromptVia::Stdin) => inv.args.push("--prompt=".into()),
            (Cli::Codex, PromptVia::Stdin) => inv.args.push("-".into()),
            (Cli::Claude | Cli::Pi, PromptVia::Stdin) => {}
            (Cli::Claude | Cli::Codex | Cli::Pi, PromptVia::Arg) => inv.args.push(prompt.into()),
        }
        for (k, v) in &self.settings.env {
            inv.env.insert(k.clone(), v.clone());
        }
        inv
    }

    /// The command line for events and logs: the prompt shortened, secrets redacted.
    fn shown_command(&self, inv: &Invocation, prompt: &str, via: PromptVia) -> String {
        let mut parts = vec![self.program.clone()];
        for a in &inv.args {
            if via == PromptVia::Arg && (a == prompt || a.ends_with(prompt)) && !prompt.is_empty() {
                let head = a.strip_suffix(prompt).unwrap_or_default();
                parts.push(format!("{head}<prompt: {} chars>", prompt.chars().count()));
            } else if a.contains(char::is_whitespace) {
                parts.push(format!("{a:?}"));
            } else {
                parts.push(a.clone());
            }
        }
        if via == PromptVia::Stdin {
            parts.push(format!("< <prompt: {} chars>", prompt.chars().count()));
        }
        redact_text(&parts.join(" "))
    }

    fn not_found(&self) -> String {
        let name = self.cli.program();
        if self.program == name {
            format!(
                "{name} not found on PATH; install with npm i -g {} or set providers.{}.command",
                self.cli.npm_package(),
                self.name
            )
        } else {
            format!(
                "{} (providers.{}.command) not found or not executable",
                self.program, self.name
            )
        }
    }

    async fn run(&self, req: &Request, out: &OutputSink) -> Result<Reply, ProviderError> {
        let name = self.cli.program();
        if process::which(&self.program).is_none() {
            return Err(ProviderError::new(ErrorKind::NotFound, self.not_found()));
        }
        let via = PromptVia::for_prompt(&req.prompt);
        let inv = self.invocation(&req.prompt, via);
        if let Some(home) = self.home() {
            common::prepare_home(self.cli, &home).map_err(|e| {
                ProviderError::new(
                    ErrorKind::Fatal,
                    format!("{name}: cannot prepare its home {}: {e}", home.display()),
                )
            })?;
        }
        let spec = process::Spec {
            program: self.program.clone(),
            args: inv.args.clone(),
            cwd: req.workdir.clone(),
            env: inv.env.clone(),
            stdin: (via == PromptVia::Stdin).then(|| req.prompt.clone()),
            timeout: req.timeout,
            idle_timeout: req.idle_timeout,
            keep_bytes: 64 * 1024,
            max_line_bytes: MAX_LINE_BYTES,
            sandbox: {
                let mut sb = req.sandbox.clone();
                if let Some(policy) = sb.policy_mut() {
                    sandbox::open(self, policy, &inv.env);
                }
                sb
            },
        };
        let shown = self.shown_command(&inv, &req.prompt, via);
        let parser = Mutex::new(self.cli.parser());
        let outcome = process::run(
            &spec,
            &req.cancel,
            |pid| out.process_started(pid, &shown),
            |stream, line| match stream {
                Stream::Stdout => {
                    let mut p = parser.lock().unwrap_or_else(|e| e.into_inner());
                    p.feed(line, &mut |s, l| out.line(s, &clip(l)));
                }
                Stream::Stderr | Stream::Model => out.line(stream, &clip(line)),
            },
        )
        .await
        .map_err(|e| {
            if e.not_found {
                ProviderError::new(ErrorKind::NotFound, self.not_found())
            } else {
                ProviderError::new(ErrorKind::Fatal, format!("{name}: {e}"))
            }
        })?;
        let mut parser = parser.into_inner().unwrap_or_else(|e| e.into_inner());
        match outcome.ending {
            process::Ending::Exited(code) => {
                let folded = parser
                    .finish(code, &outcome.stderr)
                    .map_err(|e| ProviderError::new(e.kind, format!("{name}: {}", e.message)))?;
                Ok(Reply {
                    text: folded.text,
                    usage: folded.usage,
                    refused: folded.refused,
                    model: if folded.model.is_empty() {
                        self.model_setting().to_string()
                    } else {
                        folded.model
                    },
                })
            }
            process::Ending::TimedOut => Err(ProviderError::new(
                ErrorKind::Timeout,
                format!(
                    "{name} did not finish within {}s and was stopped",
                    req.timeout.as_secs()
                ),
            )),
            process::Ending::Idle => Err(ProviderError::new(
                ErrorKind::Timeout,
                format!(
                    "{name} printed nothing for {}s and was stopped",
                    req.idle_timeout.unwrap_or_default().as_secs()
                ),
            )),
            process::Ending::Cancelled => Err(ProviderError::new(ErrorKind::Cancelled, "aborted")),
        }
    }
}

impl Provider for CliProvider {
    fn name(&self) -> &str {
        &self.name
    }

    fn model(&self) -> &str {
        self.model_setting()
    }

    fn dispatch<'a>(
        &'a self,
        req: &'a Request,
        out: &'a OutputSink,
    ) -> BoxFuture<'a, Result<Reply, ProviderError>> {
        Box::pin(self.run(req, out))
    }

    /// Only a PATH look-up: starting gemini or pi takes seconds, too slow for `clk providers`.
    fn check(&self) -> BoxFuture<'_, Availability> {
        Box::pin(async move {
            if process::which(&self.program).is_none() {
                return Availability::no(self.not_found());
            }
            if let Some(home) = self.home()
                && home.exists()
                && !home.is_dir()
            {
                return Availability::no(format!(
                    "providers.{}.home {} is not a folder",
                    self.name,
                    home.display()
                ));
            }
            if self.cli == Cli::Pi
                && self
                    .settings
                    .api_key
                    .as_deref()
                    .is_some_and(|k| !k.is_empty())
                && pi::key_type(self).is_none()
            {
                return Availability::no(format!(
                    "providers.{}.api_key is set but key_type is not; set key_type to pi's \
                     provider name (e.g. openrouter)",
                    self.name
                ));
            }
            Availability::ok()
        })
    }

    /// pi's read-only tool list is pi's own promise, so its changes are always checked; the
    /// others only when `native_tools` lets them edit.
    fn edits_files(&self) -> bool {
        self.cli == Cli::Pi || self.settings.native_tools
    }
}

#[cfg(test)]
mod recorded;
#[cfg(test)]
mod tests;
