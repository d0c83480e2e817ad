//! The built-in `shell` provider: free, offline, no account.
//!
//! Without a `command` it gives a fixed, protocol-valid reply that says plainly that no model
//! is attached, changes nothing, and ends with `PROGRESS: no`, so loops see no progress and
//! stop instead of spinning (the Python CLK counted its stub as progress forever). With a
//! `command` (providers.json `shell.command`, or `CLK_SHELL_COMMAND`) every prompt is piped to
//! that program's stdin and its stdout is the reply: any script or local tool can be an agent.

use std::collections::BTreeMap;

use super::{
    Availability, BoxFuture, ErrorKind, OutputSink, Provider, ProviderError, Reply, Request,
};
use crate::engine::act::process;
use crate::engine::ground::config::ProviderSettings;
use crate::engine::ground::events::{Stream, Usage};

/// Largest reply taken from a shell command; a larger one is refused, never cut.
const MAX_REPLY_BYTES: usize = 8 * 1024 * 1024;

pub struct ShellProvider {
    name: String,
    command: Option<String>,
    env: BTreeMap<String, String>,
}

impl ShellProvider {
    pub fn new(name: &str, settings: &ProviderSettings) -> ShellProvider {
        ShellProvider {
            name: name.to_string(),
            command: settings.command.clone().filter(|c| !c.trim().is_empty()),
            env: settings.env.clone(),
        }
    }

    fn fixed_reply(req: &Request) -> String {
        let mut text = format!(
            "[shell] {} received a prompt of {} chars. No model is attached to the shell \
             provider, so this is a fixed reply and nothing was changed.\nObjective:\n",
            req.agent,
            req.prompt.chars().count()
        );
        for l in req
            .objective
            .lines()
            .filter(|l| !l.trim().is_empty())
            .take(3)
        {
            let l: String = l.chars().take(100).collect();
            text.push_str(&format!("  > {l}\n"));
        }
        text.push_str(
            "To let agents do real work, pick a model provider, e.g. \
             `clk configure --set default_provider=ollama`, or give the shell provider a \
             command: `clk configure --set providers.shell.command=\"./my-agent.sh\"`.\n\n\
             CONFIDENCE: 0\nNEEDS_REVIEW: no\nPROGRESS: no\n",
        );
        text
    }
}

/// A script the command names under /tmp (a test double, a generated wrapper) would vanish
/// behind the sandbox's private /tmp: its folder is shown, read-only (only the files in it
/// when that folder holds the worktree, which must stay writable).
fn show_script_folders(command: &str, policy: &mut crate::engine::act::sandbox::SandboxPolicy) {
    let tmp = std::env::temp_dir();
    for word in command.split_whitespace() {
        let word = word.trim_matches(|c| c == '\'' || c == '"');
        let path = std::path::Path::new(word);
        if !path.is_absolute() || !path.is_file() {
            continue;
        }
        let Ok(file) = path.canonicalize() else {
            continue;
        };
        let Some(dir) = file.parent().map(std::path::Path::to_path_buf) else {
            continue;
        };
        let under_tmp = dir.starts_with("/tmp") || dir.starts_with(&tmp);
        if !under_tmp || policy.writable.iter().any(|w| dir.starts_with(w)) {
            continue;
        }
        if policy.writable.iter().any(|w| w.starts_with(&dir)) {
            // Its files then, not its folders (one of them holds the worktree).
            let files = std::fs::read_dir(&dir)
                .map(|d| {
                    d.flatten()
                        .map(|e| e.path())
                        .filter(|p| p.is_file())
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default();
            policy.read_only.extend(files);
        } else {
            policy.read_only.push(dir);
        }
    }
}

impl Provider for ShellProvider {
    fn name(&self) -> &str {
        &self.name
    }

    fn model(&self) -> &str {
        ""
    }

    fn dispatch<'a>(
        &'a self,
        req: &'a Request,
        out: &'a OutputSink,
    ) -> BoxFuture<'a, Result<Reply, ProviderError>> {
        Box::pin(async move {
            let Some(command) = &self.command else {
                let text = Self::fixed_reply(req);
                for line in text.lines() {
                    out.line(Stream::Model, line);
                }
                let mut usage = Usage::estimate(&req.prompt, &text);
                usage.source = "shell-estimate".into();
                return Ok(Reply {
                    text,
                    usage,
                    model: String::new(),
                    refused: Vec::new(),
                });
            };
            // The program acts for an agent in the run's worktree, so it gets the sandbox of
            // every agent's command: the allow-listed environment plus the provider's own
            // `env`, nothing outside the worktree writable. Refused (with the fix named) when
            // no sandbox can be had, unless the user set `sandbox: off`.
            let mut sandbox = req.sandbox.clone();
            if let Some(policy) = sandbox.policy_mut() {
                show_script_folders(command, policy);
            }
            let mut spec = process::Spec::shell(command, req.workdir.clone(), req.timeout, sandbox);
            spec.stdin = Some(req.prompt.clone());
            spec.idle_timeout = req.idle_timeout;
            spec.keep_bytes = MAX_REPLY_BYTES;
            spec.max_line_bytes = MAX_REPLY_BYTES;
            spec.env = self.env.clone();
            spec.env.insert("CLK_AGENT".into(), req.agent.clone());
            spec.env
                .insert("CLK_STAGE".into(), req.stage.clone().unwrap_or_default());
            spec.env.insert("CLK_RUN_ID".into(), req.run_id.clone());
            let shown = crate::engine::ground::redact::redact_text(command);
            let o = process::run(
                &spec,
                &req.cancel,
                |pid| out.process_started(pid, &shown),
                |s, l| out.line(s, l),
            )
            .await
            .map_err(|e| {
                let kind = if e.not_found {
                    ErrorKind::NotFound
                } else {
                    ErrorKind::Fatal
                };
                ProviderError::new(kind, e.to_string())
            })?;
            match o.ending {
                process::Ending::Exited(Some(0)) if o.truncated => Err(ProviderError::new(
                    ErrorKind::BadReply,
                    format!(
                        "shell command replied with more than {} MiB; its reply was not used",
                        MAX_REPLY_BYTES / (1024 * 1024)
                    ),
                )),
                process::Ending::Exited(Some(0)) => {
                    let mut usage = Usage::estimate(&req.prompt, &o.stdout);
                    usage.source = "shell-estimate".into();
                    Ok(Reply {
                        text: o.stdout,
                        usage,
                        model: String::new(),
                        refused: Vec::new(),
                    })
                }
                process::Ending::Exited(code) => {
                    let tail: String = o
                        .stderr
                        .lines()
                        .rev()
                        .take(3)
                        .collect::<Vec<_>>()
                        .into_iter()
                        .rev()
                        .collect::<Vec<_>>()
                        .join(" | ");
                    let code = code.map_or("a signal".to_string(), |c| format!("code {c}"));
                    Err(ProviderError::new(
                        ErrorKind::Fatal,
                        format!("shell command exited with {code}: {tail}"),
                    ))
                }
                process::Ending::TimedOut => Err(ProviderError::new(
                    ErrorKind::Timeout,
                    format!("shell command timed out after {}s", req.timeout.as_secs()),
                )),
                process::Ending::Idle => Err(ProviderError::new(
                    ErrorKind::Timeout,
                    "shell command printed nothing for too long",
                )),
                process::Ending::Cancelled => {
                    Err(ProviderError::new(ErrorKind::Cancelled, "aborted"))
                }
            }
        })
    }

    fn check(&self) -> BoxFuture<'_, Availability> {
        Box::pin(async move {
            let Some(cmd) = &self.command else {
                return Availability::ok();
            };
            let program = cmd.split_whitespace().next().unwrap_or_default();
            if process::which(program).is_some() || program.contains('=') {
                Availability::ok()
            } else {
                Availability::no(format!(
                    "shell command program {program:?} is not on PATH or not executable"
                ))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;
    use tokio_util::sync::CancellationToken;

    fn req(prompt: &str) -> Request {
        Request {
            agent: "engineer".into(),
            stage: Some("build".into()),
            run_id: "r1".into(),
            objective: "Build a thing".into(),
            prompt: prompt.into(),
            workdir: std::env::temp_dir(),
            timeout: Duration::from_secs(5),
            idle_timeout: None,
            cancel: CancellationToken::new(),
            sandbox: crate::engine::act::confine::Isolation::None,
        }
    }

    #[tokio::test]
    async fn fixed_reply_claims_no_progress() {
        let p = ShellProvider::new("shell", &ProviderSettings::default());
        let r = p
            .dispatch(&req("[clk] trace\nsome prompt"), &OutputSink::discard())
            .await
            .unwrap();
        assert!(r.text.contains("PROGRESS: no"));
        assert!(r.text.contains("Build a thing"));
        assert!(r.usage.estimated);
        assert!(p.check().await.usable);
    }

    #[tokio::test]
    async fn command_mode_pipes_the_prompt_and_streams_lines() {
        let settings = ProviderSettings {
            command: Some("echo \"agent=$CLK_AGENT stage=$CLK_STAGE\"; cat".into()),
            ..Default::default()
        };
        let p = ShellProvider::new("shell", &settings);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s2 = seen.clone();
        let pid = Arc::new(Mutex::new(None));
        let p2 = pid.clone();
        let sink = OutputSink::new(move |_, l| s2.lock().unwrap().push(l.to_string()))
            .on_process_start(move |n, cmd| *p2.lock().unwrap() = Some((n, cmd.to_string())));
        let r = p.dispatch(&req("line one\nline two"), &sink).await.unwrap();
        assert_eq!(r.text, "agent=engineer stage=build\nline one\nline two\n");
        assert_eq!(seen.lock().unwrap().len(), 3);
        let (n, cmd) = pid.lock().unwrap().clone().expect("the start was reported");
        assert!(n > 0);
        assert!(cmd.contains("CLK_AGENT"), "{cmd}");
    }

    #[tokio::test]
    async fn command_failures_are_classified() {
        let failing = ShellProvider::new(
            "shell",
            &ProviderSettings {
                command: Some("echo broken >&2; exit 2".into()),
                ..Default::default()
            },
        );
        let e = failing
            .dispatch(&req("x"), &OutputSink::discard())
            .await
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Fatal);
        assert!(
            e.message.contains("code 2") && e.message.contains("broken"),
            "{e}"
        );
        let slow = ShellProvider::new(
            "shell",
            &ProviderSettings {
                command: Some("sleep 10".into()),
                ..Default::default()
            },
        );
        let mut r = req("x");
        r.timeout = Duration::from_millis(200);
        let e = slow.dispatch(&r, &OutputSink::discard()).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Timeout);
        let missing = ShellProvider::new(
            "shell",
            &ProviderSettings {
                command: Some("no-such-agent-program-xyz --go".into()),
                ..Default::default()
            },
        );
        assert!(!missing.check().await.usable);
    }
}
