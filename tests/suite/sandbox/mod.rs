//! The OS sandbox, tried as a hostile command would, on every backend this machine has:
//! bubblewrap, Landlock (PID namespace) and Landlock with the subreaper fallback. A missing
//! backend is skipped with a message, or fails the test under CLK_REQUIRE_SANDBOX=1.

pub(crate) mod support;

mod processes;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

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
        "umount .git; echo 'gitdir: /tmp/evil' > .git",
        "umount -l .clk; echo x > .clk/config",
    ];
    // Where the sandbox holds these paths read-only while the command runs, nothing needed
    // restoring afterwards.
    let held = |kind: Kind| {
        kind.backend == Backend::Bubblewrap
            || (kind.containment == Containment::Auto
                && Backend::Landlock.describe().contains("pid namespace"))
    };
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
            if held(kind) {
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

#[test]
fn hidden_paths_show_nothing() {
    for kind in [BWRAP, LANDLOCK].into_iter().filter(|k| usable(*k)) {
        if kind.backend == Backend::Landlock && !Backend::Landlock.describe().contains("namespace")
        {
            eprintln!("SKIPPED {}: hiding needs a mount namespace", kind.name);
            continue;
        }
        let fx = fixture();
        let keys = fx.outside.join("keys");
        fs::create_dir_all(&keys).unwrap();
        fs::write(keys.join("providers.json"), "sk-hidden").unwrap();
        fs::write(fx.outside.join("token.txt"), "sk-hidden").unwrap();
        let mut policy = fx.policy(kind);
        policy.hidden = vec![keys.clone(), fx.outside.join("token.txt")];
        let script = format!(
            "cat {0}/keys/providers.json {0}/token.txt; ls {0}/keys",
            fx.outside.display()
        );
        let ran = run(kind, &policy, &fx.wt, &script, SHORT);
        assert!(
            !ran.stdout.contains("sk-hidden"),
            "{}: {}",
            kind.name,
            ran.stdout
        );
        assert!(
            !ran.stdout.contains("providers.json"),
            "{}: {}",
            kind.name,
            ran.stdout
        );
    }
}
