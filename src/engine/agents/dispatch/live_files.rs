//! The live feed of files an agent's own tools change while its call runs, for its card.
//!
//! A `notify` watcher on the work tree reports writes; `.git/` and `.clk/` are clk's and left
//! out. What was seen goes on the bus as `FilesChanging` at most twice a second, and once more
//! when the call ends. It only informs: the judgement after the call (`native.rs`) decides
//! what is kept.

use std::collections::{BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::oneshot;

use crate::engine::ground::events::Event;
use crate::engine::store::bus::Bus;

/// Most recent paths a card shows.
const SHOWN: usize = 5;
/// Most distinct paths counted: past this the count stops growing, the memory too.
const COUNTED: usize = 10_000;
/// Least time between two reports.
const EVERY: Duration = Duration::from_millis(500);
/// Quiet time after the call that ends the feed.
const SETTLE: Duration = Duration::from_millis(40);
/// Most entries read from a folder that appeared (see [`Seen::note`]).
const FOLDER_SCAN: usize = 1_000;
/// Most new folders looked into again at each report.
const FOLDERS_KEPT: usize = 32;

/// A running feed; [`LiveFiles::stop`] sends the last report and ends it.
pub(super) struct LiveFiles {
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl LiveFiles {
    /// Watch `root` (canonical) for `agent`'s call `run_id`. None when it cannot be watched
    /// (too many folders for the system's watch limit, say): the card then shows no count.
    pub(super) fn start(root: &Path, bus: &Bus, agent: &str, run_id: &str) -> Option<LiveFiles> {
        let (mut watcher, mut rx) = crate::engine::act::watch::changes().ok()?;
        watcher.watch(root, RecursiveMode::Recursive).ok()?;
        let (stop, mut stopped) = oneshot::channel();
        let (root, bus) = (root.to_path_buf(), bus.clone());
        let (agent, run_id) = (agent.to_string(), run_id.to_string());
        let task = tokio::spawn(async move {
            let _watcher = watcher;
            let mut seen = Seen::default();
            let mut tick = tokio::time::interval(EVERY);
            let report = |seen: &mut Seen| {
                seen.rescan(&root);
                if std::mem::take(&mut seen.fresh) {
                    bus.emit(Event::FilesChanging {
                        agent: agent.clone(),
                        run_id: run_id.clone(),
                        count: seen.all.len() as u64,
                        files: seen.latest.iter().cloned().collect(),
                    });
                }
            };
            loop {
                tokio::select! {
                    Some(p) = rx.recv() => seen.note(&root, &p),
                    _ = tick.tick() => report(&mut seen),
                    _ = &mut stopped => break,
                }
            }
            // What the kernel reported just before the end counts too: the watcher's thread
            // hands it over within moments.
            while let Ok(Some(p)) = tokio::time::timeout(SETTLE, rx.recv()).await {
                seen.note(&root, &p);
            }
            report(&mut seen);
        });
        Some(LiveFiles { stop, task })
    }

    /// Send the last report and stop watching.
    pub(super) async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

/// The paths seen so far.
#[derive(Default)]
struct Seen {
    all: BTreeSet<String>,
    /// Newest first, at most [`SHOWN`].
    latest: VecDeque<String>,
    /// Something new since the last report.
    fresh: bool,
    /// Folders that appeared during the call, newest last, at most [`FOLDERS_KEPT`].
    new_folders: Vec<PathBuf>,
}

impl Seen {
    fn note(&mut self, root: &Path, path: &Path) {
        let Ok(rel) = path.strip_prefix(root) else {
            return;
        };
        let rel = rel.to_string_lossy().into_owned();
        if rel.is_empty() || is_clks(&rel) {
            return;
        }
        if path.is_dir() {
            // Files made in a new folder before its watch was added send no event of their
            // own (`mkdir -p d && echo > d/f`): look inside now, and again at each report,
            // since such a file may land after this look and before the watch.
            if !self.new_folders.iter().any(|f| f == path) {
                if self.new_folders.len() == FOLDERS_KEPT {
                    self.new_folders.remove(0);
                }
                self.new_folders.push(path.to_path_buf());
            }
            self.look_inside(root, path);
            return;
        }
        if self.all.len() < COUNTED {
            self.all.insert(rel.clone());
        }
        if self.latest.front() != Some(&rel) {
            self.latest.retain(|r| r != &rel);
            self.latest.push_front(rel);
            self.latest.truncate(SHOWN);
        }
        self.fresh = true;
    }
}

impl Seen {
    /// Note the files below `dir` (a bounded walk).
    fn look_inside(&mut self, root: &Path, dir: &Path) {
        for f in walk(dir, FOLDER_SCAN) {
            if !self.all.contains(&rel_of(root, &f)) {
                self.note(root, &f);
            }
        }
    }

    /// Look into the folders that appeared again, for files their watch came too late for.
    fn rescan(&mut self, root: &Path) {
        for dir in self.new_folders.clone() {
            self.look_inside(root, &dir);
        }
    }
}

fn rel_of(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .map(|r| r.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Up to `max` files below `dir`.
fn walk(dir: &Path, max: usize) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            if out.len() >= max {
                return out;
            }
            match e.file_type() {
                Ok(t) if t.is_dir() => todo.push(e.path()),
                Ok(_) => out.push(e.path()),
                Err(_) => {}
            }
        }
    }
    out
}

/// `.git` and `.clk` belong to git and clk, not to the agent's work.
fn is_clks(rel: &str) -> bool {
    [".git", ".clk"]
        .iter()
        .any(|d| rel == *d || rel.starts_with(&format!("{d}/")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_distinct_files_keeps_the_latest_and_skips_git_and_clk() {
        let root = Path::new("/nowhere/tree");
        let mut s = Seen::default();
        for p in [
            "a.rs",
            ".git/index",
            ".clk/state/x",
            "b.rs",
            "a.rs",
            "c/d.rs",
        ] {
            s.note(root, &root.join(p));
        }
        s.note(root, Path::new("/elsewhere/e.rs"));
        assert_eq!(s.all.len(), 3);
        assert_eq!(Vec::from(s.latest.clone()), vec!["c/d.rs", "a.rs", "b.rs"]);
        assert!(s.fresh);
    }

    #[test]
    fn a_file_made_in_a_new_folder_after_the_first_look_is_found_at_the_next_report() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        std::fs::create_dir(root.join("notes")).unwrap();
        let mut s = Seen::default();
        s.note(root, &root.join("notes"));
        assert!(s.all.is_empty());
        std::fs::write(root.join("notes/a.txt"), "one\n").unwrap();
        s.fresh = false;
        s.rescan(root);
        assert_eq!(s.all.iter().collect::<Vec<_>>(), vec!["notes/a.txt"]);
        assert!(s.fresh);
        // A second look at the same files is not news.
        s.fresh = false;
        s.rescan(root);
        assert!(!s.fresh);
    }
}
