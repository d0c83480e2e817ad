//! Helpers for tests/sandbox.rs: the backends to try, a fixture with a main repository and a
//! worktree, and a runner with a deadline.

use std::fs;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use clk::engine::act::sandbox::{self, Backend, Containment, SandboxError, SandboxPolicy};

#[derive(Clone, Copy, Debug)]
pub struct Kind {
    pub name: &'static str,
    pub backend: Backend,
    pub containment: Containment,
}

pub const BWRAP: Kind = Kind {
    name: "bubblewrap",
    backend: Backend::Bubblewrap,
    containment: Containment::Auto,
};
pub const LANDLOCK: Kind = Kind {
    name: "landlock",
    backend: Backend::Landlock,
    containment: Containment::Auto,
};
pub const SUBREAPER: Kind = Kind {
    name: "landlock+subreaper",
    backend: Backend::Landlock,
    containment: Containment::Subreaper,
};
pub const ALL: [Kind; 3] = [BWRAP, LANDLOCK, SUBREAPER];

pub fn usable(kind: Kind) -> bool {
    match kind.backend.check() {
        Ok(()) => true,
        Err(e) if std::env::var("CLK_REQUIRE_SANDBOX").as_deref() == Ok("1") => {
            panic!("{}: required by CLK_REQUIRE_SANDBOX=1: {e}", kind.name)
        }
        Err(e) => {
            eprintln!("SKIPPED {}: {e}", kind.name);
            false
        }
    }
}

/// A main repository with a `.git/config`, a worktree beside it with a `.git` pointer and
/// `.clk/config`, and a folder outside both.
pub struct Fx {
    _top: tempfile::TempDir,
    pub main: PathBuf,
    pub wt: PathBuf,
    pub outside: PathBuf,
}

pub const POINTER: &str = "gitdir: ../main/.git/worktrees/wt\n";
pub const GIT_CONFIG: &str = "[core]\n\tbare = false\n";
pub const CLK_CONFIG: &str = "caps: 5\n";

pub fn fixture() -> Fx {
    let top = tempfile::tempdir().unwrap();
    let main = top.path().join("main");
    let wt = top.path().join("wt");
    let outside = top.path().join("outside");
    fs::create_dir_all(main.join(".git/worktrees/wt")).unwrap();
    fs::write(main.join(".git/config"), GIT_CONFIG).unwrap();
    fs::create_dir_all(wt.join(".clk")).unwrap();
    fs::write(wt.join(".git"), POINTER).unwrap();
    fs::write(wt.join(".clk/config"), CLK_CONFIG).unwrap();
    fs::create_dir_all(&outside).unwrap();
    Fx {
        _top: top,
        main,
        wt,
        outside,
    }
}

impl Fx {
    pub fn policy(&self, kind: Kind) -> SandboxPolicy {
        let mut p = SandboxPolicy::for_worktree(&self.wt);
        p.containment = kind.containment;
        p
    }

    /// Fill in {wt}, {main}, {outside}.
    pub fn script(&self, s: &str) -> String {
        s.replace("{wt}", &self.wt.to_string_lossy())
            .replace("{main}", &self.main.to_string_lossy())
            .replace("{outside}", &self.outside.to_string_lossy())
    }
}

pub struct Ran {
    /// None: killed at the deadline.
    pub status: Option<ExitStatus>,
    pub stdout: String,
    pub stderr: String,
    pub finish: Result<(), SandboxError>,
}

pub fn reader(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_string(&mut s);
        }
        s
    })
}

/// `sh -c script` in the worktree; its process group is killed after `limit`.
pub fn run(kind: Kind, policy: &SandboxPolicy, cwd: &Path, script: &str, limit: Duration) -> Ran {
    let args = ["-c".to_string(), script.to_string()];
    let sb = sandbox::command(kind.backend, "sh", &args, cwd, policy).unwrap();
    let mut cmd = sb.command;
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = cmd.spawn().unwrap();
    let (out, err) = (reader(child.stdout.take()), reader(child.stderr.take()));
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if Instant::now() > deadline {
            // SAFETY: a signal to the group this test started.
            unsafe { libc::killpg(child.id() as i32, libc::SIGKILL) };
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let finish = sb.guard.finish();
    Ran {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
        finish,
    }
}

pub const SHORT: Duration = Duration::from_secs(20);
