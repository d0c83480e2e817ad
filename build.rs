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
}
