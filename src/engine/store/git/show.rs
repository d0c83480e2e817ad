//! Reading commits back for a person: the newest commit an agent made, and one commit's
//! changes as a unified diff. Read-only: nothing here writes to the repository.

use git2::{DiffFormat, Repository, Sort};

use super::GitError;

/// Commits looked at when searching for an agent's newest one.
const WALK_LIMIT: usize = 2_000;

/// How a line of a diff is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiffLine {
    /// Commit header and file names.
    Meta,
    /// `@@ … @@`
    Hunk,
    Added,
    Removed,
    Context,
}

/// The newest commit whose author is `agent` (clk signs agent commits `<agent> (clk)`),
/// searched from HEAD and the run branches (`clk/*`), so work not merged yet is found too.
pub fn last_commit_by(repo: &Repository, agent: &str) -> Option<String> {
    let author = format!("{agent} (clk)");
    let mut walk = repo.revwalk().ok()?;
    // Topological first: commits made in the same second still come newest first.
    walk.set_sorting(Sort::TOPOLOGICAL | Sort::TIME).ok()?;
    let _ = walk.push_head();
    let _ = walk.push_glob("refs/heads/clk/*");
    walk.flatten()
        .take(WALK_LIMIT)
        .filter_map(|oid| repo.find_commit(oid).ok())
        .find(|c| c.author().name().ok() == Some(author.as_str()))
        .map(|c| c.id().to_string())
}

/// Commit `sha` (whole or abbreviated, as `/undo` names it) as lines: a short header, then
/// the patch against its first parent.
pub fn commit_diff(repo: &Repository, sha: &str) -> Result<Vec<(DiffLine, String)>, GitError> {
    let commit = repo.revparse_single(sha)?.peel_to_commit()?;
    let tree = commit.tree()?;
    let parent_tree = match commit.parent(0) {
        Ok(p) => Some(p.tree()?),
        Err(_) => None,
    };
    let diff = repo.diff_tree_to_tree(parent_tree.as_ref(), Some(&tree), None)?;
    let mut out = vec![
        (
            DiffLine::Meta,
            format!(
                "commit {} · {}",
                &sha[..sha.len().min(10)],
                commit.author().name().unwrap_or("?")
            ),
        ),
        (
            DiffLine::Meta,
            commit
                .summary()
                .ok()
                .flatten()
                .unwrap_or_default()
                .to_string(),
        ),
    ];
    patch(&diff, &mut out)?;
    Ok(out)
}

/// What the current branch's newest move changed (its reflog's newest entry, old to new): a
/// merge clk made, fast-forward or not, as a whole, as `/undo` would take it back.
pub fn last_move_diff(repo: &Repository) -> Result<Vec<(DiffLine, String)>, GitError> {
    let head = repo.head()?;
    let name = head.name().unwrap_or("HEAD").to_string();
    let reflog = repo.reflog(&name)?;
    let Some(entry) = reflog.get(0) else {
        return Ok(vec![(DiffLine::Meta, format!("{name} has not moved"))]);
    };
    let new = repo.find_commit(entry.id_new())?;
    let old = repo.find_commit(entry.id_old()).ok();
    let old_tree = match &old {
        Some(c) => Some(c.tree()?),
        None => None,
    };
    let diff = repo.diff_tree_to_tree(old_tree.as_ref(), Some(&new.tree()?), None)?;
    let mut out = vec![(
        DiffLine::Meta,
        entry
            .message()
            .ok()
            .flatten()
            .unwrap_or("the last move")
            .to_string(),
    )];
    patch(&diff, &mut out)?;
    Ok(out)
}

/// The newest run branch (`clk/*`), by its tip's time.
pub fn newest_run_branch(repo: &Repository) -> Option<String> {
    repo.branches(Some(git2::BranchType::Local))
        .ok()?
        .flatten()
        .filter_map(|(b, _)| {
            let name = b.name().ok().flatten()?.to_string();
            let time = b.get().peel_to_commit().ok()?.time().seconds();
            name.starts_with("clk/").then_some((time, name))
        })
        .max()
        .map(|(_, name)| name)
}

/// Branch `branch` against where it left HEAD's history (their merge base): what the run
/// changed so far, as lines.
pub fn branch_diff(repo: &Repository, branch: &str) -> Result<Vec<(DiffLine, String)>, GitError> {
    let tip = repo
        .find_branch(branch, git2::BranchType::Local)?
        .get()
        .peel_to_commit()?;
    let head = repo.head()?.peel_to_commit()?;
    let base = repo.merge_base(head.id(), tip.id())?;
    let base_commit = repo.find_commit(base)?;
    let diff = repo.diff_tree_to_tree(Some(&base_commit.tree()?), Some(&tip.tree()?), None)?;
    let mut walk = repo.revwalk()?;
    walk.push(tip.id())?;
    walk.hide(base)?;
    let commits = walk.count();
    let base_sha = base.to_string();
    let mut out = vec![(
        DiffLine::Meta,
        format!(
            "{branch} · {commits} commit{} since {}",
            if commits == 1 { "" } else { "s" },
            base_sha.get(..10).unwrap_or(&base_sha)
        ),
    )];
    patch(&diff, &mut out)?;
    Ok(out)
}

/// A diff's patch as lines, appended to `out`.
fn patch(diff: &git2::Diff<'_>, out: &mut Vec<(DiffLine, String)>) -> Result<(), GitError> {
    diff.print(DiffFormat::Patch, |_, _, line| {
        let text = String::from_utf8_lossy(line.content());
        let text = text.trim_end_matches(['\n', '\r']);
        let kind = match line.origin() {
            '+' => DiffLine::Added,
            '-' => DiffLine::Removed,
            ' ' => DiffLine::Context,
            'H' => DiffLine::Hunk,
            _ => DiffLine::Meta,
        };
        let text = match kind {
            DiffLine::Added => format!("+{text}"),
            DiffLine::Removed => format!("-{text}"),
            DiffLine::Context => format!(" {text}"),
            DiffLine::Hunk | DiffLine::Meta => text.to_string(),
        };
        for l in text.split('\n') {
            out.push((kind, l.to_string()));
        }
        true
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::store::git::commit_paths;

    #[test]
    fn finds_the_agents_newest_commit_and_its_diff() {
        let dir = tempfile::tempdir().unwrap();
        let (r, _) = crate::engine::store::git::open_or_init(dir.path()).unwrap();
        crate::engine::store::git::ensure_identity(&r).unwrap();
        std::fs::write(dir.path().join("a.txt"), "one\n").unwrap();
        commit_paths(&r, "engineer", &["a.txt".into()], "add a").unwrap();
        std::fs::write(dir.path().join("a.txt"), "two\n").unwrap();
        let second = commit_paths(&r, "engineer", &["a.txt".into()], "change a")
            .unwrap()
            .unwrap();
        std::fs::write(dir.path().join("b.txt"), "b\n").unwrap();
        commit_paths(&r, "qa", &["b.txt".into()], "add b").unwrap();
        assert_eq!(last_commit_by(&r, "engineer"), Some(second.sha.clone()));
        assert_eq!(last_commit_by(&r, "nobody"), None);
        let lines = commit_diff(&r, &second.sha).unwrap();
        assert!(
            lines.contains(&(DiffLine::Removed, "-one".into())),
            "{lines:?}"
        );
        assert!(
            lines.contains(&(DiffLine::Added, "+two".into())),
            "{lines:?}"
        );
        assert!(
            lines
                .iter()
                .any(|(k, t)| *k == DiffLine::Hunk && t.starts_with("@@"))
        );
        assert_eq!(lines[1], (DiffLine::Meta, "change a".into()));
    }

    #[test]
    fn a_run_branch_diff_covers_every_commit_since_it_left_head() {
        let dir = tempfile::tempdir().unwrap();
        let (r, _) = crate::engine::store::git::open_or_init(dir.path()).unwrap();
        crate::engine::store::git::ensure_identity(&r).unwrap();
        std::fs::write(dir.path().join("a.txt"), "one\n").unwrap();
        commit_paths(&r, "engineer", &["a.txt".into()], "add a").unwrap();
        let main = r.head().unwrap().name().unwrap().to_string();
        let start = r.head().unwrap().peel_to_commit().unwrap();
        r.branch("clk/r-1", &start, false).unwrap();
        r.set_head("refs/heads/clk/r-1").unwrap();
        std::fs::write(dir.path().join("a.txt"), "two\n").unwrap();
        commit_paths(&r, "engineer", &["a.txt".into()], "change a").unwrap();
        std::fs::write(dir.path().join("b.txt"), "b\n").unwrap();
        commit_paths(&r, "qa", &["b.txt".into()], "add b").unwrap();
        r.set_head(&main).unwrap();
        assert_eq!(newest_run_branch(&r).as_deref(), Some("clk/r-1"));
        let lines = branch_diff(&r, "clk/r-1").unwrap();
        assert!(
            lines[0].1.starts_with("clk/r-1 · 2 commits since "),
            "{lines:?}"
        );
        for want in ["-one", "+two", "+b"] {
            assert!(lines.iter().any(|(_, t)| t == want), "{want}: {lines:?}");
        }
        assert!(branch_diff(&r, "clk/none").is_err());
    }
}
