//! Finding a process's children by reading /proc, without allocating: the subreaper sweep runs
//! between fork and exec, where only async-signal-safe calls are allowed. (Kernels built
//! without `CONFIG_PROC_CHILDREN` have no `/proc/PID/task/TID/children`, so each
//! `/proc/PID/stat` is read for its parent pid.)

/// Send SIGKILL to every process whose parent is `parent`; how many were found.
///
/// # Safety
/// Only system calls; safe to call between fork and exec.
pub unsafe fn kill_children_of(parent: libc::pid_t) -> usize {
    let mut found = 0;
    // SAFETY: open/getdents64/close on a directory fd we own, into a stack buffer.
    unsafe {
        let dir = libc::open(
            c"/proc".as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        );
        if dir < 0 {
            return 0;
        }
        let mut buf = [0u8; 8192];
        loop {
            let n = libc::syscall(libc::SYS_getdents64, dir, buf.as_mut_ptr(), buf.len());
            if n <= 0 {
                break;
            }
            let n = n as usize;
            let mut off = 0;
            // struct linux_dirent64 { u64 ino; i64 off; u16 reclen; u8 type; char name[]; }
            while off + 19 <= n {
                let reclen = u16::from_ne_bytes([buf[off + 16], buf[off + 17]]) as usize;
                if reclen == 0 || off + reclen > n {
                    break;
                }
                let name = &buf[off + 19..off + reclen];
                if let Some(pid) = parse_pid(name) {
                    if parent_of(pid) == Some(parent) {
                        libc::kill(pid, libc::SIGKILL);
                        found += 1;
                    }
                }
                off += reclen;
            }
        }
        libc::close(dir);
    }
    found
}

/// A NUL-terminated run of ASCII digits as a pid.
fn parse_pid(name: &[u8]) -> Option<libc::pid_t> {
    let mut pid: libc::pid_t = 0;
    let mut digits = 0;
    for &b in name {
        match b {
            0 => break,
            b'0'..=b'9' => {
                pid = pid
                    .checked_mul(10)?
                    .checked_add(libc::pid_t::from(b - b'0'))?;
                digits += 1;
            }
            _ => return None,
        }
    }
    (digits > 0).then_some(pid)
}

/// Write "/proc/<pid>/stat\0" into `out`; the filled length.
fn stat_path(pid: libc::pid_t, out: &mut [u8; 32]) -> usize {
    let prefix = b"/proc/";
    out[..prefix.len()].copy_from_slice(prefix);
    let mut len = prefix.len();
    let mut digits = [0u8; 12];
    let mut n = pid.unsigned_abs();
    let mut d = 0;
    loop {
        digits[d] = b'0' + (n % 10) as u8;
        d += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    while d > 0 {
        d -= 1;
        out[len] = digits[d];
        len += 1;
    }
    for &b in b"/stat\0" {
        out[len] = b;
        len += 1;
    }
    len
}

/// The parent pid from a stat line: the fourth field, counted after the last ')' because the
/// command name in parentheses may itself hold spaces and parentheses.
fn ppid_from_stat(stat: &[u8]) -> Option<libc::pid_t> {
    let close = stat.iter().rposition(|&b| b == b')')?;
    let mut fields = stat[close + 1..]
        .split(|&b| b == b' ')
        .filter(|f| !f.is_empty());
    let _state = fields.next()?;
    let ppid = fields.next()?;
    let mut with_nul = [0u8; 16];
    let len = ppid.len().min(15);
    with_nul[..len].copy_from_slice(&ppid[..len]);
    parse_pid(&with_nul)
}

fn parent_of(pid: libc::pid_t) -> Option<libc::pid_t> {
    let mut path = [0u8; 32];
    stat_path(pid, &mut path);
    let mut buf = [0u8; 512];
    // SAFETY: open/read/close into a stack buffer; the path is NUL-terminated above.
    let n = unsafe {
        let fd = libc::open(path.as_ptr().cast(), libc::O_RDONLY | libc::O_CLOEXEC);
        if fd < 0 {
            return None;
        }
        let n = libc::read(fd, buf.as_mut_ptr().cast(), buf.len());
        libc::close(fd);
        n
    };
    if n <= 0 {
        return None;
    }
    ppid_from_stat(&buf[..n as usize])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_parent_after_an_awkward_name() {
        assert_eq!(ppid_from_stat(b"42 (a) b (c) S 17 42 42 0"), Some(17));
        assert_eq!(ppid_from_stat(b"42 (sh) R 1 42"), Some(1));
        assert_eq!(ppid_from_stat(b"garbage"), None);
    }

    #[test]
    fn pids_and_paths() {
        assert_eq!(parse_pid(b"123\0junk"), Some(123));
        assert_eq!(parse_pid(b"self\0"), None);
        assert_eq!(parse_pid(b"\0"), None);
        let mut out = [0u8; 32];
        let len = stat_path(4057, &mut out);
        assert_eq!(&out[..len], b"/proc/4057/stat\0");
    }

    #[test]
    fn finds_this_process_as_a_child_of_its_parent() {
        let me = std::process::id() as libc::pid_t;
        // SAFETY: getppid cannot fail.
        let parent = unsafe { libc::getppid() };
        assert_eq!(parent_of(me), Some(parent));
    }
}
