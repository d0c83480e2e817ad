//! The OS sandbox, tried as a hostile command would, on every backend this machine has:
//! bubblewrap, Landlock (PID namespace) and Landlock with the subreaper fallback. A missing
//! backend is skipped with a message, or fails the test under CLK_REQUIRE_SANDBOX=1.

#[path = "sandbox/support.rs"]
mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clk::engine::act::sandbox::{self, Backend, Containment, env};
use support::*;

#[test]
fn writes_outside_the_worktree_are_refused() {
    let probe = "/root/clk-sandbox-probe.txt";
    let attacks: &[(&str, &str)] = &[
        ("echo x > {outside}/abs.txt", "{outside}/abs.txt"),
        ("echo x > ../outside/dotdot.txt", "{outside}/dotdot.txt"),
        ("cd .. && echo x > outside/cd.txt", "{outside}/cd.txt"),
        (
            "ln -s {outside} l && echo x > l/sym.txt",
            "{outside}/sym.txt",
        ),
        ("echo x > {probe}", "{probe}"),
        ("echo x > /etc/clk-sandbox-probe", "/etc/clk-sandbox-probe"),
        (
            "echo x > /var/tmp/clk-sandbox-probe",
            "/var/tmp/clk-sandbox-probe",
        ),
    ];
    let kept: &[&str] = &[
        "echo x >> {main}/.git/config",
        "ln -s {main}/.git/config c && echo x >> c",
        "ln {main}/.git/config h; echo x >> h",
        "cd {main}/.git && echo x > config",
        "echo x >> .clk/config",
        "cd .clk && echo x > config",
        "rm -rf .clk; mkdir .clk; echo x > .clk/config",
        "mv .clk moved; mkdir .clk && echo x > .clk/config",
        "echo 'gitdir: /tmp/evil' > .git",
        "rm -f .git; echo 'gitdir: /tmp/evil' > .git",
        "ln -sf /tmp/evil .git",
    ];
    for kind in ALL.into_iter().filter(|k| usable(*k)) {
        let fx = fixture();
        let _ = fs::remove_file(probe);
        for (script, target) in attacks {
            let script = fx.script(script).replace("{probe}", probe);
            run(kind, &fx.policy(kind), &fx.wt, &script, SHORT);
            let target = fx.script(target).replace("{probe}", probe);
            assert!(!Path::new(&target).exists(), "{}: {script}", kind.name);
        }
        for script in kept {
            let ran = run(kind, &fx.policy(kind), &fx.wt, &fx.script(script), SHORT);
            let same = |p: PathBuf, text: &str| fs::read_to_string(p).unwrap_or_default() == text;
            assert!(
                same(fx.main.join(".git/config"), GIT_CONFIG),
                "{}: {script}",
                kind.name
            );
            assert!(same(fx.wt.join(".git"), POINTER), "{}: {script}", kind.name);
            assert!(
                same(fx.wt.join(".clk/config"), CLK_CONFIG),
                "{}: {script}",
                kind.name
            );
            if kind.backend == Backend::Bubblewrap {
                assert!(
                    ran.finish.is_ok(),
                    "{}: {script}: {:?}",
                    kind.name,
                    ran.finish
                );
            }
        }
    }
}

#[test]
fn writes_inside_the_worktree_and_tmp_succeed() {
    for kind in ALL.into_iter().filter(|k| usable(*k)) {
        let fx = fixture();
        let script = "echo a > new.txt && mkdir -p sub/deep && echo b > sub/deep/f \
                      && mv new.txt sub/moved.txt && echo t > \"$TMPDIR/t\" && cat \"$TMPDIR/t\" \
                      && ls .git .clk >/dev/null && echo done";
        let ran = run(kind, &fx.policy(kind), &fx.wt, script, SHORT);
        assert!(
            ran.status.is_some_and(|s| s.success()),
            "{}: {}",
            kind.name,
            ran.stderr
        );
        assert_eq!(ran.stdout, "t\ndone\n", "{}", kind.name);
        assert!(fx.wt.join("sub/moved.txt").exists() && fx.wt.join("sub/deep/f").exists());
        assert!(ran.finish.is_ok(), "{}: {:?}", kind.name, ran.finish);
    }
}

#[test]
fn tmp_is_private() {
    for kind in ALL.into_iter().filter(|k| usable(*k)) {
        let fx = fixture();
        let name = format!("clk-sandbox-private-{}", std::process::id());
        let host_file = std::env::temp_dir().join(format!("{name}-host"));
        fs::write(&host_file, "host").unwrap();
        let script = format!(
            "echo s > \"$TMPDIR/{name}\" && echo s > /tmp/{name}-abs 2>/dev/null; \
             echo \"$TMPDIR\"; test -e /tmp/{name}-host && echo host-visible; true"
        );
        let ran = run(kind, &fx.policy(kind), &fx.wt, &script, SHORT);
        assert!(
            ran.status.is_some_and(|s| s.success()),
            "{}: {}",
            kind.name,
            ran.stderr
        );
        let tmpdir = ran.stdout.lines().next().unwrap_or_default().to_string();
        assert!(
            !Path::new(&tmpdir).join(&name).exists(),
            "{}: {tmpdir}",
            kind.name
        );
        assert!(
            !std::env::temp_dir().join(format!("{name}-abs")).exists(),
            "{}",
            kind.name
        );
        if kind.backend == Backend::Bubblewrap {
            assert!(
                !ran.stdout.contains("host-visible"),
                "the host's /tmp is not shown"
            );
        }
        let _ = fs::remove_file(host_file);
    }
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
    let exited = run(kind, &fx.policy(kind), &fx.wt, &fx.script(spawn), SHORT);
    assert!(exited.status.is_some(), "{}: {}", kind.name, exited.stderr);
    let killed_script = fx.script(&format!("{}\nsleep 30", spawn.replace("OUT_", "KILLED_")));
    let killed = run(
        kind,
        &fx.policy(kind),
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

#[test]
fn secrets_do_not_reach_commands() {
    let secrets = [
        ("ANTHROPIC_API_KEY", "sk-ant-sandbox-test-aaaaaaaaaaaa"),
        ("OPENAI_API_KEY", "sk-sandbox-test-bbbbbbbbbbbbbbbb"),
        ("GITHUB_TOKEN", "ghp_sandboxtestcccccccccccccccccccc"),
        ("AWS_SECRET_ACCESS_KEY", "sandbox-test-dddddddd"),
        ("CARGO_REGISTRY_TOKEN", "sandbox-test-eeeeeeee"),
        ("MY_SESSION", "sandbox-test-ffffffff"),
    ];
    let parent: Vec<(String, String)> = std::env::vars()
        .chain(secrets.iter().map(|(k, v)| (k.to_string(), v.to_string())))
        .collect();
    // The shell sets these itself.
    let shell_own = ["PWD", "OLDPWD", "SHLVL", "_"];
    let not_allowed: Vec<String> = std::env::vars()
        .map(|(k, _)| k)
        .filter(|k| !env::allowed(std::env::vars()).contains_key(k))
        .filter(|k| !shell_own.contains(&k.as_str()))
        .collect();
    for kind in [BWRAP, LANDLOCK, SUBREAPER]
        .into_iter()
        .filter(|k| usable(*k))
        .chain([Kind {
            name: "off",
            backend: Backend::Off,
            containment: Containment::Auto,
        }])
    {
        let fx = fixture();
        let mut policy = fx.policy(kind);
        policy.env = env::allowed(parent.clone());
        let ran = run(kind, &policy, &fx.wt, "env", SHORT);
        for (name, value) in secrets {
            assert!(
                !ran.stdout.contains(name) && !ran.stdout.contains(value),
                "{}",
                kind.name
            );
        }
        for name in &not_allowed {
            assert!(
                !ran.stdout.contains(&format!("\n{name}=")),
                "{}: {name}",
                kind.name
            );
        }
        assert!(
            ran.stdout.contains("PATH=") && ran.stdout.contains("HOME="),
            "{}",
            kind.name
        );

        policy.env = env::for_provider(parent.clone(), &["ANTHROPIC_API_KEY"]);
        let ran = run(kind, &policy, &fx.wt, "env", SHORT);
        assert!(
            ran.stdout.contains("ANTHROPIC_API_KEY=sk-ant-sandbox"),
            "{}",
            kind.name
        );
        assert!(!ran.stdout.contains("OPENAI_API_KEY"), "{}", kind.name);
    }
}

#[test]
fn network_off_blocks_loopback_tcp() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let script = format!("exec bash -c 'exec 3<>/dev/tcp/127.0.0.1/{port}' 2>/dev/null");
    for kind in ALL.into_iter().filter(|k| usable(*k)) {
        let fx = fixture();
        let mut policy = fx.policy(kind);
        let on = run(kind, &policy, &fx.wt, &script, SHORT);
        assert!(
            on.status.is_some_and(|s| s.success()),
            "{}: network on",
            kind.name
        );
        policy.network = false;
        let off = run(kind, &policy, &fx.wt, &script, SHORT);
        assert!(
            off.status.is_some_and(|s| !s.success()),
            "{}: network off",
            kind.name
        );
    }
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
fn detect_names_a_backend_or_the_fix() {
    match sandbox::detect() {
        Ok(b) => assert!(!b.describe().is_empty()),
        Err(e) => assert!(e.to_string().contains("apt-get install bubblewrap")),
    }
    if usable(BWRAP) {
        assert!(Backend::Bubblewrap.describe().starts_with("bubblewrap "));
    }
    if usable(LANDLOCK) {
        assert!(Backend::Landlock.describe().starts_with("landlock ABI "));
    }
    assert_eq!(Backend::Off.describe(), "off");
}

/// The attacks above really do what they say when nothing stops them, so their failing inside
/// the sandbox means something.
#[test]
fn the_attacks_work_without_a_sandbox() {
    let off = Kind {
        name: "off",
        backend: Backend::Off,
        containment: Containment::Auto,
    };
    let fx = fixture();
    let script = "echo x > ../outside/dotdot.txt; echo x >> {main}/.git/config; \
                  echo x >> .clk/config; echo 'gitdir: /tmp/evil' > .git; \
                  setsid sh -c 'sleep 1; touch {wt}/OUT_setsid' >/dev/null 2>&1 &";
    let ran = run(off, &fx.policy(off), &fx.wt, &fx.script(script), SHORT);
    assert!(ran.status.is_some_and(|s| s.success()), "{}", ran.stderr);
    assert!(fx.outside.join("dotdot.txt").exists());
    assert_ne!(
        fs::read_to_string(fx.main.join(".git/config")).unwrap(),
        GIT_CONFIG
    );
    assert_ne!(
        fs::read_to_string(fx.wt.join(".clk/config")).unwrap(),
        CLK_CONFIG
    );
    assert_ne!(fs::read_to_string(fx.wt.join(".git")).unwrap(), POINTER);
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        fx.wt.join("OUT_setsid").exists(),
        "the setsid child outlives an unsandboxed run"
    );
}
