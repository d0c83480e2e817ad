//! Process-count and memory limits, for every backend.
//!
//! Two mechanisms, both set up by the parent and entered between fork and exec:
//! - A cgroup of the command's own (v2, or the v1 `pids` and `memory` hierarchies) when this
//!   process may create one (root, or a delegated subtree). It counts only the command's
//!   processes, also binds root, and lets [`Cgroup`]'s drop kill whatever is still inside.
//! - rlimits: `RLIMIT_AS` (per process) when no cgroup holds memory, and `RLIMIT_NPROC` for a
//!   non-root user. The kernel counts NPROC over all of the user's processes, so the limit is the
//!   user's current count plus `max_processes`; it never binds root, hence the cgroup.

use std::fs;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A cgroup made for one command; removed (after killing what is left in it) on drop.
#[derive(Debug)]
pub struct Cgroup {
    dirs: Vec<PathBuf>,
    /// A `pids.max` was set.
    holds_processes: bool,
    /// A memory limit was set.
    holds_memory: bool,
}

/// What the forked child does to enter the limits. Cheap to clone into a pre_exec closure.
#[derive(Debug, Clone, Default)]
pub struct Entry {
    procs: Vec<Arc<OwnedFd>>,
    nproc: Option<u64>,
    address_space: Option<u64>,
}

/// Which limits really hold for a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Enforced {
    pub processes: bool,
    pub memory: bool,
}

static NEXT: AtomicU64 = AtomicU64::new(0);

/// The limits for one command: what to enter, the cgroup to clean up, what holds.
pub fn prepare(
    max_processes: Option<u32>,
    max_memory_bytes: Option<u64>,
) -> (Entry, Option<Cgroup>, Enforced) {
    let mut entry = Entry {
        address_space: max_memory_bytes,
        ..Entry::default()
    };
    let mut enforced = Enforced {
        processes: false,
        memory: max_memory_bytes.is_some(),
    };
    let cgroup = if max_processes.is_some() || max_memory_bytes.is_some() {
        make_cgroup(max_processes, max_memory_bytes, &mut entry)
    } else {
        None
    };
    if let Some(cg) = &cgroup {
        enforced.processes = cg.holds_processes;
        // The cgroup counts memory really used; an address-space limit on top would break
        // programs that reserve big virtual ranges they never touch (V8's WebAssembly
        // reserves about 10 GiB per instance, so every Node CLI using WASM fails).
        if cg.holds_memory {
            entry.address_space = None;
        }
    }
    // SAFETY: getuid cannot fail.
    let uid = unsafe { libc::getuid() };
    if let (Some(max), true) = (max_processes, uid != 0) {
        entry.nproc = Some(count_processes_of(uid) + u64::from(max));
        enforced.processes = true;
    }
    (entry, cgroup, enforced)
}

impl Entry {
    /// Join the cgroup and set the rlimits. Async-signal-safe.
    pub fn enter(&self) -> io::Result<()> {
        // SAFETY: write and setrlimit only; the fds stay open while `self` lives.
        unsafe {
            for fd in &self.procs {
                if libc::write(fd.as_raw_fd(), b"0".as_ptr().cast(), 1) < 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            for (resource, value) in [
                (libc::RLIMIT_NPROC, self.nproc),
                (libc::RLIMIT_AS, self.address_space),
            ] {
                if let Some(v) = value {
                    let lim = libc::rlimit {
                        rlim_cur: v,
                        rlim_max: v,
                    };
                    if libc::setrlimit(resource, &lim) != 0 {
                        return Err(io::Error::last_os_error());
                    }
                }
            }
        }
        Ok(())
    }
}

/// Processes whose real uid is `uid`, from /proc.
fn count_processes_of(uid: libc::uid_t) -> u64 {
    let Ok(dir) = fs::read_dir("/proc") else {
        return 0;
    };
    let wanted = uid.to_string();
    dir.filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter(|e| {
            fs::read_to_string(e.path().join("status")).is_ok_and(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("Uid:"))
                    .and_then(|rest| rest.split_whitespace().next())
                    == Some(wanted.as_str())
            })
        })
        .count() as u64
}

/// (controllers, path) per line of /proc/self/cgroup.
fn own_cgroups() -> Vec<(String, String)> {
    fs::read_to_string("/proc/self/cgroup")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut parts = l.splitn(3, ':');
            let _id = parts.next()?;
            Some((parts.next()?.to_string(), parts.next()?.to_string()))
        })
        .collect()
}

fn make_cgroup(
    max_processes: Option<u32>,
    max_memory_bytes: Option<u64>,
    entry: &mut Entry,
) -> Option<Cgroup> {
    let name = format!(
        "clk-sandbox-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let root = Path::new("/sys/fs/cgroup");
    let mut cg = Cgroup {
        dirs: Vec::new(),
        holds_processes: false,
        holds_memory: false,
    };
    let mut files: Vec<(String, PathBuf, String)> = Vec::new();
    let own = own_cgroups();
    if root.join("cgroup.controllers").exists() {
        // Unified hierarchy: one directory, both limits, if the parent enabled the controllers.
        if let Some((_, path)) = own.iter().find(|(c, _)| c.is_empty()) {
            let dir = root.join(path.trim_start_matches('/')).join(&name);
            if let Some(n) = max_processes {
                files.push(("pids.max".into(), dir.clone(), n.to_string()));
            }
            if let Some(m) = max_memory_bytes {
                files.push(("memory.max".into(), dir, m.to_string()));
            }
        }
    } else {
        for (controller, file, value) in [
            ("pids", "pids.max", max_processes.map(u64::from)),
            ("memory", "memory.limit_in_bytes", max_memory_bytes),
        ] {
            let (Some(value), Some((_, path))) = (
                value,
                own.iter()
                    .find(|(c, _)| c.split(',').any(|c| c == controller)),
            ) else {
                continue;
            };
            let dir = root
                .join(controller)
                .join(path.trim_start_matches('/'))
                .join(&name);
            files.push((file.into(), dir, value.to_string()));
        }
    }
    let mut dirs: Vec<PathBuf> = files.iter().map(|(_, d, _)| d.clone()).collect();
    dirs.dedup();
    for dir in dirs {
        if fs::create_dir(&dir).is_err() {
            continue;
        }
        let mut written = 0;
        for (file, _, value) in files.iter().filter(|(_, d, _)| d == &dir) {
            if fs::write(dir.join(file), value).is_ok() {
                written += 1;
                cg.holds_processes |= file == "pids.max";
                cg.holds_memory |= file.starts_with("memory.");
            }
        }
        let procs = fs::OpenOptions::new()
            .write(true)
            .open(dir.join("cgroup.procs"));
        match (written, procs) {
            (1.., Ok(f)) => {
                entry.procs.push(Arc::new(OwnedFd::from(f)));
                cg.dirs.push(dir);
            }
            _ => {
                let _ = fs::remove_dir(&dir);
            }
        }
    }
    (!cg.dirs.is_empty()).then_some(cg)
}

impl Cgroup {
    /// Pids still inside, from every directory.
    pub fn members(&self) -> Vec<i32> {
        self.dirs
            .iter()
            .filter_map(|d| fs::read_to_string(d.join("cgroup.procs")).ok())
            .flat_map(|s| {
                s.split_whitespace()
                    .filter_map(|p| p.parse().ok())
                    .collect::<Vec<i32>>()
            })
            .collect()
    }
}

impl Cgroup {
    /// Kill every member, then try to remove the directories once; true when all are gone.
    fn sweep(&mut self) -> bool {
        for pid in self.members() {
            // SAFETY: kill only sends a signal to a member of our own cgroup.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
        self.dirs.retain(|d| fs::remove_dir(d).is_err());
        self.dirs.is_empty()
    }
}

impl Drop for Cgroup {
    /// Members are killed at once; a directory the kernel is still releasing (the dead are
    /// reaped asynchronously) is removed by a background thread, so the caller does not wait.
    fn drop(&mut self) {
        if self.sweep() {
            return;
        }
        let mut rest = Cgroup {
            dirs: std::mem::take(&mut self.dirs),
            holds_processes: false,
            holds_memory: false,
        };
        let _ = std::thread::Builder::new()
            .name("clk-cgroup-cleanup".into())
            .spawn(move || {
                for _ in 0..400 {
                    std::thread::sleep(Duration::from_millis(5));
                    if rest.sweep() {
                        return;
                    }
                }
                // Give up quietly: dropping `rest` with directories left would start again.
                rest.dirs.clear();
            });
    }
}
