//! Chat channels linked to projects (`channels.json` in the user's config folder): a Discord
//! channel's `/project add` notes which workspace it follows, so the bot posts that project's
//! progress and notices there. One link per channel; linking again moves it.
//!
//! Changed under a file lock and written whole, as the workspace registry is; a file that does
//! not parse is never overwritten.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::engine::ground::config::Env;
use crate::engine::store::user;
use crate::engine::store::workspace::Durability;

/// One channel and the project it follows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    /// `discord`.
    pub service: String,
    pub channel: String,
    /// The workspace's name in the registry.
    pub name: String,
    pub path: PathBuf,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct File {
    #[serde(default)]
    links: Vec<Link>,
}

/// Where the links live, if the environment names a home.
pub fn file(env: &Env) -> Option<PathBuf> {
    user::config_dir(env).map(|d| d.join("channels.json"))
}

/// What the file is, for the error on one that does not parse.
const WHAT: &str = "links chat channels to projects";

/// Every link of `service`.
pub fn list(env: &Env, service: &str) -> Result<Vec<Link>, String> {
    let Some(path) = file(env) else {
        return Ok(Vec::new());
    };
    let all = user::read_file::<File>(&path, WHAT)?.links;
    Ok(all.into_iter().filter(|l| l.service == service).collect())
}

/// Link `link.channel` to `link.path`, replacing the channel's old link.
pub fn add(env: &Env, link: Link) -> Result<(), String> {
    let path = file(env).ok_or_else(|| {
        "no home folder for channels.json: set HOME or XDG_CONFIG_HOME".to_string()
    })?;
    user::update_file(&path, WHAT, Durability::PowerLoss, |f: &mut File| {
        f.links
            .retain(|l| !(l.service == link.service && l.channel == link.channel));
        f.links.push(link);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_channel_has_one_link_and_a_broken_file_is_kept() {
        let d = tempfile::tempdir().unwrap();
        let env = Env::fixed([("XDG_CONFIG_HOME", d.path().to_string_lossy().into_owned())]);
        let link = |channel: &str, name: &str| Link {
            service: "discord".into(),
            channel: channel.into(),
            name: name.into(),
            path: d.path().join(name),
        };
        assert!(list(&env, "discord").unwrap().is_empty());
        add(&env, link("1", "a")).unwrap();
        add(&env, link("2", "a")).unwrap();
        add(&env, link("1", "b")).unwrap();
        let all = list(&env, "discord").unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all.iter().find(|l| l.channel == "1").unwrap().name, "b");
        assert!(list(&env, "slack").unwrap().is_empty());
        let f = file(&env).unwrap();
        std::fs::write(&f, "{ not json").unwrap();
        assert!(
            add(&env, link("3", "c"))
                .unwrap_err()
                .contains("channels.json")
        );
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "{ not json");
    }
}
