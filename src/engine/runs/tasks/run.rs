//! One task worked to its end in its own worktree on `clk/task-<id>`: the implementer's turns,
//! each kept in the store with its usage and cost, then the files it changed. Merging is not
//! done here: the worker does that, one task at a time.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::checkpoint::{self, Stop};
use super::handoff::Handoff;
use crate::engine::agents::dispatch::{CommitPolicy, DispatchRequest};
use crate::engine::ground::events::Event;
use crate::engine::ground::task::parse_autonomy;
use crate::engine::store::bus::Bus;
use crate::engine::store::git::{self, worktree};
use crate::engine::store::live::Live;
use crate::engine::store::tasks::{Task, TaskStore, TurnRecord, now};
use crate::engine::store::workspace::Project;

/// How a task's work ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// The implementer finished; these files differ from where the branch started.
    Finished { files: Vec<String> },
    /// It could not finish; the line says why.
    Failed(String),
    /// Its token was cancelled (a pause, a cancel, or `clk work` stopping).
    Stopped,
    /// It must stop until a person looks (its time is up); the line says why. `task resume`
    /// goes on.
    Paused(String),
    /// Another turn would cross a daily budget; the line names it. It waits, worktree kept.
    Budget(String),
    /// It reached an approval checkpoint; it waits for `task approve` or `task reject`.
    Checkpoint(Stop),
}

/// The run id of task `id`'s worktree (its branch is `clk/task-<id>`).
pub fn run_id(id: i64) -> String {
    format!("task-{id}")
}

/// How often the time a turn takes is counted in the store.
const CHARGE_EVERY: Duration = Duration::from_secs(1);

/// Held while a task's worktree is made.
static TREES: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The task's worktree: the one it already has (a resumed task), else a new one.
/// On a shared store, a task with no worktree here goes on from its last pushed turn.
fn tree(project: &Project, task: &Task, shared: bool) -> Result<worktree::RunTree, String> {
    let repo = git::open(&project.ws.root)
        .ok_or("this project is not a git repository with a commit; run `clk init` here first")?;
    let id = run_id(task.id);
    if let Some(t) = worktree::open(&repo, &id) {
        return Ok(t);
    }
    // Two tasks starting at once would both make git's `worktrees` folder, and libgit2 fails
    // the one that comes second: the folder is made first, and one worktree is made at a time.
    let _ = std::fs::create_dir_all(repo.commondir().join("worktrees"));
    let _one = TREES.lock().unwrap_or_else(|p| p.into_inner());
    // A task that ran before but lost its worktree (its worker died with it, or someone
    // removed it) goes on from its branch: the turns it committed are kept.
    let again = if task.base.is_empty() {
        None
    } else {
        worktree::reattach(&repo, &id)
            .map_err(|e| format!("could not check out its branch again: {e}"))?
    };
    let t = match again {
        Some(t) => t,
        None if repo
            .find_branch(&format!("clk/{id}"), git2::BranchType::Local)
            .is_ok() =>
        {
            return Err(format!(
                "could not create its worktree: a branch clk/{id} left from an earlier task \
                 queue is in the way; delete it (`git branch -D clk/{id}`), then `clk task \
                 resume {}`",
                task.id
            ));
        }
        None => worktree::create(&repo, &id)
            .map_err(|e| format!("could not create its worktree: {e}"))?,
    };
    if shared && task.turns > 0 {
        super::shared::resume_branch(&t.path, &t.branch)?;
    }
    Ok(t)
}

/// The project the task's agent works in: the worktree as work root, and a provider named as
/// the agent pinned on the engineer.
pub(super) fn task_project(project: &Project, task: &Task, path: &Path) -> (Project, String) {
    let mut p = project.clone();
    p.ws = project.ws.with_work(path.to_path_buf());
    if p.agents.agents.contains_key(&task.agent) {
        return (p, task.agent.clone());
    }
    let mut spec = p.agents.spec("engineer");
    spec.provider = Some(task.agent.clone());
    p.agents.agents.insert("engineer".into(), spec);
    (p, "engineer".into())
}

/// The paths a diff writes.
pub(super) fn diff_paths(diff: &git2::Diff<'_>) -> Vec<String> {
    diff.deltas()
        .filter_map(|d| {
            d.new_file()
                .path()
                .and_then(|p| p.to_str())
                .map(String::from)
        })
        .collect()
}

/// The files that differ between `base` and the worktree's HEAD.
fn changed_files(path: &Path, base: &str) -> Vec<String> {
    let Ok(repo) = git2::Repository::open(path) else {
        return Vec::new();
    };
    let trees = || -> Result<Vec<String>, git2::Error> {
        let old = repo.find_commit(git2::Oid::from_str(base)?)?.tree()?;
        let new = repo.head()?.peel_to_tree()?;
        let diff = repo.diff_tree_to_tree(Some(&old), Some(&new), None)?;
        Ok(diff_paths(&diff))
    };
    trees().unwrap_or_default()
}

/// What one turn came to.
#[derive(Debug, Clone)]
pub struct Turn {
    pub n: u32,
    pub reply: String,
    /// The provider's error, when the call failed.
    pub error: Option<String>,
    pub provider: String,
}

/// Everything a flow needs to take turns on one task.
pub struct Ctx<'a> {
    /// The settings in force: taken in again before each turn ([`Ctx::refresh`]).
    pub project: Project,
    live: Live,
    /// The project as the implementer sees it (the worktree as work root).
    pub tp: Project,
    pub agent: String,
    pub bus: &'a Bus,
    pub store: &'a Arc<dyn TaskStore>,
    pub task: &'a Task,
    pub cancel: &'a CancellationToken,
    pub path: std::path::PathBuf,
    pub base: String,
    /// When the time worked was last counted, and the total so far over all its runs.
    mark: Instant,
    used_ms: u64,
    /// Turns this task took so far (a resumed task counts its earlier ones).
    pub turns: u32,
}

impl Ctx<'_> {
    /// When the task came back from its merge proof: what to tell the implementer.
    pub fn sent_back(&self) -> Option<String> {
        if !self.task.reason.starts_with("sent back") {
            return None;
        }
        let evidence = self
            .store
            .timeline(self.task.id)
            .ok()?
            .into_iter()
            .rev()
            .find(|e| e.kind == "proof")
            .map_or_else(|| self.task.reason.clone(), |e| e.text);
        Some(format!(
            "Your finished work was sent back before it could merge: {evidence}\nFix this."
        ))
    }

    /// Count the time worked since the last count, in the store too.
    pub fn charge(&mut self) {
        let ms = u64::try_from(self.mark.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.mark = Instant::now();
        if ms == 0 {
            return;
        }
        self.used_ms = match self.store.add_runtime(self.task.id, ms) {
            Ok(total) => total,
            Err(_) => self.used_ms.saturating_add(ms),
        };
    }

    /// The time it may still be worked, when `tasks.max_runtime_s` limits it.
    fn left(&self) -> Option<Duration> {
        let limit = self.project.config.tasks.max_runtime_s;
        (limit > 0).then(|| {
            let used = Duration::from_millis(self.used_ms) + self.mark.elapsed();
            Duration::from_secs(limit).saturating_sub(used)
        })
    }

    /// `Err` when the task used all the time `tasks.max_runtime_s` gives it, over all its runs.
    fn over_time(&self) -> Result<(), Ended> {
        let limit = self.project.config.tasks.max_runtime_s;
        if limit == 0 || self.used_ms < limit.saturating_mul(1000) {
            return Ok(());
        }
        let id = self.task.id;
        Err(Ended::Paused(format!(
            "it was worked {:.1} s over all its runs, all that tasks.max_runtime_s ({limit} s) \
             allows; raise it (`clk configure --set tasks.max_runtime_s=N`), then `clk task \
             resume {id}`",
            self.used_ms as f64 / 1000.0
        )))
    }

    /// Stop here when a checkpoint is due: the task's predicted files and those its branch
    /// changed so far, and the implementer's last handoff.
    pub fn checkpoint(&self, handoff: Option<&Handoff>) -> Result<(), Ended> {
        let approved = self
            .store
            .progress(self.task.id)
            .map_err(|e| Ended::Failed(e.to_string()))?
            .approved;
        let mut files = self.task.predicted_files.clone();
        files.extend(changed_files(&self.path, &self.base));
        let autonomy = parse_autonomy(&self.task.autonomy);
        match checkpoint::due(autonomy, handoff, &files, &approved) {
            Some(stop) => Err(Ended::Checkpoint(stop)),
            None => Ok(()),
        }
    }

    /// The implementer's last valid handoff, kept by an earlier run of the task.
    pub fn last_handoff(&self) -> Option<Handoff> {
        let kept = self.store.progress(self.task.id).ok()?.handoff;
        serde_json::from_str(&kept).ok()
    }

    /// Take in settings edited since the last turn (told once; an edit that does not load
    /// keeps the ones before it), and the implementer's project with them.
    pub fn refresh(&mut self) {
        self.project = self.live.refresh(self.bus).clone();
        (self.tp, self.agent) = task_project(&self.project, self.task, &self.path);
    }

    pub fn log(&self, kind: &str, text: &str) {
        let _ = self.store.log(self.task.id, kind, text);
    }

    /// One dispatch as `role`, kept in the store. `Err` ends the task (stopped, out of
    /// turns or time, the store failing).
    pub async fn turn(
        &mut self,
        role: &str,
        project: &Project,
        agent: &str,
        objective: String,
        commit: CommitPolicy,
    ) -> Result<Turn, Ended> {
        let max_turns = self.project.config.tasks.max_turns.max(1);
        if self.cancel.is_cancelled() {
            return Err(Ended::Stopped);
        }
        if self.turns >= max_turns {
            return Err(Ended::Failed(format!(
                "used all {max_turns} turns (tasks.max_turns) before it was done"
            )));
        }
        // The turn is counted before it is taken, in one statement: workers racing for the
        // last turns of budget.daily never take more than it allows.
        let daily = &self.project.config.budget.daily;
        let cost_cap = crate::engine::ground::pricing::cap_micros(daily.usd);
        if !self
            .store
            .reserve_turn(self.task.id, daily.turns, cost_cap)
            .map_err(|e| Ended::Failed(e.to_string()))?
        {
            let used = self
                .store
                .day_usage(&crate::engine::store::tasks::today())
                .map_err(|e| Ended::Failed(e.to_string()))?;
            let why = super::budget::blocked(daily, &used, false)
                .unwrap_or_else(|| "waits for the daily budget".into());
            return Err(Ended::Budget(why));
        }
        self.charge();
        self.over_time()?;
        self.turns += 1;
        let n = self.turns;
        let req = DispatchRequest {
            agent: agent.to_string(),
            objective: format!("{}{objective}", super::rules::preamble(self.store.as_ref())),
            stage: Some(format!("{}-{role}", run_id(self.task.id))),
            workflow: Some(format!("task-{}", self.task.flow)),
            commit,
            ..Default::default()
        };
        // Its own token, so the turn can be stopped when the task's time is up and still end
        // the way a pause ends it (the agent's process stopped, the call returning).
        let stop = self.cancel.child_token();
        let call = crate::engine::runs::call::dispatch(project, self.bus, &req, &stop);
        tokio::pin!(call);
        // The time it takes is counted as it goes, so a worker killed mid-turn loses at most
        // [`CHARGE_EVERY`] of it.
        let mut out_of_time = None;
        let out = loop {
            let wait = self.left().map_or(CHARGE_EVERY, |l| l.min(CHARGE_EVERY));
            tokio::select! {
                r = &mut call => break r,
                _ = tokio::time::sleep(wait), if out_of_time.is_none() => {
                    self.charge();
                    if let Err(end) = self.over_time() {
                        out_of_time = Some(end);
                        stop.cancel();
                    }
                }
            }
        };
        self.charge();
        if let Some(end) = out_of_time {
            return Err(end);
        }
        if self.cancel.is_cancelled() {
            return Err(Ended::Stopped);
        }
        let out = out.map_err(|e| Ended::Failed(e.to_string()))?;
        let summary = match &out.error {
            Some(e) => format!("failed: {}", e.message),
            None => out.batch.summary(),
        };
        let rec = TurnRecord {
            n,
            role: role.into(),
            agent: agent.into(),
            provider: out.provider.clone(),
            dispatch_id: out.run_id.clone(),
            ok: out.error.is_none(),
            input_tokens: out.usage.input_tokens,
            output_tokens: out.usage.output_tokens,
            cost_micros: out.cost.micros,
            summary: summary.clone(),
            at: now(),
        };
        self.store
            .record_turn(self.task.id, &rec)
            .map_err(|e| Ended::Failed(e.to_string()))?;
        // Another worker can go on from this turn if this one dies.
        if self.store.shared() {
            if let Err(e) =
                super::shared::push_branch(&self.path, &format!("clk/{}", run_id(self.task.id)))
            {
                self.log("push", &e);
            }
        }
        // What it touched so far counts for overlap from now on, not only when it ends.
        if commit == CommitPolicy::Now {
            let files = changed_files(&self.path, &self.base);
            let _ = self.store.set_touched(self.task.id, &files);
        }
        Ok(Turn {
            n,
            reply: out.reply,
            error: out.error.map(|e| e.message),
            provider: out.provider,
        })
    }

    /// The task is done: the files its branch changed.
    pub fn finished(&self) -> Ended {
        Ended::Finished {
            files: changed_files(&self.path, &self.base),
        }
    }
}

/// The solo flow: implementer turns until one succeeds.
async fn solo(ctx: &mut Ctx<'_>) -> Ended {
    let mut back = ctx
        .sent_back()
        .or_else(|| checkpoint::decided(&ctx.task.reason));
    loop {
        ctx.refresh();
        let again = if let Some(b) = back.take() {
            format!("\n\n{b}")
        } else if ctx.turns > 0 {
            "\n\nAn earlier turn on this task did not finish it; carry on from what is in the \
             worktree."
                .to_string()
        } else {
            String::new()
        };
        let objective = format!(
            "Task {}: {}\n\nWork in this project until the task is done: change the files it \
             needs, with tests where they fit.{again}",
            ctx.task.id, ctx.task.prompt
        );
        let (tp, agent) = (ctx.tp.clone(), ctx.agent.clone());
        match ctx
            .turn("implementer", &tp, &agent, objective, CommitPolicy::Now)
            .await
        {
            Ok(t) if t.error.is_none() => return ctx.finished(),
            Ok(_) => {}
            Err(end) => return end,
        }
    }
}

/// Work `task` to its end by its flow. `cancel` stops it between or during turns.
pub async fn run(
    project: &Project,
    bus: &Bus,
    store: &Arc<dyn TaskStore>,
    task: &Task,
    cancel: &CancellationToken,
) -> Ended {
    let t = match tree(project, task, store.shared()) {
        Ok(t) => t,
        Err(e) => return Ended::Failed(e),
    };
    let path = t.path.display().to_string();
    // A resumed task keeps the base it started from: its changes are measured against it.
    let base = if task.base.is_empty() {
        t.base.clone()
    } else {
        task.base.clone()
    };
    if let Err(e) = store.set_worktree(task.id, &t.branch, &path, &base) {
        return Ended::Failed(e.to_string());
    }
    let _ = store.log(task.id, "worktree", &format!("{} at {path}", t.branch));
    bus.emit(Event::WorktreeCreated {
        run_id: t.run_id.clone(),
        branch: t.branch.clone(),
        path: path.clone(),
    });
    let (tp, agent) = task_project(project, task, &t.path);
    let turns = store.turns(task.id).map(|t| t.len()).unwrap_or(0);
    let mut ctx = Ctx {
        project: project.clone(),
        live: Live::new(project.clone()),
        tp,
        agent,
        bus,
        store,
        task,
        cancel,
        path: t.path.clone(),
        base,
        mark: Instant::now(),
        used_ms: store.progress(task.id).map(|p| p.runtime_ms).unwrap_or(0),
        turns: u32::try_from(turns).unwrap_or(u32::MAX),
    };
    // A rebase conflict left by its proof: resolved where it stopped, then proved again.
    if super::resolve::pending(&ctx.path) {
        match super::resolve::run(&mut ctx).await {
            Ok(true) => return ctx.finished(),
            Ok(false) => {}
            Err(end) => return end,
        }
    }
    // A checkpoint due before any more work (a risky file it is about to change, or one of
    // two reached at once); not right after a person sent it back: it gets a turn first.
    if !task.reason.starts_with(checkpoint::REJECTED) {
        if let Err(stop) = ctx.checkpoint(ctx.last_handoff().as_ref()) {
            return stop;
        }
    }
    let end = match task.flow.as_str() {
        "duo" => super::duo::run(&mut ctx).await,
        _ => solo(&mut ctx).await,
    };
    ctx.charge();
    end
}
