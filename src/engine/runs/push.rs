//! `aggressive` autonomy's last step: push the user's branch where a remote is configured.

use std::path::Path;

use crate::engine::ground::events::Event;
use crate::engine::store::bus::Bus;
use crate::engine::store::git;

/// `aggressive`: push the user's branch where a remote is configured (also after a task
/// merges). True when it was pushed.
pub fn push(bus: &Bus, root: &Path) -> bool {
    let Some(repo) = git::open(root) else {
        return false;
    };
    let has_remote = repo.remotes().is_ok_and(|r| !r.is_empty());
    if !has_remote {
        return false;
    }
    if let Err(why) = git::scan::check_before_push(root, None) {
        bus.emit(Event::Warning { message: why });
        return false;
    }
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(root)
        .args(["push", "--quiet"])
        .output();
    match out {
        Ok(o) if o.status.success() => {
            bus.emit(Event::Report {
                topic: "push".into(),
                lines: vec!["pushed your branch (autonomy: aggressive)".into()],
            });
            return true;
        }
        Ok(o) => bus.emit(Event::Warning {
            message: format!(
                "git push failed: {}",
                String::from_utf8_lossy(&o.stderr)
                    .lines()
                    .next()
                    .unwrap_or("")
            ),
        }),
        Err(e) => bus.emit(Event::Warning {
            message: format!("could not run git push: {e}"),
        }),
    }
    false
}
