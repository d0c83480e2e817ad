//! A file watcher (`notify`) that hands the paths of writes, new files and removals to async
//! code: live reload of settings and the live feed of files an agent changes both use it.

use std::path::PathBuf;

use notify::{EventKind, RecommendedWatcher};
use tokio::sync::mpsc;

/// A watcher (watching nothing yet: call `watch` on it) and the paths it will report.
/// Reads and other events that change nothing are left out.
pub fn changes() -> notify::Result<(RecommendedWatcher, mpsc::UnboundedReceiver<PathBuf>)> {
    let (tx, rx) = mpsc::unbounded_channel();
    let watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        if let Ok(ev) = res
            && matches!(
                ev.kind,
                EventKind::Create(_) | EventKind::Modify(_) | EventKind::Remove(_)
            )
        {
            for p in ev.paths {
                let _ = tx.send(p);
            }
        }
    })?;
    Ok((watcher, rx))
}
