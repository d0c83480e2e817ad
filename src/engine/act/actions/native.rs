//! The after-the-fact gate for files changed outside the action gate: by an agent that edits
//! files with its own tools (an agent CLI with `native_tools`, or pi), and by the commands of
//! `ACTION: run` blocks.
//!
//! Before the call, [`Watch::begin`] notes the work tree: which paths already differ from HEAD (the
//! user's uncommitted work, whose bytes are kept in memory so they can be put back), git's own
//! small files (config, hooks, HEAD, info/), and the commit HEAD points at. After the call,
//! [`Watch::finish`] compares, and every path that changed is judged by the same rules as an ACTION
//! block: the path jail (no `.git`, no `.clk/`, no symlinks, no backslashes), the user's
//! uncommitted files, plain files only, no key (a secret clk knows, or a token-shaped string) in
//! the content or the name, and the batch cap. A change that breaks a rule is undone and reported
//! as `Decision::Rejected`; the rest belong to the agent's batch and its commit. A commit the agent
//! made itself is undone too (its changes stay, to be judged and committed by clk). When the
//! dispatch failed, every change is undone, so a failed call leaves nothing behind.
//!
//! clk's record of posts and the blackboard folder are put back if they changed
//! ([`super::guard`]), so no post is forged that way.
//!
//! Limits: paths git ignores are not seen; clk's other records under `.clk/` (other than
//! config/ and prompts/) are left alone because clk writes them itself while agents work;
//! and two agents editing the same tree at the same time cannot be told apart.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use git2::Oid;

use super::batch::BatchOutcome;
use super::files::not_a_plain_file;
use super::guard::ClkGuard;
use super::jail::{self, Access};
use crate::engine::ground::events::{Decision, Event};
use crate::engine::store::bus::Bus;
use crate::engine::store::git;

/// User files larger than this are watched by size and time only, not kept for restoring.
const KEEP_FILE_BYTES: u64 = 16 * 1024 * 1024;
/// Total bytes of the user's files kept in memory during one call.
const KEEP_TOTAL_BYTES: u64 = 64 * 1024 * 1024;

/// A file as it was before the call.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Before {
    Absent,
    /// Its bytes, kept so it can be put back.
    Kept(Vec<u8>),
    /// Too large to keep: its size and modification time, to see that it changed.
    Seen {
        len: u64,
        mtime_ns: i128,
    },
}

impl Before {
    fn of(path: &Path, budget: &mut u64) -> Before {
        let Ok(meta) = std::fs::symlink_metadata(path) else {
            return Before::Absent;
        };
        if meta.is_file() && meta.len() <= KEEP_FILE_BYTES && meta.len() <= *budget {
            if let Ok(bytes) = std::fs::read(path) {
                *budget -= bytes.len() as u64;
                return Before::Kept(bytes);
            }
        }
        Before::Seen {
            len: meta.len(),
            mtime_ns: mtime_ns(&meta),
        }
    }

    fn still_matches(&self, path: &Path) -> bool {
        let meta = std::fs::symlink_metadata(path);
        match (self, meta) {
            (Before::Absent, Err(_)) => true,
            (Before::Absent, Ok(_)) => false,
            (Before::Kept(_) | Before::Seen { .. }, Err(_)) => false,
            (Before::Kept(bytes), Ok(m)) => {
                m.is_file()
                    && m.len() == bytes.len() as u64
                    && std::fs::read(path).ok().as_ref() == Some(bytes)
            }
            (Before::Seen { len, mtime_ns: t }, Ok(m)) => m.len() == *len && mtime_ns(&m) == *t,
        }
    }
}

fn mtime_ns(meta: &std::fs::Metadata) -> i128 {
    use std::os::unix::fs::MetadataExt;
    meta.mtime() as i128 * 1_000_000_000 + meta.mtime_nsec() as i128
}

/// What the work tree looked like before an agent's own tools ran.
#[derive(Debug)]
pub struct Watch {
    root: PathBuf,
    /// The user's changed paths and how they were.
    dirty: BTreeMap<String, Before>,
    /// `.git/config`, `HEAD`, `hooks/…`, `info/…` (relative to `.git/`; for a linked
    /// worktree, HEAD is its own and the rest the shared repository's).
    git_files: BTreeMap<String, Vec<u8>>,
    /// The branch (or detached HEAD) and the commit it pointed at.
    head: Option<(String, Oid)>,
    /// Paths the agent's own batch already changed (a command run after file actions): judged
    /// again only if they change once more, and never taken for the user's.
    own: BTreeMap<String, Before>,
    /// clk's record of posts and the blackboard folder, put back if they change.
    clk: ClkGuard,
}

/// Who is being judged, and the cap.
#[derive(Debug, Clone)]
pub struct Judge<'a> {
    /// The kind the events carry: `native_change` or `run_change`.
    pub kind: &'a str,
    pub agent: &'a str,
    pub run_id: &'a str,
    pub max_files: u32,
    /// False when the dispatch failed: every change is undone.
    pub keep: bool,
}

/// Where git keeps meta file `name`: a work tree's own `HEAD` in its git dir; the config,
/// hooks and info/ in the repository's common dir, which a linked worktree (a run's) shares
/// with the user's checkout, so a hook written there would run in the user's.
fn meta_dir<'a>(repo: &'a git2::Repository, name: &str) -> &'a Path {
    if name == "HEAD" {
        repo.path()
    } else {
        repo.commondir()
    }
}

fn git_meta_files(repo: &git2::Repository) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for name in ["config", "HEAD"] {
        if let Ok(b) = std::fs::read(meta_dir(repo, name).join(name)) {
            out.insert(name.to_string(), b);
        }
    }
    let common = repo.commondir();
    for sub in ["hooks", "info"] {
        let mut stack = vec![common.join(sub)];
        while let Some(dir) = stack.pop() {
            let Ok(rd) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in rd.flatten() {
                let p = e.path();
                let Ok(meta) = std::fs::symlink_metadata(&p) else {
                    continue;
                };
                if meta.is_dir() {
                    stack.push(p);
                } else if meta.len() <= 1024 * 1024
                    && let (Ok(b), Ok(rel)) = (std::fs::read(&p), p.strip_prefix(common))
                {
                    out.insert(rel.to_string_lossy().into_owned(), b);
                }
            }
        }
    }
    out
}

fn head_of(repo: &git2::Repository) -> Option<(String, Oid)> {
    let head = repo.head().ok()?;
    let name = head.name().unwrap_or("HEAD").to_string();
    Some((name, head.target()?))
}

/// clk's own files that agents must not change; the rest of `.clk/` is clk's to write.
fn clk_protected(rel: &str) -> bool {
    rel.starts_with(".clk/config/") || rel.starts_with(".clk/prompts/")
}

impl Watch {
    /// Note the tree at `root` (canonical). None when it is not a git repository: then no
    /// change can be told from the user's and the caller must not trust native edits.
    pub fn begin(root: &Path) -> Option<Watch> {
        Watch::begin_excluding(root, &BTreeSet::new())
    }

    /// As [`Watch::begin`], where `own` are paths the agent's batch has already changed.
    pub fn begin_excluding(root: &Path, own: &BTreeSet<String>) -> Option<Watch> {
        // The call or command (git, a check) may read the index: it must be on disk.
        let _ = super::changes::flush_index(root);
        let repo = git::open(root)?;
        let mut budget = KEEP_TOTAL_BYTES;
        let (mut dirty, mut mine) = (BTreeMap::new(), BTreeMap::new());
        for rel in super::changes::dirty_now(root)?.ok()? {
            let before = Before::of(&root.join(&rel), &mut budget);
            if own.contains(&rel) {
                mine.insert(rel, before);
            } else {
                dirty.insert(rel, before);
            }
        }
        Some(Watch {
            root: root.to_path_buf(),
            dirty,
            git_files: git_meta_files(&repo),
            head: head_of(&repo),
            own: mine,
            clk: ClkGuard::begin(root),
        })
    }

    /// Judge every change since [`Watch::begin`]; undo the ones that break a rule.
    pub fn finish(mut self, judge: &Judge<'_>, bus: &Bus) -> BatchOutcome {
        let mut out = BatchOutcome::default();
        let decide = |out: &mut BatchOutcome, target: &str, decision: Decision, reason: String| {
            if decision != Decision::Applied {
                out.refused
                    .push(format!("{} {target}: {reason}", judge.kind));
            }
            bus.emit(Event::Action {
                agent: judge.agent.to_string(),
                run_id: judge.run_id.to_string(),
                kind: judge.kind.to_string(),
                target: target.to_string(),
                decision,
                reason,
            });
        };
        for (path, what) in std::mem::replace(&mut self.clk, ClkGuard::empty()).finish() {
            decide(
                &mut out,
                &path,
                Decision::Rejected,
                format!("{}; {what}", jail::CLK_REFUSAL),
            );
        }
        let Some(repo) = git::open(&self.root) else {
            return out;
        };
        self.undo_own_commits(&repo, judge, &mut out, &decide);
        self.restore_git_files(&repo, &mut out, &decide);

        let after: BTreeSet<String> = super::changes::dirty_now(&self.root)
            .and_then(Result::ok)
            .unwrap_or_default()
            .into_iter()
            .collect();
        let mut changed = Vec::new();
        for rel in after.iter().chain(self.dirty.keys()).chain(self.own.keys()) {
            if changed.contains(rel) {
                continue;
            }
            if rel.starts_with(".clk/") && !clk_protected(rel) {
                continue;
            }
            let moved = match self.dirty.get(rel).or_else(|| self.own.get(rel)) {
                Some(before) => !before.still_matches(&self.root.join(rel)),
                None => true,
            };
            if moved {
                changed.push(rel.clone());
            }
        }

        let mut allowed = Vec::new();
        let mut undo_from_head = Vec::new();
        for rel in changed {
            let abs = self.root.join(&rel);
            if let Some(before) = self.dirty.get(&rel) {
                let reason = match put_back(&abs, before) {
                    Ok(()) => {
                        "the file had uncommitted changes of yours; they were put back".to_string()
                    }
                    Err(e) => format!(
                        "the file had uncommitted changes of yours and could not be put back: {e}"
                    ),
                };
                decide(&mut out, &rel, Decision::Rejected, reason);
                continue;
            }
            let why = match jail::resolve(&self.root, &rel, Access::Write) {
                Err(r) => Some(r.0),
                Ok(_) if rel.starts_with(".clk/") => Some(jail::CLK_REFUSAL.into()),
                Ok(_) => not_a_plain_file(&abs).or_else(|| holds_a_key(&rel, &abs)),
            };
            match why {
                Some(why) => {
                    undo_from_head.push(rel.clone());
                    decide(&mut out, &rel, Decision::Rejected, format!("{why}; undone"));
                }
                None => allowed.push(rel),
            }
        }
        let over_cap = allowed.len() as u32 > judge.max_files;
        if over_cap {
            bus.emit(Event::BatchWarning {
                agent: judge.agent.to_string(),
                run_id: judge.run_id.to_string(),
                message: format!(
                    "undid all {} files the agent changed itself: the limit is {} per reply \
                     (validation.max_files_per_batch)",
                    allowed.len(),
                    judge.max_files
                ),
            });
        }
        for rel in allowed {
            if over_cap || !judge.keep {
                let reason = if over_cap {
                    format!("batch over the limit of {} files; undone", judge.max_files)
                } else {
                    "the dispatch failed; the agent's own change was undone".to_string()
                };
                undo_from_head.push(rel.clone());
                let decision = if over_cap {
                    Decision::Rejected
                } else {
                    Decision::Skipped
                };
                decide(&mut out, &rel, decision, reason);
                continue;
            }
            let exists = std::fs::symlink_metadata(self.root.join(&rel)).is_ok();
            if exists {
                out.written.push(rel.clone());
            } else {
                out.deleted.push(rel.clone());
            }
            let by = if judge.kind == "run_change" {
                "the command"
            } else {
                "the agent's own tools"
            };
            let how = if exists {
                format!("changed by {by}")
            } else {
                format!("deleted by {by}")
            };
            decide(&mut out, &rel, Decision::Applied, how);
        }
        if !undo_from_head.is_empty()
            && let Err(e) = git::restore_paths(&repo, None, &undo_from_head)
        {
            bus.emit(Event::Warning {
                message: format!("could not undo {}'s forbidden changes: {e}", judge.agent),
            });
        }
        out
    }

    /// A commit the agent made itself is taken back (its changes stay in the tree and are
    /// judged like any other), since clk commits each agent's work under its own rules.
    fn undo_own_commits(
        &self,
        repo: &git2::Repository,
        judge: &Judge<'_>,
        out: &mut BatchOutcome,
        decide: &dyn Fn(&mut BatchOutcome, &str, Decision, String),
    ) {
        let Some((name, old)) = &self.head else {
            return;
        };
        let now = repo.refname_to_id(name).ok();
        if now.is_none() || now == Some(*old) {
            return;
        }
        // Only the branch moves back; the index keeps the agent's content staged, so its
        // paths show as changed and are judged below like any other change.
        let result = repo
            .reference(name, *old, true, "clk: undo a commit an agent made itself")
            .map(|_| ());
        let short: String = now
            .map(|o| o.to_string())
            .unwrap_or_default()
            .chars()
            .take(8)
            .collect();
        let reason = match result {
            Ok(()) => format!(
                "{} committed by itself; clk commits agents' work, so the commit was undone and its changes judged",
                judge.agent
            ),
            Err(e) => format!(
                "{} committed by itself and the commit could not be undone: {}",
                judge.agent,
                e.message()
            ),
        };
        decide(out, &format!("commit {short}"), Decision::Rejected, reason);
    }

    fn restore_git_files(
        &self,
        repo: &git2::Repository,
        out: &mut BatchOutcome,
        decide: &dyn Fn(&mut BatchOutcome, &str, Decision, String),
    ) {
        let now = git_meta_files(repo);
        let names: BTreeSet<&String> = now.keys().chain(self.git_files.keys()).collect();
        for name in names {
            let (was, is) = (self.git_files.get(name), now.get(name));
            if was == is {
                continue;
            }
            let path = meta_dir(repo, name).join(name);
            let res = match was {
                Some(bytes) => std::fs::write(&path, bytes),
                None => std::fs::remove_file(&path),
            };
            let reason = match res {
                Ok(()) => "agents may not touch .git/; put back".to_string(),
                Err(e) => format!("agents may not touch .git/; could not put it back: {e}"),
            };
            decide(out, &format!(".git/{name}"), Decision::Rejected, reason);
        }
    }
}

/// The file would be committed: a key (one clk knows, or anything shaped like one) must not
/// reach git history, in the file's name or in its content. Files too large to read are
/// refused rather than committed unchecked.
fn holds_a_key(rel: &str, abs: &Path) -> Option<String> {
    use crate::engine::ground::redact::secret_in;
    if let Some(masked) = secret_in(rel) {
        return Some(format!("its name holds a key ({masked})"));
    }
    let meta = std::fs::symlink_metadata(abs).ok()?;
    if !meta.is_file() {
        return None;
    }
    if meta.len() > KEEP_FILE_BYTES {
        return Some(format!(
            "it is larger than {} MiB, too large to check for keys",
            KEEP_FILE_BYTES / (1024 * 1024)
        ));
    }
    let text = String::from_utf8_lossy(&std::fs::read(abs).ok()?).into_owned();
    secret_in(&text).map(|masked| format!("it holds a key ({masked})"))
}

/// Put a user's file back as it was.
fn put_back(abs: &Path, before: &Before) -> Result<(), String> {
    match before {
        Before::Absent => match std::fs::symlink_metadata(abs) {
            Ok(m) if m.is_dir() => Err("a folder now stands there".into()),
            Ok(_) => std::fs::remove_file(abs).map_err(|e| e.to_string()),
            Err(_) => Ok(()),
        },
        Before::Kept(bytes) => {
            if let Ok(m) = std::fs::symlink_metadata(abs)
                && m.file_type().is_symlink()
            {
                std::fs::remove_file(abs).map_err(|e| e.to_string())?;
            }
            if let Some(p) = abs.parent() {
                std::fs::create_dir_all(p).map_err(|e| e.to_string())?;
            }
            std::fs::write(abs, bytes).map_err(|e| e.to_string())
        }
        Before::Seen { .. } => Err(format!(
            "it is larger than {} MiB, too large to keep a copy",
            KEEP_FILE_BYTES / (1024 * 1024)
        )),
    }
}

#[cfg(test)]
mod tests;
