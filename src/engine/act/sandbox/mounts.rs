//! For the Landlock backend when namespaces are available: a private mount namespace in which
//! the protected paths are bind-mounted read-only and the hidden paths covered, like bubblewrap
//! does, so protection holds while the command runs instead of being restored after it.
//! Landlock then forbids the command any mount or umount, so it cannot undo them.
//!
//! Also here: dropping every capability before exec, so that a command clk runs as root is
//! not root in anything but file ownership (no mknod, no module loading, no remounting).
//!
//! Paths and flags are prepared by the parent; [`apply`] and [`drop_capabilities`] make only
//! async-signal-safe system calls.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// One mount to make.
#[derive(Debug)]
pub enum Mount {
    /// Bind the path onto itself, then remount it read-only keeping `flags` (in a user
    /// namespace the source mount's nosuid/nodev/noexec/atime flags are locked and must stay).
    ReadOnly { path: CString, flags: libc::c_ulong },
    /// An empty tmpfs over a directory.
    HideDir { path: CString },
    /// /dev/null over a file.
    HideFile { path: CString },
}

fn c_path(p: &Path) -> Option<CString> {
    CString::new(p.as_os_str().as_bytes()).ok()
}

/// The flags of the mount holding `path`, as MS_* bits worth keeping on a remount.
fn mount_flags(path: &CString) -> libc::c_ulong {
    // SAFETY: statvfs fills the zeroed struct we pass.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(path.as_ptr(), &mut st) } != 0 {
        return 0;
    }
    let mut flags = 0;
    for (st_bit, ms_bit) in [
        (libc::ST_NOSUID, libc::MS_NOSUID),
        (libc::ST_NODEV, libc::MS_NODEV),
        (libc::ST_NOEXEC, libc::MS_NOEXEC),
        (libc::ST_NOATIME, libc::MS_NOATIME),
        (libc::ST_NODIRATIME, libc::MS_NODIRATIME),
        (libc::ST_RELATIME, libc::MS_RELATIME),
    ] {
        if st.f_flag & st_bit != 0 {
            flags |= ms_bit;
        }
    }
    flags
}

/// The mounts for `read_only` and `hidden`; paths that do not exist, and symlinks (a mount
/// would land on their target), are left out.
pub fn plan(read_only: &[impl AsRef<Path>], hidden: &[impl AsRef<Path>]) -> Vec<Mount> {
    let mut out = Vec::new();
    for p in read_only {
        let p = p.as_ref();
        match std::fs::symlink_metadata(p) {
            Ok(m) if !m.file_type().is_symlink() => {
                if let Some(path) = c_path(p) {
                    let flags = mount_flags(&path);
                    out.push(Mount::ReadOnly { path, flags });
                }
            }
            _ => {}
        }
    }
    for p in hidden {
        let p = p.as_ref();
        let Some(path) = c_path(p) else { continue };
        match std::fs::symlink_metadata(p) {
            Ok(m) if m.is_dir() => out.push(Mount::HideDir { path }),
            Ok(m) if !m.file_type().is_symlink() => out.push(Mount::HideFile { path }),
            _ => {}
        }
    }
    out
}

fn check(r: libc::c_int) -> io::Result<()> {
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// After `unshare(CLONE_NEWNS)`: stop propagation to the host, then make the mounts.
pub fn apply(mounts: &[Mount]) -> io::Result<()> {
    let null = std::ptr::null::<libc::c_char>();
    // SAFETY: mount(2) with NUL-terminated strings prepared by the parent.
    unsafe {
        check(libc::mount(
            null,
            c"/".as_ptr(),
            null,
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        ))?;
        for m in mounts {
            match m {
                Mount::ReadOnly { path, flags } => {
                    check(libc::mount(
                        path.as_ptr(),
                        path.as_ptr(),
                        null,
                        libc::MS_BIND | libc::MS_REC,
                        std::ptr::null(),
                    ))?;
                    check(libc::mount(
                        null,
                        path.as_ptr(),
                        null,
                        libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY | flags,
                        std::ptr::null(),
                    ))?;
                }
                Mount::HideDir { path } => check(libc::mount(
                    c"tmpfs".as_ptr(),
                    path.as_ptr(),
                    c"tmpfs".as_ptr(),
                    libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                    c"size=4k,mode=755".as_ptr().cast(),
                ))?,
                Mount::HideFile { path } => check(libc::mount(
                    c"/dev/null".as_ptr(),
                    path.as_ptr(),
                    null,
                    libc::MS_BIND,
                    std::ptr::null(),
                ))?,
            }
        }
    }
    Ok(())
}

/// Empty the bounding and ambient sets and lock root out of gaining capabilities on exec.
/// Without CAP_SETPCAP (an ordinary user) these fail, and there is nothing to drop anyway.
pub fn drop_capabilities() {
    const SECBIT_NOROOT: libc::c_ulong = 1 << 0;
    const SECBIT_NOROOT_LOCKED: libc::c_ulong = 1 << 1;
    // SAFETY: prctl on this process's own capability state.
    unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL,
            0,
            0,
            0,
        );
        for cap in 0..64 {
            libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0);
        }
        libc::prctl(
            libc::PR_SET_SECUREBITS,
            SECBIT_NOROOT | SECBIT_NOROOT_LOCKED,
            0,
            0,
            0,
        );
    }
}
