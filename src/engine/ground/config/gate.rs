//! The done gate's settings: which completion criteria it enforces.

use serde::{Deserialize, Serialize};

/// Which completion criteria the gate enforces (`done_gate` in clk.config.json).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct GateConfig {
    pub require_tests_green: bool,
    pub require_deliverables: bool,
    pub min_deliverable_files: u32,
    pub require_qa_pass: bool,
    pub require_ralph_pass: bool,
    pub forbid_todo_markers: bool,
}

impl Default for GateConfig {
    fn default() -> Self {
        GateConfig {
            require_tests_green: true,
            require_deliverables: true,
            min_deliverable_files: 1,
            require_qa_pass: true,
            require_ralph_pass: true,
            forbid_todo_markers: false,
        }
    }
}
