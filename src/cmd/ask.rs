//! `clk ask AGENT OBJECTIVE`: one dispatch through the engine, printed as it happens.

use std::path::Path;

use tokio::sync::broadcast::error::RecvError;

use super::{EXIT_BUDGET, EXIT_CANCELLED, EXIT_FAILED, EXIT_OK, Failure, project, runtime};
use crate::engine::ground::events::{Command, Event};
use crate::engine::store::bus::Bus;
use crate::engine::store::workspace::Project;
use crate::engine::{Engine, EngineGone};
use crate::headless::{Format, Printer, summary};

/// How a submitted command ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskResult {
    pub ok: bool,
    pub cancelled: bool,
    /// The run id of the last dispatch the task started.
    pub run_id: Option<String>,
    /// Why a spending cap stopped the task, when one did.
    pub budget_stop: Option<String>,
}

impl TaskResult {
    pub fn exit_code(&self) -> u8 {
        match (self.ok, self.cancelled, &self.budget_stop) {
            (true, _, _) => EXIT_OK,
            (false, true, _) => EXIT_CANCELLED,
            (false, false, Some(_)) => EXIT_BUDGET,
            (false, false, None) => EXIT_FAILED,
        }
    }

    /// The exit code, or the failure to report when a spending cap stopped the task.
    pub fn finish(&self) -> Result<u8, Failure> {
        match (&self.budget_stop, self.exit_code()) {
            (Some(reason), EXIT_BUDGET) => Err(Failure {
                code: EXIT_BUDGET,
                message: format!("stopped by the budget: {reason}"),
            }),
            (_, code) => Ok(code),
        }
    }
}

/// Start an engine, submit `cmd`, print events until it finishes; Ctrl-C aborts it.
pub async fn run_printed(
    project: Project,
    cmd: Command,
    format: Format,
) -> Result<TaskResult, Failure> {
    let bus = Bus::new(Some(project.ws.activity_log()));
    let printer = Printer::start(&bus, format);
    let mut events = bus.subscribe();
    let (engine, join) = Engine::spawn(project, bus);
    let gone = |_: EngineGone| Failure::failed("the engine stopped unexpectedly");
    let id = engine.submit(cmd).map_err(gone)?;
    let mut result = TaskResult::default();
    let aborter = engine.clone();
    let ctrl_c = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            let _ = aborter.submit(Command::Abort);
        }
    });
    loop {
        match events.recv().await {
            Ok(Event::DispatchStarted { run_id, .. }) => result.run_id = Some(run_id),
            Ok(Event::DispatchFinished { error_kind, .. }) => {
                result.cancelled |= error_kind.as_deref() == Some("cancelled");
            }
            Ok(Event::BudgetStopped { reason, .. }) => result.budget_stop = Some(reason),
            Ok(Event::RunFinished { outcome, .. }) => {
                result.cancelled |= outcome == "cancelled";
            }
            Ok(Event::TaskFinished { task_id, ok, .. }) if task_id == id => {
                result.ok = ok;
                break;
            }
            Ok(_) | Err(RecvError::Lagged(_)) => {}
            Err(RecvError::Closed) => break,
        }
    }
    ctrl_c.abort();
    let _ = ctrl_c.await;
    engine.submit(Command::Shutdown).map_err(gone)?;
    drop(engine);
    drop(events);
    let _ = join.await;
    let state = printer.finish().await;
    if format == Format::Human {
        println!("{}", summary(&state));
    }
    Ok(result)
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
    let runs = project.ws.runs_dir();
    let cmd = Command::Dispatch {
        agent: agent.to_string(),
        objective: objective.to_string(),
        stage,
        dry_run,
    };
    let out = runtime()?.block_on(run_printed(project, cmd, format))?;
    if dry_run && format == Format::Human {
        if let Some(run_id) = &out.run_id {
            println!(
                "Dry run: prompt saved in {}",
                runs.join(run_id).join("prompt.txt").display()
            );
        }
    }
    out.finish()
}
