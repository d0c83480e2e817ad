//! The gauntlet: a stage's result has to survive an adversarial critic before the stage ends.
//!
//! For a stage in scope ([`policy::plan`]): the answer key is the worker's own `ANSWER_KEY:`
//! block, or one the critic derives from the task (one dispatch). Then rounds, at most the
//! preset's: the critic attacks the result against the key and ends with `VERDICT`, `SCORE`
//! and `MATERIAL_DEFECTS`; a clean critique (accept, no material defect) ends the rounds,
//! anything else sends the worker to revise. Last, the critic verifies the result against the
//! key; when a check fails the worker gets one repair. Every step is a `gauntlet` event.
//!
//! Invariants: the worker's result is never lost. A critique, check or revision that fails
//! ends the gauntlet with the result as it stands (a failed revision applied nothing). Every
//! gauntlet dispatch is taken from the session-wide budget (`gauntlet.budget`); when it runs
//! out the gauntlet stops where it is, and that is reported once per session.

pub mod policy;
mod prompts;

use tokio_util::sync::CancellationToken;

use crate::engine::agents::dispatch::{
    CommitPolicy, DispatchError, DispatchOutcome, DispatchRequest,
};
use crate::engine::agents::robust::merge;
use crate::engine::ground::events::Event;
use crate::engine::ground::protocol::KeyCheck;
use crate::engine::runs::call::dispatch;
use crate::engine::store::bus::Bus;
use crate::engine::store::roster;
use crate::engine::store::workflow::{Stage, Workflow};
use crate::engine::store::workspace::Project;

pub use policy::Plan;

/// The gauntlet for `stage` in this session, or None when it does not cover it (or its critic
/// is not on the roster, which is said as a warning).
pub fn plan_for(project: &Project, bus: &Bus, stage: &Stage) -> Option<Plan> {
    let plan = policy::plan(&project.config.gauntlet, &bus.gauntlet(), stage)?;
    let roster = roster::roster_names(&project.ws, &roster::current_agents(project));
    if !roster.contains(&plan.critic) {
        bus.emit(Event::Warning {
            message: format!(
                "the gauntlet's critic {} is not on the roster, so stage {} ran without it; \
                 cast it or set gauntlet.critic",
                plan.critic, stage.id
            ),
        });
        return None;
    }
    Some(plan)
}

/// The worker's request for a covered stage: told that a critic will attack the result, and
/// how to state the checks it should pass.
pub fn brief(req: &DispatchRequest, plan: &Plan) -> DispatchRequest {
    let mut req = req.clone();
    req.objective = format!(
        "{}\n\n{}",
        req.objective,
        prompts::brief(&plan.critic, plan.rounds)
    );
    req
}

struct Run<'a> {
    project: &'a Project,
    bus: &'a Bus,
    wf: &'a Workflow,
    stage: &'a Stage,
    /// The worker's request; revisions and the repair reuse it.
    req: &'a DispatchRequest,
    plan: &'a Plan,
    cancel: &'a CancellationToken,
}

/// Put `out`, the stage's result, through the gauntlet; returns the result that stands.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    project: &Project,
    bus: &Bus,
    wf: &Workflow,
    stage: &Stage,
    req: &DispatchRequest,
    plan: &Plan,
    out: DispatchOutcome,
    cancel: &CancellationToken,
) -> Result<DispatchOutcome, DispatchError> {
    if !out.ok || req.dry_run || cancel.is_cancelled() || bus.stop_requested() {
        return Ok(out);
    }
    let run = Run {
        project,
        bus,
        wf,
        stage,
        req,
        plan,
        cancel,
    };
    run.through(out).await
}

impl Run<'_> {
    fn emit(&self, step: &str, round: u32, ok: bool, message: String) {
        self.bus.emit(Event::Gauntlet {
            workflow: self.wf.name.clone(),
            stage: self.stage.id.clone(),
            step: step.into(),
            round,
            max_rounds: self.plan.rounds,
            ok,
            message,
        });
    }

    /// The result stands as it is: a step failed or the budget ran out.
    fn kept(&self, why: &str) {
        self.emit(
            "kept",
            0,
            false,
            format!("{why}; {}'s result so far stands", self.stage.agent),
        );
    }

    /// One gauntlet dispatch, or None when the session's budget is spent (said once).
    async fn ask(
        &self,
        agent: &str,
        objective: String,
        phase: &str,
        worker: bool,
    ) -> Result<Option<DispatchOutcome>, DispatchError> {
        if !self.bus.gauntlet_spend(self.plan.budget) {
            if self.bus.gauntlet_tell_exhausted() {
                self.emit(
                    "budget",
                    0,
                    false,
                    format!(
                        "the session's {} gauntlet dispatches are spent; later stages run \
                         without it (raise gauntlet.budget for more)",
                        self.plan.budget
                    ),
                );
            }
            self.kept("the gauntlet budget ran out");
            return Ok(None);
        }
        let mut req = self.req.clone();
        req.objective = objective;
        req.vars.insert("phase".into(), phase.into());
        if !worker {
            // The stage's variables (its outputs contract, its digest) are the worker's.
            req.vars = [("phase".to_string(), phase.to_string())].into();
            req.agent = agent.to_string();
            req.stage = Some(format!("{}-gauntlet", self.stage.id));
            req.commit = CommitPolicy::Now;
        }
        dispatch(self.project, self.bus, &req, self.cancel)
            .await
            .map(Some)
    }

    fn halted(&self) -> bool {
        self.cancel.is_cancelled() || self.bus.stop_requested()
    }

    async fn through(&self, out: DispatchOutcome) -> Result<DispatchOutcome, DispatchError> {
        let (agent, critic) = (self.stage.agent.as_str(), self.plan.critic.as_str());
        let objective = self.req.objective.as_str();
        let Some(key) = self.key(&out).await? else {
            return Ok(out);
        };
        let mut work = out;
        for round in 1..=self.plan.rounds {
            if self.halted() {
                self.kept("stopped");
                return Ok(work);
            }
            let text = prompts::critique(agent, objective, &key, round, self.plan.rounds, &work);
            let Some(c) = self.ask(critic, text, "gauntlet_critique", false).await? else {
                return Ok(work);
            };
            let judged = policy::judge(&c.parsed.footer).filter(|_| c.error.is_none());
            let Some(j) = judged else {
                let why = c
                    .error
                    .as_ref()
                    .map_or_else(|| "no VERDICT line".to_string(), |e| e.message.clone());
                self.emit("critique", round, false, format!("{critic} failed: {why}"));
                self.kept("the critique failed");
                return Ok(work);
            };
            self.emit(
                "critique",
                round,
                j.clean,
                policy::summary(&c.parsed.footer, &j),
            );
            if j.clean {
                break;
            }
            if self.halted() {
                self.kept("stopped");
                return Ok(work);
            }
            let text = prompts::revision(objective, &key, critic, &c.reply);
            let Some(r) = self.ask(agent, text, "gauntlet_revision", true).await? else {
                return Ok(work);
            };
            if let Some(e) = &r.error {
                self.emit(
                    "revision",
                    round,
                    false,
                    format!("{agent} failed: {}", e.message),
                );
                self.kept("the revision failed");
                return Ok(work);
            }
            let changed = r.batch.changed_paths().len();
            self.emit(
                "revision",
                round,
                true,
                format!("{changed} file(s) changed"),
            );
            work = merge(work, r);
        }
        if self.halted() {
            self.kept("stopped");
            return Ok(work);
        }
        self.verify(&key, work).await
    }

    /// The worker's own key, else one the critic derives; None when the budget is spent.
    async fn key(&self, out: &DispatchOutcome) -> Result<Option<Vec<KeyCheck>>, DispatchError> {
        if let Some(own) = out.parsed.answer_key.clone().filter(|k| !k.is_empty()) {
            let n = own.len();
            self.emit(
                "key",
                0,
                true,
                format!("{}'s own {n} check(s)", self.stage.agent),
            );
            return Ok(Some(own));
        }
        let text = prompts::derive(&self.stage.agent, &self.req.objective);
        let Some(d) = self
            .ask(&self.plan.critic, text, "gauntlet_key", false)
            .await?
        else {
            return Ok(None);
        };
        match d
            .parsed
            .answer_key
            .filter(|k| !k.is_empty() && d.error.is_none())
        {
            Some(key) => {
                let n = key.len();
                self.emit(
                    "key",
                    0,
                    true,
                    format!("{} derived {n} check(s)", self.plan.critic),
                );
                Ok(Some(key))
            }
            None => {
                self.emit(
                    "key",
                    0,
                    false,
                    format!(
                        "{} gave no ANSWER_KEY; the task itself is the one check",
                        self.plan.critic
                    ),
                );
                Ok(Some(vec![KeyCheck {
                    id: "task".into(),
                    condition: "the result does everything the task asks".into(),
                }]))
            }
        }
    }

    /// The final check against the key, and one repair when it fails.
    async fn verify(
        &self,
        key: &[KeyCheck],
        work: DispatchOutcome,
    ) -> Result<DispatchOutcome, DispatchError> {
        let (agent, critic) = (self.stage.agent.as_str(), self.plan.critic.as_str());
        let objective = self.req.objective.as_str();
        let text = prompts::verify(agent, objective, key, &work);
        let Some(v) = self.ask(critic, text, "gauntlet_verify", false).await? else {
            return Ok(work);
        };
        let judged = policy::judge(&v.parsed.footer).filter(|_| v.error.is_none());
        let Some(j) = judged else {
            self.emit(
                "verify",
                0,
                false,
                format!("{critic} could not check the key"),
            );
            self.kept("the final check failed");
            return Ok(work);
        };
        self.emit("verify", 0, j.clean, policy::summary(&v.parsed.footer, &j));
        if j.clean {
            self.emit("finished", 0, true, "every check of the key passed".into());
            return Ok(work);
        }
        if self.halted() {
            self.kept("stopped");
            return Ok(work);
        }
        let text = prompts::repair(objective, key, critic, &v.reply);
        let Some(r) = self.ask(agent, text, "gauntlet_repair", true).await? else {
            return Ok(work);
        };
        if let Some(e) = &r.error {
            self.emit("repair", 0, false, format!("{agent} failed: {}", e.message));
            self.kept("the repair failed");
            return Ok(work);
        }
        let changed = r.batch.changed_paths().len();
        self.emit("repair", 0, true, format!("{changed} file(s) changed"));
        self.emit(
            "finished",
            0,
            true,
            format!("repaired once after {} failed check(s)", j.defects),
        );
        Ok(merge(work, r))
    }
}
