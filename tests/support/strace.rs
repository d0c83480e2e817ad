//! Running the real binary under `strace`. Under `CLK_REQUIRE_STRACE=1` (tests/run-all.sh) a
//! missing strace fails the test instead of skipping it.

#![allow(dead_code)]

use std::process::Command;

/// Whether strace is here and may trace.
pub fn works() -> bool {
    let ok = Command::new("strace")
        .args(["-f", "-qq", "-e", "trace=openat", "-o", "/dev/null", "true"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var("CLK_REQUIRE_STRACE").as_deref() != Ok("1"),
            "strace is missing or cannot trace here; required by CLK_REQUIRE_STRACE=1 \
             (tests/run-all.sh installs it)"
        );
        eprintln!("skipped: strace is missing or cannot trace here");
    }
    ok
}

/// A `strace` command for the clk binary with none of the developer's clk settings or keys;
/// file descriptors are shown with their paths (`-y`).
pub fn clk(calls: &str, trace: &std::path::Path) -> Command {
    let mut c = Command::new("strace");
    for name in super::clk_env_vars() {
        c.env_remove(name);
    }
    c.args(["-f", "-qq", "-y", "-e", &format!("trace={calls}"), "-o"])
        .arg(trace)
        .arg(env!("CARGO_BIN_EXE_clk"));
    c
}
