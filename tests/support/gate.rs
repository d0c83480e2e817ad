//! The gate context the benches time batches with: the default limits, no sandbox (its
//! start-up is measured apart), backups and the done file under `root/.clk`.

#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

use clk::engine::act::actions::GateContext;

pub fn bench_gate(root: &Path) -> GateContext {
    GateContext {
        root: root.to_path_buf(),
        agent: "engineer".into(),
        run_id: "bench".into(),
        backups: root.join(".clk/backups/bench"),
        warn_files: 30,
        max_files: 25,
        run_timeout: Duration::from_secs(10),
        user_dirty: Default::default(),
        done_file: root.join(".clk/state/done.md"),
        limits: Default::default(),
        sandbox: clk::engine::act::confine::Isolation::None,
    }
}
