//! `/undo`: take back the last commit clk made, with a new commit that reverts it.
//!
//! Only clk's own commits are candidates (author `… (clk)`, `clk+…@local.invalid`), never the
//! commit that set clk up, never a merge, and never one already reverted. The revert touches
//! exactly the files that commit changed, and only when each of them is still as that commit
//! left it and has no uncommitted edits: later work, the user's commits and the user's
//! uncommitted changes are never overwritten. Previewing changes nothing. When the newest
//! thing on the user's branch is a merge clk made, that merge is taken back as a whole
//! (`merge.rs`).

mod merge;
mod types;

pub use types::{Change, Done, Plan, UNDO_AUTHOR};

use git2::{Commit, Delta, Oid, Repository};

use crate::engine::store::git;

/// Authors whose commits undo never offers: setting clk up, and undo itself.
const NOT_UNDOABLE: &[&str] = &["clk-init", UNDO_AUTHOR];

/// How far back to look for a clk commit.
const SEARCH_DEPTH: usize = 500;

fn clk_agent(c: &Commit<'_>) -> Option<String> {
    let author = c.author();
    let email = author.email().unwrap_or_default();
    if !(email.starts_with("clk+") && email.ends_with("@local.invalid")) {
        return None;
    }
    let name = author.name().unwrap_or_default();
    Some(name.trim_end_matches(" (clk)").to_string())
}

fn reverts_of(c: &Commit<'_>) -> Option<Oid> {
    c.message()
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("Reverts: "))
        .and_then(|s| Oid::from_str(s.trim()).ok())
}

/// The newest clk commit on the first-parent history that is not reverted yet.
fn find_target(repo: &Repository) -> Result<Option<Commit<'_>>, git::GitError> {
    let Ok(head) = repo.head() else {
        return Ok(None);
    };
    let mut next = Some(head.peel_to_commit()?);
    let mut reverted = Vec::new();
    for _ in 0..SEARCH_DEPTH {
        let Some(c) = next else { break };
        if c.parent_count() > 1 {
            // History past a merge is not ours to rewrite piecemeal.
            break;
        }
        if let Some(agent) = clk_agent(&c) {
            if agent == UNDO_AUTHOR {
                reverted.extend(reverts_of(&c));
            } else if !NOT_UNDOABLE.contains(&agent.as_str()) && !reverted.contains(&c.id()) {
                return Ok(Some(c));
            }
        }
        next = c.parent(0).ok();
    }
    Ok(None)
}

fn changes(repo: &Repository, c: &Commit<'_>) -> Result<Vec<Change>, git::GitError> {
    let parent = c.parent(0)?;
    let diff = repo.diff_tree_to_tree(Some(&parent.tree()?), Some(&c.tree()?), None)?;
    let mut out = Vec::new();
    for d in diff.deltas() {
        let how = match d.status() {
            Delta::Added => "added",
            Delta::Deleted => "deleted",
            Delta::Renamed => "renamed",
            _ => "modified",
        };
        for f in [d.old_file(), d.new_file()] {
            if let Some(p) = f.path().and_then(|p| p.to_str()) {
                if !out.iter().any(|o: &Change| o.path == p) {
                    out.push(Change {
                        path: p.to_string(),
                        how,
                    });
                }
            }
        }
    }
    Ok(out)
}

/// Why reverting `c` now would overwrite something, if it would.
fn blocked(
    repo: &Repository,
    c: &Commit<'_>,
    paths: &[String],
) -> Result<Option<String>, git::GitError> {
    let head_tree = repo.head()?.peel_to_commit()?.tree()?;
    let its_tree = c.tree()?;
    let blob =
        |t: &git2::Tree<'_>, p: &str| t.get_path(std::path::Path::new(p)).ok().map(|e| e.id());
    let later: Vec<&str> = paths
        .iter()
        .filter(|p| blob(&head_tree, p) != blob(&its_tree, p))
        .map(String::as_str)
        .collect();
    if !later.is_empty() {
        return Ok(Some(format!(
            "{} changed in a later commit; undo does not overwrite later work (revert by hand \
             with git if you mean it)",
            later.join(", ")
        )));
    }
    let dirty = git::dirty_among(repo, paths);
    if !dirty.is_empty() {
        return Ok(Some(format!(
            "you have uncommitted changes to {}; commit or stash them, then /undo again",
            dirty.join(", ")
        )));
    }
    Ok(None)
}

fn age(c: &Commit<'_>) -> String {
    let secs = (chrono::Utc::now().timestamp() - c.time().seconds()).max(0);
    match secs {
        0..=59 => format!("{secs}s ago"),
        60..=3599 => format!("{} min ago", secs / 60),
        3600..=86_399 => format!("{} h ago", secs / 3600),
        _ => format!("{} days ago", secs / 86_400),
    }
}

/// What undo would do now, or None when there is no clk commit to undo.
pub fn plan(repo: &Repository) -> Result<Option<Plan>, git::GitError> {
    if let Some(t) = merge::find(repo) {
        return merge::plan(repo, &t).map(Some);
    }
    let Some(c) = find_target(repo)? else {
        return Ok(None);
    };
    let changes = changes(repo, &c)?;
    let paths: Vec<String> = changes.iter().map(|ch| ch.path.clone()).collect();
    Ok(Some(Plan {
        sha: c.id().to_string(),
        subject: c.summary().ok().flatten().unwrap_or_default().to_string(),
        agent: clk_agent(&c).unwrap_or_default(),
        when: age(&c),
        blocked: blocked(repo, &c, &paths)?,
        changes,
    }))
}

/// Readable lines describing `plan` for a preview.
pub fn preview_lines(plan: Option<&Plan>) -> Vec<String> {
    let Some(p) = plan else {
        return vec!["There is no clk commit to undo.".into()];
    };
    let mut out = vec![format!(
        "Last clk commit: {} {} (by {}, {})",
        &p.sha[..7],
        p.subject,
        p.agent,
        p.when
    )];
    for ch in &p.changes {
        out.push(format!("  {} {}", ch.how, ch.path));
    }
    match &p.blocked {
        Some(why) => out.push(format!("It cannot be undone now: {why}.")),
        None => out.push(
            "Type /undo confirm to revert it with a new commit (your own commits and \
             uncommitted changes are not touched)."
                .into(),
        ),
    }
    out
}

/// Revert the commit `plan` names, checking again that nothing changed since the preview.
pub fn revert(repo: &Repository) -> Result<Done, String> {
    if let Some(t) = merge::find(repo) {
        return merge::revert(repo, &t);
    }
    let plan = plan(repo)
        .map_err(|e| e.to_string())?
        .ok_or("there is no clk commit to undo")?;
    if let Some(why) = &plan.blocked {
        return Err(format!("cannot undo {}: {why}", &plan.sha[..7]));
    }
    let commit = repo
        .find_commit(Oid::from_str(&plan.sha).map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    let parent = commit.parent(0).map_err(|e| e.to_string())?;
    let files: Vec<String> = plan.changes.iter().map(|c| c.path.clone()).collect();
    git::restore_paths(repo, Some(&parent.id().to_string()), &files).map_err(|e| e.to_string())?;
    let message = format!(
        "[undo] Revert \"{}\"\n\nTakes back commit {} by {}.\n\nReverts: {}\n\nGenerated by clk\n",
        plan.subject,
        &plan.sha[..7],
        plan.agent,
        plan.sha
    );
    let info = git::commit_paths(repo, UNDO_AUTHOR, &files, &message)
        .map_err(|e| e.to_string())?
        .ok_or("the revert changed nothing (the files already match the commit before it)")?;
    Ok(Done {
        reverted: plan.sha,
        sha: info.sha,
        subject: info.subject,
        files,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::path::Path;

    fn repo(dir: &Path) -> Repository {
        let (r, _) = git::open_or_init(dir).unwrap();
        git::ensure_identity(&r).unwrap();
        r
    }

    fn commit_as(
        r: &Repository,
        dir: &Path,
        author: &str,
        files: &[(&str, Option<&str>)],
    ) -> String {
        let mut paths = Vec::new();
        for (p, text) in files {
            match text {
                Some(t) => fs::write(dir.join(p), t).unwrap(),
                None => fs::remove_file(dir.join(p)).unwrap(),
            }
            paths.push(p.to_string());
        }
        git::commit_paths(r, author, &paths, &format!("[{author}] change"))
            .unwrap()
            .unwrap()
            .sha
    }

    /// A commit by the user: plain git identity, not clk's.
    fn user_commit(r: &Repository, dir: &Path, path: &str, text: &str) {
        fs::write(dir.join(path), text).unwrap();
        let mut idx = r.index().unwrap();
        idx.add_path(Path::new(path)).unwrap();
        idx.write().unwrap();
        let tree = r.find_tree(idx.write_tree().unwrap()).unwrap();
        let sig = git2::Signature::now("Ada", "ada@example.com").unwrap();
        let head = r.head().unwrap().peel_to_commit().unwrap();
        r.commit(Some("HEAD"), &sig, &sig, "mine", &tree, &[&head])
            .unwrap();
    }

    #[test]
    fn undo_reverts_the_last_clk_commit_then_the_one_before() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let r = repo(d);
        commit_as(&r, d, "clk-init", &[("README.md", Some("hi\n"))]);
        let first = commit_as(&r, d, "engineer", &[("a.py", Some("a = 1\n"))]);
        let second = commit_as(
            &r,
            d,
            "qa",
            &[("a.py", Some("a = 2\n")), ("t.py", Some("t\n"))],
        );
        user_commit(&r, d, "notes.txt", "mine\n");
        fs::write(d.join("scratch.txt"), "uncommitted\n").unwrap();

        let p = plan(&r).unwrap().unwrap();
        assert_eq!(p.sha, second);
        assert_eq!(p.agent, "qa");
        assert!(p.blocked.is_none(), "{:?}", p.blocked);
        let lines = preview_lines(Some(&p));
        assert!(lines[0].contains("by qa"), "{lines:?}");
        assert!(lines.iter().any(|l| l.contains("added t.py")), "{lines:?}");

        let done = revert(&r).unwrap();
        assert_eq!(done.reverted, second);
        assert_eq!(fs::read_to_string(d.join("a.py")).unwrap(), "a = 1\n");
        assert!(!d.join("t.py").exists());
        // The user's commit and uncommitted file are untouched.
        assert_eq!(fs::read_to_string(d.join("notes.txt")).unwrap(), "mine\n");
        assert_eq!(
            fs::read_to_string(d.join("scratch.txt")).unwrap(),
            "uncommitted\n"
        );
        let head = r.head().unwrap().peel_to_commit().unwrap();
        assert!(
            head.message()
                .unwrap()
                .contains(&format!("Reverts: {second}"))
        );

        // Next undo skips the reverted commit and offers the one before it.
        assert_eq!(plan(&r).unwrap().unwrap().sha, first);
        revert(&r).unwrap();
        assert!(!d.join("a.py").exists());
        // Only clk-init is left: nothing to undo.
        assert!(plan(&r).unwrap().is_none());
        assert_eq!(preview_lines(None), vec!["There is no clk commit to undo."]);
        assert!(revert(&r).unwrap_err().contains("no clk commit"));
    }

    #[test]
    fn undo_refuses_to_overwrite_later_or_uncommitted_work() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let r = repo(d);
        commit_as(&r, d, "clk-init", &[("README.md", Some("hi\n"))]);
        commit_as(&r, d, "engineer", &[("a.py", Some("a = 1\n"))]);
        // Uncommitted edit to the commit's file.
        fs::write(d.join("a.py"), "a = 1  # my edit\n").unwrap();
        let p = plan(&r).unwrap().unwrap();
        assert!(
            p.blocked
                .as_deref()
                .unwrap()
                .contains("uncommitted changes to a.py")
        );
        let err = revert(&r).unwrap_err();
        assert!(err.contains("uncommitted"), "{err}");
        assert_eq!(
            fs::read_to_string(d.join("a.py")).unwrap(),
            "a = 1  # my edit\n"
        );
        // The user commits the edit: now a later commit changed the file.
        user_commit(&r, d, "a.py", "a = 1  # my edit\n");
        let p = plan(&r).unwrap().unwrap();
        assert!(
            p.blocked.as_deref().unwrap().contains("later commit"),
            "{p:?}"
        );
        assert!(revert(&r).is_err());
        assert_eq!(
            fs::read_to_string(d.join("a.py")).unwrap(),
            "a = 1  # my edit\n"
        );
    }
}
