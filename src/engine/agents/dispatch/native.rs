//! Changes a provider made with its own edit tools: watched during the call, put back when the
//! reply is only recorded, and merged ahead of what the reply's ACTION blocks did.

use crate::engine::act::actions::{BatchOutcome, native};
use crate::engine::agents::providers::cli::NOT_ALLOWED;
use crate::engine::ground::events::{Decision, Event};
use crate::engine::store::bus::Bus;
use crate::engine::store::git;
use crate::engine::store::workspace::Project;

/// Start watching the tree for an agent that edits files itself; None (with a warning)
/// when its changes cannot be told from the user's.
pub(super) fn watch_native(project: &Project, bus: &Bus) -> Option<native::Watch> {
    let root = project.ws.work.canonicalize().ok()?;
    let watch = native::Watch::begin(&root);
    if watch.is_none() {
        bus.emit(Event::Warning {
            message: "the project is not a git repository, so changes an agent makes with its \
                      own tools cannot be checked or committed; run `clk init`"
                .into(),
        });
    }
    watch
}

/// Put back the files a provider's own tools changed, when its reply is not to be kept.
pub(super) fn undo_native(project: &Project, bus: &Bus, agent: &str, native: &BatchOutcome) {
    let paths = native.changed_paths();
    if paths.is_empty() {
        return;
    }
    let Some(repo) = git::open(&project.ws.work) else {
        return;
    };
    match git::restore_paths(&repo, None, &paths) {
        Ok(files) => bus.emit(Event::ChangesUndone {
            agent: agent.to_string(),
            files,
            reason: "this reply is only recorded (a consensus sample or a repaired attempt), \
                     so the edits its own tools made are put back"
                .into(),
        }),
        Err(e) => bus.emit(Event::Warning {
            message: format!("could not put back {agent}'s own edits: {e}"),
        }),
    }
}

/// Tool calls an agent CLI was not allowed to make (what, why; from its reply): each is a
/// rejected action on the card and in the log, and a refusal in the batch's summary.
pub(super) fn report_refused(
    bus: &Bus,
    agent: &str,
    run_id: &str,
    refused: &[(String, String)],
    batch: &mut BatchOutcome,
) {
    for (what, why) in refused {
        bus.emit(Event::Action {
            agent: agent.to_string(),
            run_id: run_id.to_string(),
            kind: "tool".into(),
            target: what.to_string(),
            decision: Decision::Rejected,
            reason: format!("{NOT_ALLOWED} ({why})"),
        });
        batch
            .refused
            .push(format!("tool {what}: {NOT_ALLOWED} ({why})"));
    }
}

/// The agent's own-tool changes first, then what its ACTION blocks did.
pub(super) fn merge_batches(mut native: BatchOutcome, gate: BatchOutcome) -> BatchOutcome {
    for w in gate.written {
        native.deleted.retain(|d| d != &w);
        if !native.written.contains(&w) {
            native.written.push(w);
        }
    }
    for d in gate.deleted {
        native.written.retain(|w| w != &d);
        if !native.deleted.contains(&d) {
            native.deleted.push(d);
        }
    }
    native.commands = gate.commands;
    native.refused.extend(gate.refused);
    native.done = gate.done;
    native
}
