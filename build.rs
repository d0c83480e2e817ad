//! Embeds the bundled prompts (prompts/*.md) and workflows (workflows/*.yaml) in the binary,
//! so `clk init` can write them into a project with nothing else installed.

// A build script reports a failure by panicking, which stops the build with the message.
#![allow(clippy::unwrap_used)]

use std::fmt::Write;
use std::path::Path;

fn list(dir: &str, ext: &str) -> Vec<(String, String)> {
    println!("cargo:rerun-if-changed={dir}");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut out: Vec<(String, String)> = std::fs::read_dir(&root)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == ext))
                .map(|p| {
                    println!("cargo:rerun-if-changed={}", p.display());
                    let name = p.file_name().unwrap().to_string_lossy().into_owned();
                    (name, p.display().to_string())
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

fn main() {
    let mut src = String::new();
    for (konst, dir, ext) in [
        ("PROMPTS", "prompts", "md"),
        ("WORKFLOWS", "workflows", "yaml"),
    ] {
        writeln!(src, "pub const {konst}: &[(&str, &str)] = &[").unwrap();
        for (name, path) in list(dir, ext) {
            writeln!(src, "    ({name:?}, include_str!({path:?})),").unwrap();
        }
        writeln!(src, "];").unwrap();
    }
    let out = Path::new(&std::env::var("OUT_DIR").unwrap()).join("bundled.rs");
    std::fs::write(out, src).unwrap();
    no_pie();
}

/// A release build on x86-64 Linux links `clk` as a fixed-address executable: a position-
/// independent one applies 35,000 relocations at every start and copies the pages they touch
/// (about 0.4 ms and 125 page faults of `clk status`'s 2.7 ms). `CLK_PIE=1` keeps it position-
/// independent. Debug builds, the tests' and other targets are left as they are.
fn no_pie() {
    println!("cargo:rerun-if-env-changed=CLK_PIE");
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    let linux_gnu = var("CARGO_CFG_TARGET_OS") == "linux" && var("CARGO_CFG_TARGET_ENV") == "gnu";
    if var("PROFILE") == "release"
        && linux_gnu
        && var("CARGO_CFG_TARGET_ARCH") == "x86_64"
        && var("CLK_PIE").is_empty()
    {
        println!("cargo:rustc-link-arg-bin=clk=-no-pie");
    }
}
