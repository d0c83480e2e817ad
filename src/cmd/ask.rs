//! `clk ask AGENT OBJECTIVE`: one dispatch, printed as it happens.

use std::path::Path;

use tokio_util::sync::CancellationToken;

use super::{EXIT_CANCELLED, EXIT_FAILED, EXIT_OK, Failure, project, runtime};
use crate::engine::bus::Bus;
use crate::engine::dispatch::{DispatchOutcome, DispatchRequest, dispatch};
use crate::engine::providers::ErrorKind;
use crate::engine::workspace::Project;
use crate::headless::{Format, Printer, summary};

/// Run one dispatch with a printer attached; Ctrl-C aborts it.
pub async fn dispatch_printed(
    project: &Project,
    req: &DispatchRequest,
    format: Format,
) -> Result<DispatchOutcome, Failure> {
    let bus = Bus::new(Some(project.ws.activity_log()));
    let printer = Printer::start(&bus, format);
    let cancel = CancellationToken::new();
    let c2 = cancel.clone();
    let ctrl_c = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            c2.cancel();
        }
    });
    let out = dispatch(project, &bus, req, &cancel).await;
    ctrl_c.abort();
    drop(bus);
    let state = printer.finish().await;
    let out = out.map_err(|e| Failure::bad_input(e.to_string()))?;
    if format == Format::Human {
        println!("{}", summary(&state));
    }
    Ok(out)
}

/// Exit code for a finished dispatch.
pub fn exit_code(out: &DispatchOutcome) -> u8 {
    match &out.error {
        None => EXIT_OK,
        Some(e) if e.kind == ErrorKind::Cancelled => EXIT_CANCELLED,
        Some(_) => EXIT_FAILED,
    }
}

pub fn run(
    dir: &Path,
    agent: &str,
    objective: &str,
    stage: Option<String>,
    dry_run: bool,
    format: Format,
) -> Result<u8, Failure> {
    if objective.trim().is_empty() {
        return Err(Failure::bad_input(
            "the objective is empty; say what the agent should do",
        ));
    }
    if agent.trim().is_empty()
        || !agent
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(Failure::bad_input(format!(
            "{agent:?} is not an agent name; use letters, digits, _ or - (e.g. engineer)"
        )));
    }
    let project = project(dir)?;
    let req = DispatchRequest {
        agent: agent.to_string(),
        objective: objective.to_string(),
        stage,
        dry_run,
        ..Default::default()
    };
    let out = runtime()?.block_on(dispatch_printed(&project, &req, format))?;
    if dry_run && format == Format::Human {
        println!(
            "Dry run: prompt saved in {}",
            project
                .ws
                .runs_dir()
                .join(&out.run_id)
                .join("prompt.txt")
                .display()
        );
    }
    Ok(exit_code(&out))
}
