//! What `clk setup` finds and remembers: which agent CLIs are installed and logged in (seen
//! from their credential files and key variables, never by a paid call), which API keys are
//! set (names only), the provider to suggest, and the answers given so far, kept in the
//! user's data folder so an interrupted setup continues where it stopped.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::engine::agents::providers::registry;
use crate::engine::ground::config::{ConfigError, Env, ProvidersFile};
use crate::engine::store::user;
use crate::engine::store::workspace::{read_json, write_json};

/// The agent CLIs, in the order setup shows and suggests them.
pub const AGENTS: [&str; 4] = ["claude", "codex", "gemini", "pi"];

/// Variables whose presence setup reports (never their values).
pub const KEY_NAMES: &[&str] = &[
    "ANTHROPIC_API_KEY",
    "OPENAI_API_KEY",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "OPENROUTER_API_KEY",
    "GITHUB_TOKEN",
];

/// One agent CLI as found on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agent {
    pub name: &'static str,
    /// Where the program is, when it is on PATH.
    pub path: Option<PathBuf>,
    /// How it is logged in (a credential file or a key variable), if it looks logged in.
    pub login: Option<String>,
}

/// Every agent CLI, with `locate` telling where a program is.
pub fn agents(env: &Env, locate: &dyn Fn(&str) -> Option<PathBuf>) -> Vec<Agent> {
    AGENTS
        .iter()
        .map(|&name| Agent {
            name,
            path: locate(name),
            login: login(name, env),
        })
        .collect()
}

/// How agent CLI `name` is logged in, judged from its files and variables alone.
pub fn login(name: &str, env: &Env) -> Option<String> {
    let home = env.get("HOME").map(PathBuf::from);
    let dir = |var: &str, under_home: &str| -> Option<PathBuf> {
        env.get(var)
            .map(PathBuf::from)
            .or_else(|| home.as_ref().map(|h| h.join(under_home)))
    };
    let file = |p: Option<PathBuf>| -> Option<String> {
        let p = p?;
        p.is_file()
            .then(|| format!("login in {}", tilde(&p, home.as_deref())))
    };
    let var = |names: &[&str]| -> Option<String> {
        names
            .iter()
            .find(|n| env.get(n).is_some())
            .map(|n| format!("{n} is set"))
    };
    match name {
        "claude" => file(dir("CLAUDE_CONFIG_DIR", ".claude").map(|d| d.join(".credentials.json")))
            .or_else(|| {
                // On macOS the token sits in the keychain; ~/.claude.json names the account.
                let p = home.as_ref()?.join(".claude.json");
                let v = read_json(&p).ok()??;
                v.get("oauthAccount")
                    .filter(|a| a.is_object())
                    .map(|_| format!("account in {}", tilde(&p, home.as_deref())))
            })
            .or_else(|| var(&["ANTHROPIC_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN"])),
        "codex" => file(dir("CODEX_HOME", ".codex").map(|d| d.join("auth.json")))
            .or_else(|| var(&["OPENAI_API_KEY"])),
        "gemini" => file(dir("GEMINI_CLI_HOME", "").map(|d| d.join(".gemini/oauth_creds.json")))
            .or_else(|| var(&["GEMINI_API_KEY", "GOOGLE_API_KEY"])),
        "pi" => file(dir("PI_CODING_AGENT_DIR", ".pi/agent").map(|d| d.join("auth.json"))).or_else(
            || {
                var(&[
                    "ANTHROPIC_API_KEY",
                    "OPENAI_API_KEY",
                    "GEMINI_API_KEY",
                    "OPENROUTER_API_KEY",
                ])
            },
        ),
        _ => None,
    }
}

/// `path` with the home folder written as `~`.
fn tilde(path: &Path, home: Option<&Path>) -> String {
    match home.and_then(|h| path.strip_prefix(h).ok()) {
        Some(rest) => format!("~/{}", rest.display()),
        None => path.display().to_string(),
    }
}

/// The names in [`KEY_NAMES`] that are set.
pub fn keys_set(env: &Env) -> Vec<&'static str> {
    KEY_NAMES
        .iter()
        .copied()
        .filter(|n| env.get(n).is_some())
        .collect()
}

/// The provider to offer first: a CLI that is installed and logged in, else a local server
/// that answers (`servers`: name and whether it is usable), else an installed CLI, else the
/// free built-in shell provider.
pub fn suggest(agents: &[Agent], servers: &[(String, bool)]) -> String {
    let ready = agents
        .iter()
        .find(|a| a.path.is_some() && a.login.is_some());
    let server = servers.iter().find(|(_, up)| *up).map(|(n, _)| n.as_str());
    let installed = agents.iter().find(|a| a.path.is_some());
    ready
        .map(|a| a.name)
        .or(server)
        .or(installed.map(|a| a.name))
        .unwrap_or("shell")
        .to_string()
}

/// How one agent CLI stands, in a line.
pub fn agent_line(a: &Agent) -> String {
    match (&a.path, &a.login) {
        (None, _) => format!("not installed (`clk install {}`)", a.name),
        (Some(p), Some(how)) => format!("installed at {}, logged in ({how})", p.display()),
        (Some(p), None) => format!(
            "installed at {}, no login found: run `{}` once and log in, or set its API key",
            p.display(),
            a.name
        ),
    }
}

/// A local model server (Ollama, or an OpenAI-compatible one the user's settings name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    pub name: String,
    pub endpoint: String,
    pub up: bool,
    /// `answers`, or why it cannot be used.
    pub state: String,
}

/// The local servers in `providers`, each checked within `limit`, all at once. No model call.
pub async fn servers(providers: &ProvidersFile, limit: Duration) -> Vec<Server> {
    let checks = providers
        .providers
        .iter()
        // The built-in `openwebui` entry has no model until the user sets one up.
        .filter(|(n, s)| s.kind == "ollama" || (s.kind == "openwebui" && n.as_str() != "openwebui"))
        .map(|(n, s)| async move {
            let a = registry::availability(n, s, limit).await;
            Server {
                name: n.clone(),
                endpoint: s.endpoint.clone().unwrap_or_default(),
                up: a.usable,
                state: if a.usable {
                    "answers".to_string()
                } else {
                    format!("not usable: {}", a.reason)
                },
            }
        });
    futures_util::future::join_all(checks).await
}

/// The user's providers: the built-in ones under their own `providers.json`, with `CLK_*`
/// overrides.
pub fn user_providers(env: &Env) -> Result<ProvidersFile, ConfigError> {
    let file = user::read_object(user::providers_file(env).as_deref())?;
    let lookup = |k: &str| env.get(k);
    ProvidersFile::from_layers(&[file.as_ref()], &lookup)
}

/// What `/setup` shows in the dashboard: the survey and the provider it would suggest.
pub async fn report(env: &Env) -> Result<(Vec<String>, String), String> {
    let providers = user_providers(env).map_err(|e| e.to_string())?;
    let agents = agents(env, &|p| crate::engine::act::process::which(p));
    let servers = servers(&providers, Duration::from_millis(700)).await;
    let mut lines = vec!["agent CLIs:".to_string()];
    lines.extend(
        agents
            .iter()
            .map(|a| format!("  {:<8} {}", a.name, agent_line(a))),
    );
    lines.push("local model servers:".into());
    lines.extend(
        servers
            .iter()
            .map(|s| format!("  {:<8} {}: {}", s.name, s.endpoint, s.state)),
    );
    let set = keys_set(env);
    lines.push(format!(
        "API keys set: {}",
        if set.is_empty() {
            "(none)".to_string()
        } else {
            set.join(", ")
        }
    ));
    let up: Vec<(String, bool)> = servers.iter().map(|s| (s.name.clone(), s.up)).collect();
    let suggested = suggest(&agents, &up);
    lines.push(format!(
        "suggested default provider: {suggested}; /provider {suggested} uses it here, \
         `clk setup` in a shell saves it for every project"
    ));
    Ok((lines, suggested))
}

/// The answers of a setup so far.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// The chosen default provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// The answer to installing missing CLIs: `none`, `missing`, or the names chosen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub install: Option<String>,
    /// The settings were written.
    #[serde(default)]
    pub done: bool,
}

/// Where the progress is kept: `setup.json` in the user's data folder.
pub fn progress_file(env: &Env) -> Option<PathBuf> {
    user::data_dir(env).map(|d| d.join("setup.json"))
}

/// The progress in `path`; a missing file is a fresh start, a broken one an error naming it.
pub fn load(path: &Path) -> Result<Progress, String> {
    match read_json(path).map_err(|e| e.to_string())? {
        None => Ok(Progress::default()),
        Some(v) => serde_json::from_value(v).map_err(|e| {
            format!(
                "{}: {e}; delete it or run `clk setup --reset`",
                path.display()
            )
        }),
    }
}

/// Keep `progress` in `path` (written whole, so a crash leaves the old or the new).
pub fn save(path: &Path, progress: &Progress) -> std::io::Result<()> {
    let v = serde_json::to_value(progress).map_err(std::io::Error::other)?;
    write_json(path, &v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logins_come_from_credential_files_then_key_variables() {
        let d = tempfile::tempdir().unwrap();
        let home = d.path().to_str().unwrap();
        std::fs::create_dir_all(d.path().join(".codex")).unwrap();
        std::fs::write(d.path().join(".codex/auth.json"), "{}").unwrap();
        std::fs::write(
            d.path().join(".claude.json"),
            r#"{"oauthAccount": {"emailAddress": "a@b"}}"#,
        )
        .unwrap();
        let env = Env::fixed([("HOME", home), ("GEMINI_API_KEY", "secret-value")]);
        assert_eq!(
            login("codex", &env).as_deref(),
            Some("login in ~/.codex/auth.json")
        );
        assert_eq!(
            login("claude", &env).as_deref(),
            Some("account in ~/.claude.json")
        );
        assert_eq!(
            login("gemini", &env).as_deref(),
            Some("GEMINI_API_KEY is set")
        );
        assert_eq!(login("pi", &env).as_deref(), Some("GEMINI_API_KEY is set"));
        assert_eq!(login("pi", &Env::fixed([("HOME", home)])), None);
        assert_eq!(keys_set(&env), ["GEMINI_API_KEY"]);
    }

    #[test]
    fn the_suggestion_prefers_a_ready_cli_then_a_server_then_any_cli() {
        let a = |name, path: bool, login: bool| Agent {
            name,
            path: path.then(|| PathBuf::from("/bin/x")),
            login: login.then(|| "k".to_string()),
        };
        let servers = [("ollama".to_string(), true)];
        let list = [a("claude", true, false), a("codex", true, true)];
        assert_eq!(suggest(&list, &servers), "codex");
        let list = [a("claude", true, false), a("codex", false, true)];
        assert_eq!(suggest(&list, &servers), "ollama");
        assert_eq!(suggest(&list, &[]), "claude");
        assert_eq!(suggest(&[a("pi", false, true)], &[]), "shell");
    }

    #[test]
    fn progress_round_trips_and_a_broken_file_is_named() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("clk/setup.json");
        assert_eq!(load(&f).unwrap(), Progress::default());
        let p = Progress {
            provider: Some("codex".into()),
            install: None,
            done: false,
        };
        save(&f, &p).unwrap();
        assert_eq!(load(&f).unwrap(), p);
        std::fs::write(&f, r#"{"provider": 3}"#).unwrap();
        assert!(load(&f).unwrap_err().contains("clk setup --reset"));
    }
}
