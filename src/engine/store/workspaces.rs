//! The registry of every project clk has set up or kicked off, kept in the user's data folder
//! (`workspaces.json`): its path, a name, when it was last used, its idea, and whether
//! `kickoff.sh` made it (only those may be cleaned away).
//!
//! Every change is one read-modify-write under a file lock, written atomically, so two clk
//! processes finishing at once both land. A registry that does not parse is never overwritten:
//! the change is refused with the file's name.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::engine::ground::config::Env;
use crate::engine::store::idea::Idea;
use crate::engine::store::user;
use crate::engine::store::workspace::{Durability, Workspace};

/// One project in the registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub name: String,
    pub path: PathBuf,
    /// RFC 3339, local time.
    pub last_used: String,
    #[serde(default)]
    pub idea: Option<String>,
    /// Made by `kickoff.sh`: `clk workspaces clean` may remove it when old.
    #[serde(default)]
    pub kickoff: bool,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct File {
    #[serde(default)]
    workspaces: Vec<Entry>,
}

/// Where the registry lives, if the environment names a home.
pub fn registry_file(env: &Env) -> Option<PathBuf> {
    user::data_dir(env).map(|d| d.join("workspaces.json"))
}

/// What the registry is, for the error on a file that does not parse.
const WHAT: &str = "lists projects";

/// Every registered project, most recently used first.
pub fn list(env: &Env) -> Result<Vec<Entry>, String> {
    let Some(path) = registry_file(env) else {
        return Ok(Vec::new());
    };
    let mut all = user::read_file::<File>(&path, WHAT)?.workspaces;
    all.sort_by(|a, b| b.last_used.cmp(&a.last_used));
    Ok(all)
}

/// Change the registry with `f` under its lock; `f`'s error leaves the file as it was.
pub fn update<T>(
    env: &Env,
    f: impl FnOnce(&mut Vec<Entry>) -> Result<T, String>,
) -> Result<T, String> {
    let path = registry_file(env)
        .ok_or_else(|| "no home folder for the registry: set HOME or XDG_DATA_HOME".to_string())?;
    // Whole or old after a crash; no fsync and no .bak: it is only a list of projects,
    // rewritten after every command that changes one.
    user::update_file(&path, WHAT, Durability::ClkCrash, |file: &mut File| {
        f(&mut file.workspaces)
    })
}

/// A name not yet taken: `base`, else `base-2`, `base-3`, ...
fn free_name(all: &[Entry], base: &str, except: &Path) -> String {
    let taken = |n: &str| all.iter().any(|e| e.name == n && e.path != except);
    if !taken(base) {
        return base.to_string();
    }
    (2u32..)
        .map(|i| format!("{base}-{i}"))
        .find(|n| !taken(n))
        .unwrap_or_else(|| base.to_string())
}

/// Note that the project at `ws` was used now (added when new, with the folder's name or
/// `name`; its idea refreshed). `kickoff` marks it as made by kickoff.sh.
pub fn touch(ws: &Workspace, env: &Env, name: Option<&str>, kickoff: bool) -> Result<(), String> {
    let path = ws.root.clone();
    let idea = Idea::load(ws).map(|i| i.title);
    let now = chrono::Local::now();
    // An entry noted less than a minute ago with the same idea needs no rewrite: commands in a
    // row (a script, a loop) cost one read, not a locked write each.
    let fresh = |e: &Entry| {
        e.path == path
            && e.kickoff >= kickoff
            && (idea.is_none() || e.idea == idea)
            && chrono::DateTime::parse_from_rfc3339(&e.last_used)
                .is_ok_and(|t| (now.fixed_offset() - t).num_seconds() < 60)
    };
    if list(env).is_ok_and(|all| all.iter().any(fresh)) {
        return Ok(());
    }
    let now = now.to_rfc3339();
    update(env, |all| {
        forget_vanished_temporary(all, &path);
        if let Some(e) = all.iter_mut().find(|e| e.path == path) {
            e.last_used = now;
            if idea.is_some() {
                e.idea = idea;
            }
            e.kickoff |= kickoff;
            return Ok(());
        }
        let base = name.map(str::to_string).unwrap_or_else(|| {
            path.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "project".into())
        });
        let name = free_name(all, &base, &path);
        all.push(Entry {
            name,
            path: path.clone(),
            last_used: now,
            idea,
            kickoff,
        });
        Ok(())
    })
}

/// Drop projects that lived in the temporary folder and are gone (a reboot, a test's folder):
/// nothing can switch to them, and a registry that only grows makes every command slower.
/// Projects elsewhere stay even when missing (a drive not mounted); `clk workspaces forget`
/// removes those.
fn forget_vanished_temporary(all: &mut Vec<Entry>, keep: &Path) {
    let tmp = std::env::temp_dir();
    let tmp_real = tmp.canonicalize().unwrap_or_else(|_| tmp.clone());
    all.retain(|e| {
        e.path == keep
            || !(e.path.starts_with(&tmp) || e.path.starts_with(&tmp_real))
            || e.path.exists()
    });
}

/// The entry a user means by `which`: a name, or a path (as given or canonical).
pub fn find<'a>(all: &'a [Entry], which: &str) -> Option<&'a Entry> {
    let as_path = Path::new(which);
    let canonical = as_path.canonicalize().ok();
    all.iter().find(|e| e.name == which).or_else(|| {
        all.iter()
            .find(|e| e.path == as_path || canonical.as_deref() == Some(e.path.as_path()))
    })
}

/// Check a new name: short, printable, no slashes.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.trim().is_empty()
        && name.chars().count() <= 64
        && !name.contains(['/', '\\'])
        && !name.chars().any(char::is_control);
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not a usable name: 1 to 64 characters, no slashes"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(dir: &Path) -> Env {
        Env::fixed([("XDG_DATA_HOME", dir.to_string_lossy().into_owned())])
    }

    #[test]
    fn touch_adds_once_keeps_names_unique_and_refreshes() {
        let d = tempfile::tempdir().unwrap();
        let env = env(&d.path().join("data"));
        let a = Workspace::new(d.path().join("one/app"));
        let b = Workspace::new(d.path().join("two/app"));
        std::fs::create_dir_all(&a.root).unwrap();
        std::fs::create_dir_all(&b.root).unwrap();
        touch(&a, &env, None, false).unwrap();
        touch(&b, &env, None, true).unwrap();
        touch(&a, &env, None, false).unwrap();
        let all = list(&env).unwrap();
        assert_eq!(all.len(), 2);
        // Most recent first; a's second touch within the minute wrote nothing.
        assert_eq!(all[0].path, b.root);
        let names: Vec<&str> = all.iter().map(|e| e.name.as_str()).collect();
        assert!(
            names.contains(&"app") && names.contains(&"app-2"),
            "{names:?}"
        );
        assert!(find(&all, "app-2").unwrap().kickoff);
    }

    #[test]
    fn projects_gone_from_the_temporary_folder_are_forgotten_others_kept() {
        let d = tempfile::tempdir().unwrap();
        let env = env(&d.path().join("data"));
        let gone = std::env::temp_dir().join("clk-registry-test-gone-project");
        let away = PathBuf::from("/clk-registry-test-unmounted/project");
        update(&env, |all| {
            for (name, path) in [("gone", &gone), ("away", &away)] {
                all.push(Entry {
                    name: name.into(),
                    path: path.clone(),
                    last_used: "2026-01-01T00:00:00+00:00".into(),
                    idea: None,
                    kickoff: false,
                });
            }
            Ok(())
        })
        .unwrap();
        let here = Workspace::new(d.path().join("app"));
        std::fs::create_dir_all(&here.root).unwrap();
        touch(&here, &env, None, false).unwrap();
        let paths: Vec<PathBuf> = list(&env).unwrap().into_iter().map(|e| e.path).collect();
        assert!(!paths.contains(&gone), "{paths:?}");
        assert!(
            paths.contains(&away) && paths.contains(&here.root),
            "{paths:?}"
        );
    }

    #[test]
    fn a_broken_registry_is_refused_and_left_alone() {
        let d = tempfile::tempdir().unwrap();
        let env = env(d.path());
        let file = registry_file(&env).unwrap();
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, "{\"workspaces\": 3}").unwrap();
        let err = touch(&Workspace::new(d.path()), &env, None, false).unwrap_err();
        assert!(err.contains("workspaces.json"), "{err}");
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            "{\"workspaces\": 3}"
        );
    }

    #[test]
    fn names_are_checked() {
        assert!(check_name("notes").is_ok());
        assert!(check_name("a/b").is_err() && check_name(" ").is_err());
    }
}
