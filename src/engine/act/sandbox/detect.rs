//! Which sandbox this machine can give, asked once per process and remembered.
//!
//! Bubblewrap counts only when it really runs: a probe starts it with every flag clk uses
//! (read-only root, /dev, /proc, a tmpfs, new PID and network namespaces). Landlock counts when
//! the kernel reports an ABI. Separately, the Landlock backend asks whether this process may
//! open a new PID namespace (root, or an unprivileged user namespace): that decides how it
//! keeps background processes from outliving a command.

use std::ffi::CString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use super::{Backend, Unavailable};

/// bwrap's full path, looked up once on this process's PATH (the command's own PATH, from
/// the allow-list, may differ or be missing).
pub fn bwrap_path() -> Option<&'static Path> {
    static PATH: OnceLock<Option<PathBuf>> = OnceLock::new();
    PATH.get_or_init(|| {
        let dirs = std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into());
        std::env::split_paths(&dirs)
            .map(|d| d.join("bwrap"))
            .find(|p| p.is_file())
    })
    .as_deref()
}

/// What the bubblewrap probe found: its version line when it works, why not otherwise.
fn bwrap_probe() -> &'static Result<String, String> {
    static PROBE: OnceLock<Result<String, String>> = OnceLock::new();
    PROBE.get_or_init(|| {
        let Some(bwrap) = bwrap_path() else {
            return Err("bwrap is not installed".into());
        };
        let run = Command::new(bwrap)
            .args([
                "--ro-bind",
                "/",
                "/",
                "--dev",
                "/dev",
                "--proc",
                "/proc",
                "--tmpfs",
                "/tmp",
                "--unshare-pid",
                "--unshare-net",
                "--die-with-parent",
                "--new-session",
                "--cap-drop",
                "ALL",
                "--",
                "true",
            ])
            .env_clear()
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output();
        match run {
            Err(e) => Err(format!("bwrap cannot be started: {e}")),
            Ok(out) if !out.status.success() => Err(format!(
                "bwrap is installed but does not work here: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )),
            Ok(_) => {
                let version = Command::new(bwrap)
                    .arg("--version")
                    .output()
                    .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
                    .unwrap_or_default();
                Ok(if version.is_empty() {
                    "bubblewrap".into()
                } else {
                    version
                })
            }
        }
    })
}

/// The kernel's Landlock ABI version; 0 when Landlock is missing or disabled.
pub fn landlock_abi() -> i32 {
    static ABI: OnceLock<i32> = OnceLock::new();
    *ABI.get_or_init(|| {
        const LANDLOCK_CREATE_RULESET_VERSION: libc::c_uint = 1;
        // SAFETY: with a null attribute and the VERSION flag the call only returns a number.
        let v = unsafe {
            libc::syscall(
                libc::SYS_landlock_create_ruleset,
                std::ptr::null::<libc::c_void>(),
                0usize,
                LANDLOCK_CREATE_RULESET_VERSION,
            )
        };
        i32::try_from(v).unwrap_or(0).max(0)
    })
}

/// How the Landlock backend can hold a command's processes together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Namespaces {
    /// `unshare(CLONE_NEWPID)` works as we are (root or CAP_SYS_ADMIN).
    Plain,
    /// It works inside a new user namespace (unprivileged user namespaces are allowed).
    WithUser,
    /// Neither: a child subreaper sweeps what is left instead.
    None,
}

fn try_unshare(flags: libc::c_int, maps: Option<(CString, CString)>) -> bool {
    let mut cmd = Command::new("/bin/true");
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: the closure makes only async-signal-safe system calls.
    unsafe {
        cmd.pre_exec(move || {
            if libc::unshare(flags) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            if let Some((uid_map, gid_map)) = &maps {
                super::supervise::write_id_maps(uid_map, gid_map)?;
            }
            Ok(())
        });
    }
    cmd.status().is_ok_and(|s| s.success())
}

/// Whether and how this process can make PID, mount and network namespaces; probed once.
pub fn namespaces() -> Namespaces {
    static NS: OnceLock<Namespaces> = OnceLock::new();
    *NS.get_or_init(|| {
        if try_unshare(
            libc::CLONE_NEWPID | libc::CLONE_NEWNS | libc::CLONE_NEWNET,
            None,
        ) {
            Namespaces::Plain
        } else if try_unshare(
            libc::CLONE_NEWUSER | libc::CLONE_NEWPID | libc::CLONE_NEWNS | libc::CLONE_NEWNET,
            super::supervise::id_maps(),
        ) {
            Namespaces::WithUser
        } else {
            Namespaces::None
        }
    })
}

impl Backend {
    /// Ok when this backend can run commands on this machine (Off always can).
    pub fn check(self) -> Result<(), Unavailable> {
        match self {
            Backend::Off => Ok(()),
            Backend::Bubblewrap => bwrap_probe()
                .as_ref()
                .map(|_| ())
                .map_err(|e| Unavailable { detail: e.clone() }),
            Backend::Landlock => match landlock_abi() {
                0 => Err(Unavailable {
                    detail: "the kernel has no Landlock (Linux 5.13+ with landlock in lsm=)".into(),
                }),
                _ => Ok(()),
            },
        }
    }

    /// One line for `clk doctor`: "bubblewrap 0.8.0", "landlock ABI 7 (pid namespace)", "off".
    pub fn describe(self) -> String {
        match self {
            Backend::Off => "off".into(),
            Backend::Bubblewrap => match bwrap_probe() {
                Ok(v) => v.clone(),
                Err(e) => format!("bubblewrap unavailable: {e}"),
            },
            Backend::Landlock => match landlock_abi() {
                0 => "landlock unavailable".into(),
                abi => {
                    let how = match namespaces() {
                        Namespaces::Plain | Namespaces::WithUser => "pid namespace",
                        Namespaces::None => "subreaper",
                    };
                    format!("landlock ABI {abi} ({how})")
                }
            },
        }
    }
}

/// The best sandbox this machine offers: bubblewrap when it works, else Landlock, else an
/// error that names the fix. `sandbox: off` is the caller's decision, never a fallback.
pub fn detect() -> Result<Backend, Unavailable> {
    if Backend::Bubblewrap.check().is_ok() {
        return Ok(Backend::Bubblewrap);
    }
    if Backend::Landlock.check().is_ok() {
        return Ok(Backend::Landlock);
    }
    let why = bwrap_probe().as_ref().err().cloned().unwrap_or_default();
    Err(Unavailable {
        detail: format!("{why}; the kernel has no Landlock either"),
    })
}
