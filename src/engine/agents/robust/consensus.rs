//! Consensus fan-out: N independent samples of one answer, run in parallel, merged by the chief.
//!
//! Invariants: samples only ever reach the run records and the event stream — they never post,
//! apply an action or commit; only the chief's merged reply goes through the gate, after the
//! same quality check as any reply (one repair at most). At most
//! `consensus.max_parallel` samples are in flight at once (a semaphore over a `JoinSet`), so N
//! samples take about ceil(N / max_parallel) times one. Every fan-out starts in [`open_fanout`],
//! the one place a spending limit can refuse it.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::Care;
use crate::engine::agents::dispatch::{
    DispatchError, DispatchOutcome, DispatchRequest, Effects, call, finish,
};
use crate::engine::ground::events::Event;
use crate::engine::ground::protocol::{ConsensusProposal, score};
use crate::engine::store::bus::Bus;
use crate::engine::store::workspace::Project;

use super::policy::{self, CHIEF, QualityStep};

/// Longest sample text shown to the chief, in characters.
const MAX_SAMPLE_CHARS: usize = 8000;

/// One sample to take.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub agent: String,
    pub objective: String,
}

/// A fan-out about to start.
#[derive(Debug, Clone, PartialEq)]
pub struct FanoutPlan {
    /// Shown in events and the chief's prompt, e.g. `auto_engineer` or a proposal's name.
    pub name: String,
    /// Whose answer this becomes.
    pub for_agent: String,
    /// careful, always, quality or proposal.
    pub trigger: &'static str,
    /// The task the samples answer, as the original dispatch had it.
    pub objective: String,
    pub samples: Vec<Sample>,
}

/// What a fan-out came to.
#[derive(Debug)]
pub enum Fanned {
    /// The chief's merged reply, applied.
    Merged(DispatchOutcome),
    /// No sample got an answer; the last failure, for the caller to report.
    AllFailed(DispatchOutcome),
    /// The fan-out did not start (why); nothing was sent.
    NotStarted(String),
}

impl FanoutPlan {
    /// `copies` samples of `objective` by `agent` (automatic fan-outs).
    pub fn auto(agent: &str, objective: &str, trigger: &'static str, copies: u32) -> FanoutPlan {
        let name = format!("auto_{agent}");
        let samples = (1..=copies.max(1))
            .map(|i| Sample {
                agent: agent.to_string(),
                objective: sample_objective(&name, i, copies, objective),
            })
            .collect();
        FanoutPlan {
            name,
            for_agent: agent.to_string(),
            trigger,
            objective: objective.to_string(),
            samples,
        }
    }

    /// The samples a PROPOSE_CONSENSUS asks for: its agents in turn (those on `roster`; the
    /// proposer when none is), `copies` capped at `max_samples`.
    pub fn proposal(
        p: &ConsensusProposal,
        proposer: &str,
        roster: &dyn Fn(&str) -> bool,
        max_samples: u32,
    ) -> FanoutPlan {
        let mut agents: Vec<String> = p
            .agents
            .iter()
            .filter(|a| roster(a) && a.as_str() != CHIEF)
            .cloned()
            .collect();
        if agents.is_empty() {
            agents.push(proposer.to_string());
        }
        let copies = p.copies.clamp(1, max_samples.max(1));
        let samples = (1..=copies)
            .map(|i| Sample {
                agent: agents[(i as usize - 1) % agents.len()].clone(),
                objective: sample_objective(&p.name, i, copies, &p.objective),
            })
            .collect();
        FanoutPlan {
            name: p.name.clone(),
            for_agent: proposer.to_string(),
            trigger: "proposal",
            objective: p.objective.clone(),
            samples,
        }
    }
}

fn sample_objective(name: &str, i: u32, n: u32, objective: &str) -> String {
    format!(
        "Consensus sample {i}/{n} of \"{name}\": answer on your own, as if no one else had been \
         asked. Your reply is compared with the others and merged; it is not applied by \
         itself, so write it exactly as you would want it applied.\n\n{objective}"
    )
}

/// The one door every fan-out goes through, before any sample is sent: it refuses a fan-out
/// that cannot run (cancelled, nothing to sample) or that the spending caps cannot cover
/// (`budget::check_fanout`, per sampled agent), and announces the rest with
/// `ConsensusStarted`. On `Err` nothing was sent; the caller keeps the single reply it has (or
/// dispatches once) instead of fanning out.
pub fn open_fanout(
    project: &Project,
    bus: &Bus,
    plan: &FanoutPlan,
    cancel: &CancellationToken,
) -> Result<(), String> {
    if cancel.is_cancelled() {
        return Err("the run was cancelled".into());
    }
    if bus.stop_requested() {
        return Err("a stop was requested".into());
    }
    if plan.samples.is_empty() {
        return Err("no samples to take".into());
    }
    let mut per_agent: std::collections::BTreeMap<&str, (u32, usize)> = Default::default();
    for s in &plan.samples {
        let e = per_agent.entry(s.agent.as_str()).or_default();
        e.0 += 1;
        e.1 = e.1.max(s.objective.chars().count());
    }
    for (agent, (samples, objective_chars)) in per_agent {
        let prompt_chars = prompt_estimate(project, agent, objective_chars);
        let provider = crate::engine::agents::providers::registry::choose(project, agent);
        let settings = project
            .providers
            .get(&provider)
            .map_err(|e| e.to_string())?;
        crate::engine::agents::budget::check_fanout(
            project,
            bus,
            settings,
            agent,
            prompt_chars,
            samples,
            None,
        )
        .map_err(|why| format!("the spending cap does not cover it: {why}"))?;
    }
    bus.emit(Event::ConsensusStarted {
        agent: plan.for_agent.clone(),
        name: plan.name.clone(),
        trigger: plan.trigger.to_string(),
        samples: plan.samples.len() as u32,
        max_parallel: project.config.consensus.max_parallel.max(1),
    });
    Ok(())
}

/// A sample's prompt size without rendering it: the agent's template, the objective, and the
/// largest blackboard digest the config allows (the variables that can grow).
fn prompt_estimate(project: &Project, agent: &str, objective_chars: usize) -> usize {
    let spec = project.agents.spec(agent);
    let template = crate::engine::store::prompts::load_template(&project.ws, agent, &spec.prompt);
    let bb = &project.config.blackboard;
    template.chars().count()
        + objective_chars
        + (bb.digest_max_posts as usize) * (bb.digest_max_chars_per_post as usize)
}

/// A sample that came back, recorded but not applied.
struct Taken {
    index: u32,
    agent: String,
    outcome: DispatchOutcome,
    score: f64,
}

/// Run the fan-out and the chief's merge. `base` is the original request: its stage,
/// workflow, variables and commit policy carry over to the merged reply.
pub async fn run(
    project: &Project,
    bus: &Bus,
    plan: &FanoutPlan,
    base: &DispatchRequest,
    care: &Care,
    cancel: &CancellationToken,
) -> Result<Fanned, DispatchError> {
    if let Err(why) = open_fanout(project, bus, plan, cancel) {
        return Ok(Fanned::NotStarted(why));
    }
    let clock = Instant::now();
    let total = plan.samples.len() as u32;
    let slots = Arc::new(Semaphore::new(
        project.config.consensus.max_parallel.max(1) as usize
    ));
    let opts = super::score_options(project, care);
    let mut set: JoinSet<Result<Taken, DispatchError>> = JoinSet::new();
    for (i, sample) in plan.samples.iter().enumerate() {
        let index = i as u32 + 1;
        let mut req = base.clone();
        req.agent = sample.agent.clone();
        req.objective = sample.objective.clone();
        req.stage = Some(format!(
            "{}#consensus{index}",
            base.stage.as_deref().unwrap_or(&plan.name)
        ));
        req.vars
            .insert("phase".to_string(), "consensus_sample".to_string());
        let (project, bus, cancel, slots, opts) = (
            project.clone(),
            bus.clone(),
            cancel.clone(),
            slots.clone(),
            opts.clone(),
        );
        set.spawn(async move {
            // The semaphore lives as long as the set; a closed one only means shutting down.
            let slot = slots.acquire_owned().await.ok();
            let called = call(&project, &bus, &req, &cancel).await;
            // The slot bounds provider calls; writing the record need not hold it.
            drop(slot);
            let called = called?;
            let quality = score(&called.reply, &called.parsed, &opts);
            let outcome =
                finish(&project, &bus, &req, called, Effects::RecordOnly, &cancel).await?;
            Ok(Taken {
                index,
                agent: req.agent,
                outcome,
                score: quality.score,
            })
        });
    }
    let mut taken = Vec::new();
    let mut first_error = None;
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok(Ok(t)) => {
                bus.emit(Event::ConsensusSampleFinished {
                    agent: t.agent.clone(),
                    name: plan.name.clone(),
                    sample: t.index,
                    samples: total,
                    run_id: t.outcome.run_id.clone(),
                    ok: t.outcome.ok,
                    score: if t.outcome.ok { t.score } else { 0.0 },
                    elapsed_ms: clock.elapsed().as_millis() as u64,
                });
                taken.push(t);
            }
            Ok(Err(e)) => {
                first_error.get_or_insert(e);
            }
            Err(join) => bus.emit(Event::Warning {
                message: format!("consensus {}: a sample task ended early: {join}", plan.name),
            }),
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    taken.sort_by_key(|t| t.index);
    let ok: Vec<&Taken> = taken.iter().filter(|t| t.outcome.ok).collect();
    if ok.is_empty() {
        return Ok(match taken.pop() {
            Some(t) => Fanned::AllFailed(t.outcome),
            None => Fanned::NotStarted("no sample task finished".into()),
        });
    }
    let mut req = base.clone();
    req.agent = CHIEF.to_string();
    req.objective = coalesce_objective(plan, &taken);
    req.vars
        .insert("phase".to_string(), "consensus".to_string());
    let merged = merge_checked(project, bus, &req, &opts, cancel).await?;
    bus.emit(Event::ConsensusCoalesced {
        name: plan.name.clone(),
        by: CHIEF.to_string(),
        run_id: merged.run_id.clone(),
        ok: merged.ok,
        samples_ok: ok.len() as u32,
        samples: total,
        elapsed_ms: clock.elapsed().as_millis() as u64,
    });
    Ok(Fanned::Merged(merged))
}

/// The chief's merge, scored before it is applied like any reply: a flawed merge (a broken
/// block, an output the stage needs missing) gets one repair when quality retries are on.
async fn merge_checked(
    project: &Project,
    bus: &Bus,
    req: &DispatchRequest,
    opts: &crate::engine::ground::protocol::ScoreOptions,
    cancel: &CancellationToken,
) -> Result<DispatchOutcome, DispatchError> {
    let called = call(project, bus, req, cancel).await?;
    let max_retries = project.config.robustness.max_quality_retries.min(1);
    let q = score(&called.reply, &called.parsed, opts);
    if !called.ok || policy::quality_step(&q, 1, max_retries, false) != QualityStep::Repair {
        return finish(project, bus, req, called, Effects::Apply, cancel).await;
    }
    let reasons = policy::reasons(&q, &called.parsed);
    bus.emit(Event::QualityRetry {
        agent: req.agent.clone(),
        run_id: called.run_id.clone(),
        attempt: 1,
        max_retries,
        score: q.score,
        reasons: reasons.clone(),
    });
    finish(project, bus, req, called, Effects::TurnedDown, cancel).await?;
    let mut repair = req.clone();
    repair.objective = policy::repair_objective(&reasons, &req.objective);
    crate::engine::agents::dispatch::dispatch(project, bus, &repair, cancel).await
}

fn coalesce_objective(plan: &FanoutPlan, taken: &[Taken]) -> String {
    let mut text = format!(
        "CONSENSUS \"{}\": {} independent answers to the task below came back. Merge them into \
         the one best answer for {}: keep what they agree on, settle each disagreement and say \
         why in one line, and drop what is wrong. Your reply is applied as the final answer, so \
         it must itself contain every ACTION and POST block the final answer needs (with the \
         PRODUCES keys the task asks for); blocks that appear only in the samples are not \
         applied.\n\nTask:\n{}\n",
        plan.name,
        taken.len(),
        plan.for_agent,
        plan.objective
    );
    for t in taken {
        let body: String = t.outcome.reply.chars().take(MAX_SAMPLE_CHARS).collect();
        let cut = if t.outcome.reply.chars().count() > MAX_SAMPLE_CHARS {
            "\n… (cut)"
        } else {
            ""
        };
        let status = match &t.outcome.error {
            Some(e) => format!("ok=false error={}", e.message),
            None => format!("ok=true score={:.2}", t.score),
        };
        text.push_str(&format!(
            "\n--- sample {} agent={} {status} ---\n{body}{cut}\n",
            t.index, t.agent
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proposal(agents: &[&str], copies: u32) -> ConsensusProposal {
        ConsensusProposal {
            line: 1,
            name: "pick_db".into(),
            agents: agents.iter().map(|a| a.to_string()).collect(),
            copies,
            objective: "Which storage engine?".into(),
        }
    }

    #[test]
    fn a_proposal_rotates_its_agents_and_is_capped() {
        let on_roster = |a: &str| a != "ghost";
        let plan = FanoutPlan::proposal(
            &proposal(&["architect", "ghost", "engineer"], 9),
            "chief",
            &on_roster,
            4,
        );
        let agents: Vec<&str> = plan.samples.iter().map(|s| s.agent.as_str()).collect();
        assert_eq!(agents, ["architect", "engineer", "architect", "engineer"]);
        assert!(
            plan.samples[3]
                .objective
                .contains("sample 4/4 of \"pick_db\"")
        );
        assert!(plan.samples[0].objective.ends_with("Which storage engine?"));
    }

    #[test]
    fn a_proposal_naming_no_known_agent_samples_the_proposer() {
        let plan = FanoutPlan::proposal(&proposal(&["ghost"], 2), "architect", &|_| false, 6);
        assert_eq!(plan.samples.len(), 2);
        assert!(plan.samples.iter().all(|s| s.agent == "architect"));
    }

    #[test]
    fn an_auto_plan_samples_the_agent_itself() {
        let plan = FanoutPlan::auto("engineer", "Build it.", "careful", 3);
        assert_eq!(plan.name, "auto_engineer");
        assert_eq!(plan.samples.len(), 3);
        assert!(plan.samples.iter().all(|s| s.agent == "engineer"));
    }
}
