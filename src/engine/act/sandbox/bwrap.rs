//! The bubblewrap command line for one command.
//!
//! Mount order matters, later mounts cover earlier ones: the whole root read-only, fresh
//! /dev and /proc, a private tmpfs on /tmp, then the writable paths (a worktree under /tmp
//! stays visible because it is bound after the tmpfs), then the protected paths inside them
//! read-only again, then the hidden paths covered. New PID, IPC (and, when the network is
//! off, network) namespaces; `--new-session` so the command cannot push input into clk's
//! terminal; `--die-with-parent` so nothing stays when clk goes. When the command's process
//! ends, bwrap's init in the PID namespace ends too and the kernel kills everything left.
//!
//! The environment is not passed with `--setenv`: values in bwrap's argv would be readable by
//! every user in /proc/PID/cmdline. The caller clears bwrap's own environment instead, and
//! bwrap hands it on.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::SandboxPolicy;

fn push(args: &mut Vec<OsString>, items: &[&str]) {
    args.extend(items.iter().map(OsString::from));
}

fn push_path(args: &mut Vec<OsString>, flag: &str, src: &Path, dst: &Path) {
    args.push(flag.into());
    args.push(src.into());
    args.push(dst.into());
}

/// Paths sorted so that a parent is mounted before anything inside it.
fn by_depth(paths: &[PathBuf]) -> Vec<&PathBuf> {
    let mut v: Vec<&PathBuf> = paths.iter().collect();
    v.sort_by_key(|p| p.components().count());
    v
}

/// bwrap's arguments up to and including `--`; the program and its arguments follow.
pub fn args(cwd: &Path, policy: &SandboxPolicy) -> Vec<OsString> {
    let mut a = Vec::new();
    push(
        &mut a,
        &[
            "--ro-bind",
            "/",
            "/",
            "--dev",
            "/dev",
            "--proc",
            "/proc",
            "--tmpfs",
            "/tmp",
        ],
    );
    for p in by_depth(&policy.writable) {
        push_path(&mut a, "--bind", p, p);
    }
    for p in by_depth(&policy.read_only) {
        push_path(&mut a, "--ro-bind-try", p, p);
    }
    for p in by_depth(&policy.hidden) {
        match std::fs::symlink_metadata(p) {
            Ok(m) if m.is_dir() => {
                a.push("--tmpfs".into());
                a.push(p.into());
            }
            Ok(_) => push_path(&mut a, "--ro-bind", Path::new("/dev/null"), p),
            Err(_) => {}
        }
    }
    push(
        &mut a,
        &[
            "--unshare-pid",
            "--unshare-ipc",
            "--die-with-parent",
            "--new-session",
        ],
    );
    if !policy.network {
        push(&mut a, &["--unshare-net"]);
    }
    a.push("--chdir".into());
    a.push(cwd.into());
    a.push("--".into());
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mounts_in_order_and_namespaces() {
        let mut policy = SandboxPolicy::for_worktree(Path::new("/w"));
        policy.network = false;
        let a: Vec<String> = args(Path::new("/w/src"), &policy)
            .into_iter()
            .map(|s| s.to_string_lossy().into_owned())
            .collect();
        let at = |s: &str| a.iter().position(|x| x == s).unwrap();
        assert!(at("--tmpfs") < at("--bind"), "{a:?}");
        assert!(at("--bind") < at("--ro-bind-try"), "{a:?}");
        assert!(a.contains(&"/w/.git".to_string()));
        assert!(a.contains(&"--unshare-net".to_string()));
        assert_eq!(a[a.len() - 3..], ["--chdir", "/w/src", "--"]);
    }
}
