//! A run in its own git worktree, and how its branch reaches the user's branch.
//!
//! [`begin`] branches `clk/<run-id>` from the user's HEAD into a worktree under the git dir
//! and records it in `.clk/state/runs/<run-id>.json` with clk's PID, so a run killed at any
//! point leaves its half-done batch there and the next start can say so ([`leftovers`]).
//! [`finish`] commits what is left in the worktree, merges the branch by the `autonomy`
//! setting (ask first, merge, or merge and push), hands the worktree back to the pool of idle
//! ones (or removes it), drops the record, and keeps the branch only when the merge waits for
//! the user (`clk merge`, `/merge`).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::engine::ground::config::Autonomy;
use crate::engine::ground::events::Event;
use crate::engine::ground::redact;
use crate::engine::store::bus::Bus;
use crate::engine::store::git::merge::{MergeOutcome, merge_branch};
use crate::engine::store::git::{self, worktree};
use crate::engine::store::workspace::{Project, Workspace, read_json, write_json};

pub use super::push::push;

/// Author of the commit that keeps a run's uncommitted files when it ends.
const LEFTOVER_AUTHOR: &str = "clk-run";

/// What `.clk/state/runs/<run-id>.json` holds while a run is going.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    pub run_id: String,
    pub branch: String,
    pub path: String,
    pub base: String,
    pub pid: u32,
    /// The run's latest check (a stage's validation, a loop's checks, the done gate's tests):
    /// `balanced` merges at the end only when it passed, or when none ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_check: Option<CheckNote>,
}

/// One check a run ran, as its record keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckNote {
    pub passed: bool,
    /// What ran and how it ended, for the person: "`pytest -q` failed (exit 1)".
    pub what: String,
}

/// Note the outcome of a check that ran in `ws`'s work root on that run's record. Nothing
/// happens outside a run's worktree.
pub fn note_check(ws: &Workspace, passed: bool, what: &str) {
    if !ws.isolated() {
        return;
    }
    for mut rec in records(ws) {
        if Path::new(&rec.path) == ws.work {
            rec.last_check = Some(CheckNote {
                passed,
                what: redact::redact_text(what),
            });
            write_record(ws, &rec);
        }
    }
}

/// A run working in its own worktree: `project` is the caller's with the work root moved.
#[derive(Debug, Clone)]
pub struct Isolation {
    pub project: Project,
    pub record: RunRecord,
}

fn records_dir(ws: &Workspace) -> PathBuf {
    ws.state_dir().join("runs")
}

fn record_path(ws: &Workspace, run_id: &str) -> PathBuf {
    records_dir(ws).join(format!("{run_id}.json"))
}

pub(crate) fn alive(pid: u32) -> bool {
    // SAFETY: signal 0 only asks whether the process exists; nothing is sent.
    pid > 0 && unsafe { libc::kill(pid as i32, 0) } == 0
}

/// Every run record, oldest first.
fn records(ws: &Workspace) -> Vec<RunRecord> {
    let Ok(dir) = std::fs::read_dir(records_dir(ws)) else {
        return Vec::new();
    };
    let mut out: Vec<RunRecord> = dir
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .filter_map(|e| read_json(&e.path()).ok().flatten())
        .filter_map(|v| serde_json::from_value::<RunRecord>(v).ok())
        .collect();
    out.sort_by(|a, b| a.run_id.cmp(&b.run_id));
    out
}

fn going(r: &RunRecord) -> bool {
    r.pid == std::process::id() || alive(r.pid)
}

/// Runs whose clk process is gone but whose worktree record is still there.
pub fn leftovers(ws: &Workspace) -> Vec<RunRecord> {
    records(ws).into_iter().filter(|r| !going(r)).collect()
}

fn new_run_id() -> String {
    let stamp = chrono::Local::now().format("%Y%m%dT%H%M%S%3f");
    format!("{stamp}-{}", std::process::id())
}

fn write_record(ws: &Workspace, rec: &RunRecord) {
    if let Ok(v) = serde_json::to_value(rec) {
        let _ = write_json(&record_path(ws, &rec.run_id), &v);
    }
}

fn drop_record(ws: &Workspace, run_id: &str) {
    let p = record_path(ws, run_id);
    let _ = std::fs::remove_file(&p);
    let _ = std::fs::remove_file(p.with_extension("json.bak"));
}

/// Give the run its own worktree. None (agents work in the user's folder, as before) when
/// the project is not a git repository with a commit, or commits are turned off: without a
/// commit on the run's branch there is nothing a merge could bring over. Leftover runs are
/// reported; in the dashboard the newest may be resumed instead of starting a fresh branch.
pub async fn begin(project: &Project, bus: &Bus) -> Option<Isolation> {
    if !project.config.auto_commit {
        return None;
    }
    let ws = &project.ws;
    let repo = git::open(&ws.root)?;
    repo.head().ok()?.peel_to_commit().ok()?;
    let mut resumed = None;
    for rec in leftovers(ws) {
        bus.emit(Event::RunLeftover {
            run_id: rec.run_id.clone(),
            branch: rec.branch.clone(),
            path: rec.path.clone(),
        });
        if resumed.is_none()
            && bus.is_interactive()
            && Path::new(&rec.path).is_dir()
            && bus
                .ask(format!(
                    "A run that did not finish left {}. Resume it (continue on that branch)?",
                    rec.branch
                ))
                .await
        {
            resumed = Some(rec);
        }
    }
    let record = match resumed {
        Some(rec) => {
            // A run that was stopped may have left its index behind its last commits.
            if let Err(e) = git::deferred::repair(Path::new(&rec.path)) {
                bus.emit(Event::Warning {
                    message: format!("could not repair the index of {}: {e}", rec.branch),
                });
            }
            RunRecord {
                pid: std::process::id(),
                ..rec
            }
        }
        None => {
            let run_id = new_run_id();
            match worktree::create(&repo, &run_id) {
                Ok(t) => RunRecord {
                    run_id,
                    branch: t.branch,
                    path: t.path.display().to_string(),
                    base: t.base,
                    pid: std::process::id(),
                    last_check: None,
                },
                Err(e) => {
                    bus.emit(Event::Warning {
                        message: format!(
                            "could not give this run its own worktree ({e}); agents work in \
                             your folder"
                        ),
                    });
                    return None;
                }
            }
        }
    };
    write_record(ws, &record);
    bus.emit(Event::WorktreeCreated {
        run_id: record.run_id.clone(),
        branch: record.branch.clone(),
        path: record.path.clone(),
    });
    let mut project = project.clone();
    project.ws = ws.with_work(PathBuf::from(&record.path));
    Some(Isolation { project, record })
}

/// Commit whatever the run left uncommitted in its worktree (files a command wrote, say), so
/// removing it loses nothing. Files under `.clk/` and files that hold a key clk knows are
/// left out: they must never reach git history. Returns the files left out.
fn keep_uncommitted(path: &Path) -> Result<Vec<String>, git::GitError> {
    let Ok(repo) = git2::Repository::open(path) else {
        return Ok(Vec::new());
    };
    let (keep, left): (Vec<String>, Vec<String>) =
        git::dirty_paths(&repo)?.into_iter().partition(|rel| {
            !rel.starts_with(".clk/")
                && std::fs::read(path.join(rel)).map_or(true, |b| {
                    redact::known_secret_in(&String::from_utf8_lossy(&b)).is_none()
                })
        });
    if !keep.is_empty() {
        git::commit_paths(
            &repo,
            LEFTOVER_AUTHOR,
            &keep,
            "[clk-run] files the run left uncommitted\n\nGenerated by clk\n",
        )?;
    }
    Ok(left)
}

/// End an isolated run: keep its uncommitted files, merge by `autonomy`, clean up.
pub async fn finish(iso: Isolation, bus: &Bus) {
    let ws = iso.project.ws.clone();
    let rec = &iso.record;
    // The index kept in memory goes to disk before the merge and before the tree goes idle.
    if let Err(e) = git::deferred::flush(Path::new(&rec.path)) {
        bus.emit(Event::Warning {
            message: format!("could not write the index of {}: {e}", rec.branch),
        });
    }
    match keep_uncommitted(Path::new(&rec.path)) {
        Ok(left) if !left.is_empty() => bus.emit(Event::Warning {
            message: format!(
                "not kept from {} (clk's own files or a key inside): {}",
                rec.branch,
                left.join(", ")
            ),
        }),
        Ok(_) => {}
        Err(e) => bus.emit(Event::Warning {
            message: format!("could not commit what {} left: {e}", rec.branch),
        }),
    }
    let autonomy = iso.project.config.autonomy;
    // What the checks said last is on the record (the stages wrote it there).
    let last_check = records(&ws)
        .into_iter()
        .find(|r| r.run_id == rec.run_id)
        .and_then(|r| r.last_check);
    let merged = match last_check {
        Some(c) if !c.passed && autonomy != Autonomy::Safe => {
            waiting(
                bus,
                &rec.branch,
                format!("the run's last check failed: {}", c.what),
                "`clk merge` (or /merge) takes it anyway; `clk merge --discard` drops it".into(),
            );
            false
        }
        _ => merge(&ws, bus, &rec.branch, autonomy).await,
    };
    if let Some(repo) = git::open(&ws.root) {
        if let Err(e) = worktree::release(&repo, &rec.run_id, !merged) {
            bus.emit(Event::Warning {
                message: format!("could not remove the worktree of {}: {e}", rec.branch),
            });
        }
    }
    drop_record(&ws, &rec.run_id);
    bus.emit(Event::WorktreeRemoved {
        branch: rec.branch.clone(),
    });
}

/// After a cycle whose stages all passed their checks: bring the work over now, so the user
/// sees it without waiting for the run's end. `safe` leaves it for the end, where it asks.
pub async fn merge_mid_run(ws: &Workspace, bus: &Bus, autonomy: Autonomy) {
    if !ws.isolated() || autonomy == Autonomy::Safe {
        return;
    }
    let Some(branch) = git::open(&ws.work).and_then(|r| git::branch(&r)) else {
        return;
    };
    if branch.starts_with(worktree::BRANCH_PREFIX) {
        merge(ws, bus, &branch, autonomy).await;
    }
}

fn waiting(bus: &Bus, branch: &str, reason: String, todo: String) {
    bus.emit(Event::MergeWaiting {
        branch: branch.to_string(),
        reason,
        todo,
    });
}

/// Merge `branch` into the user's branch as `autonomy` says. True when its work is there
/// now (the branch may go); false when it waits for the user.
pub async fn merge(ws: &Workspace, bus: &Bus, branch: &str, autonomy: Autonomy) -> bool {
    let Some(repo) = git::open(&ws.root) else {
        return false;
    };
    let later = "run `clk merge` (or /merge) to take it".to_string();
    if autonomy == Autonomy::Safe {
        match merge_branch(&repo, branch, true) {
            Ok(MergeOutcome::UpToDate) => return true,
            Ok(MergeOutcome::FastForward { files, .. } | MergeOutcome::Commit { files, .. }) => {
                let q = format!(
                    "Merge {branch} into your branch ({} file(s): {})?",
                    files.len(),
                    files.join(", ")
                );
                if !bus.ask(q).await {
                    waiting(
                        bus,
                        branch,
                        "autonomy is safe and the merge was not approved".into(),
                        later,
                    );
                    return false;
                }
            }
            // Said below, by the real attempt.
            Ok(_) | Err(_) => {}
        }
    }
    match merge_branch(&repo, branch, false) {
        Ok(MergeOutcome::UpToDate) => true,
        Ok(MergeOutcome::FastForward { sha, files }) => {
            done(bus, branch, "fast-forward", sha, files, &ws.root, autonomy);
            true
        }
        Ok(MergeOutcome::Commit { sha, files }) => {
            done(bus, branch, "merge commit", sha, files, &ws.root, autonomy);
            true
        }
        Ok(MergeOutcome::Dirty { files }) => {
            let list = files.join(", ");
            waiting(
                bus,
                branch,
                format!("you have uncommitted changes to {list}, which the run also changed"),
                format!("commit or stash your changes to {list}, then run `clk merge`"),
            );
            false
        }
        Ok(MergeOutcome::Conflict { files }) => {
            waiting(
                bus,
                branch,
                format!(
                    "your branch and the run changed {} differently",
                    files.join(", ")
                ),
                format!("merge {branch} by hand with git, or drop it with `clk merge --discard`"),
            );
            false
        }
        Err(e) => {
            waiting(bus, branch, e.to_string(), later);
            false
        }
    }
}

fn done(
    bus: &Bus,
    branch: &str,
    how: &str,
    sha: String,
    files: Vec<String>,
    root: &Path,
    autonomy: Autonomy,
) {
    bus.emit(Event::MergeDone {
        branch: branch.to_string(),
        how: how.to_string(),
        sha,
        files,
    });
    if autonomy == Autonomy::Aggressive {
        let _ = push(bus, root);
    }
}

/// `clk merge` / `/merge`: merge every run branch that waits (a leftover run's worktree is
/// committed and removed first), or with `discard` drop them all. Returns one line.
pub async fn merge_waiting(project: &Project, bus: &Bus, discard: bool) -> Result<String, String> {
    let ws = &project.ws;
    let repo = git::open(&ws.root).ok_or("this project is not a git repository")?;
    let mut dropped = Vec::new();
    for rec in leftovers(ws) {
        if !discard {
            let _ = keep_uncommitted(Path::new(&rec.path));
        }
        // A leftover with nothing committed has nothing to merge: its branch goes too.
        let empty = !worktree::waiting_branches(&repo)
            .map_err(|e| e.to_string())?
            .contains(&rec.branch);
        worktree::remove(&repo, &rec.run_id, !(discard || empty)).map_err(|e| e.to_string())?;
        drop_record(ws, &rec.run_id);
        if discard || empty {
            dropped.push(rec.branch);
        }
    }
    // A run going on (a `/merge` typed while it works) keeps its branch until it ends.
    let busy: Vec<String> = records(ws)
        .into_iter()
        .filter(going)
        .map(|r| r.branch)
        .collect();
    let branches: Vec<String> = worktree::waiting_branches(&repo)
        .map_err(|e| e.to_string())?
        .into_iter()
        .filter(|b| !busy.contains(b))
        // A task's branch merges through `clk work`, after its proof and approval.
        .filter(|b| !b.starts_with("clk/task-"))
        .collect();
    if discard {
        // Cleaning up: idle worktrees go too.
        let _ = worktree::prune_pool(&repo);
    }
    if branches.is_empty() && !dropped.is_empty() {
        let how = if discard {
            "discarded"
        } else {
            "nothing to merge; dropped"
        };
        return Ok(format!("{how} {}", dropped.join(", ")));
    }
    if branches.is_empty() {
        return Ok("no run branch waits to be merged".into());
    }
    let mut merged = Vec::new();
    let mut left = Vec::new();
    for b in branches {
        let run_id = b.trim_start_matches(worktree::BRANCH_PREFIX).to_string();
        if discard {
            worktree::remove(&repo, &run_id, false).map_err(|e| e.to_string())?;
            merged.push(b);
            continue;
        }
        // The user asked for this merge, so `safe` does not ask again.
        let autonomy = match project.config.autonomy {
            Autonomy::Safe => Autonomy::Balanced,
            a => a,
        };
        if merge(ws, bus, &b, autonomy).await {
            let _ = worktree::remove(&repo, &run_id, false);
            merged.push(b);
        } else {
            left.push(b);
        }
    }
    let verb = if discard { "discarded" } else { "merged" };
    if left.is_empty() {
        Ok(format!("{verb} {}", merged.join(", ")))
    } else {
        Err(format!("{} still wait(s); see above", left.join(", ")))
    }
}
