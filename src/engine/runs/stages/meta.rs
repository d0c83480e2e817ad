//! Meta-prompting (`workflow.meta_prompting: true`): before a cycle the chief drafts each
//! stage's objective for this project, in one dispatch.
//!
//! The chief answers with one block per stage:
//!
//! ```text
//! OBJECTIVE: <stage id>
//! <the objective: at most eight sentences>
//! END_OBJECTIVE
//! ```
//!
//! Only stages of other agents than the chief, and not review stages, are drafted. Blocks for
//! other stages and empty ones are ignored; a stage without a block keeps the workflow's
//! objective. The drafts are kept in `.clk/state/objectives.json` under a hash of
//! the idea and the workflow, so later cycles and runs reuse them until either changes. Each
//! stage's prompt carries its draft (the run record of the stage's dispatch shows it), with the
//! workflow's own words after it.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::engine::agents::dispatch::{CommitPolicy, DispatchError, DispatchRequest};
use crate::engine::agents::robust::policy::CHIEF;
use crate::engine::ground::events::Event;
use crate::engine::runs::call::dispatch;
use crate::engine::store::bus::Bus;
use crate::engine::store::idea::Idea;
use crate::engine::store::workflow::{Stage, Workflow};
use crate::engine::store::workspace::{Project, read_json, write_json};

/// The drafted objective per stage id.
pub type Objectives = BTreeMap<String, String>;

const CACHE: &str = "objectives.json";

/// A stable 64-bit FNV-1a hash, printed in hex: the same input gives the same key in every
/// build, so the cache outlives an upgrade.
fn fnv(parts: &[&str]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            // A byte no UTF-8 text holds, so ("ab", "c") and ("a", "bc") differ.
            h ^= 0xff;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        for b in p.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

/// The cache key: the idea and the workflow as parsed.
fn key(idea: Option<&Idea>, wf: &Workflow) -> String {
    let wf_text = serde_json::to_string(wf).unwrap_or_default();
    let (title, statement) = idea
        .map(|i| (i.title.as_str(), i.statement.as_str()))
        .unwrap_or_default();
    fnv(&[title, statement, &wf_text])
}

/// The stage objectives for this cycle: none when meta-prompting is off or on a dry run;
/// else the cached drafts, or new ones from the chief.
pub(super) async fn objectives(
    project: &Project,
    bus: &Bus,
    wf: &Workflow,
    dry_run: bool,
    cancel: &CancellationToken,
) -> Result<Objectives, DispatchError> {
    if !project.config.workflow.meta_prompting || dry_run || !wf.stages.iter().any(drafted_for) {
        return Ok(Objectives::new());
    }
    let idea = Idea::load(&project.ws);
    let key = key(idea.as_ref(), wf);
    let path = project.ws.state_dir().join(CACHE);
    if let Ok(Some(v)) = read_json(&path) {
        if v["key"] == key.as_str() {
            if let Ok(cached) = serde_json::from_value::<Objectives>(v["objectives"].clone()) {
                return Ok(cached);
            }
        }
    }
    let req = DispatchRequest {
        agent: CHIEF.into(),
        objective: ask(idea.as_ref(), wf),
        stage: Some("meta-prompt".into()),
        workflow: Some(wf.name.clone()),
        vars: BTreeMap::from([("phase".to_string(), "draft_dispatch_prompt".to_string())]),
        dry_run: false,
        commit: CommitPolicy::Now,
    };
    let out = dispatch(project, bus, &req, cancel).await?;
    if out.error.is_some() {
        return Ok(Objectives::new());
    }
    let drafted = parse(&out.reply, wf);
    if drafted.is_empty() {
        bus.emit(Event::Warning {
            message: "the chief drafted no stage objectives (OBJECTIVE: <stage> ... \
                      END_OBJECTIVE); the workflow's own objectives are used"
                .into(),
        });
        return Ok(drafted);
    }
    let record: Value = json!({
        "key": key,
        "workflow": wf.name,
        "objectives": drafted,
    });
    if let Err(e) = write_json(&path, &record) {
        bus.emit(Event::Warning {
            message: format!("could not keep the drafted objectives: {e}"),
        });
    }
    Ok(drafted)
}

/// Stages the chief drafts for: not its own, not review stages (their checkpoint wording is
/// fixed).
fn drafted_for(stage: &Stage) -> bool {
    stage.agent != CHIEF && !stage.is_review()
}

/// The chief's objective: the idea, every stage it drafts for, and the reply format.
fn ask(idea: Option<&Idea>, wf: &Workflow) -> String {
    let idea = idea
        .map(|i| format!("{}. {}", i.title, i.statement))
        .unwrap_or_else(|| "(no idea recorded)".into());
    let mut stages = String::new();
    for s in wf.stages.iter().filter(|s| drafted_for(s)) {
        let outputs = if s.outputs.is_empty() {
            String::new()
        } else {
            format!(" Declared outputs: {}.", s.outputs.join(", "))
        };
        stages.push_str(&format!(
            "- {} (agent {}): {}{outputs}\n",
            s.id, s.agent, s.objective
        ));
    }
    format!(
        "DRAFT STAGE OBJECTIVES for workflow {wf} on this project. Idea: {idea}\n\
         Stages:\n{stages}\
         For each stage write an objective fitted to this project: at most eight sentences, \
         naming the files to write with ACTION blocks and the output keys to list under \
         PRODUCES. Reply with one block per stage and nothing else:\n\
         OBJECTIVE: <stage id>\n<the objective>\nEND_OBJECTIVE",
        wf = wf.name
    )
}

/// The OBJECTIVE blocks of `reply` for stages of `wf`.
pub fn parse(reply: &str, wf: &Workflow) -> Objectives {
    let mut out = Objectives::new();
    let mut current: Option<(String, Vec<&str>)> = None;
    for line in reply.lines() {
        let t = line.trim();
        if let Some(id) = t.strip_prefix("OBJECTIVE:") {
            current = Some((id.trim().to_string(), Vec::new()));
        } else if t == "END_OBJECTIVE" {
            if let Some((id, body)) = current.take() {
                let text = body.join("\n").trim().to_string();
                if !text.is_empty() && wf.stages.iter().any(|s| s.id == id && drafted_for(s)) {
                    out.insert(id, text);
                }
            }
        } else if let Some((_, body)) = current.as_mut() {
            body.push(line);
        }
    }
    out
}

/// The stage's objective with its draft in front, when there is one.
pub(super) fn apply(drafts: &Objectives, stage_id: &str, objective: &str) -> String {
    match drafts.get(stage_id) {
        Some(d) => format!("{d}\n\n(The workflow's own words for this stage: {objective})"),
        None => objective.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wf() -> Workflow {
        let yaml = "name: demo\nstages:\n  - id: build\n    agent: engineer\n    objective: Build.\n  - id: check\n    agent: qa\n    depends_on: [build]\n    objective: Check.\n  - id: sup\n    agent: chief\n    depends_on: [check]\n    objective: Supervise.\n";
        let roster: std::collections::BTreeSet<String> =
            ["engineer", "qa", "chief"].map(String::from).into();
        crate::engine::store::workflow::load("demo.yaml", yaml, &roster).unwrap()
    }

    #[test]
    fn blocks_for_known_stages_are_kept_and_the_rest_ignored() {
        let reply = "Here they are.\nOBJECTIVE: build\nWrite journal.py.\nPost implementation.\n\
                     END_OBJECTIVE\nOBJECTIVE: nope\nx\nEND_OBJECTIVE\nOBJECTIVE: check\n\n\
                     END_OBJECTIVE\nOBJECTIVE: sup\nFinish.\nEND_OBJECTIVE\n";
        let got = parse(reply, &wf());
        assert_eq!(
            got,
            Objectives::from([(
                "build".to_string(),
                "Write journal.py.\nPost implementation.".to_string()
            )])
        );
    }

    #[test]
    fn the_key_changes_with_the_idea_and_the_workflow() {
        let idea = |t: &str| Idea {
            title: t.into(),
            statement: "s".into(),
            captured_at: String::new(),
            tags: Vec::new(),
        };
        let a = key(Some(&idea("journal")), &wf());
        assert_eq!(a, key(Some(&idea("journal")), &wf()));
        assert_ne!(a, key(Some(&idea("diary")), &wf()));
        let mut other = wf();
        other.stages[0].objective = "Build it all.".into();
        assert_ne!(a, key(Some(&idea("journal")), &other));
    }
}
