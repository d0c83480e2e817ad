//! What runs between fork and exec for the Landlock backend: nothing the command starts may
//! outlive it.
//!
//! The forked child (C) becomes a supervisor and forks the process that will exec the command.
//! With a PID namespace (root, or an unprivileged user namespace) C first unshares one (and a
//! mount namespace for the read-only binds, see [`super::mounts`]), its
//! child D is the namespace's init and forks the command E: when E ends D exits, and the kernel
//! kills everything left in the namespace, `setsid` and double forks included. Without
//! namespaces C makes itself a child subreaper, so orphans are re-parented to it instead of to
//! init, and after the command ends C kills and reaps every child it has until none is left.
//! C leaves the command's process group in that mode, so a runner that kills the group stops
//! the command but not the sweep.
//!
//! Everything here runs in a child of a multi-threaded process: only async-signal-safe system
//! calls, no allocation, no locks. Strings are prepared by the parent.

use std::ffi::{CStr, CString};
use std::io;

use landlock::{RulesetCreated, RulesetStatus};

use super::mounts::{self, Mount};

/// How C holds the command's processes together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    /// `unshare(CLONE_NEWPID)` as we are.
    PidNamespace,
    /// `unshare(CLONE_NEWUSER | CLONE_NEWPID)`, mapping our own ids.
    UserPidNamespace,
    /// A child subreaper and a sweep of /proc.
    Subreaper,
}

/// Everything the child needs, prepared before fork.
pub struct Plan {
    /// clk's pid: the supervisor dies with it, like bubblewrap's `--die-with-parent`.
    pub parent: libc::pid_t,
    pub hold: Hold,
    /// Also unshare the network namespace (network off and namespaces available).
    pub unshare_net: bool,
    pub id_maps: Option<(CString, CString)>,
    /// Read-only binds and hidden paths, made in a new mount namespace (namespace modes only).
    pub mounts: Vec<Mount>,
    pub ruleset: Option<RulesetCreated>,
}

/// "uid uid 1" and "gid gid 1": map our own ids into a new user namespace.
pub fn id_maps() -> Option<(CString, CString)> {
    // SAFETY: getuid/getgid cannot fail.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    Some((
        CString::new(format!("{uid} {uid} 1")).ok()?,
        CString::new(format!("{gid} {gid} 1")).ok()?,
    ))
}

fn last_error() -> io::Error {
    io::Error::last_os_error()
}

fn write_file(path: &CStr, text: &[u8]) -> io::Result<()> {
    // SAFETY: plain system calls on a path and a buffer we own.
    unsafe {
        let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
        if fd < 0 {
            return Err(last_error());
        }
        let n = libc::write(fd, text.as_ptr().cast(), text.len());
        libc::close(fd);
        if n < 0 {
            return Err(last_error());
        }
    }
    Ok(())
}

/// After `unshare(CLONE_NEWUSER)`: deny setgroups, then map our uid and gid.
pub fn write_id_maps(uid_map: &CStr, gid_map: &CStr) -> io::Result<()> {
    write_file(c"/proc/self/setgroups", b"deny")?;
    write_file(c"/proc/self/uid_map", uid_map.to_bytes())?;
    write_file(c"/proc/self/gid_map", gid_map.to_bytes())
}

/// Run in the forked child before exec. Returns only in the process that will exec.
pub fn enter(plan: &mut Plan) -> io::Result<()> {
    let net = if plan.unshare_net {
        libc::CLONE_NEWNET
    } else {
        0
    };
    // SAFETY (whole function): async-signal-safe system calls only; see the module comment.
    unsafe {
        die_with_parent(plan.parent);
        match plan.hold {
            Hold::PidNamespace => {
                if libc::unshare(libc::CLONE_NEWPID | libc::CLONE_NEWNS | net) != 0 {
                    return Err(last_error());
                }
                mounts::apply(&plan.mounts)?;
            }
            Hold::UserPidNamespace => {
                let flags = libc::CLONE_NEWUSER | libc::CLONE_NEWPID | libc::CLONE_NEWNS | net;
                if libc::unshare(flags) != 0 {
                    return Err(last_error());
                }
                if let Some((u, g)) = &plan.id_maps {
                    write_id_maps(u, g)?;
                }
                mounts::apply(&plan.mounts)?;
            }
            Hold::Subreaper => {
                if libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0 {
                    return Err(last_error());
                }
            }
        }
        let supervisor = libc::getpid();
        let child = libc::fork();
        if child < 0 {
            return Err(last_error());
        }
        if child > 0 {
            supervise(child, plan.hold == Hold::Subreaper);
        }
        // Seen from inside a new PID namespace the parent, outside it, has pid 0.
        die_with_parent(if plan.hold == Hold::Subreaper {
            supervisor
        } else {
            0
        });
        if plan.hold != Hold::Subreaper {
            // We are the namespace's init: fork the command and reap until it ends.
            let me = libc::getpid();
            let command = libc::fork();
            if command < 0 {
                return Err(last_error());
            }
            if command > 0 {
                init(command);
            }
            die_with_parent(me);
            // No controlling terminal, so no TIOCSTI into clk's. (The namespace's end still
            // reaches us outside the runner's process group.)
            libc::setsid();
        }
    }
    mounts::drop_capabilities();
    if let Some(ruleset) = plan.ruleset.take() {
        let status = ruleset
            .restrict_self()
            .map_err(|_| io::Error::from_raw_os_error(libc::EPERM))?;
        if status.ruleset == RulesetStatus::NotEnforced {
            return Err(io::Error::from_raw_os_error(libc::ENOSYS));
        }
    }
    Ok(())
}

/// SIGKILL when the parent goes; exit at once if it already went.
unsafe fn die_with_parent(parent: libc::pid_t) {
    // SAFETY: prctl and getppid only change and read this process's own state.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
        if libc::getppid() != parent {
            libc::_exit(1);
        }
    }
}

/// Wait for `pid`, retrying on EINTR; the raw wait status, or None when it is gone.
unsafe fn wait_for(pid: libc::pid_t) -> Option<libc::c_int> {
    let mut status = 0;
    loop {
        // SAFETY: waitpid writes only into `status`.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == pid {
            return Some(status);
        }
        if r < 0 && io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return None;
        }
    }
}

/// The supervisor C: close everything, ignore job-control signals, wait, sweep, exit alike.
unsafe fn supervise(child: libc::pid_t, subreaper: bool) -> ! {
    // SAFETY: async-signal-safe calls on this process's own state.
    unsafe {
        close_all();
        for sig in [
            libc::SIGINT,
            libc::SIGQUIT,
            libc::SIGTERM,
            libc::SIGHUP,
            libc::SIGTSTP,
            libc::SIGTTIN,
            libc::SIGTTOU,
            libc::SIGPIPE,
        ] {
            libc::signal(sig, libc::SIG_IGN);
        }
        if subreaper {
            libc::setpgid(0, libc::getpgid(libc::getppid()));
        }
        let status = wait_for(child);
        if subreaper {
            sweep();
        }
        match status {
            Some(s) if libc::WIFSIGNALED(s) => {
                let sig = libc::WTERMSIG(s);
                libc::signal(sig, libc::SIG_DFL);
                libc::kill(libc::getpid(), sig);
                libc::_exit(128 + sig)
            }
            Some(s) if libc::WIFEXITED(s) => libc::_exit(libc::WEXITSTATUS(s)),
            _ => libc::_exit(1),
        }
    }
}

/// Close every descriptor. Closing std's exec-error pipe lets spawn() return; closing stdio
/// lets the readers see end of file when the command's last process is gone, not when we are.
unsafe fn close_all() {
    // SAFETY: closing descriptors this process owns.
    unsafe {
        if libc::syscall(libc::SYS_close_range, 0u32, u32::MAX, 0u32) != 0 {
            for fd in 0..1024 {
                libc::close(fd);
            }
        }
    }
}

/// The namespace's init D: reap everything until the command ends, then exit with its code.
/// Leaving takes the namespace down with it.
unsafe fn init(command: libc::pid_t) -> ! {
    // SAFETY: see the module comment.
    unsafe { close_all() };
    let mut status = 0;
    loop {
        // SAFETY: waitpid writes only into `status`; _exit ends this process.
        unsafe {
            let r = libc::waitpid(-1, &mut status, 0);
            if r == command {
                if libc::WIFEXITED(status) {
                    libc::_exit(libc::WEXITSTATUS(status));
                }
                // An init cannot re-raise a signal on itself; report it the shell's way.
                libc::_exit(128 + libc::WTERMSIG(status));
            }
            if r < 0 && io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                libc::_exit(1);
            }
        }
    }
}

/// Kill and reap every child until there are none. Orphans of the command were re-parented to
/// us (we are their subreaper), so this reaches `setsid` and double-forked processes too.
unsafe fn sweep() {
    let me = unsafe { libc::getpid() };
    loop {
        // SAFETY: see the module comment.
        unsafe {
            super::proc_scan::kill_children_of(me);
            let mut status = 0;
            let r = libc::waitpid(-1, &mut status, 0);
            if r < 0 && io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                return;
            }
        }
    }
}
