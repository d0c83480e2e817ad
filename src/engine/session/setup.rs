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

/// A local model server: Ollama, an OpenAI-compatible one the user's settings name, or one
/// answering at a usual local address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    pub name: String,
    pub endpoint: String,
    /// Usable as the provider `name` as it is set up now.
    pub up: bool,
    /// `answers`, or why it cannot be used.
    pub state: String,
    /// The models an OpenAI-compatible server lists (empty for the others).
    pub models: Vec<String>,
}

/// Where local OpenAI-compatible servers usually answer, besides the `openwebui` provider's
/// own endpoint: LM Studio, llama.cpp's server, vLLM.
pub const OPENAI_LOCAL: [(&str, &str); 3] = [
    ("lmstudio", "http://localhost:1234/v1"),
    ("llama.cpp", "http://localhost:8080/v1"),
    ("vllm", "http://localhost:8000/v1"),
];

/// The models the OpenAI-compatible server at `endpoint` lists, asked within `limit`; an
/// error says why it gave none (no answer, a key wanted, not that kind of server).
async fn openai_models(endpoint: &str, key: &str, limit: Duration) -> Result<Vec<String>, String> {
    let (_, url) = crate::engine::agents::providers::openwebui::urls(endpoint, None);
    let client = reqwest::Client::builder()
        .timeout(limit)
        .build()
        .map_err(|e| e.to_string())?;
    let mut get = client.get(&url);
    if !key.is_empty() {
        get = get.bearer_auth(key);
    }
    let reply = get.send().await.map_err(|_| "no answer".to_string())?;
    let status = reply.status();
    if status == 401 || status == 403 {
        return Err("answers, but wants a key (providers.openwebui.api_key)".into());
    }
    if !status.is_success() {
        return Err(format!(
            "answers {status} at {url}: not an OpenAI-compatible server"
        ));
    }
    let doc: serde_json::Value = reply
        .json()
        .await
        .map_err(|_| format!("answers at {url}, but not with a list of models"))?;
    Ok(doc["data"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|m| m["id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default())
}

fn models_state(models: &[String]) -> String {
    let mut shown: Vec<&str> = models.iter().take(5).map(String::as_str).collect();
    if models.len() > shown.len() {
        shown.push("…");
    }
    if shown.is_empty() {
        "answers, but serves no model yet".into()
    } else {
        format!("answers, serves {}", shown.join(", "))
    }
}

/// The local servers: the Ollama and OpenAI-compatible providers in `providers`, and the
/// usual local addresses of OpenAI-compatible servers (listed only when one answers), each
/// checked within `limit`, all at once. No model call.
pub async fn servers(providers: &ProvidersFile, limit: Duration) -> Vec<Server> {
    let configured = providers
        .providers
        .iter()
        .filter(|(_, s)| s.kind == "ollama" || s.kind == "openwebui")
        .map(|(n, s)| async move {
            let endpoint = s.endpoint.clone().unwrap_or_default();
            let no_model = s.model.as_deref().is_none_or(|m| m.trim().is_empty());
            if s.kind == "openwebui" && no_model {
                // Not set up yet: whether a server answers there, and what it serves.
                let key = s.api_key.as_deref().unwrap_or_default();
                let (state, models) = match openai_models(&endpoint, key, limit).await {
                    Ok(models) => (models_state(&models), models),
                    Err(why) => (why, Vec::new()),
                };
                return Server {
                    name: n.clone(),
                    endpoint,
                    up: false,
                    state,
                    models,
                };
            }
            let a = registry::availability(n, s, limit).await;
            Server {
                name: n.clone(),
                endpoint,
                up: a.usable,
                state: if a.usable {
                    "answers".to_string()
                } else {
                    format!("not usable: {}", a.reason)
                },
                models: Vec::new(),
            }
        });
    let known: Vec<String> = providers
        .providers
        .values()
        .filter_map(|s| s.endpoint.clone())
        .collect();
    let usual = OPENAI_LOCAL
        .iter()
        .filter(|(_, e)| !known.iter().any(|k| k.trim_end_matches('/') == *e))
        .map(|(n, e)| async move {
            let models = openai_models(e, "", limit).await.ok()?;
            Some(Server {
                name: (*n).to_string(),
                endpoint: (*e).to_string(),
                up: false,
                state: format!(
                    "{}; the openwebui provider can use it",
                    models_state(&models)
                ),
                models,
            })
        });
    let (mut out, found) = futures_util::future::join(
        futures_util::future::join_all(configured),
        futures_util::future::join_all(usual),
    )
    .await;
    out.extend(found.into_iter().flatten());
    out
}

/// The OpenAI-compatible server the `openwebui` provider would use when it has no model yet:
/// the first that serves one (its own endpoint first). (endpoint, model).
pub fn openai_pick(servers: &[Server]) -> Option<(String, String)> {
    servers
        .iter()
        .find_map(|s| Some((s.endpoint.clone(), s.models.first()?.clone())))
}

/// Each server's name and whether it can serve now, for [`suggest`]: an OpenAI-compatible
/// server that serves a model counts for the `openwebui` provider.
pub fn usable(servers: &[Server]) -> Vec<(String, bool)> {
    let mut up: Vec<(String, bool)> = servers.iter().map(|s| (s.name.clone(), s.up)).collect();
    if openai_pick(servers).is_some() {
        up.push(("openwebui".into(), true));
    }
    up
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
    let suggested = suggest(&agents, &usable(&servers));
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
