//! What the flat bench measures a step with: wall time, CPU time and page faults from
//! `getrusage`, the median of a round's samples, and the spread of several rounds' medians.
//! Page faults and system calls depend on what the code does, not on what else the host runs,
//! so a regression shows in them even when the times wobble.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// What one measured step cost.
#[derive(Clone, Copy, Default)]
pub struct Cost {
    pub wall: Duration,
    pub cpu: Duration,
    /// Minor and major page faults.
    pub faults: u64,
}

impl Cost {
    pub fn minus(self, o: Cost) -> Cost {
        Cost {
            wall: self.wall.saturating_sub(o.wall),
            cpu: self.cpu.saturating_sub(o.cpu),
            faults: self.faults.saturating_sub(o.faults),
        }
    }
}

/// CPU time so far and page faults of this process (`RUSAGE_SELF`, every thread, the mock
/// server's too) or of its waited-for children (`RUSAGE_CHILDREN`).
fn usage(who: libc::c_int) -> (Duration, u64) {
    // SAFETY: getrusage only writes the struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a valid, writable rusage.
    unsafe { libc::getrusage(who, &mut u) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    (
        tv(u.ru_utime) + tv(u.ru_stime),
        (u.ru_minflt + u.ru_majflt) as u64,
    )
}

/// Measures one step of this process, or of the children it waits for.
pub struct Meter {
    who: libc::c_int,
    wall: Instant,
    cpu: Duration,
    faults: u64,
}

impl Meter {
    pub fn start() -> Meter {
        Meter::of(libc::RUSAGE_SELF)
    }

    pub fn children() -> Meter {
        Meter::of(libc::RUSAGE_CHILDREN)
    }

    fn of(who: libc::c_int) -> Meter {
        let (cpu, faults) = usage(who);
        Meter {
            who,
            wall: Instant::now(),
            cpu,
            faults,
        }
    }

    pub fn stop(&self) -> Cost {
        let (cpu, faults) = usage(self.who);
        Cost {
            wall: self.wall.elapsed(),
            cpu: cpu.saturating_sub(self.cpu),
            faults: faults.saturating_sub(self.faults),
        }
    }
}

fn mid<T: Ord + Copy>(mut v: Vec<T>) -> T {
    v.sort();
    v[v.len() / 2]
}

/// Each figure's median over the samples, on its own.
pub fn median(v: &[Cost]) -> Cost {
    Cost {
        wall: mid(v.iter().map(|c| c.wall).collect()),
        cpu: mid(v.iter().map(|c| c.cpu).collect()),
        faults: mid(v.iter().map(|c| c.faults).collect()),
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Several rounds' medians of one row: the median of them, and their lowest and highest.
pub struct Spread {
    pub median: Cost,
    lo: Cost,
    hi: Cost,
}

impl Spread {
    pub fn of(rounds: &[Cost]) -> Spread {
        let lo = |f: fn(&Cost) -> Duration| rounds.iter().map(f).min().unwrap_or_default();
        let hi = |f: fn(&Cost) -> Duration| rounds.iter().map(f).max().unwrap_or_default();
        Spread {
            median: median(rounds),
            lo: Cost {
                wall: lo(|c| c.wall),
                cpu: lo(|c| c.cpu),
                faults: rounds.iter().map(|c| c.faults).min().unwrap_or_default(),
            },
            hi: Cost {
                wall: hi(|c| c.wall),
                cpu: hi(|c| c.cpu),
                faults: rounds.iter().map(|c| c.faults).max().unwrap_or_default(),
            },
        }
    }

    /// `2.10 (1.95–2.40)`: one figure's median in ms with the rounds' range.
    fn range(&self, f: fn(&Cost) -> Duration) -> String {
        format!(
            "{:.2} ({:.2}–{:.2})",
            ms(f(&self.median)),
            ms(f(&self.lo)),
            ms(f(&self.hi))
        )
    }

    pub fn wall(&self) -> String {
        self.range(|c| c.wall)
    }

    pub fn cpu(&self) -> String {
        self.range(|c| c.cpu)
    }

    pub fn faults(&self) -> String {
        format!("{}", self.median.faults)
    }

    /// Whether the median of the rounds meets a goal in ms, on wall time.
    pub fn meets(&self, goal_ms: f64) -> bool {
        ms(self.median.wall) <= goal_ms
    }
}

/// System calls of one run of `exe args` in `dir`, children included, counted by strace; `None`
/// when strace is not installed.
pub fn syscalls(exe: &Path, dir: &Path, args: &[&str]) -> Option<u64> {
    let out = tempfile::NamedTempFile::new().ok()?;
    let st = Command::new("strace")
        .args(["-f", "-c", "-o"])
        .arg(out.path())
        .arg(exe)
        .args(args)
        .current_dir(dir)
        .env_remove("CLK_PROVIDER")
        .env("CLK_NO_TUI", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .ok()?;
    if !st.success() {
        return None;
    }
    // The last line: `100.00    0.001234    12    345    6 total`, calls in the fourth column.
    let text = std::fs::read_to_string(out.path()).ok()?;
    let total = text
        .lines()
        .rev()
        .find(|l| l.trim_end().ends_with("total"))?;
    total.split_whitespace().nth(3)?.parse().ok()
}

/// A warning when `dir` sits on ext4 without a journal. There the kernel, when it hands out a
/// new inode, steps over every inode freed in the last minutes (`recently_deleted` in
/// `fs/ext4/ialloc.c`), so for several minutes after many files are deleted (an earlier run
/// of this bench, a test run, `cargo clean`) each file created costs a scan. A dispatch creates
/// about a dozen files, and its rows can double. `perf record` shows the time in
/// `recently_deleted`, under `ext4_create`.
pub fn filesystem_warning(dir: &Path) -> Option<String> {
    let dir = dir.canonicalize().ok()?;
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    // Fields: id parent major:minor root mount-point options ... - fstype source super-options.
    let (point, fstype, source) = mounts
        .lines()
        .filter_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let point = left.split(' ').nth(4)?;
            let mut r = right.split(' ');
            Some((point, r.next()?, r.next()?))
        })
        .filter(|(point, ..)| dir.starts_with(point))
        .max_by_key(|(point, ..)| point.len())?;
    if fstype != "ext4" {
        return None;
    }
    let dev = Path::new(source)
        .file_name()?
        .to_string_lossy()
        .into_owned();
    let journal = std::fs::read_to_string(format!("/sys/fs/ext4/{dev}/journal_task")).ok()?;
    (journal.trim() == "<none>").then(|| {
        format!(
            "note: {point} is ext4 without a journal: for minutes after many files are deleted, \
             each new file costs a scan of the freed inodes, and the dispatch rows can double. \
             Run this after a quiet spell: no test run, no earlier run of this bench, no \
             cargo clean in the last 15 minutes."
        )
    })
}

/// Mean time to create an empty file in a new folder under `dir` (200 of them), in
/// microseconds: how much the file system itself adds to each file a dispatch writes right now.
pub fn new_file_micros(dir: &Path) -> Option<f64> {
    let d = tempfile::tempdir_in(dir).ok()?;
    let n = 200;
    let t = Instant::now();
    for i in 0..n {
        std::fs::File::create(d.path().join(format!("f{i}"))).ok()?;
    }
    Some(t.elapsed().as_secs_f64() * 1e6 / f64::from(n))
}

/// One line with [`new_file_micros`] here and in `/dev/shm` (memory), when there is one.
pub fn new_file_line(dir: &Path) -> String {
    let here = new_file_micros(dir).map_or("?".into(), |u| format!("{u:.0} µs"));
    match new_file_micros(Path::new("/dev/shm")) {
        Some(mem) => format!("a new file costs {here} here now ({mem:.0} µs in /dev/shm)"),
        None => format!("a new file costs {here} here now"),
    }
}
