//! What an agent CLI may reach from inside the sandbox, beyond what any command gets.
//!
//! A CLI edits the project in native-tools mode (the project stays writable, its `.git` and
//! `.clk/` stay read-only, as for every command) and keeps state in its config folder: the
//! provider's `home` when set, else its usual folders under the user's HOME (`~/.claude` and
//! `~/.claude.json`, `~/.codex`, `~/.gemini`, `~/.pi`) and the folder its own variable names
//! (`CLAUDE_CONFIG_DIR`, `CODEX_HOME`, ...). Those become writable when they exist; the rest
//! of HOME stays read-only. Its environment is the allow-list plus the user's variables of its
//! own vendor (`ANTHROPIC_*` and `CLAUDE_*` for claude, `OPENAI_*` and `CODEX_*` for codex,
//! `GEMINI_*` and `GOOGLE_*` for gemini, `PI_*` and its key type's key for pi) and whatever clk
//! sets for the run (its key, its base URL, its home): never another vendor's key.

use std::path::{Path, PathBuf};

use super::{Cli, CliProvider};
use crate::engine::act::sandbox::{SandboxPolicy, env};

/// Name prefixes of the user's variables a CLI may see.
fn vendor_prefixes(cli: Cli) -> &'static [&'static str] {
    match cli {
        Cli::Claude => &["ANTHROPIC_", "CLAUDE_"],
        Cli::Codex => &["OPENAI_", "CODEX_"],
        Cli::Gemini => &["GEMINI_", "GOOGLE_"],
        Cli::Pi => &["PI_"],
    }
}

/// Folders (and files) under HOME where a CLI keeps its login and state.
fn config_paths(cli: Cli) -> &'static [&'static str] {
    match cli {
        Cli::Claude => &[".claude", ".claude.json"],
        Cli::Codex => &[".codex"],
        Cli::Gemini => &[".gemini"],
        Cli::Pi => &[".pi"],
    }
}

/// Variables naming a CLI's config folder.
fn config_vars(cli: Cli) -> &'static [&'static str] {
    match cli {
        Cli::Claude => &["CLAUDE_CONFIG_DIR"],
        Cli::Codex => &["CODEX_HOME"],
        Cli::Gemini => &["GEMINI_CLI_HOME"],
        Cli::Pi => &["PI_CODING_AGENT_DIR"],
    }
}

/// Open `policy` for the CLI `p`, whose run sets `run_env`, from this process's environment.
pub(super) fn open(
    p: &CliProvider,
    policy: &mut SandboxPolicy,
    run_env: &std::collections::BTreeMap<String, String>,
) {
    let vars: Vec<(String, String)> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect();
    open_with(p, policy, run_env, vars);
}

/// [`open`] with the user's environment given.
fn open_with(
    p: &CliProvider,
    policy: &mut SandboxPolicy,
    run_env: &std::collections::BTreeMap<String, String>,
    vars: Vec<(String, String)>,
) {
    let mut names: Vec<String> = vars
        .iter()
        .map(|(k, _)| k.clone())
        .filter(|k| {
            let upper = k.to_ascii_uppercase();
            vendor_prefixes(p.cli)
                .iter()
                .any(|pre| upper.starts_with(pre))
        })
        .collect();
    if p.cli == Cli::Pi {
        if let Some(kt) = super::pi::key_type(p) {
            names.push(super::pi::key_var(kt));
        }
    }
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    policy.env = env::for_provider(vars.iter().cloned(), &names);
    // The CLIs are Node programs whose WebAssembly reserves ~10 GiB of address space each:
    // an address-space limit (the fallback when no cgroup holds memory) would kill them.
    policy.max_memory_bytes = None;

    let home =
        |env: &std::collections::BTreeMap<String, String>| env.get("HOME").map(PathBuf::from);
    let mut writable: Vec<PathBuf> = Vec::new();
    match p.home() {
        Some(own) => writable.push(own),
        None => {
            if let Some(home) = home(run_env).or_else(|| home(&policy.env)) {
                writable.extend(config_paths(p.cli).iter().map(|c| home.join(c)));
            }
        }
    }
    for var in config_vars(p.cli) {
        if let Some(dir) = run_env
            .get(*var)
            .or_else(|| policy.env.get(*var))
            .map(PathBuf::from)
        {
            writable.push(dir);
        }
    }
    policy.writable.extend(
        writable
            .into_iter()
            .filter(|w| w.is_absolute() && Path::exists(w)),
    );
    // A program kept under /tmp (a wrapper script, a test double) would vanish behind the
    // sandbox's private /tmp: its folder is shown, read-only.
    if let Some(dir) = crate::engine::act::process::which(&p.program)
        .and_then(|path| path.canonicalize().ok())
        .and_then(|path| path.parent().map(Path::to_path_buf))
        .filter(|dir| dir.starts_with("/tmp") || dir.starts_with(std::env::temp_dir()))
    {
        if !policy.writable.iter().any(|w| dir.starts_with(w)) {
            policy.read_only.push(dir);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::ground::config::ProviderSettings;

    fn vars(home: &Path) -> Vec<(String, String)> {
        [
            ("PATH", "/usr/bin"),
            ("HOME", &*home.display().to_string()),
            ("ANTHROPIC_API_KEY", "sk-ant-aaaaaaaaaaaaaaaaaaaaaaaa"),
            ("CLAUDE_CODE_USE_BEDROCK", "0"),
            ("OPENAI_API_KEY", "sk-bbbbbbbbbbbbbbbbbbbbbbbbbbbb"),
            ("GITHUB_TOKEN", "ghp_cccccccccccccccccccccccccccccccccccc"),
            ("OPENROUTER_API_KEY", "sk-or-dddddddddddddddddddddddd"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    #[test]
    fn a_cli_sees_its_vendors_variables_and_writes_its_config_folder_only() {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir(home.path().join(".claude")).unwrap();
        std::fs::create_dir(home.path().join(".codex")).unwrap();
        let project = tempfile::tempdir().unwrap();
        let claude = CliProvider::new("claude", Cli::Claude, &ProviderSettings::default());
        let mut policy = SandboxPolicy::for_worktree(project.path());
        open_with(&claude, &mut policy, &Default::default(), vars(home.path()));
        let names: Vec<&str> = policy.env.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            [
                "ANTHROPIC_API_KEY",
                "CLAUDE_CODE_USE_BEDROCK",
                "HOME",
                "PATH"
            ]
        );
        assert_eq!(
            policy.writable,
            [project.path().to_path_buf(), home.path().join(".claude")],
            "~/.claude.json does not exist, and ~/.codex is not claude's"
        );
        assert_eq!(policy.max_memory_bytes, None);
    }

    #[test]
    fn pi_gets_the_key_of_its_key_type_and_a_private_home_is_writable() {
        let home = tempfile::tempdir().unwrap();
        let project = tempfile::tempdir().unwrap();
        let settings = ProviderSettings {
            key_type: Some("openrouter".into()),
            home: Some(home.path().display().to_string()),
            ..Default::default()
        };
        let pi = CliProvider::new("pi", Cli::Pi, &settings);
        let mut policy = SandboxPolicy::for_worktree(project.path());
        open_with(&pi, &mut policy, &Default::default(), vars(home.path()));
        assert!(policy.env.contains_key("OPENROUTER_API_KEY"));
        assert!(!policy.env.contains_key("OPENAI_API_KEY"));
        assert!(!policy.env.contains_key("ANTHROPIC_API_KEY"));
        assert!(policy.writable.contains(&home.path().to_path_buf()));
    }
}
