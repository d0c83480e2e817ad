//! Processes: nothing outlives a command, fork bombs and memory are bounded, no capabilities,
//! no signals to processes outside.

use std::fs;
use std::time::{Duration, Instant};

use clk::engine::act::sandbox;

use super::support::*;

/// The policy without limits: no cgroup, whose cleanup would kill survivors anyway, so the
/// backend's own containment (PID namespace or subreaper) is what is tested.
fn without_limits(fx: &Fx, kind: Kind) -> sandbox::SandboxPolicy {
    let mut p = fx.policy(kind);
    p.max_processes = None;
    p.max_memory_bytes = None;
    p
}

/// Background processes of every kind would touch files in the worktree (where the sandbox
/// allows writes) two seconds later; none of them may still be alive to do it.
fn nothing_outlives(kind: Kind) {
    if !usable(kind) {
        return;
    }
    let fx = fixture();
    let spawn = "setsid sh -c 'sleep 2; touch {wt}/OUT_setsid' >/dev/null 2>&1 &
        nohup sh -c 'sleep 2; touch {wt}/OUT_nohup' >/dev/null 2>&1 &
        ( ( sleep 2; touch {wt}/OUT_double ) & ) &
        setsid sh -c 'trap \"\" HUP INT TERM; sleep 2; touch {wt}/OUT_trap' >/dev/null 2>&1 &
        setsid -f sh -c 'sleep 2; touch {wt}/OUT_fork' >/dev/null 2>&1";
    let exited = run(
        kind,
        &without_limits(&fx, kind),
        &fx.wt,
        &fx.script(spawn),
        SHORT,
    );
    assert!(exited.status.is_some(), "{}: {}", kind.name, exited.stderr);
    let killed_script = fx.script(&format!("{}\nsleep 30", spawn.replace("OUT_", "KILLED_")));
    let killed = run(
        kind,
        &without_limits(&fx, kind),
        &fx.wt,
        &killed_script,
        Duration::from_millis(500),
    );
    assert!(
        killed.status.is_none(),
        "{}: the command should have been killed: {:?} {}",
        kind.name,
        killed.status,
        killed.stderr
    );
    std::thread::sleep(Duration::from_secs(3));
    let left: Vec<_> = fs::read_dir(&fx.wt)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("OUT_") || n.starts_with("KILLED_"))
        .collect();
    assert!(
        left.is_empty(),
        "{}: survived and wrote {left:?}",
        kind.name
    );
}

#[test]
fn nothing_outlives_bubblewrap() {
    nothing_outlives(BWRAP);
}

#[test]
fn nothing_outlives_landlock() {
    nothing_outlives(LANDLOCK);
}

#[test]
fn nothing_outlives_landlock_subreaper() {
    nothing_outlives(SUBREAPER);
}

/// Processes still running whose command line holds `marker`.
fn processes_with(marker: &str) -> usize {
    fs::read_dir("/proc")
        .unwrap()
        .filter_map(Result::ok)
        .filter_map(|e| fs::read(e.path().join("cmdline")).ok())
        .filter(|c| String::from_utf8_lossy(c).contains(marker))
        .count()
}

#[test]
fn fork_bombs_are_bounded() {
    for kind in ALL.into_iter().filter(|k| usable(*k)) {
        let fx = fixture();
        let mut policy = fx.policy(kind);
        policy.max_processes = Some(40);
        let enforced = sandbox::command(kind.backend, "true", &[], &fx.wt, &policy)
            .unwrap()
            .guard
            .enforced();
        if !enforced.processes {
            assert!(std::env::var("CLK_REQUIRE_SANDBOX").as_deref() != Ok("1"));
            eprintln!("SKIPPED {}: no process limit can be set here", kind.name);
            continue;
        }
        let many = "i=0; while [ $i -lt 400 ]; do sleep 20 & i=$((i+1)); done; wait";
        let ran = run(kind, &policy, &fx.wt, many, SHORT);
        assert!(
            ran.status.is_some_and(|s| !s.success()),
            "{}: {}",
            kind.name,
            ran.stderr
        );
        let marker = format!("clkbomb{}x{}", std::process::id(), kind.name.len());
        let bomb = format!("b() {{ b | b & }}; b; sleep 1; : {marker}");
        let started = Instant::now();
        let ran = run(kind, &policy, &fx.wt, &bomb, SHORT);
        assert!(ran.status.is_some(), "{}: the bomb hung", kind.name);
        assert!(started.elapsed() < SHORT);
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(
            processes_with(&marker),
            0,
            "{}: bomb processes survived",
            kind.name
        );
    }
}

#[test]
fn memory_limit_stops_a_big_allocation() {
    for kind in ALL.into_iter().filter(|k| usable(*k)) {
        let fx = fixture();
        let mut policy = fx.policy(kind);
        policy.max_memory_bytes = Some(256 << 20);
        let script = "awk 'BEGIN { s = sprintf(\"%600000000s\", \"\"); print length(s) }'";
        let ran = run(kind, &policy, &fx.wt, script, SHORT);
        assert!(
            ran.status.is_some_and(|s| !s.success()),
            "{}: {}",
            kind.name,
            ran.stdout
        );
    }
}

#[test]
fn commands_have_no_capabilities_and_cannot_signal_outside() {
    for kind in ALL.into_iter().filter(|k| usable(*k)) {
        let fx = fixture();
        let mut victim = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let script = format!(
            "kill -9 {} 2>/dev/null; grep CapEff /proc/self/status",
            victim.id()
        );
        let ran = run(kind, &fx.policy(kind), &fx.wt, &script, SHORT);
        assert!(
            ran.stdout.contains("CapEff:\t0000000000000000"),
            "{}: {}",
            kind.name,
            ran.stdout
        );
        assert!(
            victim.try_wait().unwrap().is_none(),
            "{}: killed a process outside",
            kind.name
        );
        let _ = victim.kill();
        let _ = victim.wait();
    }
}

/// The way src/engine/process.rs runs a child (tokio, its own process group, killed as a group
/// at the deadline, kill_on_drop): nothing the command started survives the kill.
#[test]
fn a_tokio_runner_that_kills_the_group_leaves_nothing() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let fx = fixture();
    for kind in ALL.into_iter().filter(|k| usable(*k)) {
        let marker = fx.wt.join(format!("TOKIO_{}", kind.name));
        let script = format!(
            "setsid sh -c 'sleep 2; touch {0}' >/dev/null 2>&1 & echo started; sleep 30",
            marker.display()
        );
        let args = ["-c".to_string(), script];
        let policy = without_limits(&fx, kind);
        let sb = sandbox::command(kind.backend, "sh", &args, &fx.wt, &policy).unwrap();
        let (mut cmd, guard) = sb.into_tokio();
        cmd.stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        rt.block_on(async {
            use tokio::io::AsyncBufReadExt;
            let mut child = cmd.spawn().unwrap();
            let pid = child.id().unwrap() as i32;
            let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
            assert_eq!(lines.next_line().await.unwrap().as_deref(), Some("started"));
            let waited = tokio::time::timeout(Duration::from_millis(300), child.wait()).await;
            assert!(waited.is_err(), "{}: sleep 30 ended early", kind.name);
            // SAFETY: a signal to the group this test started.
            unsafe { libc::killpg(pid, libc::SIGKILL) };
            child.wait().await.unwrap();
        });
        guard.finish().unwrap();
    }
    std::thread::sleep(Duration::from_secs(3));
    let left: Vec<_> = fs::read_dir(&fx.wt)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("TOKIO_"))
        .collect();
    assert!(left.is_empty(), "survivors wrote {left:?}");
}

/// A terminal clk's user types in (a pty here) cannot be written to or driven by its path: no
/// text, no TIOCSTI keystrokes.
#[test]
fn a_terminal_cannot_be_reached_by_path() {
    let (mut master, mut slave) = (0, 0);
    // SAFETY: openpty fills the two descriptors; name, termios and winsize may be null.
    let r = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(r, 0);
    let name = fs::read_link(format!("/proc/self/fd/{slave}")).unwrap();
    // SAFETY: O_NONBLOCK on our own descriptor, so reading an empty pty returns at once.
    unsafe { libc::fcntl(master, libc::F_SETFL, libc::O_NONBLOCK) };
    let fx = fixture();
    let script = format!("echo INJECTED > {0}; printf INJECTED > {0}", name.display());
    for kind in ALL.into_iter().filter(|k| usable(*k)) {
        run(kind, &fx.policy(kind), &fx.wt, &script, SHORT);
        let mut buf = [0u8; 256];
        // SAFETY: reads into our buffer from our descriptor.
        let n = unsafe { libc::read(master, buf.as_mut_ptr().cast(), buf.len()) };
        let got = String::from_utf8_lossy(&buf[..n.max(0) as usize]).into_owned();
        assert!(
            !got.contains("INJECTED"),
            "{}: wrote to {name:?}",
            kind.name
        );
    }
    // SAFETY: closing the descriptors openpty gave us.
    unsafe {
        libc::close(master);
        libc::close(slave);
    }
}
