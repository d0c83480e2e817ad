//! The user's own clk folders, shared by every project: settings in the config folder
//! (`config.json`, `providers.json`), the workspace registry and other data in the data folder.
//!
//! On Linux these follow XDG: `$XDG_CONFIG_HOME/clk` (else `~/.config/clk`) and
//! `$XDG_DATA_HOME/clk` (else `~/.local/share/clk`); other systems get their usual places from
//! the `directories` crate. The variables come from the [`Env`] the caller hands in, so a test
//! (or `Env::none()`) sees no user folder at all unless it sets one.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::engine::ground::config::{ConfigError, Env};
use crate::engine::store::lock::with_file_lock;
use crate::engine::store::workspace::{Durability, read_json, replace_file};

/// Which of the user's folders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Config,
    Data,
}

fn dir(env: &Env, kind: Kind) -> Option<PathBuf> {
    let var = match kind {
        Kind::Config => "XDG_CONFIG_HOME",
        Kind::Data => "XDG_DATA_HOME",
    };
    // XDG says a relative value is to be ignored.
    if let Some(base) = env.get(var).map(PathBuf::from).filter(|p| p.is_absolute()) {
        return Some(base.join("clk"));
    }
    let home = env.get("HOME").map(PathBuf::from)?;
    if cfg!(target_os = "linux") {
        return Some(match kind {
            Kind::Config => home.join(".config/clk"),
            Kind::Data => home.join(".local/share/clk"),
        });
    }
    let dirs = directories::ProjectDirs::from("", "", "clk")?;
    Some(match kind {
        Kind::Config => dirs.config_dir().to_path_buf(),
        Kind::Data => dirs.data_dir().to_path_buf(),
    })
}

/// The user's clk settings folder, if the environment names a home or an XDG folder.
pub fn config_dir(env: &Env) -> Option<PathBuf> {
    dir(env, Kind::Config)
}

/// The user's clk data folder (workspace registry and the like).
pub fn data_dir(env: &Env) -> Option<PathBuf> {
    dir(env, Kind::Data)
}

/// `config.json` in the user's settings folder: defaults for every project's clk.config.json.
pub fn config_file(env: &Env) -> Option<PathBuf> {
    config_dir(env).map(|d| d.join("config.json"))
}

/// `providers.json` in the user's settings folder: defaults for every project's providers.
pub fn providers_file(env: &Env) -> Option<PathBuf> {
    config_dir(env).map(|d| d.join("providers.json"))
}

/// The JSON object in the user-level file at `path`, if there is one. A file that is not an
/// object is an error naming it, like a broken project file.
pub fn read_object(path: Option<&Path>) -> Result<Option<Value>, ConfigError> {
    let Some(path) = path else {
        return Ok(None);
    };
    let v = read_json(path)?;
    if let Some(v) = &v
        && !v.is_object()
    {
        return Err(ConfigError::Invalid(format!(
            "{}: expected a JSON object",
            path.display()
        )));
    }
    Ok(v)
}

/// The user-level list file at `path` (the workspace registry, the channel links) as `F`, its
/// default when there is none. A file that does not parse is an error naming it and what it
/// holds (`what`), so nobody overwrites it.
pub fn read_file<F: DeserializeOwned + Default>(path: &Path, what: &str) -> Result<F, String> {
    match read_json(path) {
        Ok(None) => Ok(F::default()),
        Ok(Some(v)) => serde_json::from_value(v).map_err(|e| {
            format!(
                "{}: {e}; fix or remove the file (it only {what})",
                path.display()
            )
        }),
        Err(e) => Err(e.to_string()),
    }
}

/// Change the file at `path` with `f` under its lock, then write it whole; `f`'s error, or a
/// file that does not parse, leaves it as it was.
pub fn update_file<F, T>(
    path: &Path,
    what: &str,
    durability: Durability,
    f: impl FnOnce(&mut F) -> Result<T, String>,
) -> Result<T, String>
where
    F: DeserializeOwned + Serialize + Default,
{
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    with_file_lock(path, || {
        let mut file: F = read_file(path, what)?;
        let out = f(&mut file)?;
        let mut text = serde_json::to_string_pretty(&file).map_err(|e| e.to_string())?;
        text.push('\n');
        replace_file(path, text.as_bytes(), durability)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        Ok(out)
    })
    .map_err(|e| format!("cannot lock {}: {e}", path.display()))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xdg_wins_then_home_and_nothing_without_either() {
        let env = Env::fixed([("XDG_CONFIG_HOME", "/x/cfg"), ("HOME", "/home/u")]);
        assert_eq!(config_dir(&env), Some(PathBuf::from("/x/cfg/clk")));
        let env = Env::fixed([("XDG_CONFIG_HOME", "relative"), ("HOME", "/home/u")]);
        if cfg!(target_os = "linux") {
            assert_eq!(config_dir(&env), Some(PathBuf::from("/home/u/.config/clk")));
            assert_eq!(
                data_dir(&env),
                Some(PathBuf::from("/home/u/.local/share/clk"))
            );
        }
        assert_eq!(config_dir(&Env::none()), None);
        assert_eq!(providers_file(&Env::none()), None);
    }

    #[test]
    fn a_user_file_that_is_not_an_object_is_named() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("config.json");
        std::fs::write(&f, "[1]").unwrap();
        let err = read_object(Some(&f)).unwrap_err().to_string();
        assert!(err.contains("config.json: expected a JSON object"), "{err}");
        assert_eq!(read_object(None).unwrap(), None);
        assert_eq!(
            read_object(Some(&d.path().join("none.json"))).unwrap(),
            None
        );
    }
}
