//! Running one pass of a workflow: every stage whose dependencies are met, in file order,
//! until nothing more can run. Several ready stages run at once, each in its own worktree
//! (`parallel.rs`, `workflow.max_parallel_stages`).
//!
//! A stage's agent sees the blackboard posts its `inputs:` select and the outputs it must
//! declare. A stage with `validation` has its batch applied but not committed; the command
//! then decides: exit 0 commits the batch, anything else puts the agent's files back as they
//! were (only those files: the user's other changes are never touched) and fails the stage.
//! Stages whose dependencies failed are skipped with the reason. The pass reports what each
//! stage did so the supervise loop can judge progress.

use std::collections::{BTreeMap, BTreeSet};

use tokio_util::sync::CancellationToken;

use super::attempt::dispatch_stage;
use super::checkpoint::{self, Course, with_direction};
use super::outputs;
use super::parallel;
use super::validate::validate;
use crate::engine::agents::dispatch::{CommitPolicy, DispatchError, DispatchRequest};
use crate::engine::agents::robust::policy::CHIEF;
use crate::engine::ground::events::Event;
use crate::engine::runs::call::dispatch;
use crate::engine::store::blackboard;
use crate::engine::store::bus::Bus;
use crate::engine::store::live::Live;
use crate::engine::store::workflow::{
    Outcome, Stage, Workflow, blocked, completed, effective_selectors, ready, select,
};
use crate::engine::store::workspace::Project;

/// How to run a pass.
#[derive(Debug, Clone, Default)]
pub struct PassOptions {
    /// Render and record prompts only.
    pub dry_run: bool,
    /// e.g. `Supervise cycle 2/20.`
    pub cycle_context: String,
    /// The chief's direction from a checkpoint in the previous cycle, for every stage.
    pub direction: Option<String>,
    /// Stage objectives the chief drafted for this project (`workflow.meta_prompting`).
    pub objectives: super::meta::Objectives,
}

/// How many times the chief is sent to recover each blocked stage.
fn recovery_cap(project: &Project) -> u32 {
    project.config.recovery.max_per_stage
}

/// What one stage did.
#[derive(Debug, Clone, PartialEq)]
pub struct StageReport {
    pub stage: String,
    pub agent: String,
    pub outcome: Outcome,
    pub commit: Option<String>,
    /// Files the stage changed and kept.
    pub files: Vec<String>,
    pub outputs_missing: Vec<String>,
    /// The agent's own `PROGRESS:` signal, if it gave one.
    pub progress: Option<bool>,
    pub done_requested: bool,
    /// New blackboard posts the stage made.
    pub posts: usize,
    /// The provider's failure, when the agent could not answer at all.
    pub provider_error: Option<crate::engine::agents::providers::ErrorKind>,
}

/// What a pass did.
#[derive(Debug, Clone, PartialEq)]
pub struct PassReport {
    pub workflow: String,
    pub stages: Vec<StageReport>,
    /// The chief's latest REDIRECT in this pass: the direction for the next cycle.
    pub redirect: Option<String>,
    /// Set when the chief said ABORT at a checkpoint: why the run ends.
    pub aborted: Option<String>,
}

impl PassReport {
    /// Something changed: a stage kept files, or posted news and did not say it made no
    /// progress. A reply that only says `PROGRESS: no` (the shell provider's) is no progress.
    pub fn made_progress(&self) -> bool {
        self.stages.iter().any(|s| {
            matches!(s.outcome, Outcome::Completed)
                && (!s.files.is_empty() || (s.posts > 0 && s.progress != Some(false)))
        })
    }

    pub fn failed(&self) -> impl Iterator<Item = &StageReport> {
        self.stages
            .iter()
            .filter(|s| !matches!(s.outcome, Outcome::Completed))
    }

    pub fn done_requested(&self) -> bool {
        self.stages.iter().any(|s| s.done_requested)
    }
}

/// Run every runnable stage of `wf` once. Each stage starts on the settings in force when it
/// starts: an edit made while an earlier stage ran is taken in (or told and skipped) by `live`.
pub async fn run_pass(
    live: &mut Live,
    bus: &Bus,
    wf: &Workflow,
    opts: &PassOptions,
    cancel: &CancellationToken,
) -> Result<PassReport, DispatchError> {
    let mut outcomes: BTreeMap<String, Outcome> = BTreeMap::new();
    let mut started: BTreeSet<String> = BTreeSet::new();
    let mut reports: Vec<StageReport> = Vec::new();
    let mut recoveries: BTreeMap<String, u32> = BTreeMap::new();
    let mut direction = opts.direction.clone();
    let mut redirect = None;
    let mut aborted = None;
    let mut pool = parallel::Pool::new();
    let mut failure: Option<DispatchError> = None;
    'pass: loop {
        // Stopped, cancelled, aborted or failed: start nothing more, let running stages end.
        let halted =
            cancel.is_cancelled() || bus.stop_requested() || aborted.is_some() || failure.is_some();
        let now = live.refresh(bus).clone();
        let project = &now;
        if !halted {
            let done = completed(&outcomes);
            let next: Vec<Stage> = ready(wf, &done, &started).into_iter().cloned().collect();
            if pool.is_empty() {
                if next.is_empty() && !opts.dry_run {
                    // A stage waits on a failed one: send the chief to remove the cause, then
                    // retry the failed stage, a bounded number of times.
                    let stuck = blocked(wf, &outcomes)
                        .into_iter()
                        .find(|b| {
                            recoveries.get(&b.root).copied().unwrap_or(0) < recovery_cap(project)
                        })
                        .map(|b| (b.root.clone(), b.to_string()));
                    if let Some((root, why)) = stuck {
                        let n = recoveries.entry(root.clone()).or_insert(0);
                        *n += 1;
                        let cause = reports
                            .iter()
                            .rev()
                            .find(|r| r.stage == root)
                            .map(|r| match &r.outcome {
                                Outcome::Failed { reason } | Outcome::Skipped { reason } => {
                                    reason.clone()
                                }
                                Outcome::Completed => String::new(),
                            })
                            .unwrap_or_default();
                        let objective = format!(
                            "RECOVERY (attempt {n}/{}): workflow {} is blocked. {why}. \
                             Stage \"{root}\" failed with: {cause}. Remove the cause: fix or \
                             write the missing files yourself with ACTION blocks, replace a stage \
                             that can never pass with PROPOSE_WORKFLOW, or cast the missing role. \
                             Stage \"{root}\" runs again after your reply.",
                            recovery_cap(project),
                            wf.name
                        );
                        let req = DispatchRequest {
                            agent: "chief".into(),
                            objective,
                            stage: Some(format!("{root}-recovery")),
                            workflow: Some(wf.name.clone()),
                            vars: BTreeMap::from([("phase".to_string(), "recovery".to_string())]),
                            dry_run: false,
                            commit: CommitPolicy::Now,
                        };
                        let out = dispatch(project, bus, &req, cancel).await?;
                        let changed_something = !out.batch.changed_paths().is_empty()
                            || !out.proposals.roles_accepted.is_empty()
                            || !out.proposals.workflows_written.is_empty();
                        if out.error.is_some() || !changed_something {
                            // The chief could not answer, or changed nothing: retrying the
                            // stage would fail the same way, and cost another dispatch.
                            recoveries.insert(root, u32::MAX);
                            continue;
                        }
                        outcomes.remove(&root);
                        started.remove(&root);
                        continue;
                    }
                }
                if next.is_empty() {
                    for b in blocked(wf, &outcomes) {
                        let id = b.stage.id.clone();
                        if started.insert(id.clone()) {
                            let reason = b.to_string();
                            bus.emit(Event::StageFinished {
                                workflow: wf.name.clone(),
                                stage: id.clone(),
                                ok: false,
                                reason: Some(reason.clone()),
                                commit: None,
                            });
                            reports.push(StageReport {
                                stage: id.clone(),
                                agent: b.stage.agent.clone(),
                                outcome: Outcome::Skipped {
                                    reason: reason.clone(),
                                },
                                commit: None,
                                files: Vec::new(),
                                outputs_missing: Vec::new(),
                                progress: None,
                                done_requested: false,
                                posts: 0,
                                provider_error: None,
                            });
                            outcomes.insert(id, Outcome::Skipped { reason });
                        }
                    }
                    break;
                }
            }
            let max = project.config.workflow.max_parallel_stages as usize;
            let side_by_side = !opts.dry_run && max > 1;
            let picks = pool.pick(&next, max);
            // Alone, a stage runs in place; beside others, each in a worktree of its own.
            let beside = side_by_side && (picks.len() > 1 || !pool.is_empty());
            if beside
                && !picks.is_empty()
                && pool.start(
                    project,
                    bus,
                    wf,
                    picks.clone(),
                    opts,
                    direction.clone(),
                    cancel,
                )
            {
                started.extend(picks.into_iter().map(|s| s.id));
            } else if pool.is_empty() {
                for stage in next {
                    // `/stop`: the stage that was running has finished; start no other.
                    if bus.stop_requested() {
                        break;
                    }
                    started.insert(stage.id.clone());
                    let (report, course) =
                        run_stage(project, bus, wf, &stage, opts, direction.as_deref(), cancel)
                            .await?;
                    outcomes.insert(stage.id.clone(), report.outcome.clone());
                    reports.push(report);
                    if let Some(why) = steer(course, &mut direction, &mut redirect) {
                        aborted = Some(why);
                        break 'pass;
                    }
                }
                continue;
            }
        }
        let Some((stage, result)) = pool.next(project, bus).await else {
            break;
        };
        match result {
            Ok((report, course)) => {
                outcomes.insert(stage.id.clone(), report.outcome.clone());
                reports.push(report);
                if let Some(why) = steer(course, &mut direction, &mut redirect) {
                    aborted = Some(why);
                }
            }
            Err(e) => {
                failure.get_or_insert(e);
            }
        }
    }
    if let Some(e) = failure {
        return Err(e);
    }
    Ok(PassReport {
        workflow: wf.name.clone(),
        stages: reports,
        redirect,
        aborted,
    })
}

/// Follow the chief's course after a stage: a redirect becomes the direction for the later
/// stages and the next cycle; an abort's reason comes back.
fn steer(
    course: Course,
    direction: &mut Option<String>,
    redirect: &mut Option<String>,
) -> Option<String> {
    match course {
        Course::Continue => None,
        Course::Redirect(d) => {
            *direction = Some(d.clone());
            *redirect = Some(d);
            None
        }
        Course::Abort(why) => Some(why),
    }
}

pub(super) async fn run_stage(
    project: &Project,
    bus: &Bus,
    wf: &Workflow,
    stage: &Stage,
    opts: &PassOptions,
    direction: Option<&str>,
    cancel: &CancellationToken,
) -> Result<(StageReport, Course), DispatchError> {
    bus.emit(Event::StageStarted {
        workflow: wf.name.clone(),
        stage: stage.id.clone(),
        agent: stage.agent.clone(),
    });
    let bb = &project.config.blackboard;
    let posts = blackboard::all(&project.ws);
    let selected: Vec<blackboard::Post> = select(&posts, &effective_selectors(stage))
        .into_iter()
        .cloned()
        .collect();
    let mut vars = BTreeMap::new();
    vars.insert(
        "blackboard_digest".to_string(),
        blackboard::digest(
            &selected,
            bb.digest_max_posts as usize,
            bb.digest_max_chars_per_post as usize,
        ),
    );
    vars.insert("phase".into(), stage.phase.clone().unwrap_or_default());
    vars.insert("cycle_context".into(), opts.cycle_context.clone());
    vars.insert("outputs_contract".into(), outputs::contract(stage));
    let validated = stage.validation.is_some() && !opts.dry_run;
    let drafted = super::meta::apply(&opts.objectives, &stage.id, &stage.objective);
    let mut objective = with_direction(&drafted, direction);
    if stage.is_review() && stage.agent == CHIEF {
        objective.push_str(checkpoint::ASK);
    }
    let req = DispatchRequest {
        agent: stage.agent.clone(),
        objective,
        stage: Some(stage.id.clone()),
        workflow: Some(wf.name.clone()),
        vars,
        dry_run: opts.dry_run,
        commit: if validated {
            CommitPolicy::Later
        } else {
            CommitPolicy::Now
        },
    };
    let out = dispatch_stage(project, bus, wf, stage, &req, cancel).await?;
    let mut report = StageReport {
        stage: stage.id.clone(),
        agent: stage.agent.clone(),
        outcome: Outcome::Completed,
        commit: out.commit.as_ref().map(|c| c.sha.clone()),
        files: out.batch.changed_paths(),
        outputs_missing: Vec::new(),
        progress: out.parsed.footer.progress,
        done_requested: out.batch.done.is_some(),
        posts: out.parsed.posts.len(),
        provider_error: out.error.as_ref().map(|e| e.kind),
    };
    if let Some(e) = &out.error {
        report.outcome = Outcome::Failed {
            reason: e.message.clone(),
        };
    } else if let (true, Some(cmd)) = (validated, &stage.validation) {
        validate(project, bus, wf, stage, cmd, &out, &mut report, cancel).await;
    }
    if matches!(report.outcome, Outcome::Completed) && !opts.dry_run {
        let missing = outputs::missing(stage, &out);
        if !missing.is_empty() {
            let got = outputs::recover(project, bus, wf, stage, missing, cancel).await?;
            for f in got.files {
                if !report.files.contains(&f) {
                    report.files.push(f);
                }
            }
            report.posts += got.posts;
            report.commit = got.commit.or(report.commit.take());
            report.outputs_missing = got.missing;
        }
    }
    let reason = match &report.outcome {
        Outcome::Completed if !report.outputs_missing.is_empty() => Some(format!(
            "declared outputs missing: {}",
            report.outputs_missing.join(", ")
        )),
        Outcome::Completed => None,
        Outcome::Failed { reason } | Outcome::Skipped { reason } => Some(reason.clone()),
    };
    bus.emit(Event::StageFinished {
        workflow: wf.name.clone(),
        stage: stage.id.clone(),
        ok: matches!(report.outcome, Outcome::Completed),
        reason,
        commit: report.commit.clone(),
    });
    let course = if opts.dry_run || !matches!(report.outcome, Outcome::Completed) {
        Course::Continue
    } else {
        checkpoint::after_review(project, bus, wf, stage, &out, cancel).await?
    };
    Ok((report, course))
}
