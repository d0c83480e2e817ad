//! `clk install` and `clk setup` through the real binary, with the user's folders (XDG_*),
//! HOME and PATH pointed at temp folders. A fake `npm` first on PATH records its arguments and
//! drops a fake program that answers `--version`, so nothing touches the network.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::suite::tui_tmux::{Tmux, need_tmux};
use crate::support::clk;

/// A fake npm: `npm install -g PKG` logs its arguments and installs a program for PKG that
/// prints "NAME 9.9.9" for `--version`.
const FAKE_NPM: &str = r#"#!/bin/sh
echo "$*" >> "$(dirname "$0")/../npm.log"
case "$3" in
  @anthropic-ai/claude-code*) n=claude ;;
  @openai/codex) n=codex ;;
  @google/gemini-cli) n=gemini ;;
  @mariozechner/pi-coding-agent) n=pi ;;
  *) echo "npm: unknown package $3" >&2; exit 1 ;;
esac
printf '#!/bin/sh\necho "%s 9.9.9"\n' "$n" > "$(dirname "$0")/$n"
chmod +x "$(dirname "$0")/$n"
echo "added 1 package"
"#;

/// A machine of its own: home, XDG folders, and a bin folder with the fake npm.
struct Machine {
    root: tempfile::TempDir,
}

impl Machine {
    fn new() -> Machine {
        let root = tempfile::tempdir().unwrap();
        fs::create_dir_all(root.path().join("bin")).unwrap();
        fs::create_dir_all(root.path().join("home")).unwrap();
        let m = Machine { root };
        m.program("npm", FAKE_NPM);
        m
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root.path().join(rel)
    }

    fn program(&self, name: &str, body: &str) {
        let p = self.path("bin").join(name);
        fs::write(&p, body).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// Only the fake bin folder and the system's basic tools are on PATH.
    fn env(&self) -> Vec<(String, String)> {
        let s = |p: PathBuf| p.display().to_string();
        vec![
            ("HOME".into(), s(self.path("home"))),
            ("XDG_CONFIG_HOME".into(), s(self.path("config"))),
            ("XDG_DATA_HOME".into(), s(self.path("data"))),
            (
                "PATH".into(),
                format!("{}:/usr/bin:/bin", s(self.path("bin"))),
            ),
            ("CODEX_HOME".into(), s(self.path("home/.codex"))),
            ("CLAUDE_CONFIG_DIR".into(), s(self.path("home/.claude"))),
            ("PI_CODING_AGENT_DIR".into(), s(self.path("home/.pi/agent"))),
            ("GEMINI_CLI_HOME".into(), s(self.path("home"))),
            // No local Ollama here: a closed port answers at once.
            ("CLK_OLLAMA_ENDPOINT".into(), "http://127.0.0.1:9".into()),
        ]
    }

    fn clk(&self) -> assert_cmd::Command {
        let mut c = clk();
        c.envs(self.env()).current_dir(self.root.path());
        c
    }

    fn npm_log(&self) -> String {
        fs::read_to_string(self.path("npm.log")).unwrap_or_default()
    }

    fn json(&self, rel: &str) -> serde_json::Value {
        serde_json::from_str(&fs::read_to_string(self.path(rel)).unwrap()).unwrap()
    }
}

fn out(o: &std::process::Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn install_list_shows_every_tool_its_state_and_command() {
    let m = Machine::new();
    m.program("codex", "#!/bin/sh\necho codex 1.0\n");
    let o = m.clk().args(["install", "--list"]).output().unwrap();
    let (stdout, _) = out(&o);
    assert!(o.status.success(), "{stdout}");
    for name in ["claude", "codex", "gemini", "pi", "bubblewrap", "gh"] {
        assert!(
            stdout.lines().any(|l| l.starts_with(name)),
            "{name}: {stdout}"
        );
    }
    assert!(stdout.contains("npm install -g @anthropic-ai/claude-code@latest"));
    assert!(stdout.contains(&format!(
        "codex       installed ({})",
        m.path("bin/codex").display()
    )));
    assert!(stdout.contains("claude      not installed"));
    assert_eq!(m.npm_log(), "", "listing runs nothing");
}

#[test]
fn install_of_an_unknown_tool_is_one_line_naming_the_known_ones() {
    let m = Machine::new();
    let o = m.clk().args(["install", "emacs"]).output().unwrap();
    let (_, stderr) = out(&o);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr,
        "clk: unknown tool \"emacs\"; clk installs: claude, codex, gemini, pi, bubblewrap, gh\n"
    );
}

#[test]
fn install_without_a_terminal_shows_the_command_and_needs_yes() {
    let m = Machine::new();
    let o = m.clk().args(["install", "gemini"]).output().unwrap();
    let (stdout, stderr) = out(&o);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stdout.contains("npm install -g @google/gemini-cli"),
        "{stdout}"
    );
    assert!(stderr.contains("clk install gemini --yes"), "{stderr}");
    assert_eq!(m.npm_log(), "", "nothing ran");
    assert!(!m.path("bin/gemini").exists());
}

#[test]
fn install_yes_runs_npm_then_checks_the_tool_answers() {
    let m = Machine::new();
    let o = m
        .clk()
        .args(["install", "codex", "--yes"])
        .output()
        .unwrap();
    let (stdout, stderr) = out(&o);
    assert!(o.status.success(), "{stdout}{stderr}");
    assert_eq!(m.npm_log(), "install -g @openai/codex\n");
    assert!(
        stdout.contains(&format!(
            "installed codex: {} (codex 9.9.9)",
            m.path("bin/codex").display()
        )),
        "{stdout}"
    );
    // Again: nothing to do.
    let o = m
        .clk()
        .args(["install", "codex", "--yes"])
        .output()
        .unwrap();
    assert!(out(&o).0.contains("codex is already installed"));
    assert_eq!(m.npm_log(), "install -g @openai/codex\n");
}

#[test]
fn install_of_a_system_tool_runs_the_package_manager_then_checks_it() {
    if ["/usr/bin/gh", "/bin/gh"]
        .iter()
        .any(|p| Path::new(p).exists())
    {
        eprintln!("skipped: gh is installed on this machine");
        return;
    }
    let m = Machine::new();
    // A fake apt-get that logs its arguments and leaves a gh that answers; a sudo that only
    // runs what it is given (clk adds it when not root).
    m.program(
        "apt-get",
        "#!/bin/sh\necho \"$*\" >> \"$(dirname \"$0\")/../apt.log\"\n\
         printf '#!/bin/sh\\necho \"gh version 2.0.0\"\\n' > \"$(dirname \"$0\")/gh\"\n\
         chmod +x \"$(dirname \"$0\")/gh\"\n",
    );
    m.program("sudo", "#!/bin/sh\nexec \"$@\"\n");
    let o = m.clk().args(["install", "gh", "--yes"]).output().unwrap();
    let (stdout, stderr) = out(&o);
    assert!(o.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains("apt-get install -y gh"),
        "shown first: {stdout}"
    );
    assert_eq!(
        fs::read_to_string(m.path("apt.log")).unwrap(),
        "install -y gh\n"
    );
    assert!(
        stdout.contains("installed gh:") && stdout.contains("gh version 2.0.0"),
        "{stdout}"
    );
    // A package manager that fails: its failure, in one line, and exit 1.
    fs::remove_file(m.path("bin/gh")).unwrap();
    m.program(
        "apt-get",
        "#!/bin/sh\necho 'E: Unable to locate package gh' >&2\nexit 100\n",
    );
    let o = m.clk().args(["install", "gh", "--yes"]).output().unwrap();
    let (_, stderr) = out(&o);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("apt-get install -y gh` failed") && stderr.contains("100"),
        "{stderr}"
    );
}

#[test]
fn an_install_whose_tool_does_not_answer_fails_and_says_so() {
    let m = Machine::new();
    // An npm that "succeeds" but leaves a program that cannot run.
    m.program(
        "npm",
        "#!/bin/sh\nprintf '#!/bin/sh\\nexit 7\\n' > \"$(dirname \"$0\")/pi\"\n\
         chmod +x \"$(dirname \"$0\")/pi\"\n",
    );
    let o = m.clk().args(["install", "pi", "-y"]).output().unwrap();
    let (_, stderr) = out(&o);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr.contains("`pi --version` did not answer"), "{stderr}");
    // One that leaves nothing on PATH.
    m.program("npm", "#!/bin/sh\nexit 0\n");
    let o = m.clk().args(["install", "claude", "-y"]).output().unwrap();
    let (_, stderr) = out(&o);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr.contains("`claude` is not on PATH"), "{stderr}");
}

#[test]
fn setup_non_interactive_finds_logins_and_keys_picks_and_writes_user_settings() {
    let m = Machine::new();
    m.program("codex", "#!/bin/sh\necho codex 1.0\n");
    m.program("claude", "#!/bin/sh\necho claude 1.0\n");
    fs::create_dir_all(m.path("home/.codex")).unwrap();
    fs::write(m.path("home/.codex/auth.json"), "{}").unwrap();
    let o = m
        .clk()
        .args(["setup", "--non-interactive", "--install", "missing"])
        .env("OPENAI_API_KEY", "sk-setup-secret-value-123")
        .output()
        .unwrap();
    let (stdout, stderr) = out(&o);
    assert!(o.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains("codex    installed at")
            && stdout.contains("logged in (login in ~/.codex/auth.json)"),
        "{stdout}"
    );
    assert!(stdout.contains("claude   installed at") && stdout.contains("no login found"));
    // The sandbox that will confine the agents' commands is named (bubblewrap is here).
    assert!(stdout.contains("sandbox  sandbox: bubblewrap"), "{stdout}");
    assert!(
        stdout.contains("ollama   http://127.0.0.1:9: not usable"),
        "{stdout}"
    );
    assert!(stdout.contains("set:     OPENAI_API_KEY"), "{stdout}");
    assert!(!stdout.contains("sk-setup-secret") && !stderr.contains("sk-setup-secret"));
    // codex is installed and logged in: the suggestion, taken without asking.
    assert!(stdout.contains("codex (suggested"), "{stdout}");
    // The two missing CLIs were installed by npm and checked.
    assert_eq!(
        m.npm_log(),
        "install -g @google/gemini-cli\ninstall -g @mariozechner/pi-coding-agent\n"
    );
    assert!(stdout.contains("installed gemini:") && stdout.contains("installed pi:"));
    assert_eq!(m.json("config/clk/providers.json")["active"], "codex");
    let p = m.json("data/clk/setup.json");
    assert_eq!(p["done"], true, "{p}");
    assert_eq!(p["provider"], "codex");
    // configure --user sees the same setting.
    let o = m
        .clk()
        .args(["configure", "--user", "--show"])
        .output()
        .unwrap();
    assert!(out(&o).0.contains("\"active\": \"codex\""));
}

#[test]
fn setup_non_interactive_with_a_bad_provider_writes_nothing() {
    let m = Machine::new();
    let o = m
        .clk()
        .args(["setup", "--non-interactive", "--provider", "gpt9"])
        .output()
        .unwrap();
    let (_, stderr) = out(&o);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr.starts_with("clk: unknown provider \"gpt9\"; choose one of: ")
            && stderr.contains("ollama"),
        "{stderr}"
    );
    assert!(!m.path("config").exists() && !m.path("data").exists());
    // Without a terminal and without --non-interactive it says how to script it.
    let o = m.clk().arg("setup").output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(out(&o).1.contains("--non-interactive --provider NAME"));
}

#[test]
fn setup_non_interactive_again_keeps_the_earlier_answer_and_install_none_installs_nothing() {
    let m = Machine::new();
    let o = m
        .clk()
        .args([
            "setup",
            "--non-interactive",
            "--provider",
            "pi",
            "--install",
            "none",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{:?}", out(&o));
    assert!(out(&o).0.contains("skipped: claude, codex, gemini, pi"));
    let o = m
        .clk()
        .args(["setup", "--non-interactive"])
        .output()
        .unwrap();
    let (stdout, _) = out(&o);
    assert!(o.status.success());
    assert!(stdout.contains("pi (chosen before"), "{stdout}");
    assert_eq!(m.npm_log(), "");
    assert_eq!(m.json("config/clk/providers.json")["active"], "pi");
    // --reset forgets the answer: the suggestion is taken again.
    let o = m
        .clk()
        .args(["setup", "--non-interactive", "--reset"])
        .output()
        .unwrap();
    assert!(out(&o).0.contains("shell (suggested"), "{:?}", out(&o));
    assert_eq!(m.json("config/clk/providers.json")["active"], "shell");
}

#[test]
fn setup_finds_a_local_openai_compatible_server_and_sets_openwebui_up_for_it() {
    use crate::support::mock_server::{MockServer, Script};
    let m = Machine::new();
    let server = MockServer::start(Script::new(vec![]).models(&["qwen-coder", "llama-3b"]));
    let o = m
        .clk()
        .args(["setup", "--non-interactive", "--install", "none"])
        .env("CLK_OPENWEBUI_ENDPOINT", server.url())
        .output()
        .unwrap();
    let (stdout, stderr) = out(&o);
    assert!(o.status.success(), "{stdout}{stderr}");
    let line = format!(
        "openwebui {}: answers, serves qwen-coder, llama-3b",
        server.url()
    );
    assert!(stdout.contains(&line), "{stdout}");
    // No CLI here and no Ollama: the server is the suggestion, set up with its first model.
    assert!(stdout.contains("openwebui (suggested"), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "openwebui uses {}, model qwen-coder",
            server.url()
        )),
        "{stdout}"
    );
    let p = m.json("config/clk/providers.json");
    assert_eq!(p["active"], "openwebui");
    assert_eq!(p["providers"]["openwebui"]["model"], "qwen-coder");
    assert_eq!(p["providers"]["openwebui"]["endpoint"], server.url());
    assert!(
        server
            .requests()
            .iter()
            .all(|r| r.method == "GET" && r.path == "/v1/models"),
        "no model was called"
    );

    // A server that answers but wants a key is named as such and not chosen.
    let m = Machine::new();
    let locked = MockServer::start(Script::new(vec![]).api_key("sk-local-key-0000"));
    let o = m
        .clk()
        .args(["setup", "--non-interactive", "--install", "none"])
        .env("CLK_OPENWEBUI_ENDPOINT", locked.url())
        .output()
        .unwrap();
    let (stdout, _) = out(&o);
    assert!(stdout.contains("answers, but wants a key"), "{stdout}");
    assert!(stdout.contains("shell (suggested"), "{stdout}");
}

/// The shell line that runs clk with `args` in `dir`, in tmux, with only this machine's
/// variables.
fn clk_line(m: &Machine, dir: &Path, args: &str) -> String {
    let vars: Vec<String> = m
        .env()
        .into_iter()
        .map(|(k, v)| format!("{k}='{v}'"))
        .collect();
    format!(
        "cd '{}' && env -i TERM=xterm-256color {} {} {args}",
        dir.display(),
        vars.join(" "),
        env!("CARGO_BIN_EXE_clk")
    )
}

fn setup_line(m: &Machine) -> String {
    clk_line(m, m.root.path(), "setup")
}

fn wait_file(path: &Path, ok: impl Fn(&str) -> bool) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let text = fs::read_to_string(path).unwrap_or_default();
        if ok(&text) || std::time::Instant::now() > deadline {
            return text;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn setup_in_a_terminal_asks_and_an_interrupted_setup_continues_where_it_stopped() {
    need_tmux!();
    let m = Machine::new();
    m.program("codex", "#!/bin/sh\necho codex 1.0\n");
    let t = Tmux::start("setup");
    t.line(&setup_line(&m));
    t.wait_for("default provider [codex]:", 20);
    t.line("nonsense");
    t.wait_for("\"nonsense\" is not a provider", 10);
    t.line("gemini");
    // The first missing CLI's install question; stop here with Ctrl-C.
    t.wait_for("run it? [y/N]", 10);
    assert!(
        t.screen()
            .contains("npm install -g @anthropic-ai/claude-code@latest")
    );
    t.key("C-c");
    t.wait_prompt(10);
    let p = m.json("data/clk/setup.json");
    assert_eq!(p["provider"], "gemini", "{p}");
    assert_eq!(p["done"], false);
    assert!(!m.path("config/clk/providers.json").exists());
    assert_eq!(m.npm_log(), "");

    // Again: the provider is not asked again; the install questions are.
    t.line("clear");
    t.line(&setup_line(&m));
    t.wait_for("gemini (chosen before", 20);
    assert!(!t.screen().contains("default provider ["));
    t.wait_for("run it? [y/N]", 10);
    t.line("y");
    t.wait("installed claude, then the gemini question", 20, |s| {
        s.contains("installed claude:") && s.contains("to install gemini")
    });
    t.line("n");
    t.wait_for("to install pi", 10);
    t.line("");
    t.wait_for("setup done: gemini is your default provider", 20);
    assert_eq!(
        m.npm_log(),
        "install -g @anthropic-ai/claude-code@latest\n",
        "only the yes ran"
    );
    assert_eq!(m.json("config/clk/providers.json")["active"], "gemini");
    let p = wait_file(&m.path("data/clk/setup.json"), |s| {
        s.contains("\"done\": true")
    });
    assert!(p.contains("\"done\": true"), "{p}");
}

#[test]
fn the_welcome_offers_setup_while_the_user_has_no_settings() {
    use crate::support::tui::{screen, state};
    let mut s = state(90, 24);
    s.setup_needed = true;
    let shown = screen(&mut s, 90, 24);
    assert!(shown.contains("/setup (or clk setup)"), "{shown}");
    insta::assert_snapshot!(shown);
}

#[test]
fn the_dashboard_setup_reports_and_install_asks_then_runs_with_confirm() {
    need_tmux!();
    let m = Machine::new();
    let dir = crate::suite::tui_tmux::project();
    let t = Tmux::start("install");
    t.line(&clk_line(&m, dir.path(), ""));
    // No user settings in this machine's config folder: the welcome offers /setup.
    t.wait_for("/setup (or clk setup)", 20);
    t.line("/setup");
    t.wait_for("suggested default provider: shell", 20);
    assert!(t.screen().contains("codex    not installed"));
    t.line("/install codex");
    t.wait_for("type /install codex confirm to run it", 20);
    assert!(t.screen().contains("npm install -g @openai/codex"));
    assert_eq!(m.npm_log(), "", "nothing runs before the confirm");
    t.line("/install codex confirm");
    t.wait_for("installed codex:", 30);
    assert_eq!(m.npm_log(), "install -g @openai/codex\n");
    t.line("/install emacs");
    t.wait_for("unknown tool \"emacs\"", 20);
    t.line("/quit");
    t.wait_prompt(10);
    assert!(!m.path("config").exists(), "/setup changes no settings");
}
