//! A stage's `validation:` command: its batch is committed when the command passes, and put
//! back when it fails (only the agent's files: the user's other changes are never touched).

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::runner::StageReport;
use crate::engine::act::{confine, process};
use crate::engine::agents::dispatch::{DispatchOutcome, batch_commit_message};
use crate::engine::ground::events::Event;
use crate::engine::ground::redact::redact_text;
use crate::engine::store::bus::Bus;
use crate::engine::store::git;
use crate::engine::store::workflow::{Outcome, Stage, Workflow};
use crate::engine::store::workspace::Project;

/// Run the stage's validation; commit the batch when it passes, put it back when it fails.
#[allow(clippy::too_many_arguments)]
pub(super) async fn validate(
    project: &Project,
    bus: &Bus,
    wf: &Workflow,
    stage: &Stage,
    cmd: &str,
    out: &DispatchOutcome,
    report: &mut StageReport,
    cancel: &CancellationToken,
) {
    let root = project.ws.work.clone();
    let timeout = Duration::from_secs(project.config.validation.run_timeout_s);
    let sandbox = confine::for_commands(&project.config.sandbox, &root);
    let spec = process::Spec::shell(cmd, root.clone(), timeout, sandbox);
    let (exit_code, timed_out, tail) = match process::run(&spec, cancel, |_| {}, |_, _| {}).await {
        Ok(o) => {
            if let Some(w) = &o.sandbox_warning {
                bus.emit(Event::Warning {
                    message: redact_text(&format!("validation `{cmd}`: {w}")),
                });
            }
            let combined = o.combined();
            let tail: Vec<&str> = combined.lines().rev().take(15).collect();
            let tail = tail.into_iter().rev().collect::<Vec<_>>().join("\n");
            match o.ending {
                process::Ending::Exited(code) => (code, false, tail),
                process::Ending::TimedOut | process::Ending::Idle => (None, true, tail),
                process::Ending::Cancelled => (None, false, tail),
            }
        }
        Err(e) => (None, false, e.to_string()),
    };
    bus.emit(Event::ValidationRan {
        workflow: wf.name.clone(),
        stage: stage.id.clone(),
        command: redact_text(cmd),
        exit_code,
        timed_out,
        output_tail: redact_text(&tail),
    });
    let outcome = match (timed_out, exit_code) {
        (_, Some(0)) => "passed".to_string(),
        (true, _) => "timed out".to_string(),
        (false, Some(c)) => format!("failed (exit {c})"),
        (false, None) => "was stopped".to_string(),
    };
    crate::engine::runs::isolate::note_check(
        &project.ws,
        exit_code == Some(0),
        &format!("`{cmd}` of stage {} {outcome}", stage.id),
    );
    let files = out.batch.changed_paths();
    let repo = git::open(&root);
    if exit_code == Some(0) {
        if files.is_empty() || !project.config.auto_commit {
            return;
        }
        let Some(repo) = repo else { return };
        let note = format!(
            "Stage: {}.{}; validation `{}` passed",
            wf.name, stage.id, cmd
        );
        let message = batch_commit_message(
            &stage.agent,
            &root,
            &stage.objective,
            &out.batch,
            &out.usage,
            &out.run_id,
            &[note],
        );
        match git::commit_paths(&repo, &stage.agent, &files, &message) {
            Ok(Some(info)) => {
                bus.emit(Event::Committed {
                    agent: stage.agent.clone(),
                    sha: info.sha.clone(),
                    subject: info.subject.clone(),
                    files: files.clone(),
                });
                report.commit = Some(info.sha);
            }
            Ok(None) => {}
            Err(e) => bus.emit(Event::Warning {
                message: format!("commit of stage {} failed: {e}", stage.id),
            }),
        }
        return;
    }
    let how = match (timed_out, exit_code) {
        (true, _) => format!("timed out after {}s", timeout.as_secs()),
        (false, Some(c)) => format!("exit {c}"),
        (false, None) => "stopped".to_string(),
    };
    let last = tail.lines().last().unwrap_or_default();
    let reason = format!("validation `{cmd}` failed ({how}): {last}");
    if !files.is_empty() {
        match repo.map(|r| git::restore_paths(&r, None, &files)) {
            Some(Ok(_)) => bus.emit(Event::ChangesUndone {
                agent: stage.agent.clone(),
                files: files.clone(),
                reason: reason.clone(),
            }),
            Some(Err(e)) => bus.emit(Event::Warning {
                message: format!("could not undo stage {}: {e}", stage.id),
            }),
            None => bus.emit(Event::Warning {
                message: format!(
                    "stage {} failed validation; not a git repository, so its files were kept",
                    stage.id
                ),
            }),
        }
    }
    report.files.clear();
    report.outcome = Outcome::Failed {
        reason: redact_text(&reason),
    };
}
