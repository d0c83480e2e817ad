//! Settings edited while work runs: the one place that decides whether an edit is taken in.
//!
//! Long work (a supervised run, a loop, a `clk work` worker and its tasks) holds a [`Live`] and
//! calls [`Live::refresh`] at its safe points: before a stage, an iteration, a task or a turn,
//! never in the middle of a model call. Files are compared by size and modification time, so a look
//! with nothing edited reads no file. An edit that loads becomes the settings in force and is told
//! once (`SettingsReloaded`); one that does not load is told once with its file and line
//! (`SettingsRejected`) and the settings before it stay. The dashboard's file watcher decides
//! through [`decide`] too, and an edit it already told about is not told again by a run.

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use crate::engine::ground::config::{ConfigError, Env};
use crate::engine::ground::events::Event;
use crate::engine::store::bus::Bus;
use crate::engine::store::roster::{current_agents, roster_names};
use crate::engine::store::user;
use crate::engine::store::workflow::{Problem, WorkflowError, load_file};
use crate::engine::store::workspace::{Project, Workspace};

/// Size and modification time of each settings file, by path.
type Stamp = BTreeMap<PathBuf, (SystemTime, u64)>;

/// The last state of the files that was told about, per project folder, so the watcher and a
/// run that both notice one edit tell it once between them.
static TOLD: Mutex<BTreeMap<PathBuf, u64>> = Mutex::new(BTreeMap::new());

/// The settings a piece of long work runs on, taken in again at its safe points.
pub struct Live {
    kept: Project,
    stamp: Stamp,
    /// Files whose present version was told to be broken.
    rejected: BTreeSet<PathBuf>,
}

impl Live {
    /// Start from `project`, the settings in force now.
    pub fn new(project: Project) -> Live {
        let stamp = stamp(&project.ws, &project.env);
        Live {
            kept: project,
            stamp,
            rejected: BTreeSet::new(),
        }
    }

    /// The settings in force.
    pub fn project(&self) -> &Project {
        &self.kept
    }

    /// Whether `path`'s present version was reported as broken.
    pub fn rejected(&self, path: &Path) -> bool {
        self.rejected.contains(path)
    }

    /// Take in what was edited since the last look: a change that loads is kept, one that does
    /// not is reported and the settings before it stay. Says so on `bus`, once per edit.
    pub fn refresh(&mut self, bus: &Bus) -> &Project {
        let ws = self.kept.ws.clone();
        let env = self.kept.env.clone();
        let now = stamp(&ws, &env);
        if now == self.stamp {
            return &self.kept;
        }
        let changed: BTreeSet<PathBuf> = now
            .iter()
            .filter(|(p, v)| self.stamp.get(*p) != Some(*v))
            .map(|(p, _)| p.clone())
            .chain(self.stamp.keys().filter(|p| !now.contains_key(*p)).cloned())
            .collect();
        self.stamp = now;
        let (project, event) = decide(&ws, &env, &changed);
        match project {
            Some(p) => {
                self.kept = keep_active(p, &self.kept);
                self.rejected.clear();
            }
            None => {
                if let Event::SettingsRejected { file, .. } = &event {
                    self.rejected.insert(ws.root.join(file));
                }
            }
        }
        tell(&ws, &env, bus, event);
        &self.kept
    }
}

/// A provider chosen for this work (`/provider`, `CLK_PROVIDER`) stays chosen; otherwise the
/// edited files say which one is active.
fn keep_active(mut new: Project, old: &Project) -> Project {
    let from_env = old.env.get("CLK_PROVIDER").is_some();
    if from_env {
        new.providers.active.clone_from(&old.providers.active);
    }
    new
}

/// Emit `event` unless the files as they are now were already told about.
pub fn tell(ws: &Workspace, env: &Env, bus: &Bus, event: Event) {
    let mut h = DefaultHasher::new();
    stamp(ws, env).hash(&mut h);
    let now = h.finish();
    let mut told = TOLD.lock().unwrap_or_else(|e| e.into_inner());
    if told.insert(ws.root.clone(), now) != Some(now) {
        bus.emit(event);
    }
}

/// The settings files: `.clk/config/*.json`, the workflows, the prompts, and the user's own
/// `config.json` and `providers.json`. Backups, temp files and dot files are not settings.
pub fn is_settings(ws: &Workspace, env: &Env, path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if name.starts_with('.') {
        return false;
    }
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    if path.starts_with(ws.workflows_dir()) {
        return matches!(ext, "yaml" | "yml");
    }
    if path.parent() == Some(ws.config_dir().as_path()) {
        return ext == "json";
    }
    if path.parent() == Some(ws.prompts_dir().as_path()) {
        return ext == "md";
    }
    [user::config_file(env), user::providers_file(env)]
        .iter()
        .flatten()
        .any(|f| f == path)
}

/// Size and time of every settings file there is now.
fn stamp(ws: &Workspace, env: &Env) -> Stamp {
    let mut paths: Vec<PathBuf> = [ws.config_dir(), ws.workflows_dir(), ws.prompts_dir()]
        .iter()
        .filter_map(|d| std::fs::read_dir(d).ok())
        .flat_map(|rd| rd.filter_map(Result::ok).map(|e| e.path()))
        .collect();
    paths.extend(
        [user::config_file(env), user::providers_file(env)]
            .into_iter()
            .flatten(),
    );
    paths
        .into_iter()
        .filter(|p| is_settings(ws, env, p))
        .filter_map(|p| {
            let m = std::fs::metadata(&p).ok().filter(|m| m.is_file())?;
            Some((p, (m.modified().unwrap_or(SystemTime::UNIX_EPOCH), m.len())))
        })
        .collect()
}

/// Check the changed `files`: the settings they make when all of them load, and the event that
/// says so; no settings and the event that names the file and line when one does not.
pub fn decide(ws: &Workspace, env: &Env, files: &BTreeSet<PathBuf>) -> (Option<Project>, Event) {
    let shown = |p: &Path| p.strip_prefix(&ws.root).unwrap_or(p).display().to_string();
    let project = match ws.load(env) {
        Ok(p) => p,
        Err(e) => return (None, rejected_config(&e, files, &shown)),
    };
    let roster = roster_names(ws, &current_agents(&project));
    for f in files {
        let ext = f.extension().and_then(|e| e.to_str()).unwrap_or("");
        if matches!(ext, "yaml" | "yml") && f.is_file() {
            if let Err(e) = load_file(f, &roster) {
                let line = match &e {
                    WorkflowError::Invalid {
                        problem: Problem::Yaml { line, .. },
                        ..
                    } if *line > 0 => Some(*line),
                    _ => None,
                };
                let event = Event::SettingsRejected {
                    file: shown(f),
                    line,
                    error: e.to_string(),
                };
                return (None, event);
            }
        }
        if ext == "md" && f.is_file() && std::fs::read_to_string(f).is_err() {
            let event = Event::SettingsRejected {
                file: shown(f),
                line: None,
                error: "not readable as UTF-8 text".into(),
            };
            return (None, event);
        }
    }
    let event = Event::SettingsReloaded {
        files: files.iter().map(|f| shown(f)).collect(),
    };
    (Some(project), event)
}

/// The event for settings that fail to load with `e`, found without knowing which file changed.
pub fn rejected(ws: &Workspace, e: &ConfigError) -> Event {
    let shown = |p: &Path| p.strip_prefix(&ws.root).unwrap_or(p).display().to_string();
    rejected_config(e, &BTreeSet::new(), &shown)
}

/// The event for settings that do not load: the file and line the error names.
fn rejected_config(
    e: &ConfigError,
    files: &BTreeSet<PathBuf>,
    shown: &dyn Fn(&Path) -> String,
) -> Event {
    let (file, detail) = match e {
        ConfigError::Parse { path, detail } => (shown(Path::new(path)), detail.clone()),
        ConfigError::Io { path, detail } => (shown(Path::new(path)), detail.clone()),
        ConfigError::Invalid(msg) => {
            // The message starts with the file's name when the loader knows it.
            let named = files.iter().find(|f| {
                f.file_name()
                    .is_some_and(|n| msg.starts_with(&*n.to_string_lossy()))
            });
            match named.or(files.iter().next()) {
                Some(f) => (shown(f), msg.clone()),
                None => ("settings".into(), msg.clone()),
            }
        }
    };
    Event::SettingsRejected {
        file,
        line: line_of(&detail),
        error: detail,
    }
}

/// The line number in a serde error's "... at line N column M".
fn line_of(detail: &str) -> Option<u64> {
    let rest = &detail[detail.rfind("line ")? + 5..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_comes_from_the_parsers_words() {
        assert_eq!(
            line_of("EOF while parsing an object at line 3 column 1"),
            Some(3)
        );
        assert_eq!(line_of("no line here"), None);
    }

    #[test]
    fn an_edit_is_told_once_and_a_broken_one_keeps_the_settings_before_it() {
        let dir = tempfile::tempdir().unwrap();
        crate::engine::store::init::init(dir.path(), Some("demo")).unwrap();
        let ws = Workspace::new(dir.path());
        let project = ws.load(&Env::none()).unwrap();
        let bus = Bus::new(None);
        let mut rx = bus.subscribe();
        let mut live = Live::new(project);
        live.refresh(&bus);
        assert!(rx.try_recv().is_err(), "nothing was edited");

        std::fs::write(ws.config_file(), "{\"max_iterations\": 7}").unwrap();
        assert_eq!(live.refresh(&bus).config.max_iterations, 7);
        assert!(matches!(rx.try_recv(), Ok(Event::SettingsReloaded { .. })));

        std::fs::write(ws.config_file(), "{\n \"max_iterations\": \n").unwrap();
        assert_eq!(live.refresh(&bus).config.max_iterations, 7);
        assert!(matches!(
            rx.try_recv(),
            Ok(Event::SettingsRejected { line: Some(3), .. })
        ));
        live.refresh(&bus);
        assert!(rx.try_recv().is_err(), "told once");
        assert!(live.rejected(&ws.config_file()));
    }
}
