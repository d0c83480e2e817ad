//! The bubblewrap command line for one command.
//!
//! Mount order matters, later mounts cover earlier ones: the whole root read-only, fresh /dev and
//! /proc, a private tmpfs on /tmp, then the writable paths (a worktree under /tmp stays visible
//! because it is bound after the tmpfs), then the protected paths inside them read-only again, then
//! the hidden paths covered. New PID, IPC (and, when the network is off, network) namespaces; no
//! capabilities (as root, bwrap would otherwise leave them all and the command could remount /
//! read-write); `--new-session` so the command cannot push input into clk's terminal;
//! `--die-with-parent` so nothing stays when clk goes. When the command's process ends, bwrap's
//! init in the PID namespace ends too and the kernel kills everything left.
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

/// The repository folder a worktree's `.git` file points into (`gitdir: …/worktrees/NAME`,
/// whose `commondir` names the shared one), canonical; `None` for anything else.
fn git_common_dir(worktree: &Path) -> Option<PathBuf> {
    let text = std::fs::read_to_string(worktree.join(".git")).ok()?;
    let gitdir = PathBuf::from(text.trim().strip_prefix("gitdir:")?.trim());
    let gitdir = if gitdir.is_absolute() {
        gitdir
    } else {
        worktree.join(gitdir)
    };
    let common = std::fs::read_to_string(gitdir.join("commondir"))
        .map(|c| {
            let c = PathBuf::from(c.trim());
            if c.is_absolute() { c } else { gitdir.join(c) }
        })
        .unwrap_or(gitdir);
    common.canonicalize().ok()
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
    // A worktree's repository under /tmp would vanish under the tmpfs: git would fail in the
    // worktree, and a write into the user's checkout would land in the tmpfs and seem to work.
    // The checkout (or a bare repository) is shown again read-only, as the rest of the system
    // is, before the worktree (which lies inside it) is bound writable over it.
    let mut repos: Vec<PathBuf> = policy
        .writable
        .iter()
        .filter_map(|p| git_common_dir(p))
        .map(|c| match (c.file_name(), c.parent()) {
            (Some(name), Some(checkout)) if name == ".git" => checkout.to_path_buf(),
            _ => c,
        })
        .filter(|c| c.starts_with("/tmp"))
        .collect();
    repos.sort();
    repos.dedup();
    for c in by_depth(&repos) {
        push_path(&mut a, "--ro-bind", c, c);
    }
    for p in by_depth(&policy.writable) {
        push_path(&mut a, "--bind", p, p);
    }
    for p in by_depth(&policy.read_only) {
        // A symlink is skipped: the mount would land on its target (the check after the
        // command still covers it).
        if std::fs::symlink_metadata(p).is_ok_and(|m| !m.file_type().is_symlink()) {
            push_path(&mut a, "--ro-bind", p, p);
        }
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
            "--cap-drop",
            "ALL",
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
        let dir = tempfile::tempdir().unwrap();
        let wt = dir.path();
        std::fs::write(wt.join(".git"), "gitdir: x\n").unwrap();
        let mut policy = SandboxPolicy::for_worktree(wt);
        policy.network = false;
        let a: Vec<String> = args(&wt.join("src"), &policy)
            .into_iter()
            .map(|s| s.to_string_lossy().into_owned())
            .collect();
        let at = |s: &str| a.iter().rposition(|x| x == s).unwrap();
        let first = |s: &str| a.iter().position(|x| x == s).unwrap();
        assert!(first("--tmpfs") < at("--bind"), "{a:?}");
        assert!(at("--bind") < at("--ro-bind"), "{a:?}");
        let git = wt.join(".git").to_string_lossy().into_owned();
        assert_eq!(a[at("--ro-bind") + 1], git, "{a:?}");
        assert!(
            !a.contains(&wt.join(".clk").to_string_lossy().into_owned()),
            "missing: skipped"
        );
        assert!(a.contains(&"--unshare-net".to_string()));
        assert!(a.windows(2).any(|w| w == ["--cap-drop", "ALL"]));
        assert_eq!(
            a[a.len() - 3..],
            ["--chdir", &*wt.join("src").to_string_lossy(), "--"]
        );
    }

    #[test]
    fn a_checkout_under_tmp_is_shown_again_read_only_before_its_worktree() {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().canonicalize().unwrap();
        let common = repo.join(".git");
        let wt = common.join("clk/worktrees/r1");
        std::fs::create_dir_all(common.join("worktrees/r1")).unwrap();
        std::fs::create_dir_all(&wt).unwrap();
        std::fs::write(common.join("worktrees/r1/commondir"), "../..\n").unwrap();
        std::fs::write(
            wt.join(".git"),
            format!("gitdir: {}\n", common.join("worktrees/r1").display()),
        )
        .unwrap();
        let a: Vec<String> = args(&wt, &SandboxPolicy::for_worktree(&wt))
            .into_iter()
            .map(|s| s.to_string_lossy().into_owned())
            .collect();
        let pos = |s: &str| a.iter().position(|x| x == s).unwrap();
        // The user's checkout, not only its .git, so a write there is refused, not hidden.
        let c = repo.to_string_lossy().into_owned();
        if c.starts_with("/tmp") {
            assert_eq!(a[pos(&c) - 1], "--ro-bind", "{a:?}");
            assert!(pos(&c) < pos(&wt.to_string_lossy()), "{a:?}");
            assert!(pos("/tmp") < pos(&c), "after the tmpfs: {a:?}");
        }
        assert_eq!(git_common_dir(&wt), Some(common));
        assert_eq!(git_common_dir(dir.path()), None);
    }
}
