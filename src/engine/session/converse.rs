//! Free text from the person: the first message becomes the idea, later ones steer the work.
//!
//! The first message is recorded as the idea, then the chief casts the team and the default
//! workflow runs. Every later message is kept in `.clk/state/conversation.jsonl`, shown to the
//! agents in their state summary (newest last), and starts another supervised run of the
//! default workflow. A finished project is reopened by a new request: the granted done files
//! are set aside (kept with a timestamp) so the loop does not stop at once.

use tokio_util::sync::CancellationToken;

use crate::engine::ground::events::Event;
use crate::engine::runs::orchestrate::{self, StepResult};
use crate::engine::store::bus::Bus;
use crate::engine::store::idea::Idea;
use crate::engine::store::workspace::{Project, Workspace};

/// Set a granted "done" aside so new work can start; the files are kept, renamed.
fn reopen(ws: &Workspace) {
    let stamp = chrono::Local::now().format("%Y%m%dT%H%M%S");
    for name in ["done.md", "done_granted.md"] {
        let path = ws.state_dir().join(name);
        if path.exists() {
            let kept = ws
                .state_dir()
                .join(format!("{}.{stamp}.md", name.trim_end_matches(".md")));
            if let Err(e) = std::fs::rename(&path, &kept) {
                tracing::warn!("cannot set {} aside: {e}", path.display());
            }
        }
    }
}

/// Handle one free-text message.
pub async fn message(
    project: &Project,
    bus: &Bus,
    text: &str,
    cancel: &CancellationToken,
) -> StepResult {
    let text = text.trim();
    if text.is_empty() {
        return StepResult::bad("the message is empty; type what you want".into());
    }
    let ws = &project.ws;
    let first = Idea::load(ws).is_none();
    let kind = if first { "idea" } else { "request" };
    if let Err(e) = crate::engine::store::conversation::record(ws, "user", kind, text) {
        return StepResult::failed(format!("cannot keep the message: {e}"));
    }
    let rehearsal = orchestrate::rehearsal(project);
    let max_cycles = rehearsal.then_some(1);
    let workflow = project.config.default_workflow.clone();
    let mut summaries = Vec::new();
    if first {
        let idea = Idea::new(text, None, Vec::new());
        if let Err(e) = crate::engine::store::idea::capture(project, &idea) {
            return StepResult::failed(e);
        }
        bus.emit(Event::IdeaCaptured {
            title: idea.title.clone(),
        });
        let cast = orchestrate::cast(project, bus, false, cancel).await;
        summaries.push(format!("cast: {}", cast.summary));
        if !cast.ok || bus.stop_requested() {
            return StepResult {
                summary: summaries.join("; "),
                ..cast
            };
        }
    } else {
        reopen(ws);
    }
    let run = orchestrate::run(project, bus, &workflow, max_cycles, false, cancel).await;
    summaries.push(run.summary.clone());
    let ok = run.ok || (rehearsal && !run.cancelled && !run.bad_input);
    StepResult {
        ok,
        summary: if rehearsal {
            format!(
                "{} (rehearsal: the shell provider has no model attached; /provider switches)",
                summaries.join("; ")
            )
        } else {
            summaries.join("; ")
        },
        ..run
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_request_sets_a_granted_done_aside() {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::new(dir.path());
        std::fs::create_dir_all(ws.state_dir()).unwrap();
        std::fs::write(ws.state_dir().join("done.md"), "Reason: finished").unwrap();
        reopen(&ws);
        assert!(!ws.state_dir().join("done.md").exists());
        let kept: Vec<_> = std::fs::read_dir(ws.state_dir())
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert!(kept.iter().any(|n| n.starts_with("done.2")), "{kept:?}");
    }
}
