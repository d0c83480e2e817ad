//! Rules of the house that a reviewer should not have to check by eye.

use std::fs;
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out
}

/// The engine never draws: no terminal crate is named anywhere under src/engine.
#[test]
fn the_engine_has_no_terminal_dependency() {
    let engine = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/engine");
    let files = rust_files(&engine);
    assert!(files.len() > 10, "src/engine not found");
    for f in files {
        let text = fs::read_to_string(&f).unwrap();
        for word in ["ratatui", "crossterm", "tui_textarea"] {
            assert!(!text.contains(word), "{} names {word}", f.display());
        }
    }
}

/// The engine never prints: front ends show its events.
#[test]
fn the_engine_does_not_print() {
    let engine = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/engine");
    for f in rust_files(&engine) {
        let text = fs::read_to_string(&f).unwrap();
        // Test modules may print while debugging; the shipped code may not.
        let shipped = text.split("#[cfg(test)]").next().unwrap_or_default();
        for mac in ["println!", "eprintln!", "print!(", "eprint!(", "dbg!("] {
            assert!(!shipped.contains(mac), "{} uses {mac}", f.display());
        }
    }
}
