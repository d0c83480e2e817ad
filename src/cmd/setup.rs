//! `clk setup`: a guided first setup. Each step says what it is for before it asks: the agent
//! CLIs and their logins, the sandbox, local model servers, API keys (names only), the default
//! provider, installing what is missing; then the user-level settings are written by the same
//! code as `clk configure --user`. Answers are kept in the user's data folder (`setup.json`), so
//! a setup stopped half way continues where it was, asking only what is still open.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::time::Duration;

use super::Failure;
use crate::cli::InstallChoice;
use crate::engine::act::confine;
use crate::engine::act::process::which;
use crate::engine::ground::config::{Env, SandboxConfig};
use crate::engine::session::install;
use crate::engine::session::setup::{self, Progress};
use crate::engine::store::user;

/// How long each local server may take to answer.
const SERVER_LIMIT: Duration = Duration::from_millis(700);

pub fn run(
    dir: &Path,
    non_interactive: bool,
    provider: Option<&str>,
    install_flag: Option<InstallChoice>,
    reset: bool,
) -> Result<u8, Failure> {
    let env = Env::process();
    let (Some(file), Some(config_dir)) = (setup::progress_file(&env), user::config_dir(&env))
    else {
        return Err(Failure::bad_input(
            "no home folder to keep your settings in: set HOME or XDG_CONFIG_HOME",
        ));
    };
    if !non_interactive && !std::io::stdin().is_terminal() {
        return Err(Failure::bad_input(
            "no terminal to ask on: run `clk setup --non-interactive --provider NAME \
             [--install none|missing]`",
        ));
    }
    let providers = setup::user_providers(&env)?;
    let names: Vec<String> = providers.providers.keys().cloned().collect();
    if let Some(p) = provider
        && !names.iter().any(|n| n == p)
    {
        return Err(Failure::bad_input(format!(
            "unknown provider {p:?}; choose one of: {}",
            names.join(", ")
        )));
    }
    let mut progress = if reset {
        Progress::default()
    } else {
        setup::load(&file).map_err(Failure::bad_input)?
    };
    let save = |p: &Progress| {
        setup::save(&file, p)
            .map_err(|e| Failure::failed(format!("cannot write {}: {e}", file.display())))
    };
    save(&progress)?;
    println!(
        "clk setup: five short steps. Your answers are kept in {}; if you stop, run \
         `clk setup` again to continue.",
        file.display()
    );

    heading(
        1,
        "Agent programs and the sandbox",
        "clk drives these CLIs, each with its own login or key, inside an OS sandbox.",
    );
    let agents = setup::agents(&env, &|p| which(p));
    for a in &agents {
        println!("  {:<8} {}", a.name, setup::agent_line(a));
    }
    let (sandbox, line) = confine::describe(&SandboxConfig::default());
    println!("  {:<8} {line}", "sandbox");

    heading(
        2,
        "Local model servers",
        "a model on your own machine costs nothing per call.",
    );
    let rt = super::runtime()?;
    let servers = rt.block_on(setup::servers(&providers, SERVER_LIMIT));
    rt.shutdown_background();
    for s in &servers {
        println!("  {:<8} {}: {}", s.name, s.endpoint, s.state);
    }

    heading(
        3,
        "API keys",
        "keys in the environment let clk call a vendor's API directly (values are never shown).",
    );
    let set = setup::keys_set(&env);
    let unset: Vec<&str> = setup::KEY_NAMES
        .iter()
        .copied()
        .filter(|k| !set.contains(k))
        .collect();
    println!("  set:     {}", list_or_none(&set));
    println!("  not set: {}", list_or_none(&unset));

    heading(
        4,
        "Default provider",
        "the provider every project uses unless its own settings say otherwise.",
    );
    let suggested = setup::suggest(&agents, &setup::usable(&servers));
    let chosen = match (provider, progress.provider.clone()) {
        (Some(p), _) => {
            println!("  {p} (from --provider)");
            p.to_string()
        }
        (None, Some(p)) if names.contains(&p) => {
            println!("  {p} (chosen before; `clk setup --reset` asks again)");
            p
        }
        (None, _) if non_interactive => {
            println!("  {suggested} (suggested; --provider NAME picks another)");
            suggested
        }
        (None, _) => {
            let Some(p) = ask_provider(&names, &suggested) else {
                return Ok(stopped());
            };
            p
        }
    };
    progress.provider = Some(chosen.clone());
    save(&progress)?;

    heading(
        5,
        "Install missing programs",
        "clk can install an agent CLI or the sandbox for you; it shows the command and asks first.",
    );
    let mut missing: Vec<&str> = agents
        .iter()
        .filter(|a| a.path.is_none())
        .map(|a| a.name)
        .collect();
    // Without a sandbox clk refuses agents' commands; bubblewrap is the one to install.
    if sandbox == confine::Health::Missing && which("bwrap").is_none() {
        missing.push("bubblewrap");
    }
    let choice = match install_flag {
        Some(InstallChoice::Missing) => Some("missing"),
        Some(InstallChoice::None) => Some("none"),
        None => None,
    };
    if missing.is_empty() {
        println!("  nothing missing");
    } else if choice.is_none() && progress.install.is_some() {
        println!("  answered before; `clk install NAME` installs one any time");
    } else if choice == Some("none") || (choice.is_none() && non_interactive) {
        println!(
            "  skipped: {} (`clk install NAME` installs one)",
            missing.join(", ")
        );
    } else {
        for name in &missing {
            let tool = install::find(name).map_err(Failure::failed)?;
            if let Err(f) = super::install::install_one(tool, choice == Some("missing")) {
                println!("  {name}: {}", f.message);
            }
        }
    }
    progress.install = Some(choice.unwrap_or("asked").to_string());
    save(&progress)?;

    let mut sets = vec![format!("default_provider={chosen}")];
    // openwebui without a model yet: the local server found in step 2, with its first model.
    let unset = |p: &str| {
        providers
            .providers
            .get(p)
            .is_some_and(|s| s.model.as_deref().is_none_or(|m| m.trim().is_empty()))
    };
    if chosen == "openwebui"
        && unset("openwebui")
        && let Some((endpoint, model)) = setup::openai_pick(&servers)
    {
        println!("  openwebui uses {endpoint}, model {model}");
        sets.push(format!("providers.openwebui.endpoint={endpoint}"));
        sets.push(format!("providers.openwebui.model={model}"));
    }
    super::configure::run(dir, &sets, false, true)?;
    progress.done = true;
    save(&progress)?;
    println!(
        "setup done: {chosen} is your default provider in every project ({}). \
         `clk configure --user --show` prints your settings.",
        config_dir.join("providers.json").display()
    );
    Ok(super::EXIT_OK)
}

fn heading(n: u8, title: &str, why: &str) {
    println!("\n{n}/5 {title}: {why}");
}

fn list_or_none(names: &[&str]) -> String {
    if names.is_empty() {
        "(none)".into()
    } else {
        names.join(", ")
    }
}

/// Ask for the default provider until a known name (or nothing, for the suggestion) is given;
/// None when input ends.
fn ask_provider(names: &[String], suggested: &str) -> Option<String> {
    println!("  choices: {}", names.join(", "));
    loop {
        print!("  default provider [{suggested}]: ");
        let _ = std::io::stdout().flush();
        let mut line = String::new();
        match std::io::stdin().lock().read_line(&mut line) {
            Ok(0) | Err(_) => return None,
            Ok(_) => {}
        }
        let answer = line.trim();
        if answer.is_empty() {
            return Some(suggested.to_string());
        }
        if names.iter().any(|n| n == answer) {
            return Some(answer.to_string());
        }
        println!(
            "  {answer:?} is not a provider; choose one of: {}",
            names.join(", ")
        );
    }
}

fn stopped() -> u8 {
    println!("\nsetup stopped; run `clk setup` again to continue");
    super::EXIT_CANCELLED
}
