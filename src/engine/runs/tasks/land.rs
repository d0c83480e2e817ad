//! How a finished task reaches the user's branch: its proof (rebased, green in a clean
//! checkout), then by its autonomy a merge, a wait for approval or a pull request; a conflict
//! or a red check sends it back to its implementer. Merges happen one at a time, from the
//! worker's loop (`work.rs`).

use tokio_util::sync::CancellationToken;

use super::pr::{self, PrMode};
use super::proof::{self, Proof};
use super::risk;
use super::run;
use super::shared;
use super::work::Worker;
use crate::engine::ground::config::Autonomy;
use crate::engine::ground::events::Event;
use crate::engine::ground::task::{TaskState, parse_autonomy};
use crate::engine::store::git::merge::{MergeOutcome, merge_branch};
use crate::engine::store::git::{self, worktree};
use crate::engine::store::tasks::Task;

/// What a merged task's reason gets while its merge is not on the shared remote.
const UNPUSHED: &str = "; not on the shared remote yet";

fn unpushed_reason(merged: &str, error: &str) -> String {
    format!("{merged}{UNPUSHED}: {error}; `clk work` pushes it again each round")
}

impl Worker<'_> {
    /// Land a finished or approved task. On a shared store, one worker at a time over every
    /// machine: it takes the store's merge lock, brings its clone's branch up to the remote's,
    /// lands the task, and pushes the result.
    pub(super) async fn land_any(&mut self, t: &Task, cancel: &CancellationToken) {
        if !self.store.shared() {
            return self.land(t, cancel).await;
        }
        // An approved task whose worktree is on another machine (or in another clone) is
        // landed from its branch on the shared remote, by whichever worker locks first.
        let elsewhere = t.state == TaskState::Approved && !self.holds_tree(t);
        loop {
            match self.store.merge_lock() {
                Ok(true) => break,
                Ok(false) if !cancel.is_cancelled() => {
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                }
                Ok(false) => return,
                Err(e) => return self.warn(e.to_string()),
            }
        }
        if !elsewhere {
            self.land_shared(t, cancel).await;
        } else if let Some(t) = self.adopt(t.id) {
            self.land_shared(&t, cancel).await;
        }
        if let Err(e) = self.store.merge_unlock() {
            self.warn(e.to_string());
        }
    }

    /// Whether this clone has task `t`'s worktree, the one the store names.
    fn holds_tree(&self, t: &Task) -> bool {
        git::open(&self.project.ws.root)
            .and_then(|repo| worktree::open(&repo, &run::run_id(t.id)))
            .is_some_and(|tree| tree.path == std::path::Path::new(&t.worktree))
    }

    /// Take over approved task `id`, under the merge lock: a worktree here at its branch's
    /// last push, named in the store. None when it was landed meanwhile or cannot be had (the
    /// timeline says why).
    fn adopt(&self, id: i64) -> Option<Task> {
        let t = self.store.get(id).ok().flatten()?;
        if t.state != TaskState::Approved {
            return None;
        }
        let repo = git::open(&self.project.ws.root)?;
        let run_id = run::run_id(id);
        // libgit2 fails a worktree whose `worktrees` folder another one is making: made first.
        let _ = std::fs::create_dir_all(repo.commondir().join("worktrees"));
        let made = match worktree::open(&repo, &run_id) {
            Some(tree) => Ok(tree),
            None => worktree::create(&repo, &run_id).map_err(|e| e.to_string()),
        }
        .and_then(
            |tree| match shared::resume_branch(&tree.path, &tree.branch) {
                Ok(true) => Ok(tree),
                Ok(false) => Err(format!(
                    "its branch {} is not on the shared remote",
                    tree.branch
                )),
                Err(e) => Err(e),
            },
        );
        let tree = match made {
            Ok(tree) => tree,
            Err(e) => {
                let _ = worktree::remove(&repo, &run_id, false);
                // Said once: every round tries again.
                let why =
                    format!("approved; a worker without its worktree could not take it over: {e}");
                if t.reason != why {
                    let _ = self.store.set_reason(id, &why);
                    self.warn(format!("task {id}: {why}"));
                }
                return None;
            }
        };
        let path = tree.path.display().to_string();
        if let Err(e) = self.store.set_worktree(id, &tree.branch, &path, &t.base) {
            self.warn(e.to_string());
            return None;
        }
        let line = format!(
            "approved elsewhere; merged from {} fetched here",
            tree.branch
        );
        let _ = self.store.log(id, "merge", &line);
        self.store.get(id).ok().flatten()
    }

    async fn land_shared(&mut self, t: &Task, cancel: &CancellationToken) {
        let from = [TaskState::Running, TaskState::Approved];
        let root = self.project.ws.root.clone();
        // Read again under the lock: another worker may have landed it meanwhile.
        let Ok(Some(t)) = self.store.get(t.id) else {
            return;
        };
        if !from.contains(&t.state) {
            return;
        }
        // Merges this clone could not push come first: the remote's branch may have moved on.
        self.repair_pushes();
        if let Err(e) = shared::sync_main(&root) {
            self.tally.failed += 1;
            self.set(t.id, &from, TaskState::Failed, &e);
            return;
        }
        self.land(&t, cancel).await;
        let Ok(Some(done)) = self.store.get(t.id) else {
            return;
        };
        if done.state != TaskState::Merged {
            return;
        }
        match shared::push_main(&root, &t.branch) {
            Ok(()) => {
                let _ = self
                    .store
                    .log(t.id, "push", "pushed the merge to the shared remote");
            }
            Err(e) => {
                // Kept in the store, so this worker (or the next `clk work` here) pushes it
                // again each round until the remote takes it.
                let sha = shared::head(&root).unwrap_or_default();
                let why = unpushed_reason(&done.reason, &e);
                if let Err(e) = self.store.set_unpushed(t.id, &sha, &why) {
                    self.warn(e.to_string());
                }
                self.warn(format!("task {}: {e}", t.id));
            }
        }
    }

    /// Push again the merges made in this clone that the shared remote refused, under the
    /// merge lock; each task says whether it got there.
    pub(super) fn repair_pushes(&mut self) {
        let root = self.project.ws.root.clone();
        let mine: Vec<Task> = match self.store.unpushed() {
            Ok(all) => all
                .into_iter()
                .filter(|t| shared::has_commit(&root, &t.unpushed))
                .collect(),
            Err(e) => return self.warn(e.to_string()),
        };
        if mine.is_empty() || !matches!(self.store.merge_lock(), Ok(true)) {
            return;
        }
        let pushed = shared::repair_main(&root);
        for t in &mine {
            let base = t.reason.split(UNPUSHED).next().unwrap_or_default();
            let done = match &pushed {
                Ok(()) => shared::on_remote(&root, &t.unpushed).unwrap_or(false),
                Err(_) => false,
            };
            let set = if done {
                let why = format!("{base}; pushed to the shared remote");
                self.store.set_unpushed(t.id, "", &why)
            } else {
                let e = pushed
                    .as_ref()
                    .err()
                    .map_or("not there yet", String::as_str);
                self.store
                    .set_unpushed(t.id, &t.unpushed, &unpushed_reason(base, e))
            };
            if let Err(e) = set {
                self.warn(e.to_string());
            }
        }
        if let Err(e) = self.store.merge_unlock() {
            self.warn(e.to_string());
        }
    }

    /// Bring a finished task's branch into the user's branch, or say what stands in the way.
    pub(super) fn merge(&self, t: &Task) {
        let from = [TaskState::Running, TaskState::Approved];
        let Some(repo) = git::open(&self.project.ws.root) else {
            self.set(
                t.id,
                &from,
                TaskState::Failed,
                "the project is no git repository",
            );
            return;
        };
        let files = |f: &[String]| f.join(", ");
        match merge_branch(&repo, &t.branch, false) {
            Ok(MergeOutcome::UpToDate) => {
                self.set(t.id, &from, TaskState::Merged, "it changed nothing");
                let _ = worktree::remove(&repo, &run::run_id(t.id), false);
            }
            Ok(MergeOutcome::FastForward { sha, files: f }) => {
                self.merged(&repo, t, "fast-forward", sha, f);
            }
            Ok(MergeOutcome::Commit { sha, files: f }) => {
                self.merged(&repo, t, "merge commit", sha, f);
            }
            Ok(MergeOutcome::Dirty { files: f }) => {
                let why = format!(
                    "your uncommitted changes to {} are in the way; commit or stash them, then \
                     `clk task approve {}`",
                    files(&f),
                    t.id
                );
                self.set(t.id, &from, TaskState::Approval, &why);
            }
            Ok(MergeOutcome::Conflict { files: f }) => {
                let why = format!(
                    "its branch {} and yours changed {} differently; merge it by hand or \
                     `clk task cancel {}`",
                    t.branch,
                    files(&f),
                    t.id
                );
                self.set(t.id, &from, TaskState::Failed, &why);
            }
            Err(e) => {
                self.set(
                    t.id,
                    &from,
                    TaskState::Failed,
                    &format!("merge failed: {e}"),
                );
            }
        }
    }

    /// Its work is on the user's branch: say so, drop its worktree and branch.
    fn merged(&self, repo: &git2::Repository, t: &Task, how: &str, sha: String, f: Vec<String>) {
        let short: String = sha.chars().take(8).collect();
        let why = format!("merged as {short} ({})", f.join(", "));
        self.bus.emit(Event::MergeDone {
            branch: t.branch.clone(),
            how: how.into(),
            sha,
            files: f,
        });
        self.set(
            t.id,
            &[TaskState::Running, TaskState::Approved],
            TaskState::Merged,
            &why,
        );
        // aggressive: the user's branch goes to its remote too, where one is configured.
        if parse_autonomy(&t.autonomy) == Some(Autonomy::Aggressive)
            && crate::engine::runs::isolate::push(self.bus, &self.project.ws.root)
        {
            let _ = self
                .store
                .log(t.id, "push", "pushed your branch to its remote");
        }
        if let Err(e) = worktree::remove(repo, &run::run_id(t.id), false) {
            self.warn(format!(
                "could not remove the worktree of {}: {e}",
                t.branch
            ));
        }
    }

    /// Prove a finished or approved task (rebased, green in a clean checkout), then merge it,
    /// or ask for approval when its autonomy is safe and nobody approved it yet; a conflict or a
    /// red check sends it back to its implementer with the evidence.
    pub(super) async fn land(&mut self, t: &Task, cancel: &CancellationToken) {
        let from = [TaskState::Running, TaskState::Approved];
        let id = t.id;
        let proof = proof::prove(self.project, t, cancel).await;
        if !matches!(proof, Proof::Broken(_)) {
            // Rebased (or, after a conflict, started again) on the user's HEAD: its changes
            // are measured from there.
            if let Some(head) = git::open(&self.project.ws.root)
                .and_then(|r| r.head().ok().and_then(|h| h.target()))
            {
                let _ = self
                    .store
                    .set_worktree(id, &t.branch, &t.worktree, &head.to_string());
            }
        }
        match proof {
            Proof::Ready {
                checks,
                files,
                lines,
            } => {
                let _ = self.store.log(id, "proof", &format!("rebased; {checks}"));
                let pr = pr::wanted(self.project);
                let tip = pr::branch_tip(self.project, &t.branch);
                if let (Some((PrMode::Instead, token)), TaskState::Running) = (&pr, t.state) {
                    let why = match pr::open(self.project, t, &tip, token).await {
                        Ok(url) => {
                            let _ = self.store.log(id, "pr", &format!("opened {url}"));
                            format!(
                                "pull request {url} opened instead of merging; `clk task \
                                 approve {id}` merges it here"
                            )
                        }
                        Err(e) => format!(
                            "green, but no pull request: {e}; `clk task approve {id}` merges it \
                             here"
                        ),
                    };
                    self.tally.approval += 1;
                    self.set(id, &from, TaskState::Approval, &why);
                    return;
                }
                let ask = match parse_autonomy(&t.autonomy) {
                    _ if t.state != TaskState::Running => None,
                    Some(Autonomy::Safe) => Some("autonomy is safe".to_string()),
                    Some(Autonomy::Balanced) => {
                        // A risky file a person already let through at a checkpoint is not
                        // asked about again.
                        let approved = self.store.progress(id).unwrap_or_default().approved;
                        let ask: Vec<String> = files
                            .iter()
                            .filter(|f| !approved.contains(&format!("risky:{f}")))
                            .cloned()
                            .collect();
                        risk::needs_approval(&ask, lines)
                            .map(|why| format!("autonomy is balanced and {why}"))
                    }
                    _ => None,
                };
                if let Some(ask) = ask {
                    self.tally.approval += 1;
                    let why = format!(
                        "green in a clean checkout ({} file(s), {lines} line(s)), but {ask}; \
                         `clk task approve {id}` merges it",
                        files.len()
                    );
                    self.set(id, &from, TaskState::Approval, &why);
                    return;
                }
                self.merge(t);
                if self.store.get(id).ok().flatten().map(|t| t.state) == Some(TaskState::Merged) {
                    self.tally.merged += 1;
                    if let Some((PrMode::AfterMerge, token)) = &pr {
                        let line = match pr::open(self.project, t, &tip, token).await {
                            Ok(url) => format!("opened {url}"),
                            Err(e) => {
                                self.warn(format!("task {id}: {e}"));
                                format!("no pull request: {e}")
                            }
                        };
                        let _ = self.store.log(id, "pr", &line);
                    }
                }
            }
            Proof::Red(evidence) | Proof::Conflict(evidence) => {
                let _ = self.store.log(id, "proof", &evidence);
                let first = evidence.lines().next().unwrap_or_default();
                self.set(id, &from, TaskState::Queued, &format!("sent back: {first}"));
            }
            Proof::Broken(why) => {
                self.tally.failed += 1;
                self.set(id, &from, TaskState::Failed, &why);
            }
        }
    }
}
