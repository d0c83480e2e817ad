//! The stage runner end to end through the real binary against the mock model server:
//! ready stages side by side, outputs recovery, meta-prompted objectives, and proposals from
//! dispatches outside the workflow stages.

mod meta;
mod parallel;
mod proposals;
mod recovery;

use std::fs;
use std::path::Path;

use assert_cmd::Command;

use crate::support;
use support::mock_server::MockServer;

/// `clk` in `dir`, every agent answered by `mock`, the robustness knobs that spend extra
/// calls off except outputs recovery, one cycle, a done gate that needs no tests.
pub(crate) fn clk(dir: &Path, mock: &MockServer) -> Command {
    let mut c = crate::suite::isolation_flow::clk(dir, mock);
    for (k, v) in support::mock_project::KNOBS_OFF {
        c.env(k, v);
    }
    c.env("CLK_RECOVERY_DISPATCH_ON_UNMET_OUTPUTS", "true");
    c
}

/// A new project folder with `clk init` done and `workflow` written as `demo.yaml`.
pub(crate) fn project(
    mock: &MockServer,
    workflow: &str,
) -> (tempfile::TempDir, std::path::PathBuf) {
    let top = tempfile::tempdir().unwrap();
    let dir = top.path().join("p");
    fs::create_dir(&dir).unwrap();
    clk(&dir, mock).arg("init").assert().success();
    fs::write(dir.join(".clk/config/workflows/demo.yaml"), workflow).unwrap();
    (top, dir)
}

/// The prompt of every model call, in arrival order.
pub(crate) fn prompts(mock: &MockServer) -> Vec<String> {
    support::mock_project::prompts(mock)
}

/// The agent each model call was for, in arrival order.
pub(crate) fn agents(mock: &MockServer) -> Vec<String> {
    prompts(mock)
        .iter()
        .map(|p| support::mock_project::agent_of(p))
        .collect()
}

/// The activity log's events named `name`.
pub(crate) fn named(dir: &Path, name: &str) -> Vec<serde_json::Value> {
    fs::read_to_string(dir.join(".clk/logs/activity.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["event"] == name)
        .collect()
}
