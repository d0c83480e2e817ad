//! From the `sandbox` settings to the confinement of one command.
//!
//! Every command clk starts for agents (`ACTION: run`, validation, the done gate's tests, CLI
//! providers) gets an [`Isolation`] from [`for_commands`]: the backend the settings ask for and
//! this machine has, and a policy whose writable tree is the folder the command works in (the
//! run's working root: the one path the caller already passes as the command's cwd), minus its
//! `.git` and `.clk/`, plus a private /tmp. When the settings ask for a sandbox this machine
//! cannot give, the isolation is [`Isolation::Refused`], and the command is refused with the
//! message naming the fix rather than run bare.

use std::path::{Path, PathBuf};

use super::sandbox::{self, Backend, SandboxPolicy, Unavailable};
use crate::engine::ground::config::{SandboxConfig, SandboxMode};

/// How one command is confined.
#[derive(Debug, Clone)]
pub enum Isolation {
    /// Not at all: only for unit tests of the process runner.
    None,
    /// In the sandbox `backend` gives, under `policy`.
    Sandbox {
        backend: Backend,
        policy: Box<SandboxPolicy>,
    },
    /// A sandbox was asked for and this machine has none: the command is refused.
    Refused(Unavailable),
}

impl Isolation {
    /// The policy, to adjust (CLI providers add their config folders and variables).
    pub fn policy_mut(&mut self) -> Option<&mut SandboxPolicy> {
        match self {
            Isolation::Sandbox { policy, .. } => Some(policy),
            Isolation::None | Isolation::Refused(_) => None,
        }
    }
}

/// The backend `cfg` asks for, if this machine has it.
pub fn backend(cfg: &SandboxConfig) -> Result<Backend, Unavailable> {
    match cfg.mode {
        SandboxMode::Off => Ok(Backend::Off),
        SandboxMode::Auto => sandbox::detect(),
        SandboxMode::Bubblewrap => Backend::Bubblewrap.check().map(|()| Backend::Bubblewrap),
        SandboxMode::Landlock => Backend::Landlock.check().map(|()| Backend::Landlock),
    }
}

/// `~/x` with the home folder, other paths as they are.
pub fn expand_home(raw: &str) -> Option<PathBuf> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    match raw.strip_prefix("~/") {
        Some(rest) => std::env::var_os("HOME").map(|h| PathBuf::from(h).join(rest)),
        None if raw == "~" => std::env::var_os("HOME").map(PathBuf::from),
        None => Some(PathBuf::from(raw)),
    }
}

/// The confinement for a command working in `root` under the settings `cfg`.
pub fn for_commands(cfg: &SandboxConfig, root: &Path) -> Isolation {
    let backend = match backend(cfg) {
        Ok(b) => b,
        Err(e) => return Isolation::Refused(e),
    };
    let mut policy = SandboxPolicy::for_worktree(root);
    policy.network = cfg.network;
    policy.max_processes = (cfg.max_processes > 0).then_some(cfg.max_processes);
    policy.max_memory_bytes = (cfg.max_memory_mb > 0).then_some(cfg.max_memory_mb << 20);
    policy.writable.extend(
        cfg.writable
            .iter()
            .filter_map(|w| expand_home(w))
            .filter(|p| p.is_absolute() && p.exists()),
    );
    Isolation::Sandbox {
        backend,
        policy: Box::new(policy),
    }
}

/// What `clk doctor` says about the sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    Sandboxed,
    /// The user turned it off.
    Off,
    /// Asked for and not to be had: commands are refused.
    Missing,
}

/// One line for `clk doctor` and `/doctor`: which sandbox runs commands, and how healthy that
/// is.
pub fn describe(cfg: &SandboxConfig) -> (Health, String) {
    let net = if cfg.network {
        "network on"
    } else {
        "network off"
    };
    match backend(cfg) {
        Ok(Backend::Off) => (
            Health::Off,
            "sandbox off (sandbox.mode=off): agents' commands, tests and CLIs run unconfined; `clk configure --set sandbox=auto` turns it on"
                .into(),
        ),
        Ok(b) => (
            Health::Sandboxed,
            format!("sandbox: {} for agents' commands, tests and CLIs ({net})", b.describe()),
        ),
        Err(e) => (Health::Missing, format!("{e}; agents' commands are refused until then")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_is_the_users_choice_and_other_settings_carry_over() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = SandboxConfig {
            mode: SandboxMode::Off,
            network: false,
            max_processes: 0,
            max_memory_mb: 64,
            writable: vec![
                "/definitely/not/here".into(),
                dir.path().display().to_string(),
            ],
        };
        let Isolation::Sandbox { backend, policy } = for_commands(&cfg, dir.path()) else {
            panic!("off is still a policy");
        };
        assert_eq!(backend, Backend::Off);
        assert!(!policy.network);
        assert_eq!(policy.max_processes, None);
        assert_eq!(policy.max_memory_bytes, Some(64 << 20));
        assert_eq!(policy.writable, [dir.path(), dir.path()]);
        let (health, line) = describe(&cfg);
        assert_eq!(health, Health::Off);
        assert!(line.contains("sandbox off"), "{line}");
    }

    #[test]
    fn home_is_expanded() {
        let home = std::env::var("HOME").unwrap_or_default();
        assert_eq!(
            expand_home("~/.npm"),
            Some(PathBuf::from(home).join(".npm"))
        );
        assert_eq!(expand_home(" "), None);
    }
}
