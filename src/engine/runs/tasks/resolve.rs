//! A rebase conflict resolved where it stopped. The proof leaves a conflicting rebase in the
//! task's worktree; the next run gives the implementer a turn whose prompt names the
//! conflicted files and shows their conflict hunks. Its edits go through the gate as any
//! turn's; when no conflict marker is left, they are staged and the rebase continues (maybe to
//! the next conflicting commit, resolved the same way). Then the task is finished again and
//! its proof runs the checks anew. After [`MAX_TRIES`] turns that leave markers, the rebase is
//! given up: the task starts again from the user's current code, as the timeline says.

use std::path::Path;

use super::proof::{conflicted, git_in, restart};
use super::run::{Ctx, Ended};
use crate::engine::agents::dispatch::CommitPolicy;
use crate::engine::store::git;

/// Resolving turns in one run before the rebase is given up.
pub const MAX_TRIES: u32 = 2;

/// Most characters of one file's conflict hunks in the prompt.
const MAX_HUNKS: usize = 6_000;

/// Whether a rebase waits in the worktree at `path`.
pub fn pending(path: &Path) -> bool {
    git2::Repository::open(path).is_ok_and(|r| {
        matches!(
            r.state(),
            git2::RepositoryState::Rebase
                | git2::RepositoryState::RebaseMerge
                | git2::RepositoryState::RebaseInteractive
        )
    })
}

fn is_marker(line: &str) -> bool {
    line.starts_with("<<<<<<<") || line.starts_with(">>>>>>>")
}

/// The conflict hunks of `text`, each with two lines around it, cut at [`MAX_HUNKS`].
pub fn hunks(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut keep = vec![false; lines.len()];
    let mut inside = false;
    for (i, l) in lines.iter().enumerate() {
        if l.starts_with("<<<<<<<") {
            inside = true;
            for k in keep.iter_mut().take(i + 1).skip(i.saturating_sub(2)) {
                *k = true;
            }
        }
        if inside {
            keep[i] = true;
        }
        if l.starts_with(">>>>>>>") {
            inside = false;
            for k in keep.iter_mut().skip(i).take(3) {
                *k = true;
            }
        }
    }
    let mut out = String::new();
    let mut last = None;
    for (i, l) in lines.iter().enumerate().filter(|(i, _)| keep[*i]) {
        if last.is_some_and(|p: usize| p + 1 != i) {
            out.push_str("...\n");
        }
        out.push_str(&format!("{:>5} | {l}\n", i + 1));
        last = Some(i);
        if out.len() > MAX_HUNKS {
            out.push_str("[cut]\n");
            break;
        }
    }
    out
}

/// The conflicted files of `files` that still hold a conflict marker.
fn still_marked(path: &Path, files: &[String]) -> Vec<String> {
    files
        .iter()
        .filter(|f| std::fs::read_to_string(path.join(f)).is_ok_and(|t| t.lines().any(is_marker)))
        .cloned()
        .collect()
}

fn objective(ctx: &Ctx<'_>, files: &[String], again: Option<&str>) -> String {
    let mut o = format!(
        "Task {}: {}\n\nYour finished work is being rebased onto the user's current branch, and \
         the rebase stopped on a conflict in {}. Resolve it: edit each conflicted file so it \
         keeps what both sides meant and has no conflict markers (<<<<<<<, =======, >>>>>>>) \
         left. Change nothing else.",
        ctx.task.id,
        ctx.task.prompt,
        files.join(", ")
    );
    for f in files {
        let text = std::fs::read_to_string(ctx.path.join(f)).unwrap_or_default();
        o.push_str(&format!(
            "\n\n{f} (the conflict hunks, with line numbers):\n{}",
            hunks(&text)
        ));
    }
    if let Some(a) = again {
        o.push_str("\n\n");
        o.push_str(a);
    }
    o
}

/// Resolve the rebase waiting in the task's worktree. `Ok(true)`: resolved and the rebase
/// done; `Ok(false)`: given up, the branch starts again from the user's code.
pub async fn run(ctx: &mut Ctx<'_>) -> Result<bool, Ended> {
    let (mut tp, agent) = (ctx.tp.clone(), ctx.agent.clone());
    // Nothing uncommitted in a stopped rebase is the user's (the conflicted files are the
    // rebase's), and its edits are committed by `rebase --continue`, not after the turn: so
    // the gate neither guards nor commits them, but still jails and checks every action.
    tp.config.auto_commit = false;
    let mut again: Option<String> = None;
    let mut tries = 0;
    let mut files = conflicted(&ctx.path);
    while tries < MAX_TRIES {
        if files.is_empty() {
            // Nothing left conflicted (resolved before a restart): go on with the rebase.
            match next(ctx) {
                Ok(None) => return Ok(true),
                Ok(Some(more)) => files = more,
                Err(e) => {
                    ctx.log("resolve", &format!("the rebase could not go on: {e}"));
                    break;
                }
            }
            continue;
        }
        tries += 1;
        let o = objective(ctx, &files, again.take().as_deref());
        let t = ctx
            .turn("resolver", &tp, &agent, o, CommitPolicy::Now)
            .await?;
        let left = still_marked(&ctx.path, &files);
        if let Some(e) = &t.error {
            again = Some(format!("Your last turn failed: {e}. Try again."));
            ctx.log("resolve", &format!("turn {}: the call failed: {e}", t.n));
        } else if !left.is_empty() {
            ctx.log(
                "resolve",
                &format!("turn {}: conflict markers left in {}", t.n, left.join(", ")),
            );
            again = Some(format!(
                "Your last turn left conflict markers in {}. Remove every one.",
                left.join(", ")
            ));
        } else {
            ctx.log(
                "resolve",
                &format!(
                    "turn {}: resolved the conflict in {}",
                    t.n,
                    files.join(", ")
                ),
            );
            files = Vec::new();
            tries = 0;
        }
    }
    give_up(ctx, tries)?;
    Ok(false)
}

/// Stage everything the resolver changed and let the rebase go on: `Ok(None)` when it is done,
/// `Ok(Some(files))` when the next commit conflicts too.
fn next(ctx: &Ctx<'_>) -> Result<Option<Vec<String>>, String> {
    let path = &ctx.path;
    git::deferred::release(path).map_err(|e| e.to_string())?;
    git_in(path, &["add", "-A"])?;
    let go_on = git_in(path, &["-c", "core.editor=true", "rebase", "--continue"]);
    if !pending(path) {
        return go_on.map(|_| None);
    }
    let more = conflicted(path);
    if more.is_empty() {
        return Err(go_on.err().unwrap_or_else(|| "it stopped".into()));
    }
    ctx.log(
        "resolve",
        &format!("the next commit conflicts too, in {}", more.join(", ")),
    );
    Ok(Some(more))
}

/// Give the rebase up: the branch starts again from where the rebase was going.
fn give_up(ctx: &Ctx<'_>, tries: u32) -> Result<(), Ended> {
    let onto = ctx.base.clone();
    let short: String = onto.chars().take(8).collect();
    let keep = restart(&ctx.path, &ctx.task.branch, &onto)
        .map_err(|e| Ended::Failed(format!("could not restart it from {short}: {e}")))?;
    // Its old handoff describes work that is gone.
    let _ = ctx.store.set_handoff(ctx.task.id, "");
    ctx.log(
        "proof",
        &format!(
            "the rebase conflict was not resolved after {tries} turn(s), so the task starts \
             again from your current code ({short}; its earlier commits are kept under {keep}); \
             do it again so it fits"
        ),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hunks_show_each_conflict_with_a_little_around_it() {
        let text = "a\nb\nc\nd\n<<<<<<< HEAD\nmine\n=======\ntheirs\n>>>>>>> x\ne\nf\ng\nh\n";
        let h = hunks(text);
        assert!(
            h.starts_with("    3 | c\n    4 | d\n    5 | <<<<<<< HEAD\n"),
            "{h}"
        );
        assert!(
            h.contains("    9 | >>>>>>> x\n   10 | e\n   11 | f\n"),
            "{h}"
        );
        assert!(!h.contains("| a\n") && !h.contains("| h\n"), "{h}");
        assert!(is_marker("<<<<<<< HEAD") && !is_marker("======="));
    }
}
