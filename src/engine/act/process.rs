//! Child processes for `run` actions and process-based providers.
//!
//! Every child runs in its own process group with stdin closed (or fed and then closed), so a
//! timeout, a silence limit or `/abort` can kill it together with everything it started. Lines
//! of stdout and stderr are reported as they arrive. Output kept in memory is bounded: only
//! the last `keep_bytes` of each stream survive, so a chatty command cannot exhaust memory.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::confine::Isolation;
use super::sandbox::{self, SandboxError};
use crate::engine::ground::events::Stream;

/// What to run.
#[derive(Debug, Clone)]
pub struct Spec {
    pub program: String,
    pub args: Vec<String>,
    pub cwd: PathBuf,
    pub env: BTreeMap<String, String>,
    /// Written to stdin, which is then closed. None: stdin is /dev/null.
    pub stdin: Option<String>,
    pub timeout: Duration,
    /// Kill when neither stream printed anything for this long.
    pub idle_timeout: Option<Duration>,
    /// How much of each stream's tail to keep.
    pub keep_bytes: usize,
    /// Longest line kept whole; the rest of a longer line is dropped (and `truncated` set).
    pub max_line_bytes: usize,
    /// The OS sandbox it runs in. Sandboxed, it sees only its policy's allow-listed
    /// environment with `env` laid over it; unsandboxed, clk's environment with `env` over it.
    pub sandbox: Isolation,
}

impl Spec {
    /// `sh -c <command>` in `cwd`, confined by `sandbox`.
    pub fn shell(command: &str, cwd: PathBuf, timeout: Duration, sandbox: Isolation) -> Spec {
        Spec {
            program: "sh".into(),
            args: vec!["-c".into(), command.into()],
            cwd,
            env: BTreeMap::new(),
            stdin: None,
            timeout,
            idle_timeout: None,
            keep_bytes: 64 * 1024,
            max_line_bytes: 64 * 1024,
            sandbox,
        }
    }
}

/// The full path of `program` if it can be run: a path that exists, or a name on PATH.
pub fn which(program: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let runnable = |p: &std::path::Path| {
        p.metadata()
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    };
    if program.contains('/') {
        let p = PathBuf::from(program);
        return runnable(&p).then_some(p);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(program))
            .find(|p| runnable(p))
    })
}

/// Why a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// It exited by itself (code None when killed by a signal it did not get from us).
    Exited(Option<i32>),
    TimedOut,
    Idle,
    Cancelled,
}

/// How it went.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub ending: Ending,
    pub pid: u32,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
    /// Some output was dropped: a line over `max_line_bytes`, or more than `keep_bytes`.
    pub truncated: bool,
    /// What the sandbox found after the command: protected paths it changed (restored where
    /// possible), or a cleanup that failed.
    pub sandbox_warning: Option<String>,
}

impl Outcome {
    /// Stdout then stderr, as one text.
    pub fn combined(&self) -> String {
        match (self.stdout.is_empty(), self.stderr.is_empty()) {
            (_, true) => self.stdout.clone(),
            (true, false) => self.stderr.clone(),
            (false, false) => format!("{}\n{}", self.stdout.trim_end(), self.stderr),
        }
    }
}

/// The program could not be started.
#[derive(Debug, thiserror::Error)]
#[error("cannot start {program}: {detail}")]
pub struct SpawnError {
    pub program: String,
    pub detail: String,
    pub not_found: bool,
}

/// Kills the child's whole process group when dropped, unless disarmed.
struct GroupGuard {
    pgid: Option<i32>,
}

impl GroupGuard {
    fn kill(&mut self) {
        if let Some(pgid) = self.pgid.take() {
            // SAFETY: killpg only sends a signal; a stale pgid fails with ESRCH, which is fine.
            unsafe {
                libc::killpg(pgid, libc::SIGKILL);
            }
        }
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Append a line, keeping at most about `2 * keep` bytes; true when older output was dropped.
fn push_tail(buf: &mut String, line: &str, keep: usize) -> bool {
    buf.push_str(line);
    buf.push('\n');
    if buf.len() > keep * 2 {
        let mut cut = buf.len() - keep;
        while !buf.is_char_boundary(cut) {
            cut += 1;
        }
        buf.drain(..cut);
        return true;
    }
    false
}

fn trim_tail(buf: &mut String, keep: usize) {
    if buf.len() > keep {
        let mut cut = buf.len() - keep;
        while !buf.is_char_boundary(cut) {
            cut += 1;
        }
        buf.drain(..cut);
    }
}

/// Forward every line of `pipe` to `tx` as `(stream, line, cut)`. Memory stays bounded by
/// `max_line` however long a line is; bytes that are not UTF-8 are replaced rather than
/// ending the read, since a reader that stopped early would leave the child blocked on a
/// full pipe.
fn spawn_reader(
    pipe: impl tokio::io::AsyncRead + Unpin + Send + 'static,
    stream: Stream,
    max_line: usize,
    tx: mpsc::UnboundedSender<(Stream, String, bool)>,
) {
    tokio::spawn(async move {
        let mut reader = BufReader::new(pipe);
        let mut line: Vec<u8> = Vec::new();
        let mut cut = false;
        loop {
            let chunk = match reader.fill_buf().await {
                Ok([]) | Err(_) => break,
                Ok(c) => c,
            };
            let (part, ends, used) = match chunk.iter().position(|b| *b == b'\n') {
                Some(i) => (&chunk[..i], true, i + 1),
                None => (chunk, false, chunk.len()),
            };
            let room = max_line.saturating_sub(line.len());
            if part.len() > room {
                cut = true;
            }
            line.extend_from_slice(&part[..part.len().min(room)]);
            reader.consume(used);
            if ends {
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                let text = String::from_utf8_lossy(&line).into_owned();
                if tx.send((stream, text, cut)).is_err() {
                    return;
                }
                line.clear();
                cut = false;
            }
        }
        if !line.is_empty() {
            let _ = tx.send((stream, String::from_utf8_lossy(&line).into_owned(), cut));
        }
    });
}

fn keep(
    stdout: &mut String,
    stderr: &mut String,
    stream: Stream,
    line: &str,
    keep_bytes: usize,
) -> bool {
    match stream {
        Stream::Stderr => push_tail(stderr, line, keep_bytes),
        Stream::Stdout | Stream::Model => push_tail(stdout, line, keep_bytes),
    }
}

/// Run `spec`, calling `on_start(pid)` once it runs and `on_line` for every output line.
pub async fn run(
    spec: &Spec,
    cancel: &CancellationToken,
    on_start: impl FnOnce(u32),
    on_line: impl Fn(Stream, &str),
) -> Result<Outcome, SpawnError> {
    let started = Instant::now();
    let spawn_error = |detail: String| SpawnError {
        program: spec.program.clone(),
        detail,
        not_found: false,
    };
    let (mut cmd, sandbox_guard) = match &spec.sandbox {
        Isolation::None => {
            let mut cmd = Command::new(&spec.program);
            cmd.args(&spec.args).current_dir(&spec.cwd).envs(&spec.env);
            (cmd, None)
        }
        Isolation::Refused(why) => return Err(spawn_error(why.to_string())),
        Isolation::Sandbox { backend, policy } => {
            let mut policy = (**policy).clone();
            policy
                .env
                .extend(spec.env.iter().map(|(k, v)| (k.clone(), v.clone())));
            let (cmd, guard) =
                sandbox::command(*backend, &spec.program, &spec.args, &spec.cwd, &policy)
                    .map_err(|e| spawn_error(e.to_string()))?
                    .into_tokio();
            (cmd, Some(guard))
        }
    };
    cmd.stdin(if spec.stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .process_group(0)
    .kill_on_drop(true);
    // Spawned here, on a runtime worker that outlives the command, never a blocking-pool
    // thread: the sandbox's parent-death signal follows the spawning thread.
    let mut child = cmd.spawn().map_err(|e| SpawnError {
        program: spec.program.clone(),
        not_found: e.kind() == std::io::ErrorKind::NotFound,
        detail: e.to_string(),
    })?;
    let pid = child.id().unwrap_or_default();
    let mut guard = GroupGuard {
        pgid: (pid > 0).then_some(pid as i32),
    };
    on_start(pid);

    if let (Some(text), Some(mut stdin)) = (spec.stdin.clone(), child.stdin.take()) {
        // Feed in the background so a child that does not read cannot block us.
        tokio::spawn(async move {
            let _ = stdin.write_all(text.as_bytes()).await;
            let _ = stdin.shutdown().await;
        });
    }

    let (tx, mut rx) = mpsc::unbounded_channel::<(Stream, String, bool)>();
    if let Some(out) = child.stdout.take() {
        spawn_reader(out, Stream::Stdout, spec.max_line_bytes, tx.clone());
    }
    if let Some(err) = child.stderr.take() {
        spawn_reader(err, Stream::Stderr, spec.max_line_bytes, tx.clone());
    }
    let mut truncated = false;
    drop(tx);

    let deadline = tokio::time::Instant::now() + spec.timeout;
    let mut last_output = tokio::time::Instant::now();
    let (mut stdout, mut stderr) = (String::new(), String::new());
    let mut streams_open = true;
    let mut exit: Option<Option<i32>> = None;
    let ending = loop {
        if exit.is_some() && !streams_open {
            break Ending::Exited(exit.flatten());
        }
        let idle_at = spec.idle_timeout.map(|d| last_output + d);
        tokio::select! {
            biased;
            _ = cancel.cancelled() => break Ending::Cancelled,
            _ = tokio::time::sleep_until(deadline) => break Ending::TimedOut,
            _ = async { tokio::time::sleep_until(idle_at.unwrap_or(deadline)).await }, if idle_at.is_some() => {
                break Ending::Idle;
            }
            msg = rx.recv(), if streams_open => match msg {
                Some((stream, line, cut)) => {
                    truncated |= cut;
                    last_output = tokio::time::Instant::now();
                    on_line(stream, &line);
                    truncated |= keep(&mut stdout, &mut stderr, stream, &line, spec.keep_bytes);
                }
                None => streams_open = false,
            },
            status = child.wait(), if exit.is_none() => {
                exit = Some(status.ok().and_then(|s| s.code()));
                // A grandchild may keep the pipes open; give readers a moment, then stop.
                if streams_open {
                    let grace = tokio::time::Instant::now() + Duration::from_millis(200);
                    while let Ok(Some((stream, line, cut))) = tokio::time::timeout_at(grace, rx.recv()).await {
                        truncated |= cut;
                        on_line(stream, &line);
                        truncated |= keep(&mut stdout, &mut stderr, stream, &line, spec.keep_bytes);
                    }
                    streams_open = false;
                }
            }
        }
    };
    // Whatever the ending, nothing of the group may outlive the call.
    guard.kill();
    if exit.is_none() {
        let _ = child.wait().await;
    }
    // Only now, with the child waited for: kill leftovers, check the protected paths.
    let sandbox_warning = match sandbox_guard.map(sandbox::SandboxGuard::finish) {
        None | Some(Ok(())) => None,
        Some(Err(SandboxError::Tampered { paths })) => Some(format!(
            "the sandbox found protected paths changed and put them back where it could: {}",
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )),
        Some(Err(e)) => Some(format!("sandbox cleanup: {e}")),
    };
    truncated |= stdout.len() > spec.keep_bytes || stderr.len() > spec.keep_bytes;
    trim_tail(&mut stdout, spec.keep_bytes);
    trim_tail(&mut stderr, spec.keep_bytes);
    Ok(Outcome {
        ending,
        pid,
        stdout,
        stderr,
        elapsed: started.elapsed(),
        truncated,
        sandbox_warning,
    })
}

#[cfg(test)]
mod tests;
