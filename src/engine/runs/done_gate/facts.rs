//! Gathering the gate's [`Facts`] from disk: product files, the newest qa verdict, ralph's
//! passes and leftover TODO-style markers.
//!
//! Everything here reads and never writes, and every scan is bounded (a walk visits at most
//! [`WALK_LIMIT`] entries, markers are looked for only in text files under 1 MB and at most
//! [`MAX_MARKERS`] are reported), so a huge or odd project slows the gate down but cannot hang
//! it. Unreadable files and folders are skipped, never fatal: the gate then simply sees less.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::sync::LazyLock;

use git2::{Repository, Status, StatusOptions};
use regex::Regex;

use crate::engine::ground::config::GateConfig;
use crate::engine::store::blackboard;
use crate::engine::store::git;
use crate::engine::store::workspace::Workspace;

/// The latest evaluation of the project's tests, as the caller ran it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum TestsStatus {
    Green,
    /// Only weak checks (such as `python -m compileall`) ran, and they passed.
    GreenWeak,
    /// Failed, with a short description of what failed.
    Red(String),
    #[default]
    NotRun,
}

/// Everything the gate looks at, gathered from disk by [`gather`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    pub tests: TestsStatus,
    /// Product files, relative to the root, sorted.
    pub deliverable_files: Vec<String>,
    /// Body of the newest `qa` post clk recorded (see [`blackboard::recorded`]).
    pub latest_qa_post: Option<String>,
    pub ralph_passes: u32,
    /// `"path:line"` of each TODO-style marker (empty when not scanned).
    pub todo_markers: Vec<String>,
    /// Agents' TODOS items marked required and not done, as `agent: text`.
    pub open_todos: Vec<String>,
}

/// Most directory entries one deliverables walk visits.
pub const WALK_LIMIT: usize = 20_000;
/// Most TODO-style markers reported.
pub const MAX_MARKERS: usize = 50;
/// Files this size or larger are not scanned for markers.
const MAX_SCAN_BYTES: u64 = 1024 * 1024;

static MARKER: LazyLock<Regex> = LazyLock::new(|| {
    crate::engine::ground::fixed::regex(r"\b(?:TODO|FIXME|XXX|HACK|PLACEHOLDER)\b")
});

/// The facts about the project at `ws`, without the TODO scan (see [`gather_for`]).
pub fn gather(ws: &Workspace, tests: TestsStatus) -> Facts {
    gather_inner(ws, tests, false)
}

/// The facts the gate needs under `cfg`: as [`gather`], plus the TODO scan when
/// `cfg.forbid_todo_markers` asks for it (it reads every product file, so only then).
pub fn gather_for(ws: &Workspace, cfg: &GateConfig, tests: TestsStatus) -> Facts {
    gather_inner(ws, tests, cfg.forbid_todo_markers)
}

fn gather_inner(ws: &Workspace, tests: TestsStatus, scan_markers: bool) -> Facts {
    let deliverable_files = deliverable_files(&ws.work);
    let todo_markers = if scan_markers {
        todo_markers(&ws.work, &deliverable_files)
    } else {
        Vec::new()
    };
    Facts {
        tests,
        open_todos: crate::engine::store::todos::open_required(&crate::engine::store::todos::load(
            ws,
        )),
        latest_qa_post: latest_qa_post(ws),
        ralph_passes: ralph_passes(ws),
        deliverable_files,
        todo_markers,
    }
}

/// Product files under `root`, relative and sorted. In a repository whose work tree is `root`
/// they come from the index (tracked files still on disk) plus untracked files git does not
/// ignore; otherwise from a bounded walk of the folder.
pub fn deliverable_files(root: &Path) -> Vec<String> {
    let mut out = BTreeSet::new();
    let mut budget = WALK_LIMIT;
    match git::open(root) {
        Some(repo) => from_repo(&repo, root, &mut budget, &mut out),
        None => walk(root, "", &mut budget, &|_| false, &mut out),
    }
    out.into_iter().collect()
}

fn from_repo(repo: &Repository, root: &Path, budget: &mut usize, out: &mut BTreeSet<String>) {
    let Ok(index) = repo.index() else {
        return walk(root, "", budget, &|_| false, out);
    };
    for entry in index.iter() {
        let Ok(rel) = String::from_utf8(entry.path) else {
            continue;
        };
        // A tracked file the agents deleted is not a deliverable; submodules are not files.
        if is_product_path(&rel) && root.join(&rel).is_file() {
            out.insert(rel);
        }
    }
    // Files written but not committed yet (auto_commit off, or a batch still pending) are
    // deliverables too. Untracked folders come back whole rather than recursed, so a folder
    // such as an unignored node_modules costs one entry, and the walk below skips it.
    let mut opts = StatusOptions::new();
    opts.include_untracked(true)
        .recurse_untracked_dirs(false)
        .include_ignored(false)
        .exclude_submodules(true);
    let Ok(statuses) = repo.statuses(Some(&mut opts)) else {
        return;
    };
    let ignored = |rel: &str| repo.status_should_ignore(Path::new(rel)).unwrap_or(false);
    for s in statuses.iter() {
        if !s.status().contains(Status::WT_NEW) {
            continue;
        }
        let Ok(path) = s.path() else {
            continue;
        };
        match path.strip_suffix('/') {
            Some(dir) => {
                if dir.split('/').all(is_product_dir) {
                    walk(root, dir, budget, &ignored, out);
                }
            }
            None => {
                if is_product_path(path) {
                    out.insert(path.to_string());
                }
            }
        }
    }
}

/// Add the product files below `root/start` (`""` for the root itself), visiting at most
/// `budget` entries in all. Symlinks are not followed, so a link cannot loop or leave the root.
fn walk(
    root: &Path,
    start: &str,
    budget: &mut usize,
    ignored: &dyn Fn(&str) -> bool,
    out: &mut BTreeSet<String>,
) {
    let mut stack = vec![start.to_string()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs::read_dir(root.join(&dir)) else {
            continue;
        };
        for entry in entries.flatten() {
            if *budget == 0 {
                return;
            }
            *budget -= 1;
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            let rel = if dir.is_empty() {
                name.clone()
            } else {
                format!("{dir}/{name}")
            };
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                if is_product_dir(&name) {
                    stack.push(rel);
                }
            } else if kind.is_file() && is_product_path(&rel) && !ignored(&rel) {
                out.insert(rel);
            }
        }
    }
}

/// `"path:line"` (1-based) of each line holding TODO, FIXME, XXX, HACK or PLACEHOLDER as a
/// whole upper-case word, in the text files among `files` (binary files, those with a NUL
/// byte near the start, are skipped), at most [`MAX_MARKERS`].
pub fn todo_markers(root: &Path, files: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for rel in files {
        let path = root.join(rel);
        let Ok(meta) = fs::metadata(&path) else {
            continue;
        };
        if !meta.is_file() || meta.len() >= MAX_SCAN_BYTES {
            continue;
        }
        let Ok(bytes) = fs::read(&path) else {
            continue;
        };
        if bytes[..bytes.len().min(8000)].contains(&0) {
            continue;
        }
        let text = String::from_utf8_lossy(&bytes);
        for (n, line) in text.lines().enumerate() {
            if MARKER.is_match(line) {
                out.push(format!("{rel}:{}", n + 1));
                if out.len() >= MAX_MARKERS {
                    return out;
                }
            }
        }
    }
    out
}

/// Ralph's improvement passes, counted up to [`RALPH_COUNT_CAP`]: the Ralph loop's records in
/// `.clk/state/experiments.jsonl`, plus ralph's successful real dispatches in
/// `.clk/state/agent_memory.jsonl`. The second source matters because the bundled engineering
/// workflow runs ralph as a stage, not as the loop; counting only experiments would reject
/// every `clk run` under the default config. Both files are read from their end and only until
/// the cap is reached, so a long history costs the gate nothing.
pub fn ralph_passes(ws: &Workspace) -> u32 {
    let mut count = 0u32;
    crate::engine::store::tail::newest_first(&ws.state_dir().join("experiments.jsonl"), |_| {
        count += 1;
        count < RALPH_COUNT_CAP
    });
    if count < RALPH_COUNT_CAP {
        crate::engine::store::tail::newest_first(&ws.state_dir().join("agent_memory.jsonl"), |r| {
            if r["agent"] == "ralph" && r["ok"] == true && r["dry_run"] != true {
                count += 1;
            }
            count < RALPH_COUNT_CAP
        });
    }
    count
}

/// Where counting ralph's passes stops: the gate needs one, the evidence shows "100+".
pub const RALPH_COUNT_CAP: u32 = 100;

/// Body of the newest `qa` post (ids sort by time) in clk's own record of posts: a file in
/// the blackboard folder that clk did not store, however it got there, is no verdict. Posts by
/// the chief do not count: the chief is the one asking to finish, and may not certify its own
/// work.
/// The record is appended in time order, so it is read from its end up to the first such post.
fn latest_qa_post(ws: &Workspace) -> Option<String> {
    let mut found = None;
    crate::engine::store::tail::newest_first(&blackboard::record_path(ws), |v| {
        if let Ok(p) = serde_json::from_value::<blackboard::Post>(v)
            && p.post_type.trim().eq_ignore_ascii_case("qa")
            && !p.author.eq_ignore_ascii_case("chief")
        {
            found = Some(p.body);
        }
        found.is_none()
    });
    found
}

/// Whether `rel` (a `/`-separated path) is a root-level bookkeeping file rather than product.
fn is_bookkeeping(rel: &str) -> bool {
    const NAMES: &[&str] = &[
        "PROGRESS.md",
        "DECISIONS.md",
        "RESEARCH.md",
        "PRD.json",
        "ARCHITECTURE.md",
        "DEPLOYMENT.md",
        "KICKOFF.md",
        "MISSION.md",
        "CHARTER.md",
    ];
    !rel.contains('/') && NAMES.iter().any(|n| n.eq_ignore_ascii_case(rel))
}

/// Folders that hold tools, builds or caches, at any depth. Hidden folders (`.clk`, `.git`,
/// `.venv`, `.pytest_cache`) are skipped by their leading dot.
const SKIP_DIRS: &[&str] = &["node_modules", "target", "__pycache__", "venv"];

/// Whether a folder name is walked into when looking for product files.
fn is_product_dir(name: &str) -> bool {
    !name.starts_with('.') && !SKIP_DIRS.contains(&name)
}

/// Whether `rel` is a product file: not hidden, not under a tool or build folder, not
/// bookkeeping.
fn is_product_path(rel: &str) -> bool {
    let parts: Vec<&str> = rel.split('/').collect();
    let Some((file, dirs)) = parts.split_last() else {
        return false;
    };
    !file.is_empty()
        && !file.starts_with('.')
        && dirs.iter().all(|d| !d.is_empty() && is_product_dir(d))
        && !is_bookkeeping(rel)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn product_paths_leave_out_tools_caches_hidden_and_bookkeeping() {
        for ok in [
            "main.py",
            "src/app.rs",
            "docs/PROGRESS.md",
            "README.md",
            "a/target.txt",
        ] {
            assert!(is_product_path(ok), "{ok}");
        }
        for no in [
            ".gitignore",
            ".clk/state/done.md",
            ".github/workflows/ci.yml",
            "node_modules/x/index.js",
            "web/node_modules/x.js",
            "target/debug/clk",
            "pkg/__pycache__/m.pyc",
            "venv/bin/python",
            ".venv/lib/x.py",
            ".pytest_cache/v",
            "PROGRESS.md",
            "progress.md",
            "PRD.json",
            "KICKOFF.md",
            "",
            "a//b",
        ] {
            assert!(!is_product_path(no), "{no}");
        }
    }
}
