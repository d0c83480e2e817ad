//! Keeping this worker's leases alive on their own thread.
//!
//! The work loop merges finished tasks in place, and a merge runs the project's checks, which
//! may take minutes. Renewing leases from that loop let them lapse meanwhile, so on a shared
//! store another worker took over tasks that were still running here and ran them twice.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::engine::store::tasks::TaskStore;

/// Renews the leases of every task this process runs, every `every`, until dropped.
pub(super) struct LeaseKeeper {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl LeaseKeeper {
    /// Start renewing. A failed renewal is reported through `warn` and tried again next time.
    pub(super) fn start(
        store: Arc<dyn TaskStore>,
        pid: u32,
        every: Duration,
        warn: impl Fn(String) + Send + 'static,
    ) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("clk-leases".into())
            .spawn(move || {
                let step = Duration::from_millis(50).min(every);
                let mut waited = every;
                while !flag.load(Ordering::Relaxed) {
                    if waited >= every {
                        waited = Duration::ZERO;
                        if let Err(e) = store.heartbeat(pid) {
                            warn(e.to_string());
                        }
                    }
                    std::thread::sleep(step);
                    waited += step;
                }
            })
            .ok();
        Self { stop, thread }
    }
}

impl Drop for LeaseKeeper {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
