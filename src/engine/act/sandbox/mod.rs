//! The OS sandbox around every command clk starts for agents: `ACTION: run`, validation, the
//! done gate's tests and CLI providers.
//!
//! [`command`] turns a program, its arguments, a working directory and a [`SandboxPolicy`]
//! into a [`Sandboxed`]: a `std::process::Command` ([`Sandboxed::into_tokio`] converts it; then
//! set stdio, `process_group(0)` and `kill_on_drop` as for any child) and a [`SandboxGuard`] to
//! keep until the child has been waited for, then [`SandboxGuard::finish`]. [`detect`] picks
//! the backend once per process: bubblewrap when it really runs, else Landlock, else
//! [`Unavailable`], whose message names the fix. [`Backend::Off`] is only for a user who set
//! `sandbox: off`: the command runs as it is, with the environment allow-list still applied.
//!
//! What holds, per backend:
//! - Bubblewrap: writes only to the writable paths and a private tmpfs /tmp; protected paths
//!   mounted read-only, hidden paths covered, fresh /dev and /proc; no capabilities, even for
//!   root; a PID namespace, so `setsid`, `nohup` and double forks die with the command;
//!   network off is a network namespace (no network at all).
//! - Landlock: writes only to the writable paths and a private `TMPDIR` made per command and
//!   removed after (/tmp itself is read-only); no capabilities, no device nodes, no mounts, no
//!   signals to processes outside (ABI 6). When this process may make namespaces (root, or
//!   unprivileged user namespaces), the command gets PID and mount namespaces: protected paths
//!   are bind-mounted read-only and hidden paths covered, and network off is a network
//!   namespace. Without namespaces: a child subreaper sweeps up every process the command left
//!   (unless the supervisor itself is killed: kill the process group, not the pid), protected
//!   paths are restored after the command (files and directories up to 8 MiB; a bigger one is
//!   only reported), hidden paths stay visible, pathname Unix sockets (a session bus) stay
//!   reachable, and network off is Landlock's TCP rules (ABI 4), which leave UDP open.
//!   /proc shows the host's processes either way.
//! - Both: `RLIMIT_AS` per process, and a process limit from a cgroup of the command's own when
//!   one can be made (root or delegation; its cleanup also kills anything left inside), else
//!   `RLIMIT_NPROC` (counted over all of the user's processes, never binds root). [`Enforced`]
//!   says which hold. The environment is the allow-list in [`mod@env`], never the parent's.
//!
//! Spawn from a thread that lives as long as the command (a runtime worker, not a blocking
//! pool thread): the kernel's parent-death signal, which both backends use to die with clk,
//! follows the spawning thread.

mod bwrap;
mod detect;
pub mod env;
mod limits;
mod lock;
mod mounts;
mod proc_scan;
mod protect;
mod supervise;

use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

pub use detect::{detect, landlock_abi};
pub use limits::Enforced;

/// Which sandbox runs commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    Bubblewrap,
    Landlock,
    /// Only when the user set `sandbox: off`.
    Off,
}

/// No sandbox can be had here; the message names the fix.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "no sandbox for commands ({detail}): install bubblewrap (apt-get install bubblewrap) or set sandbox: off"
)]
pub struct Unavailable {
    pub detail: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error(transparent)]
    Unavailable(#[from] Unavailable),
    #[error("sandbox path {path}: {source}")]
    Path {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("landlock: {detail}")]
    Landlock { detail: String },
    #[error("the command changed protected paths (restored where possible): {paths:?}")]
    Tampered { paths: Vec<PathBuf> },
}

/// How the Landlock backend keeps a command's processes from outliving it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Containment {
    /// A PID namespace when this process may make one, else a subreaper.
    #[default]
    Auto,
    /// Always the subreaper (what an unprivileged user without user namespaces gets).
    Subreaper,
}

/// What a command may touch.
#[derive(Debug, Clone)]
pub struct SandboxPolicy {
    /// Writable trees: the run's worktree, and caches the caller chooses to share (HOME and
    /// CARGO_HOME stay read-only otherwise: builds with cached dependencies work, downloads
    /// into them do not).
    pub writable: Vec<PathBuf>,
    /// Paths inside writable trees that stay read-only: the worktree's `.git` pointer, `.clk/`.
    pub read_only: Vec<PathBuf>,
    /// Paths covered by an empty one (bubblewrap, and Landlock with namespaces): sockets that
    /// reach outside the sandbox, a config folder holding keys.
    pub hidden: Vec<PathBuf>,
    pub network: bool,
    /// The command's whole environment; see [`env::allowed`] and [`env::for_provider`].
    pub env: BTreeMap<String, String>,
    pub max_processes: Option<u32>,
    pub max_memory_bytes: Option<u64>,
    pub containment: Containment,
}

impl SandboxPolicy {
    /// A run's worktree: writable except its `.git` pointer and `.clk/`, network on, this
    /// process's allow-listed environment, 1024 processes, 16 GiB of address space each.
    pub fn for_worktree(worktree: &Path) -> SandboxPolicy {
        SandboxPolicy {
            writable: vec![worktree.to_path_buf()],
            read_only: vec![worktree.join(".git"), worktree.join(".clk")],
            hidden: [
                "/run/user",
                "/run/dbus",
                "/run/docker.sock",
                "/var/run/docker.sock",
            ]
            .iter()
            .map(PathBuf::from)
            .collect(),
            network: true,
            env: env::allowed_from_process(),
            max_processes: Some(1024),
            max_memory_bytes: Some(16 << 30),
            containment: Containment::Auto,
        }
    }
}

/// A command ready to spawn, and what must stay alive until it has been waited for.
#[derive(Debug)]
pub struct Sandboxed {
    pub command: Command,
    pub guard: SandboxGuard,
}

impl Sandboxed {
    /// The command for tokio, and the guard to keep until the child has been waited for.
    pub fn into_tokio(self) -> (tokio::process::Command, SandboxGuard) {
        (tokio::process::Command::from(self.command), self.guard)
    }
}

/// Cleans up after one command: kills what is left in its cgroup, removes its private
/// temporary directory. Keep it until the child has been waited for.
#[derive(Debug)]
pub struct SandboxGuard {
    backend: Backend,
    enforced: Enforced,
    tmp: Option<PathBuf>,
    cgroup: Option<limits::Cgroup>,
    snapshot: protect::Snapshot,
}

impl SandboxGuard {
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Which limits hold for this command.
    pub fn enforced(&self) -> Enforced {
        self.enforced
    }

    /// The private temporary directory (Landlock; bubblewrap's /tmp is a tmpfs).
    pub fn tmp_dir(&self) -> Option<&Path> {
        self.tmp.as_deref()
    }

    /// After the child was waited for: kill leftovers, check the protected paths (restoring
    /// files), clean up. `Tampered` names what the command changed.
    pub fn finish(mut self) -> Result<(), SandboxError> {
        self.cgroup.take();
        let paths = self.snapshot.verify_and_restore();
        if paths.is_empty() {
            Ok(())
        } else {
            Err(SandboxError::Tampered { paths })
        }
    }
}

impl Drop for SandboxGuard {
    fn drop(&mut self) {
        self.cgroup.take();
        if let Some(tmp) = self.tmp.take() {
            let _ = std::fs::remove_dir_all(tmp);
        }
    }
}

fn canonical(path: &Path) -> Result<PathBuf, SandboxError> {
    path.canonicalize().map_err(|source| SandboxError::Path {
        path: path.to_path_buf(),
        source,
    })
}

/// A protected path: its parent resolved, its own name kept even when it is a symlink (the
/// symlink is what a command could replace) or does not exist yet.
fn canonical_lenient(path: &Path) -> PathBuf {
    match (path.parent().map(Path::canonicalize), path.file_name()) {
        (Some(Ok(parent)), Some(name)) => parent.join(name),
        _ => path.to_path_buf(),
    }
}

/// Resolve symlinks so mounts and rules name real paths.
fn resolved(policy: &SandboxPolicy) -> Result<SandboxPolicy, SandboxError> {
    let mut p = policy.clone();
    p.writable = policy
        .writable
        .iter()
        .map(|w| canonical(w))
        .collect::<Result<_, _>>()?;
    p.read_only = policy
        .read_only
        .iter()
        .map(|r| canonical_lenient(r))
        .collect();
    p.hidden = policy
        .hidden
        .iter()
        .filter_map(|h| h.canonicalize().ok())
        .collect();
    Ok(p)
}

/// A fresh private directory under the system's temporary directory, mode 0700.
fn private_dir(kind: &str) -> Result<PathBuf, SandboxError> {
    use std::os::unix::fs::DirBuilderExt;
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    let dir = std::env::temp_dir().join(format!(
        "clk-sandbox-{kind}-{}-{}-{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .map_err(|source| SandboxError::Path {
            path: dir.clone(),
            source,
        })?;
    Ok(dir)
}

/// `program args` in `cwd`, inside the sandbox `backend` gives under `policy`.
pub fn command(
    backend: Backend,
    program: &str,
    args: &[String],
    cwd: &Path,
    policy: &SandboxPolicy,
) -> Result<Sandboxed, SandboxError> {
    backend.check()?;
    let cwd = canonical(cwd)?;
    if backend == Backend::Off {
        let mut cmd = Command::new(program);
        cmd.args(args)
            .current_dir(&cwd)
            .env_clear()
            .envs(&policy.env);
        let guard = SandboxGuard {
            backend,
            enforced: Enforced::default(),
            tmp: None,
            cgroup: None,
            snapshot: protect::Snapshot::default(),
        };
        return Ok(Sandboxed {
            command: cmd,
            guard,
        });
    }
    let policy = resolved(policy)?;
    // A protected path that a read-only mount covers cannot change, and clk itself keeps
    // writing to `.clk/` while the command runs (its logs): comparing, let alone restoring,
    // such a path would report and undo clk's own writes. Only paths no mount covers (missing
    // ones, symlinks, everything under Landlock without namespaces) are checked after.
    let mounted = backend == Backend::Bubblewrap
        || (policy.containment == Containment::Auto
            && detect::namespaces() != detect::Namespaces::None);
    let watched: Vec<PathBuf> = policy
        .read_only
        .iter()
        .filter(|p| {
            !mounted || !std::fs::symlink_metadata(p).is_ok_and(|m| !m.file_type().is_symlink())
        })
        .cloned()
        .collect();
    let snapshot = protect::Snapshot::take(&watched);
    let (entry, cgroup, enforced) = limits::prepare(policy.max_processes, policy.max_memory_bytes);
    let mut guard = SandboxGuard {
        backend,
        enforced,
        tmp: None,
        cgroup,
        snapshot,
    };
    let mut cmd;
    if backend == Backend::Bubblewrap {
        cmd = Command::new(detect::bwrap_path().unwrap_or(Path::new("bwrap")));
        cmd.args(bwrap::args(&cwd, &policy))
            .arg(program)
            .args(args)
            .env_clear()
            .envs(&policy.env)
            .env("TMPDIR", "/tmp");
        // SAFETY: Entry::enter makes only async-signal-safe system calls.
        unsafe {
            cmd.pre_exec(move || entry.enter());
        }
    } else {
        let tmp = private_dir("tmp")?;
        guard.tmp = Some(tmp.clone());
        let hold = match (policy.containment, detect::namespaces()) {
            (Containment::Subreaper, _) | (Containment::Auto, detect::Namespaces::None) => {
                supervise::Hold::Subreaper
            }
            (Containment::Auto, detect::Namespaces::Plain) => supervise::Hold::PidNamespace,
            (Containment::Auto, detect::Namespaces::WithUser) => supervise::Hold::UserPidNamespace,
        };
        let unshare_net = !policy.network && hold != supervise::Hold::Subreaper;
        let mut writable = policy.writable.clone();
        writable.push(tmp.clone());
        let mut plan = supervise::Plan {
            parent: std::process::id() as libc::pid_t,
            hold,
            unshare_net,
            id_maps: supervise::id_maps(),
            mounts: match hold {
                supervise::Hold::Subreaper => Vec::new(),
                supervise::Hold::PidNamespace | supervise::Hold::UserPidNamespace => {
                    mounts::plan(&policy.read_only, &policy.hidden)
                }
            },
            ruleset: Some(lock::ruleset(&writable, !policy.network && !unshare_net)?),
        };
        cmd = Command::new(program);
        cmd.args(args)
            .current_dir(&cwd)
            .env_clear()
            .envs(&policy.env)
            .env("TMPDIR", &tmp);
        // SAFETY: both steps make only async-signal-safe system calls; the ruleset was built
        // by the parent and is only applied here.
        unsafe {
            cmd.pre_exec(move || {
                entry.enter()?;
                supervise::enter(&mut plan)
            });
        }
    }
    Ok(Sandboxed {
        command: cmd,
        guard,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_unavailable_message_names_the_fix() {
        let e = Unavailable {
            detail: "bwrap cannot be started".into(),
        };
        let text = e.to_string();
        assert!(text.contains("apt-get install bubblewrap"), "{text}");
        assert!(text.contains("sandbox: off"), "{text}");
    }

    #[test]
    fn off_runs_as_is_with_the_allow_list() {
        let dir = tempfile::tempdir().unwrap();
        let mut policy = SandboxPolicy::for_worktree(dir.path());
        policy.env = env::allowed([("PATH", "/usr/bin:/bin"), ("OPENAI_API_KEY", "sk-x")]);
        let mut sb = command(Backend::Off, "env", &[], dir.path(), &policy).unwrap();
        let out = sb.command.output().unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "PATH=/usr/bin:/bin\n");
        assert_eq!(sb.guard.enforced(), Enforced::default());
        assert!(sb.guard.finish().is_ok());
    }

    #[test]
    fn a_protected_symlink_keeps_its_own_name() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().canonicalize().unwrap();
        std::os::unix::fs::symlink("/etc", real.join(".clk")).unwrap();
        assert_eq!(canonical_lenient(&real.join(".clk")), real.join(".clk"));
        assert_eq!(canonical_lenient(&real.join("absent")), real.join("absent"));
    }
}
