//! The pre-push secret scan: the commits a push would send, looked through for lines that add
//! a key-shaped string and for files whose names say they hold keys
//! ([`crate::engine::ground::leaks`]). Also the hook that runs it on every `git push`.
//!
//! Bounded: at most [`MAX_COMMITS`] commits, lines of files under [`MAX_FILE_BYTES`], and
//! the first [`MAX_FINDINGS`] findings.

use std::path::{Path, PathBuf};

use git2::{Delta, DiffOptions, Oid, Repository};

use super::GitError;
use crate::engine::ground::leaks;

pub const MAX_COMMITS: usize = 5000;
pub const MAX_FINDINGS: usize = 50;
const MAX_FILE_BYTES: u64 = 2 * 1024 * 1024;

/// One thing the scan found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Short id of the commit that adds it.
    pub commit: String,
    pub path: String,
    /// 1-based line in the new file; `None` for a file found by its name.
    pub line: Option<u32>,
    pub kind: &'static str,
    /// The start of what was found, never the whole secret.
    pub hint: String,
}

impl Finding {
    pub fn describe(&self) -> String {
        match self.line {
            Some(n) => format!(
                "{} {}:{n}: {} ({})",
                self.commit, self.path, self.kind, self.hint
            ),
            None => format!("{} {}: {}", self.commit, self.path, self.kind),
        }
    }
}

/// What was scanned and found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scan {
    pub commits: usize,
    pub findings: Vec<Finding>,
}

/// The commits reachable from `tips` and not from `hide` (nor, with `hide_remotes`, from any
/// remote-tracking branch): what a push of `tips` sends. Each is compared with its first
/// parent.
pub fn scan(
    repo: &Repository,
    tips: &[Oid],
    hide: &[Oid],
    hide_remotes: bool,
) -> Result<Scan, GitError> {
    let mut walk = repo.revwalk()?;
    for t in tips {
        walk.push(*t)?;
    }
    for h in hide {
        // A remote tip this clone never fetched cannot be hidden; the walk then covers more.
        let _ = walk.hide(*h);
    }
    if hide_remotes {
        walk.hide_glob("refs/remotes/*")?;
    }
    let mut out = Scan::default();
    for oid in walk.take(MAX_COMMITS) {
        let commit = repo.find_commit(oid?)?;
        out.commits += 1;
        let tree = commit.tree()?;
        let parent = match commit.parents().next() {
            Some(p) => Some(p.tree()?),
            None => None,
        };
        let mut opts = DiffOptions::new();
        opts.max_size(MAX_FILE_BYTES as i64);
        let diff = repo.diff_tree_to_tree(parent.as_ref(), Some(&tree), Some(&mut opts))?;
        let short = oid_short(&commit.id());
        for delta in diff.deltas() {
            if !matches!(
                delta.status(),
                Delta::Added | Delta::Modified | Delta::Renamed
            ) {
                continue;
            }
            let path = delta
                .new_file()
                .path()
                .map(|p| p.to_string_lossy().replace('\\', "/"))
                .unwrap_or_default();
            if delta.status() == Delta::Added
                && let Some(kind) = leaks::in_file_name(&path)
            {
                out.findings.push(Finding {
                    commit: short.clone(),
                    path: path.clone(),
                    line: None,
                    kind,
                    hint: String::new(),
                });
            }
        }
        diff.foreach(
            &mut |_, _| true,
            None,
            None,
            Some(&mut |delta, _hunk, line| {
                if line.origin() != '+' || out.findings.len() >= MAX_FINDINGS {
                    return true;
                }
                let text = String::from_utf8_lossy(line.content());
                if let Some(kind) = leaks::in_line(&text) {
                    out.findings.push(Finding {
                        commit: short.clone(),
                        path: delta
                            .new_file()
                            .path()
                            .map(|p| p.to_string_lossy().replace('\\', "/"))
                            .unwrap_or_default(),
                        line: line.new_lineno(),
                        kind,
                        hint: leaks::hint(&text),
                    });
                }
                true
            }),
        )?;
        if out.findings.len() >= MAX_FINDINGS {
            out.findings.truncate(MAX_FINDINGS);
            break;
        }
    }
    Ok(out)
}

fn oid_short(oid: &Oid) -> String {
    oid.to_string().chars().take(8).collect()
}

/// The commits `git push` would send from `root`'s current branch: those not on any remote.
pub fn scan_unpushed(root: &Path) -> Result<Scan, GitError> {
    let repo = Repository::discover(root)?;
    let Some(head) = repo.head().ok().and_then(|h| h.target()) else {
        return Ok(Scan::default());
    };
    scan(&repo, &[head], &[], true)
}

/// Scan what git's pre-push hook hands over on standard input: one
/// `<local ref> <local sha> <remote ref> <remote sha>` line per ref being pushed.
pub fn scan_pre_push(root: &Path, stdin: &str) -> Result<Scan, GitError> {
    let repo = Repository::discover(root)?;
    let zero = |s: &str| s.chars().all(|c| c == '0');
    let mut total = Scan::default();
    for line in stdin.lines() {
        let parts: Vec<&str> = line.split_whitespace().collect();
        let [_, local, _, remote] = parts.as_slice() else {
            continue;
        };
        if zero(local) {
            continue; // a branch being deleted sends nothing
        }
        let tip = Oid::from_str(local)?;
        let (hide, hide_remotes) = if zero(remote) {
            (Vec::new(), true) // a new branch: what no remote branch has yet
        } else {
            (vec![Oid::from_str(remote)?], false)
        };
        let one = scan(&repo, &[tip], &hide, hide_remotes)?;
        total.commits += one.commits;
        total.findings.extend(one.findings);
    }
    total.findings.truncate(MAX_FINDINGS);
    Ok(total)
}

/// The check clk runs itself before any push it makes (the hook may not be installed): the
/// commits from `tip` (default HEAD) not on any remote. An error says what was found.
pub fn check_before_push(root: &Path, tip: Option<&str>) -> Result<(), String> {
    let found = match tip {
        None => scan_unpushed(root),
        Some(t) => Repository::discover(root)
            .and_then(|repo| Ok((repo, Oid::from_str(t)?)))
            .map_err(GitError::from)
            .and_then(|(repo, oid)| scan(&repo, &[oid], &[], true)),
    }
    .map_err(|e| format!("push held: the secret scan could not run: {e}"))?;
    match found.findings.first() {
        None => Ok(()),
        Some(f) => Err(format!(
            "push held: the secret scan found {} thing(s) that look like keys, first {}; \
             `clk scan-secrets` lists them",
            found.findings.len(),
            f.describe()
        )),
    }
}

/// The first line of clk's hook, by which it knows its own.
pub const HOOK_MARK: &str = "# clk: pre-push secret scan";

/// What [`install_hook`] found or did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hook {
    Installed(PathBuf),
    AlreadyThere(PathBuf),
    /// Another pre-push hook (or a `core.hooksPath` of the user's) is there: left alone.
    Other(PathBuf),
}

/// Where git looks for `root`'s pre-push hook, and whether the user points hooks elsewhere.
fn hook_path(repo: &Repository) -> (PathBuf, bool) {
    let custom = repo
        .config()
        .ok()
        .and_then(|c| c.get_path("core.hooksPath").ok());
    match custom {
        Some(dir) => (dir.join("pre-push"), true),
        None => (repo.commondir().join("hooks").join("pre-push"), false),
    }
}

/// Whether `root`'s repository runs clk's scan before a push.
pub fn hook_state(root: &Path) -> Option<Hook> {
    let repo = Repository::discover(root).ok()?;
    let (path, custom) = hook_path(&repo);
    match std::fs::read_to_string(&path) {
        Ok(text)
            if text
                .lines()
                .nth(1)
                .is_some_and(|l| l.starts_with(HOOK_MARK)) =>
        {
            Some(Hook::AlreadyThere(path))
        }
        Ok(_) => Some(Hook::Other(path)),
        Err(_) if custom => Some(Hook::Other(path)),
        Err(_) => None,
    }
}

/// Install the pre-push hook that runs `clk_exe scan-secrets --pre-push`, unless a hook of
/// the user's is there (never replaced).
pub fn install_hook(root: &Path, clk_exe: &Path) -> Result<Hook, GitError> {
    if let Some(state) = hook_state(root) {
        return Ok(state);
    }
    let repo = Repository::discover(root)?;
    let (path, _) = hook_path(&repo);
    let exe = clk_exe.display().to_string().replace('\'', "'\\''");
    let script = format!(
        "#!/bin/sh\n{HOOK_MARK}: blocks a push whose new commits add keys or key files.\n\
         # Skip it once with `git push --no-verify`.\n\
         clk_bin='{exe}'\n\
         [ -x \"$clk_bin\" ] || clk_bin=\"$(command -v clk)\"\n\
         if [ -z \"$clk_bin\" ]; then\n\
         \x20 echo \"clk's secret scan: clk not found, so the push is stopped; \
         git push --no-verify skips the scan\" >&2\n\
         \x20 exit 1\n\
         fi\n\
         exec \"$clk_bin\" scan-secrets --pre-push \"$@\"\n"
    );
    let err = |e: std::io::Error| GitError(format!("{}: {e}", path.display()));
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    std::fs::write(&path, script).map_err(err)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).map_err(err)?;
    }
    Ok(Hook::Installed(path))
}
