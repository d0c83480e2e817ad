//! End-to-end tests of the real `clk` binary's dashboard, driven in tmux the way a person uses
//! it: type, watch the screen, quit, and check the terminal is back in cooked mode.
//!
//! Each test has its own tmux server (`tmux -L <unique>`), polls `capture-pane` against a
//! deadline instead of sleeping, and kills its server when dropped. Tests skip (and say so)
//! when tmux is not installed, and fail instead under `CLK_REQUIRE_TMUX=1` (set by
//! tests/run-all.sh, so a run there cannot pass without them).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const CLK: &str = env!("CARGO_BIN_EXE_clk");

pub(crate) struct Tmux {
    socket: String,
    /// The server's socket file, removed on drop (tmux can leave it behind).
    socket_path: String,
}

impl Tmux {
    pub(crate) fn available() -> bool {
        Command::new("tmux")
            .arg("-V")
            .output()
            .is_ok_and(|o| o.status.success())
    }

    /// A server with one 100x32 window running a plain bash.
    pub(crate) fn start(name: &str) -> Tmux {
        let socket = format!("clk-e2e-{}-{name}", std::process::id());
        let mut t = Tmux {
            socket,
            socket_path: String::new(),
        };
        t.tmux(&[
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            "main",
            "-x",
            "100",
            "-y",
            "32",
            "env",
            "PS1=$ ",
            "TERM=xterm-256color",
            "bash",
            "--norc",
            "--noprofile",
        ]);
        t.socket_path = t
            .tmux(&["display-message", "-p", "#{socket_path}"])
            .trim()
            .to_string();
        // Keys typed before bash shows its prompt are echoed twice and can garble the screen.
        t.wait_prompt(10);
        t
    }

    fn tmux(&self, args: &[&str]) -> String {
        let mut cmd = Command::new("tmux");
        // The server (started by the first call) passes its environment to every shell in it:
        // keep the developer's clk settings and vendor keys out of the dashboards under test.
        for name in crate::support::clk_env_vars() {
            cmd.env_remove(name);
        }
        let out = cmd
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub(crate) fn line(&self, text: &str) {
        self.tmux(&["send-keys", "-t", "main", "-l", text]);
        self.tmux(&["send-keys", "-t", "main", "Enter"]);
    }

    /// Type `text` without pressing Enter.
    pub(crate) fn tmux_literal(&self, text: &str) {
        self.tmux(&["send-keys", "-t", "main", "-l", text]);
    }

    pub(crate) fn key(&self, key: &str) {
        self.tmux(&["send-keys", "-t", "main", key]);
    }

    /// Whether the window heard a bell (tmux marks it even in a detached session).
    pub(crate) fn bell(&self) -> bool {
        self.tmux(&["display-message", "-p", "-t", "main", "#{window_bell_flag}"])
            .trim()
            == "1"
    }

    pub(crate) fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", "main"])
    }

    /// Wait until the screen satisfies `ok`; panic with the screen after `secs`.
    pub(crate) fn wait(&self, what: &str, secs: u64, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let s = self.screen();
            if ok(&s) {
                return s;
            }
            if Instant::now() > deadline {
                panic!("timed out waiting for {what}; the screen was:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub(crate) fn wait_for(&self, text: &str, secs: u64) -> String {
        self.wait(text, secs, |s| s.contains(text))
    }

    /// Wait until the shell prompt is back: the last non-empty line is a bare `$` (capture-pane
    /// drops trailing spaces, so "$ " cannot be matched on an empty prompt line).
    pub(crate) fn wait_prompt(&self, secs: u64) -> String {
        self.wait("the shell prompt", secs, |s| {
            s.lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .is_some_and(|l| l.trim_end() == "$")
        })
    }

    /// The pane's line discipline as `stty -a` shows it, read from outside the pane (so it
    /// works while a program holds the terminal): `icanon` or `-icanon`, `echo` or `-echo`.
    fn tty_modes(&self) -> Vec<String> {
        let tty = self.tmux(&["display-message", "-p", "-t", "main", "#{pane_tty}"]);
        let out = Command::new("stty")
            .args(["-a", "-F", tty.trim()])
            .output()
            .expect("stty runs");
        assert!(out.status.success(), "stty -a -F {tty}: {out:?}");
        String::from_utf8_lossy(&out.stdout)
            .split([' ', ';', '\n'])
            .filter(|w| ["icanon", "-icanon", "echo", "-echo"].contains(w))
            .map(str::to_string)
            .collect()
    }

    /// While a program holds the terminal: raw mode, no echo.
    fn assert_raw(&self) {
        let modes = self.tty_modes();
        assert!(
            modes.contains(&"-icanon".to_string()) && modes.contains(&"-echo".to_string()),
            "not in raw mode: {modes:?}"
        );
    }

    /// After the dashboard left: the shell is back and the terminal is in cooked mode.
    pub(crate) fn assert_cooked(&self) {
        // The output line starts with "tty-mode-42:", which the typed command does not contain.
        self.line(
            "clear; echo \"tty-mode-$((40+2)): $(stty -a | tr ' ;' '\\n\\n' | \
             grep -x -e icanon -e -icanon -e echo -e -echo | tr '\\n' ' ')\"",
        );
        let s = self.wait("the tty modes", 10, |s| {
            s.lines().any(|l| l.starts_with("tty-mode-42:"))
        });
        let line = s
            .lines()
            .find(|l| l.starts_with("tty-mode-42:"))
            .unwrap()
            .to_string();
        let modes: Vec<&str> = line.split_whitespace().skip(1).collect();
        assert!(
            modes.contains(&"icanon") && modes.contains(&"echo"),
            "not in cooked mode with echo: {line}"
        );
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
        if !self.socket_path.is_empty() {
            let _ = std::fs::remove_file(&self.socket_path);
        }
    }
}

/// A fresh project set up with `clk init`.
pub(crate) fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let out = crate::support::clk()
        .arg("init")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

/// A shell-provider agent script: streams a line, takes a moment, answers.
fn agent_script(dir: &Path) -> PathBuf {
    let p = dir.join("agent.sh");
    std::fs::write(
        &p,
        "#!/bin/sh\ncat > /dev/null\necho 'reading the project'\nsleep 1\n\
         printf 'ACTION: write\\nPATH: greeter.py\\nCONTENT:\\ndef hello():\\n    return \"hello\"\\nEND_ACTION\\n\\nCONFIDENCE: 0.7\\nPROGRESS: yes\\n'\n",
    )
    .unwrap();
    let mut perm = std::fs::metadata(&p).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
    std::fs::set_permissions(&p, perm).unwrap();
    p
}

pub(crate) fn launch(t: &Tmux, dir: &Path, shell_command: &str) {
    t.line(&format!(
        "cd '{}' && CLK_SHELL_COMMAND='{shell_command}' CLK_SUPERVISE_MAX_CYCLES=1 {CLK}",
        dir.display()
    ));
}

macro_rules! need_tmux {
    () => {
        if !Tmux::available() {
            if std::env::var("CLK_REQUIRE_TMUX").as_deref() == Ok("1") {
                panic!("tmux is not installed (CLK_REQUIRE_TMUX=1)");
            }
            eprintln!("skipped: tmux is not installed");
            return;
        }
    };
}
pub(crate) use need_tmux;

#[test]
fn an_idea_runs_on_the_shell_provider_then_help_undo_and_quit() {
    need_tmux!();
    let dir = project();
    let script = agent_script(dir.path());
    let t = Tmux::start("idea");
    launch(&t, dir.path(), script.to_str().unwrap());
    t.wait_for("type your idea", 20);
    t.line("Add a hello() function to greeter.py");
    t.wait_for("working", 20);
    t.wait_for("reading the project", 20);
    t.wait("the run to finish", 120, |s| {
        s.contains("next: /loop ralph 5") && s.contains("done")
    });
    t.line("/help");
    t.wait_for("clk commands", 10);
    t.key("Escape");
    t.wait("help to close", 10, |s| !s.contains("clk commands"));
    // /undo shows what it would take back as a diff, not only the files' names.
    t.line("/undo");
    t.wait_for("diff · /undo", 20);
    t.key("G");
    t.wait_for("+def hello():", 10);
    t.key("Escape");
    t.wait_for("/undo confirm to revert", 20);
    t.line("/undo confirm");
    t.wait_for("reverted", 20);
    t.line("/quit");
    t.wait_prompt(10);
    t.assert_cooked();
    assert!(
        !dir.path().join(".clk/state/.tui-active").exists(),
        "a clean exit releases the session lock"
    );
    let log = std::fs::read_to_string(dir.path().join(".clk/logs/session.log")).unwrap();
    assert!(log.contains("[USER] > Add a hello() function"), "{log}");
    assert!(log.contains("=== session end"), "{log}");
}

#[test]
fn abort_kills_a_hanging_provider_and_ctrl_c_asks_before_quitting() {
    need_tmux!();
    let dir = project();
    let secs = 600 + std::process::id() % 997;
    let t = Tmux::start("abort");
    launch(&t, dir.path(), &format!("sleep {secs}"));
    t.wait_for("type your idea", 20);
    t.line("Build something that never finishes");
    t.wait_for("working", 20);
    t.wait_for("/abort", 10);
    let marker = format!("sleep {secs}");
    let running = || {
        Command::new("pgrep")
            .args(["-f", &marker])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while !running() {
        assert!(
            Instant::now() < deadline,
            "the provider process never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    t.line("/abort");
    t.wait_for("aborted", 10);
    let deadline = Instant::now() + Duration::from_secs(5);
    while running() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!running(), "the provider's process is gone");
    t.key("C-c");
    t.wait_for("Quit clk?", 10);
    t.key("n");
    t.wait("the question to go", 10, |s| !s.contains("Quit clk?"));
    t.key("C-c");
    t.wait_for("Quit clk?", 10);
    t.key("y");
    t.wait_prompt(10);
    t.assert_cooked();
}

#[test]
fn a_second_dashboard_is_refused_and_a_crash_is_reported_next_time() {
    need_tmux!();
    let dir = project();
    let t = Tmux::start("lock");
    launch(&t, dir.path(), "");
    t.wait_for("type your idea", 20);
    let lock = dir.path().join(".clk/state/.tui-active");
    let pid: i32 = std::fs::read_to_string(&lock)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // A second dashboard in another window of the same server.
    t.tmux(&["new-window", "-t", "main", "-n", "second"]);
    t.tmux(&[
        "send-keys",
        "-t",
        "main:second",
        "-l",
        &format!("cd '{}' && {CLK}; echo code:$?", dir.path().display()),
    ]);
    t.tmux(&["send-keys", "-t", "main:second", "Enter"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    let second = loop {
        let s = t.tmux(&["capture-pane", "-p", "-t", "main:second"]);
        if s.contains("code:2") || Instant::now() > deadline {
            break s;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        second.contains("another clk dashboard") && second.contains("code:2"),
        "{second}"
    );
    // A headless command that changes the project is refused too, naming the dashboard.
    t.tmux(&[
        "send-keys",
        "-t",
        "main:second",
        "-l",
        &format!("clear; {CLK} --no-tui run; echo code:$?"),
    ]);
    t.tmux(&["send-keys", "-t", "main:second", "Enter"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    let headless = loop {
        let s = t.tmux(&["capture-pane", "-p", "-J", "-t", "main:second"]);
        if s.contains("stop it") || Instant::now() > deadline {
            break s;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        headless.contains(&format!("the clk dashboard (pid {pid}, since"))
            && headless.contains("wait for it or stop it"),
        "{headless}"
    );
    t.tmux(&["kill-window", "-t", "main:second"]);
    // Kill the first without a chance to clean up: the lock stays behind.
    // SAFETY: sending SIGKILL to the dashboard this test started.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    let deadline = Instant::now() + Duration::from_secs(10);
    // SAFETY: signal 0 only asks whether the process still exists.
    while unsafe { libc::kill(pid, 0) } == 0 {
        assert!(Instant::now() < deadline, "the dashboard survived SIGKILL");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(lock.exists(), "a crash leaves the lock");
    // The killed dashboard left its pane in raw mode; start again in a fresh window.
    t.tmux(&[
        "new-window",
        "-t",
        "main",
        "env",
        "PS1=$ ",
        "bash",
        "--norc",
        "--noprofile",
    ]);
    t.wait_prompt(10);
    launch(&t, dir.path(), "");
    t.wait_for("recovered from a crashed session", 20);
    t.wait_for("conversation.jsonl", 5);
    t.line("/quit");
    t.wait_prompt(10);
    t.assert_cooked();
}

#[test]
fn sigterm_restores_the_terminal() {
    need_tmux!();
    let dir = project();
    let t = Tmux::start("term");
    launch(&t, dir.path(), "");
    t.wait_for("type your idea", 20);
    t.assert_raw();
    let pid: i32 = std::fs::read_to_string(dir.path().join(".clk/state/.tui-active"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // SAFETY: sending SIGTERM to the dashboard this test started.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    t.wait_prompt(10);
    t.assert_cooked();
    assert!(!dir.path().join(".clk/state/.tui-active").exists());
}

#[test]
fn clk_with_an_idea_opens_the_dashboard_and_no_tui_stays_headless() {
    need_tmux!();
    let dir = tempfile::tempdir().unwrap();
    let t = Tmux::start("start");
    // A folder clk has not seen: `clk "idea"` sets it up first.
    t.line(&format!(
        "cd '{}' && CLK_SUPERVISE_MAX_CYCLES=1 {CLK} 'Add a hello() function to greeter.py'",
        dir.path().display()
    ));
    t.wait_for("> Add a hello() function to greeter.py", 30);
    t.wait("the run to finish", 120, |s| {
        s.contains("next: /loop ralph 5")
    });
    t.line("/quit");
    t.wait_prompt(10);
    t.assert_cooked();
    t.line("clear");
    let other = tempfile::tempdir().unwrap();
    // Output still goes to the terminal, but CLK_NO_TUI asks for the headless run.
    t.line(&format!(
        "cd '{}' && CLK_NO_TUI=true {CLK} 'Add a hello() function'; echo code:$?",
        other.path().display()
    ));
    // The typed command itself may wrap so that "code:$?" starts a line: wait for a digit.
    let s = t.wait("the headless run", 120, |s| {
        s.lines().any(|l| {
            l.strip_prefix("code:")
                .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
        })
    });
    assert!(
        s.contains("code:0") && s.contains("Rehearsal complete"),
        "{s}"
    );
    assert!(
        !other.path().join(".clk/logs/session.log").exists(),
        "no dashboard ran"
    );
}

/// Run inside tmux by `a_panic_restores_the_terminal`: take the terminal the way the dashboard
/// does, leak the guard (so only the panic hook can put the terminal back), say so by creating
/// `raw` in the folder `CLK_E2E_PANIC` names, wait for `go` there, then panic.
#[test]
#[ignore = "a helper: run by a_panic_restores_the_terminal inside tmux"]
fn helper_take_the_terminal_then_panic() {
    let Some(dir) = std::env::var_os("CLK_E2E_PANIC").map(PathBuf::from) else {
        return;
    };
    let guard = clk::tui::terminal::TerminalGuard::enter().unwrap();
    std::mem::forget(guard);
    std::fs::write(dir.join("raw"), "").unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !dir.join("go").exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("deliberate panic with the terminal in raw mode");
}

#[test]
fn a_panic_restores_the_terminal() {
    need_tmux!();
    let exe = std::env::current_exe().unwrap();
    let signals = tempfile::tempdir().unwrap();
    let t = Tmux::start("panic");
    t.line(&format!(
        "clear; RUST_BACKTRACE=0 CLK_E2E_PANIC='{}' '{}' --ignored --exact \
         suite::tui_tmux::helper_take_the_terminal_then_panic --nocapture --test-threads 1 \
         >/dev/null; echo code:done",
        signals.path().display(),
        exe.display()
    ));
    let deadline = Instant::now() + Duration::from_secs(30);
    while !signals.path().join("raw").exists() {
        assert!(
            Instant::now() < deadline,
            "the helper never took the terminal; the screen was:\n{}",
            t.screen()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // The helper holds the terminal: it must really be raw, or "cooked afterwards" proves nothing.
    t.assert_raw();
    std::fs::write(signals.path().join("go"), "").unwrap();
    let s = t.wait("the helper to end", 30, |s| {
        s.lines().any(|l| l.starts_with("code:done"))
    });
    assert!(
        s.contains("deliberate panic"),
        "the message is readable: {s}"
    );
    t.assert_cooked();
}

#[test]
fn work_typed_while_an_agent_works_is_queued_and_can_be_dropped() {
    need_tmux!();
    let dir = project();
    let secs = 600 + std::process::id() % 991;
    let t = Tmux::start("queue");
    launch(&t, dir.path(), &format!("sleep {secs}"));
    t.wait_for("type your idea", 20);
    t.line("Build something slow");
    t.wait_for("/abort", 20);
    t.line("/run");
    t.wait_for("queued, starts after the current step", 10);
    t.line("/queue");
    t.wait_for("1. run engineering", 10);
    t.line("/queue drop 1");
    t.wait_for("dropped from the queue: run engineering", 10);
    t.line("/abort");
    t.wait_for("aborted", 10);
    t.line("/quit");
    t.wait_prompt(10);
    t.assert_cooked();
}
