//! The layer rules of ARCHITECTURE.md, checked against the code.
//!
//! The layer table is read from ARCHITECTURE.md itself, so the map and the code cannot drift
//! apart. Imports are found by reading the source as text: `use` trees (groups expanded) and
//! inline `crate::`/`super::` paths, with comments, strings and `#[cfg(test)]` items left out.
//! Each path is resolved to the deepest module file it names.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// One row of the table: a layer name and the paths it holds, highest layer first.
struct Layer {
    name: String,
    paths: Vec<String>,
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Reads the table under `## Layers` in ARCHITECTURE.md.
fn layer_table(text: &str) -> Vec<Layer> {
    let mut in_section = false;
    let mut layers = Vec::new();
    for line in text.lines() {
        if line.starts_with("## ") {
            in_section = line.trim() == "## Layers";
            continue;
        }
        if !in_section || !line.starts_with('|') {
            continue;
        }
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() < 3 || cells[1] == "layer" || cells[1].starts_with("---") {
            continue;
        }
        let paths = cells[2]
            .split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect();
        layers.push(Layer {
            name: cells[1].to_string(),
            paths,
        });
    }
    layers
}

/// Rank of the layer holding `rel` (0 = highest), by the longest matching path.
fn layer_of(layers: &[Layer], rel: &str) -> Option<usize> {
    let mut best: Option<(usize, usize)> = None;
    for (rank, layer) in layers.iter().enumerate() {
        for p in &layer.paths {
            let hit = if p.ends_with('/') {
                rel.starts_with(p.as_str())
            } else {
                rel == p
            };
            if hit && best.is_none_or(|(len, _)| p.len() > len) {
                best = Some((p.len(), rank));
            }
        }
    }
    best.map(|(_, rank)| rank)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The module path of a file under src/ (`src/engine/store/bus.rs` -> engine, store, bus).
fn module_of(rel: &str) -> Vec<String> {
    let trimmed = rel.trim_start_matches("src/").trim_end_matches(".rs");
    let mut parts: Vec<String> = trimmed.split('/').map(str::to_string).collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// Files that only hold tests: `tests.rs`, `*_tests.rs`, anything in a `tests/` folder.
fn is_test_file(rel: &str) -> bool {
    let parts: Vec<&str> = rel.split('/').collect();
    let name = parts.last().copied().unwrap_or_default();
    name == "tests.rs" || name.ends_with("_tests.rs") || parts[..parts.len() - 1].contains(&"tests")
}

/// The text with comments, string and char literals blanked (newlines kept, so line numbers
/// hold) and `#[cfg(test)]` items removed.
fn code_only(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    let blank = |out: &mut Vec<u8>, c: u8| out.push(if c == b'\n' { b'\n' } else { b' ' });
    while i < b.len() {
        let c = b[i];
        if c == b'/' && b.get(i + 1) == Some(&b'/') {
            while i < b.len() && b[i] != b'\n' {
                blank(&mut out, b[i]);
                i += 1;
            }
        } else if c == b'/' && b.get(i + 1) == Some(&b'*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                    depth += 1;
                    out.extend_from_slice(b"  ");
                    i += 2;
                } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                    depth -= 1;
                    out.extend_from_slice(b"  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    blank(&mut out, b[i]);
                    i += 1;
                }
            }
        } else if c == b'r' && matches!(b.get(i + 1), Some(b'#' | b'"')) && !is_ident(b, i) {
            // raw string r"..." or r#"..."#
            let mut j = i + 1;
            let mut hashes = 0;
            while b.get(j) == Some(&b'#') {
                hashes += 1;
                j += 1;
            }
            if b.get(j) != Some(&b'"') {
                out.push(c);
                i += 1;
                continue;
            }
            let close: Vec<u8> = std::iter::once(b'"')
                .chain(std::iter::repeat_n(b'#', hashes))
                .collect();
            out.push(b'"');
            i = j + 1;
            while i < b.len() && !b[i..].starts_with(&close) {
                blank(&mut out, b[i]);
                i += 1;
            }
            out.push(b'"');
            i += close.len();
        } else if c == b'"' {
            out.push(b'"');
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' {
                    blank(&mut out, b[i]);
                    i += 1;
                }
                if i < b.len() {
                    blank(&mut out, b[i]);
                    i += 1;
                }
            }
            out.push(b'"');
            i += 1;
        } else if c == b'\'' {
            // a char literal ('x', '\n', '\'') or a lifetime ('a)
            if b.get(i + 1) == Some(&b'\\') {
                let mut j = i + 2;
                while j < b.len() && b[j] != b'\'' {
                    j += 1;
                }
                out.extend(std::iter::repeat_n(b' ', j + 1 - i));
                i = j + 1;
            } else if b.get(i + 2) == Some(&b'\'') {
                out.extend_from_slice(b"   ");
                i += 3;
            } else {
                out.push(c);
                i += 1;
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    drop_cfg_test(&String::from_utf8_lossy(&out))
}

fn is_ident(b: &[u8], i: usize) -> bool {
    i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_')
}

/// Blanks every item marked `#[cfg(test)]`: up to its `;` or its closing brace.
fn drop_cfg_test(text: &str) -> String {
    let mut b = text.as_bytes().to_vec();
    let mark = b"#[cfg(test)]";
    let mut from = 0;
    while let Some(pos) = find(&b[from..], mark).map(|p| p + from) {
        let mut i = pos;
        let mut depth = 0;
        while i < b.len() {
            match b[i] {
                b'{' => depth += 1,
                b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                b';' if depth == 0 => break,
                _ => {}
            }
            i += 1;
        }
        for c in &mut b[pos..(i + 1).min(text.len())] {
            if *c != b'\n' {
                *c = b' ';
            }
        }
        from = i;
    }
    String::from_utf8_lossy(&b).into_owned()
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Expands a use tree (`a::{b, c::{d, e as f}}`) into paths of segments.
fn expand_use(tree: &str) -> Vec<Vec<String>> {
    fn split_top(s: &str) -> Vec<&str> {
        let (mut parts, mut depth, mut start) = (Vec::new(), 0, 0);
        for (i, ch) in s.char_indices() {
            match ch {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    parts.push(&s[start..i]);
                    start = i + 1;
                }
                _ => {}
            }
        }
        parts.push(&s[start..]);
        parts.into_iter().filter(|p| !p.is_empty()).collect()
    }
    fn rec(prefix: &[String], s: &str, out: &mut Vec<Vec<String>>) {
        match s.find('{') {
            None => {
                let s = s.split(" as ").next().unwrap_or(s);
                let mut p = prefix.to_vec();
                p.extend(s.split("::").filter(|x| !x.is_empty()).map(str::to_string));
                out.push(p);
            }
            Some(open) => {
                let mut p = prefix.to_vec();
                p.extend(
                    s[..open]
                        .split("::")
                        .filter(|x| !x.is_empty())
                        .map(str::to_string),
                );
                let close = s.rfind('}').unwrap_or(s.len());
                for part in split_top(&s[open + 1..close]) {
                    rec(&p, part.trim(), out);
                }
            }
        }
    }
    let flat: String = tree.split_whitespace().collect::<Vec<_>>().join(" ");
    let flat = flat
        .replace(" ::", "::")
        .replace(":: ", "::")
        .replace("{ ", "{")
        .replace(" }", "}");
    let mut out = Vec::new();
    for part in split_top(&flat) {
        rec(&[], part.trim(), &mut out);
    }
    out
}

/// An import found in a file: its line and the path as written.
struct Import {
    line: usize,
    path: Vec<String>,
}

fn imports(code: &str) -> Vec<Import> {
    let line_at = |pos: usize| code[..pos].matches('\n').count() + 1;
    let mut found = Vec::new();
    let mut rest = code.to_string();
    // `use` trees first; then blank them so a group's prefix is not read as an inline path.
    let mut from = 0;
    while let Some(rel) = rest[from..].find("use ") {
        let pos = from + rel;
        let before_ok = pos == 0
            || !rest.as_bytes()[pos - 1].is_ascii_alphanumeric()
                && rest.as_bytes()[pos - 1] != b'_';
        let Some(end) = rest[pos..].find(';').map(|e| e + pos) else {
            break;
        };
        let tree = rest[pos + 4..end].trim();
        // Any path: crate-relative ones, and `child::X` naming a child module (`resolve`
        // drops paths into other crates).
        if before_ok && tree.contains("::") {
            for path in expand_use(tree) {
                found.push(Import {
                    line: line_at(pos),
                    path,
                });
            }
            let blanked: String = rest[pos..end]
                .chars()
                .map(|c| if c == '\n' { '\n' } else { ' ' })
                .collect();
            rest.replace_range(pos..end, &blanked);
        }
        from = pos + 4;
    }
    let b = rest.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let starts = ["crate::", "super::", "clk::"]
            .iter()
            .find(|p| b[i..].starts_with(p.as_bytes()));
        if let (Some(_), false) = (
            starts,
            i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_' || b[i - 1] == b':'),
        ) {
            let mut j = i;
            while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_' || b[j] == b':') {
                j += 1;
            }
            let path: Vec<String> = rest[i..j]
                .split("::")
                .filter(|x| !x.is_empty())
                .map(str::to_string)
                .collect();
            found.push(Import {
                line: line_at(i),
                path,
            });
            i = j;
        } else {
            i += 1;
        }
    }
    found
}

/// The module file an import path lands in, if it names one of ours.
fn resolve(
    base: &[String],
    path: &[String],
    modules: &BTreeMap<Vec<String>, String>,
) -> Option<String> {
    let mut cur: Vec<String>;
    let mut segs = path;
    match segs.first().map(String::as_str) {
        Some("crate" | "clk") => {
            cur = Vec::new();
            segs = &segs[1..];
        }
        Some("super" | "self") => {
            // `super` in x.rs and in x/mod.rs alike is the parent of module x.
            cur = base.to_vec();
            while let Some(first) = segs.first() {
                match first.as_str() {
                    "super" => {
                        cur.pop();
                    }
                    "self" => {}
                    _ => break,
                }
                segs = &segs[1..];
            }
        }
        // `use child::X` names a child module of this one.
        Some(first) if modules.contains_key(&[base, &[first.to_string()]].concat()) => {
            cur = base.to_vec();
        }
        _ => return None,
    }
    for k in (0..=segs.len()).rev() {
        let mut candidate = cur.clone();
        candidate.extend(segs[..k].iter().cloned());
        if let Some(file) = modules.get(&candidate) {
            return Some(file.clone());
        }
    }
    None
}

/// Every source file with its non-test imports resolved to files.
struct Graph {
    files: Vec<String>,
    edges: BTreeMap<String, Vec<(usize, String, String)>>, // from -> (line, written path, to)
}

fn graph() -> Graph {
    let root = root();
    let mut paths = Vec::new();
    rust_files(&root.join("src"), &mut paths);
    let rel = |p: &Path| {
        p.strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/")
    };
    let files: Vec<String> = paths
        .iter()
        .map(|p| rel(p))
        .filter(|r| !is_test_file(r))
        .collect();
    let modules: BTreeMap<Vec<String>, String> = files
        .iter()
        .filter(|f| !f.ends_with("main.rs"))
        .map(|f| (module_of(f), f.clone()))
        .collect();
    let mut edges = BTreeMap::new();
    for f in &files {
        let code = code_only(&fs::read_to_string(root.join(f)).unwrap());
        let base = module_of(f);
        let mut out = Vec::new();
        for imp in imports(&code) {
            if let Some(to) = resolve(&base, &imp.path, &modules) {
                if &to != f {
                    out.push((imp.line, imp.path.join("::"), to));
                }
            }
        }
        edges.insert(f.clone(), out);
    }
    Graph { files, edges }
}

fn architecture() -> Vec<Layer> {
    let text = fs::read_to_string(root().join("ARCHITECTURE.md"))
        .expect("ARCHITECTURE.md at the repository root");
    let layers = layer_table(&text);
    assert!(
        layers.len() >= 5,
        "ARCHITECTURE.md has no layer table under '## Layers'"
    );
    layers
}

/// Imports go down the layers only, and every source file sits in a layer of the table.
#[test]
fn imports_only_go_down_the_layers() {
    let layers = architecture();
    let g = graph();
    let mut problems = Vec::new();
    for f in &g.files {
        let Some(from) = layer_of(&layers, f) else {
            problems.push(format!(
                "{f}: in no layer of ARCHITECTURE.md's table; add its folder there"
            ));
            continue;
        };
        for (line, written, to) in &g.edges[f] {
            let Some(target) = layer_of(&layers, to) else {
                continue;
            };
            if target < from {
                problems.push(format!(
                    "{f}:{line}: `{written}` reaches up from {} to {} ({to})",
                    layers[from].name, layers[target].name
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "layer rule broken:\n{}",
        problems.join("\n")
    );
}

/// No import cycle joins files of different folders.
#[test]
fn no_import_cycle_crosses_folders() {
    let g = graph();
    let index: BTreeMap<&str, usize> = g
        .files
        .iter()
        .enumerate()
        .map(|(i, f)| (f.as_str(), i))
        .collect();
    let adj: Vec<Vec<usize>> = g
        .files
        .iter()
        .map(|f| {
            g.edges[f]
                .iter()
                .filter_map(|(_, _, to)| index.get(to.as_str()).copied())
                .collect()
        })
        .collect();
    let mut problems = Vec::new();
    for comp in strongly_connected(&adj) {
        let folders: BTreeSet<&str> = comp
            .iter()
            .map(|&i| g.files[i].rsplit_once('/').map_or("", |(d, _)| d))
            .collect();
        if comp.len() > 1 && folders.len() > 1 {
            let names: BTreeSet<&str> = comp.iter().map(|&i| g.files[i].as_str()).collect();
            let mut lines = vec![format!("a cycle of {} files:", names.len())];
            for &i in &comp {
                for (line, written, to) in &g.edges[&g.files[i]] {
                    if names.contains(to.as_str()) {
                        lines.push(format!("  {}:{line}: `{written}` -> {to}", g.files[i]));
                    }
                }
            }
            problems.push(lines.join("\n"));
        }
    }
    assert!(
        problems.is_empty(),
        "import cycles across folders:\n{}",
        problems.join("\n")
    );
}

/// Every folder that holds shipped code has its line in ARCHITECTURE.md's folder table.
#[test]
fn every_folder_has_a_line_in_the_map() {
    let text = fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap();
    let g = graph();
    let folders: BTreeSet<String> = g
        .files
        .iter()
        .filter_map(|f| f.rsplit_once('/').map(|(d, _)| format!("{d}/")))
        .collect();
    let missing: Vec<&String> = folders
        .iter()
        .filter(|d| !text.contains(&format!("| `{d}` |")))
        .collect();
    assert!(
        missing.is_empty(),
        "folders with no line in ARCHITECTURE.md's folder table: {missing:?}"
    );
}

/// Tarjan's algorithm, iterative: the strongly connected components of a graph.
fn strongly_connected(adj: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let n = adj.len();
    let (mut index, mut low, mut on) = (vec![usize::MAX; n], vec![0; n], vec![false; n]);
    let (mut stack, mut comps, mut next) = (Vec::new(), Vec::new(), 0);
    for start in 0..n {
        if index[start] != usize::MAX {
            continue;
        }
        let mut work = vec![(start, 0usize)];
        while let Some((v, child)) = work.pop() {
            if child == 0 {
                index[v] = next;
                low[v] = next;
                next += 1;
                stack.push(v);
                on[v] = true;
            }
            if let Some(&w) = adj[v].get(child) {
                work.push((v, child + 1));
                if index[w] == usize::MAX {
                    work.push((w, 0));
                } else if on[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            if low[v] == index[v] {
                let mut comp = Vec::new();
                while let Some(w) = stack.pop() {
                    on[w] = false;
                    comp.push(w);
                    if w == v {
                        break;
                    }
                }
                comps.push(comp);
            }
            if let Some(&(parent, _)) = work.last() {
                low[parent] = low[parent].min(low[v]);
            }
        }
    }
    comps
}

/// Only the front layer may name a terminal crate; the engine never draws.
#[test]
fn only_the_front_layer_names_terminal_crates() {
    let layers = architecture();
    let g = graph();
    let mut problems = Vec::new();
    for f in &g.files {
        if layer_of(&layers, f) == Some(0) {
            continue;
        }
        let code = code_only(&fs::read_to_string(root().join(f)).unwrap());
        for (n, line) in code.lines().enumerate() {
            for word in ["ratatui", "crossterm", "tui_textarea"] {
                if line
                    .split(|c: char| !c.is_alphanumeric() && c != '_')
                    .any(|w| w == word)
                {
                    problems.push(format!("{f}:{}: names {word}", n + 1));
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "terminal crates below the front layer:\n{}",
        problems.join("\n")
    );
}

/// The checker itself: an upward `use`, an inline path, a grouped import and `super` are seen;
/// comments, strings and test modules are not.
#[test]
fn the_import_reader_sees_what_it_should() {
    let src = "use crate::engine::{ground::events::Event, agents::dispatch};\n\
               // use crate::engine::session::handle;\n\
               fn f() { let s = \"crate::engine::session\"; crate::engine::runs::orchestrate::go(); }\n\
               use super::sibling::Thing;\n\
               #[cfg(test)]\nmod tests { use crate::engine::session::x; }\n";
    let code = code_only(src);
    let got: Vec<(usize, String)> = imports(&code)
        .into_iter()
        .map(|i| (i.line, i.path.join("::")))
        .collect();
    assert_eq!(
        got,
        vec![
            (1, "crate::engine::ground::events::Event".to_string()),
            (1, "crate::engine::agents::dispatch".to_string()),
            (4, "super::sibling::Thing".to_string()),
            (3, "crate::engine::runs::orchestrate::go".to_string()),
        ]
    );
    let layers = layer_table(
        "## Layers\n| layer | paths |\n| --- | --- |\n| top | `src/a/`, `src/m.rs` |\n| low | `src/a/b/` |\n",
    );
    assert_eq!(layer_of(&layers, "src/a/b/c.rs"), Some(1));
    assert_eq!(layer_of(&layers, "src/a/c.rs"), Some(0));
    assert_eq!(layer_of(&layers, "src/m.rs"), Some(0));
    assert_eq!(layer_of(&layers, "src/x.rs"), None);
    let mut modules = BTreeMap::new();
    modules.insert(
        vec!["engine".to_string(), "store".to_string()],
        "src/engine/store/mod.rs".to_string(),
    );
    modules.insert(
        vec!["engine".to_string(), "store".to_string(), "bus".to_string()],
        "src/engine/store/bus.rs".to_string(),
    );
    let base = module_of("src/engine/store/git.rs");
    let p = |s: &str| s.split("::").map(str::to_string).collect::<Vec<_>>();
    assert_eq!(
        resolve(&base, &p("super::bus::Bus"), &modules).as_deref(),
        Some("src/engine/store/bus.rs")
    );
    assert_eq!(
        resolve(&base, &p("crate::engine::store::bus"), &modules).as_deref(),
        Some("src/engine/store/bus.rs")
    );
    assert_eq!(resolve(&base, &p("std::fs"), &modules), None);
    assert_eq!(
        strongly_connected(&[vec![1], vec![0], vec![]])
            .iter()
            .filter(|c| c.len() > 1)
            .count(),
        1
    );
}
