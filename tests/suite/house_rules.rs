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

/// The engine never prints: front ends show its events.
#[test]
fn the_engine_does_not_print() {
    let engine = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/engine");
    for f in rust_files(&engine) {
        let text = fs::read_to_string(&f).unwrap();
        // Test modules may print while debugging; the shipped code may not.
        let shipped = without_test_modules(&text);
        for mac in ["println!", "eprintln!", "print!(", "eprint!(", "dbg!("] {
            assert!(!shipped.contains(mac), "{} uses {mac}", f.display());
        }
    }
}

/// `text` without its test modules: each `#[cfg(test)] mod x;` line and each
/// `#[cfg(test)] mod x { ... }` block (found by matching braces outside strings, characters
/// and comments). Everything else stays, including code after the test module.
fn without_test_modules(text: &str) -> String {
    const GATE: &str = "#[cfg(test)]";
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(GATE) {
        let after = &rest[at + GATE.len()..];
        let item = after.trim_start();
        let Some(end) = test_module_len(item) else {
            // Some other test-only item: keep it, it is checked like shipped code.
            out.push_str(&rest[..at + GATE.len()]);
            rest = after;
            continue;
        };
        out.push_str(&rest[..at]);
        rest = &item[end..];
    }
    out.push_str(rest);
    out
}

/// The length of the module item at the start of `item` (`mod x;` or `mod x { ... }`,
/// possibly `pub`), or None if `item` does not start with a module.
fn test_module_len(item: &str) -> Option<usize> {
    let head = item
        .strip_prefix("pub(crate) ")
        .or_else(|| item.strip_prefix("pub "))
        .unwrap_or(item);
    let head_at = item.len() - head.len();
    let name = head.strip_prefix("mod ")?;
    let name_len = name
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(name.len());
    let after_name = &name[name_len..];
    let body = after_name.trim_start();
    let body_at = head_at + 4 + name_len + (after_name.len() - body.len());
    if body.starts_with(';') {
        return Some(body_at + 1);
    }
    if !body.starts_with('{') {
        return None;
    }
    Some(body_at + block_len(body).expect("a test module's braces close"))
}

/// The length of the brace-delimited block at the start of `code`, skipping braces inside
/// string, raw string, character literals and comments.
fn block_len(code: &str) -> Option<usize> {
    let b = code.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i += code[i + 2..].find("*/")? + 3;
            }
            b'r' if matches!(b.get(i + 1), Some(b'#' | b'"'))
                && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_')) =>
            {
                let hashes = b[i + 1..].iter().take_while(|&&c| c == b'#').count();
                let open = i + 1 + hashes;
                if b.get(open) == Some(&b'"') {
                    let close = format!("\"{}", "#".repeat(hashes));
                    i = open + 1 + code[open + 1..].find(&close)? + close.len() - 1;
                }
            }
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'\'' => {
                // A character literal ('{', '\'', '\u{7b}'), not a lifetime ('a).
                if b.get(i + 1) == Some(&b'\\') {
                    i += 2 + code[i + 2..].find('\'')?;
                } else if let Some(c) = code[i + 1..].chars().next()
                    && code[i + 1 + c.len_utf8()..].starts_with('\'')
                {
                    i += c.len_utf8() + 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// The stripping keeps what follows a test module, so a print there is still found.
#[test]
fn only_test_modules_are_exempt_from_the_print_check() {
    let text = r##"
#[cfg(test)]
mod tests;

fn shipped() { println!("after a declared test module"); }

#[cfg(test)]
mod more_tests {
    fn t() { let _ = ('{', "}}}", r#"}"#, '\'', b'}'); /* } */ println!("test"); }
    // }
    fn u<'a>(x: &'a str) -> &'a str { x }
}

fn also_shipped() { eprintln!("after a test block"); }
"##;
    let kept = without_test_modules(text);
    assert!(
        kept.contains("println!(\"after a declared test module\")"),
        "{kept}"
    );
    assert!(kept.contains("eprintln!(\"after a test block\")"), "{kept}");
    assert!(!kept.contains("println!(\"test\")"), "{kept}");
    assert!(!kept.contains("mod tests"), "{kept}");
}

/// Where a run of spaces sits inside a string literal on `line` after a word (not after a
/// `\n` escape): the mark of a message broken over two source lines without its `\`, which
/// shows the user the next line's indentation in the middle of a sentence.
fn spaces_in_a_sentence(line: &str) -> Option<usize> {
    if line.trim_start().starts_with("//") {
        return None;
    }
    let b = line.as_bytes();
    let (mut inside, mut i) = (false, 0);
    while i < b.len() {
        match b[i] {
            b'\\' if inside => i += 1,
            b'"' => inside = !inside,
            b' ' if inside
                && i >= 2
                && (b[i - 1].is_ascii_alphanumeric() || b".,;:)`".contains(&b[i - 1]))
                && b[i - 2] != b'\\' =>
            {
                let run = b[i..].iter().take_while(|c| **c == b' ').count();
                let next = b.get(i + run).copied().unwrap_or(b'"');
                if run >= 9 && next != b'"' {
                    return Some(i);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

#[test]
fn no_message_has_a_line_break_turned_into_spaces() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut found = Vec::new();
    for f in rust_files(&src) {
        let text = fs::read_to_string(&f).unwrap();
        for (n, line) in text.lines().enumerate() {
            if spaces_in_a_sentence(line).is_some() {
                found.push(format!("{}:{}: {}", f.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "end the line with `\\`:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_space_check_tells_a_broken_message_from_alignment() {
    assert!(spaces_in_a_sentence(r#"  "turns of              budget.daily.usd""#).is_some());
    assert!(spaces_in_a_sentence(r#"  "Git       {branch}""#).is_none());
    assert!(spaces_in_a_sentence(r#"  "{:<11} {state}\n            how: {how}""#).is_none());
    assert!(spaces_in_a_sentence(r#"  let x = 1;              // aligned"#).is_none());
    assert!(spaces_in_a_sentence(r#"  assert_eq!(row, "         seven");"#).is_none());
}
