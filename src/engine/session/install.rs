//! The tools clk can drive and how to install each on this machine: the four agent CLIs from
//! npm, bubblewrap and gh from the system's package manager. Shared by `clk install`,
//! `clk setup` and the dashboard's `/install`.
//!
//! Choosing the command is pure (the caller says which programs exist); running it is left to
//! the front end, which shows the command and asks first. After an install, [`version`] asks
//! the tool itself whether it runs.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// One tool clk can install.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tool {
    /// The name `clk install` takes.
    pub name: &'static str,
    /// The program it puts on PATH.
    pub program: &'static str,
    /// What clk uses it for, one line.
    pub what: &'static str,
    /// Its npm package, for the agent CLIs.
    pub npm: Option<&'static str>,
    /// Its package name for apt-get, dnf, pacman and brew (None where there is none).
    pub system: [Option<&'static str>; 4],
}

/// The package managers tried for system tools, in the order of [`Tool::system`].
const MANAGERS: [&str; 4] = ["apt-get", "dnf", "pacman", "brew"];

/// Every tool, in the order `clk install --list` shows them.
pub const TOOLS: &[Tool] = &[
    Tool {
        name: "claude",
        program: "claude",
        what: "Claude Code, Anthropic's agent CLI (provider claude)",
        // Newer releases need Node 22; without @latest an older Node silently gets an old one.
        npm: Some("@anthropic-ai/claude-code@latest"),
        system: [None; 4],
    },
    Tool {
        name: "codex",
        program: "codex",
        what: "OpenAI's Codex CLI (provider codex)",
        npm: Some("@openai/codex"),
        system: [None; 4],
    },
    Tool {
        name: "gemini",
        program: "gemini",
        what: "Google's Gemini CLI (provider gemini)",
        npm: Some("@google/gemini-cli"),
        system: [None; 4],
    },
    Tool {
        name: "pi",
        program: "pi",
        what: "the pi coding agent (provider pi)",
        npm: Some("@mariozechner/pi-coding-agent"),
        system: [None; 4],
    },
    Tool {
        name: "bubblewrap",
        program: "bwrap",
        what: "the sandbox clk runs agents' commands in (Linux)",
        npm: None,
        system: [
            Some("bubblewrap"),
            Some("bubblewrap"),
            Some("bubblewrap"),
            None,
        ],
    },
    Tool {
        name: "gh",
        program: "gh",
        what: "GitHub's CLI, for `clk remote create` and pull requests",
        npm: None,
        system: [Some("gh"), Some("gh"), Some("github-cli"), Some("gh")],
    },
];

/// The tool called `name` (`bwrap` also names bubblewrap), or a line listing the names.
pub fn find(name: &str) -> Result<&'static Tool, String> {
    let name = name.trim().to_lowercase();
    TOOLS
        .iter()
        .find(|t| t.name == name || t.program == name)
        .ok_or_else(|| {
            format!(
                "unknown tool {name:?}; clk installs: {}",
                names().join(", ")
            )
        })
}

/// Every tool's name.
pub fn names() -> Vec<&'static str> {
    TOOLS.iter().map(|t| t.name).collect()
}

/// The command that installs `tool` here, given which programs are on PATH (`has`) and
/// whether clk runs as root (else a system package manager goes through sudo). An error says
/// what to install first or that this platform has no way.
pub fn plan(tool: &Tool, has: &dyn Fn(&str) -> bool, root: bool) -> Result<Vec<String>, String> {
    if let Some(pkg) = tool.npm {
        if !has("npm") {
            return Err(format!(
                "{} installs with npm, which is not on PATH: install Node.js \
                 (https://nodejs.org), then run `clk install {}` again",
                tool.name, tool.name
            ));
        }
        return Ok(words(&["npm", "install", "-g", pkg]));
    }
    for (manager, pkg) in MANAGERS.iter().zip(tool.system) {
        let Some(pkg) = pkg else { continue };
        if !has(manager) {
            continue;
        }
        let mut cmd = match *manager {
            "apt-get" => words(&["apt-get", "install", "-y", pkg]),
            "dnf" => words(&["dnf", "install", "-y", pkg]),
            "pacman" => words(&["pacman", "-S", "--noconfirm", pkg]),
            _ => words(&["brew", "install", pkg]),
        };
        // Homebrew refuses root and needs no sudo; the others need root.
        if *manager != "brew" && !root {
            cmd.insert(0, "sudo".into());
        }
        return Ok(cmd);
    }
    let usable: Vec<&str> = MANAGERS
        .iter()
        .zip(tool.system)
        .filter_map(|(m, p)| p.map(|_| *m))
        .collect();
    Err(if usable.is_empty() {
        format!("{} cannot be installed on this system", tool.name)
    } else {
        format!(
            "no package manager for {} on PATH ({}); install it by hand",
            tool.name,
            usable.join(", ")
        )
    })
}

fn words(w: &[&str]) -> Vec<String> {
    w.iter().map(|s| s.to_string()).collect()
}

/// The command as one line to show before asking.
pub fn shown(cmd: &[String]) -> String {
    cmd.join(" ")
}

/// Where `tool`'s program is, if it is on PATH.
pub fn located(tool: &Tool) -> Option<PathBuf> {
    crate::engine::act::process::which(tool.program)
}

/// Whether clk runs as root (system installs then need no sudo).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// The first line `program --version` prints, if it runs and exits 0 within `limit`: the
/// proof that an install worked.
pub fn version(program: &Path, limit: Duration) -> Option<String> {
    use std::io::Read;
    use std::process::{Command, Stdio};
    let mut child = Command::new(program)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() < limit => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    };
    let mut out = String::new();
    child.stdout.take()?.read_to_string(&mut out).ok()?;
    if !status.success() {
        return None;
    }
    Some(
        out.lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("(no version printed)")
            .to_string(),
    )
}

/// What `/install` answers: lines for the log, whether it went well, and one summary line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub lines: Vec<String>,
    pub ok: bool,
    pub summary: String,
}

impl Outcome {
    fn failed(summary: String) -> Outcome {
        Outcome {
            lines: Vec::new(),
            ok: false,
            summary,
        }
    }
}

/// Longest an install may run from the dashboard.
const INSTALL_LIMIT: Duration = Duration::from_secs(15 * 60);

/// `/install`: no name lists the tools; a name shows the command and how to confirm it;
/// `confirm` runs it (no terminal: its output comes back as lines) and checks the result.
pub async fn slash(name: &str, confirm: bool) -> Outcome {
    let has = |p: &str| crate::engine::act::process::which(p).is_some();
    if name.trim().is_empty() {
        let lines = TOOLS
            .iter()
            .map(|t| {
                let state = if located(t).is_some() {
                    "installed"
                } else {
                    "not installed"
                };
                format!("{:<11} {state:<14} {}", t.name, t.what)
            })
            .collect();
        return Outcome {
            lines,
            ok: true,
            summary: "/install NAME shows how one is installed".into(),
        };
    }
    let tool = match find(name) {
        Ok(t) => t,
        Err(e) => return Outcome::failed(e),
    };
    if let Some(path) = located(tool) {
        return Outcome {
            lines: Vec::new(),
            ok: true,
            summary: format!("{} is already installed: {}", tool.name, path.display()),
        };
    }
    let cmd = match plan(tool, &has, is_root()) {
        Ok(c) => c,
        Err(e) => return Outcome::failed(e),
    };
    let line = shown(&cmd);
    if !confirm {
        return Outcome {
            lines: vec![format!("to install {}, clk runs: {line}", tool.name)],
            ok: true,
            summary: format!("type /install {} confirm to run it", tool.name),
        };
    }
    let run = tokio::process::Command::new(&cmd[0])
        .args(&cmd[1..])
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = match tokio::time::timeout(INSTALL_LIMIT, run).await {
        Err(_) => return Outcome::failed(format!("`{line}` took over 15 minutes; stopped")),
        Ok(Err(e)) => return Outcome::failed(format!("cannot start {}: {e}", cmd[0])),
        Ok(Ok(out)) => out,
    };
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let all: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let lines: Vec<String> = all[all.len().saturating_sub(10)..]
        .iter()
        .map(|l| crate::engine::ground::redact::redact_text(l))
        .collect();
    let fail = |summary: String| Outcome {
        lines: lines.clone(),
        ok: false,
        summary,
    };
    if !out.status.success() {
        return fail(format!("`{line}` failed ({})", out.status));
    }
    let Some(path) = located(tool) else {
        return fail(format!(
            "`{line}` finished but `{}` is not on PATH",
            tool.program
        ));
    };
    let probe = path.clone();
    let version = tokio::task::spawn_blocking(move || version(&probe, Duration::from_secs(30)))
        .await
        .ok()
        .flatten();
    match version {
        Some(v) => Outcome {
            lines: lines.clone(),
            ok: true,
            summary: format!("installed {}: {} ({v})", tool.name, path.display()),
        },
        None => fail(format!(
            "{} was installed at {} but `{} --version` did not answer",
            tool.name,
            path.display(),
            tool.program
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_clis_come_from_npm_and_need_it() {
        let t = find("codex").unwrap();
        assert_eq!(
            plan(t, &|p| p == "npm", false).unwrap(),
            ["npm", "install", "-g", "@openai/codex"]
        );
        let err = plan(t, &|_| false, false).unwrap_err();
        assert!(err.contains("npm, which is not on PATH"), "{err}");
    }

    #[test]
    fn system_tools_pick_the_package_manager_there_and_sudo_unless_root() {
        let bw = find("bwrap").unwrap();
        assert_eq!(bw.name, "bubblewrap");
        assert_eq!(
            plan(bw, &|p| p == "apt-get", false).unwrap(),
            ["sudo", "apt-get", "install", "-y", "bubblewrap"]
        );
        assert_eq!(
            plan(bw, &|p| p == "dnf", true).unwrap(),
            ["dnf", "install", "-y", "bubblewrap"]
        );
        let gh = find("gh").unwrap();
        assert_eq!(
            plan(gh, &|p| p == "pacman", true).unwrap(),
            ["pacman", "-S", "--noconfirm", "github-cli"]
        );
        assert_eq!(
            plan(gh, &|p| p == "brew", false).unwrap(),
            ["brew", "install", "gh"]
        );
        let err = plan(bw, &|p| p == "brew", false).unwrap_err();
        assert!(err.contains("no package manager for bubblewrap"), "{err}");
    }

    #[test]
    fn an_unknown_name_lists_the_known_ones() {
        let err = find("vim").unwrap_err();
        assert_eq!(
            err,
            "unknown tool \"vim\"; clk installs: claude, codex, gemini, pi, bubblewrap, gh"
        );
    }

    #[test]
    fn version_is_the_first_line_of_a_zero_exit() {
        let d = tempfile::tempdir().unwrap();
        let ok = d.path().join("ok");
        let bad = d.path().join("bad");
        let slow = d.path().join("slow");
        for (p, body) in [
            (&ok, "echo; echo 'tool 1.2.3'"),
            (&bad, "echo broken; exit 3"),
            (&slow, "sleep 5"),
        ] {
            std::fs::write(p, format!("#!/bin/sh\n{body}\n")).unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        assert_eq!(
            version(&ok, Duration::from_secs(5)).as_deref(),
            Some("tool 1.2.3")
        );
        assert_eq!(version(&bad, Duration::from_secs(5)), None);
        assert_eq!(version(&slow, Duration::from_millis(100)), None);
    }
}
