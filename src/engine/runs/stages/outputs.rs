//! A stage's declared outputs: the contract its prompt states, which keys its reply left
//! out, and the bounded recovery when some are missing.
//!
//! A stage that finished without a POST naming every key of its `outputs:` gets one more
//! dispatch to its own agent quoting the missing keys; if keys are still missing, the chief
//! gets one dispatch to supply them. Then the stage is judged on what is there
//! (`recovery.dispatch_on_unmet_outputs: false` turns this off).

use std::collections::BTreeMap;

use tokio_util::sync::CancellationToken;

use crate::engine::agents::dispatch::{
    CommitPolicy, DispatchError, DispatchOutcome, DispatchRequest,
};
use crate::engine::agents::robust::policy::CHIEF;
use crate::engine::runs::call::dispatch;
use crate::engine::store::bus::Bus;
use crate::engine::store::workflow::{Stage, Workflow};
use crate::engine::store::workspace::Project;

/// The `$outputs_contract` prompt variable: the POST the stage must end with.
pub(super) fn contract(stage: &Stage) -> String {
    if stage.outputs.is_empty() {
        return String::new();
    }
    format!(
        "REQUIRED OUTPUT CONTRACT: end with a POST whose PRODUCES line names: {}\n\
         Example:\nPOST: finding\nPRODUCES: {}\nBODY:\n...\nEND_POST",
        stage.outputs.join(", "),
        stage.outputs.join(", ")
    )
}

/// The declared outputs no POST of `out` names under PRODUCES.
pub(super) fn missing(stage: &Stage, out: &DispatchOutcome) -> Vec<String> {
    left_out(&stage.outputs, out)
}

fn left_out(keys: &[String], out: &DispatchOutcome) -> Vec<String> {
    keys.iter()
        .filter(|key| {
            !out.parsed
                .posts
                .iter()
                .any(|p| p.produces.iter().any(|k| k.eq_ignore_ascii_case(key)))
        })
        .cloned()
        .collect()
}

/// What the recovery dispatches added to the stage.
#[derive(Debug, Default)]
pub(super) struct Recovered {
    /// Keys still missing after every recovery.
    pub missing: Vec<String>,
    /// Files the recoveries changed and committed.
    pub files: Vec<String>,
    pub posts: usize,
    pub commit: Option<String>,
}

/// Ask the stage's agent, then the chief, for the outputs in `missing`; each at most once.
pub(super) async fn recover(
    project: &Project,
    bus: &Bus,
    wf: &Workflow,
    stage: &Stage,
    missing: Vec<String>,
    cancel: &CancellationToken,
) -> Result<Recovered, DispatchError> {
    let mut got = Recovered {
        missing,
        ..Recovered::default()
    };
    if !project.config.recovery.dispatch_on_unmet_outputs {
        return Ok(got);
    }
    let agents = if stage.agent == CHIEF {
        vec![CHIEF.to_string()]
    } else {
        vec![stage.agent.clone(), CHIEF.to_string()]
    };
    for agent in agents {
        if got.missing.is_empty() || cancel.is_cancelled() || bus.stop_requested() {
            break;
        }
        let keys = got.missing.join(", ");
        let objective = if agent == stage.agent {
            format!(
                "OUTPUTS RECOVERY for stage \"{id}\" of workflow {wf}: your reply did not \
                 declare these outputs: {keys}. The stage's objective was: {objective}\n\
                 Supply them now: do any work still missing with ACTION blocks, then end with \
                 a POST whose PRODUCES line names {keys}.",
                id = stage.id,
                wf = wf.name,
                objective = stage.objective,
            )
        } else {
            format!(
                "OUTPUTS RECOVERY for stage \"{id}\" of workflow {wf}: {who} was asked twice \
                 and still did not declare these outputs: {keys}. The stage's objective was: \
                 {objective}\nSupply them yourself: write what is missing with ACTION blocks \
                 and end with a POST whose PRODUCES line names {keys}; or, if the outputs are \
                 wrong for this project, change the workflow with PROPOSE_WORKFLOW.",
                id = stage.id,
                wf = wf.name,
                who = stage.agent,
                objective = stage.objective,
            )
        };
        let req = DispatchRequest {
            agent: agent.clone(),
            objective,
            stage: Some(format!("{}-outputs-recovery", stage.id)),
            workflow: Some(wf.name.clone()),
            vars: BTreeMap::from([
                ("phase".to_string(), "recovery".to_string()),
                ("outputs_contract".to_string(), contract(stage)),
            ]),
            dry_run: false,
            commit: CommitPolicy::Now,
        };
        let out = dispatch(project, bus, &req, cancel).await?;
        if out.error.is_some() {
            continue;
        }
        for f in out.batch.changed_paths() {
            if !got.files.contains(&f) {
                got.files.push(f);
            }
        }
        got.posts += out.parsed.posts.len();
        if let Some(c) = &out.commit {
            got.commit = Some(c.sha.clone());
        }
        got.missing = left_out(&got.missing, &out);
    }
    Ok(got)
}
