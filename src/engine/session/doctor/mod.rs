//! `/doctor`: is this project healthy? Providers, config, git, clk's own files.
//!
//! Works from the folder alone, so it still runs when a config file is broken (that is when
//! it is needed most). Every finding is one `ok` / `warn` / `fail` line. With `fix`, each
//! repair it knows is offered as a yes/no question, asked every time, default no; a repair
//! never deletes a person's file: a broken config is kept beside its replacement. The checks
//! of what surrounds the project (user settings, the pre-push hook, remotes, disk) are in
//! `host.rs`.

mod host;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::engine::act::confine;
use crate::engine::agents::providers::registry;
use crate::engine::ground::config::Env;
use crate::engine::store::bus::Bus;
use crate::engine::store::git;
use crate::engine::store::init;
use crate::engine::store::workspace::{DIRS, Workspace, read_json};

/// Longest the provider checks may take together.
const PROVIDER_BUDGET: Duration = Duration::from_millis(900);

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Ok,
    Warn,
    Fail,
}

impl Level {
    pub fn word(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Warn => "warn",
            Level::Fail => "fail",
        }
    }
}

/// A repair doctor can make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Repair {
    /// Run init again: recreate missing folders, prompts, workflows, `.gitignore` lines.
    Reinit,
    /// Put a config file back from its `.bak`, keeping the broken one as `.broken`.
    RestoreBackup(PathBuf),
    /// Replace a config file with clk's defaults, keeping the broken one as `.broken`.
    ResetToDefaults(PathBuf),
    /// Set a local git identity for commits.
    GitIdentity,
    /// Remove a dashboard lock whose process is gone.
    StaleLock(PathBuf),
    /// Install clk's pre-push secret scan as a git hook.
    InstallHook,
    /// Move a broken file aside as `.broken`, so the defaults under it apply.
    SetAside(PathBuf),
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub level: Level,
    pub what: String,
    pub repair: Option<(String, Repair)>,
}

impl Finding {
    fn new(level: Level, what: impl Into<String>) -> Finding {
        Finding {
            level,
            what: what.into(),
            repair: None,
        }
    }

    fn fixable(mut self, question: impl Into<String>, repair: Repair) -> Finding {
        self.repair = Some((question.into(), repair));
        self
    }

    pub fn line(&self) -> String {
        format!("{:<4} {}", self.level.word(), self.what)
    }
}

fn rel(ws: &Workspace, p: &Path) -> String {
    p.strip_prefix(&ws.root)
        .unwrap_or(p)
        .to_string_lossy()
        .into_owned()
}

fn check_layout(ws: &Workspace, out: &mut Vec<Finding>) {
    let missing: Vec<&str> = DIRS
        .iter()
        .copied()
        .filter(|d| !ws.clk().join(d).is_dir())
        .collect();
    let gitignore = std::fs::read_to_string(ws.root.join(".gitignore")).unwrap_or_default();
    let ignored = init::gitignore_missing(&gitignore).is_empty();
    let no_prompts = std::fs::read_dir(ws.prompts_dir())
        .map(|mut d| d.next().is_none())
        .unwrap_or(true);
    if missing.is_empty() && ignored && !no_prompts {
        out.push(Finding::new(
            Level::Ok,
            ".clk folders, prompts and .gitignore lines in place",
        ));
        return;
    }
    let mut gaps = Vec::new();
    if !missing.is_empty() {
        gaps.push(format!("missing folders .clk/{}", missing.join(", .clk/")));
    }
    if no_prompts {
        gaps.push("no agent prompts".into());
    }
    if !ignored {
        gaps.push(".gitignore lacks some of clk's local-only lines".into());
    }
    out.push(Finding::new(Level::Warn, gaps.join("; ")).fixable(
        "Run init again to add what is missing (nothing existing is changed)?",
        Repair::Reinit,
    ));
}

/// `finding` about the broken settings file at `path` (shown as `name`), with the repair that
/// fits: its backup put back when the backup parses, else `otherwise`.
fn broken_file(finding: Finding, path: &Path, name: &str, otherwise: (String, Repair)) -> Finding {
    let bak = path.with_file_name(format!(
        "{}.bak",
        path.file_name().unwrap_or_default().to_string_lossy()
    ));
    if matches!(read_json(&bak), Ok(Some(v)) if v.is_object()) {
        finding.fixable(
            format!("Restore {name} from its backup (the broken file is kept as {name}.broken)?"),
            Repair::RestoreBackup(path.to_path_buf()),
        )
    } else {
        let (question, repair) = otherwise;
        finding.fixable(question, repair)
    }
}

fn check_config(ws: &Workspace, out: &mut Vec<Finding>) -> bool {
    let mut all_ok = true;
    for path in [ws.config_file(), ws.providers_file(), ws.agents_file()] {
        let name = rel(ws, &path);
        match read_json(&path) {
            Ok(Some(_)) => {}
            Ok(None) => out.push(Finding::new(
                Level::Warn,
                format!("{name} is missing; defaults apply"),
            )),
            Err(e) => {
                all_ok = false;
                out.push(broken_file(
                    Finding::new(Level::Fail, e.to_string()),
                    &path,
                    &name,
                    (
                        format!("Replace {name} with clk's defaults (the broken file is kept as {name}.broken)?"),
                        Repair::ResetToDefaults(path.clone()),
                    ),
                ));
            }
        }
    }
    if all_ok {
        match ws.load(&Env::process()) {
            Ok(_) => out.push(Finding::new(
                Level::Ok,
                "config files parse and pass their checks",
            )),
            Err(e) => {
                all_ok = false;
                out.push(Finding::new(
                    Level::Fail,
                    format!("{e}; fix the value or run clk configure"),
                ));
            }
        }
    }
    all_ok
}

fn check_git(ws: &Workspace, out: &mut Vec<Finding>) {
    let Some(repo) = git::open(&ws.root) else {
        out.push(
            Finding::new(
                Level::Fail,
                "not a git repository: agents' work cannot be committed or undone",
            )
            .fixable(
                "Create a git repository here and commit clk's files?",
                Repair::Reinit,
            ),
        );
        return;
    };
    if repo.signature().is_err() {
        out.push(
            Finding::new(
                Level::Warn,
                "git has no user.name/user.email for this repository",
            )
            .fixable(
                "Set a local git identity (clk <clk@local.invalid>) for this repository?",
                Repair::GitIdentity,
            ),
        );
    }
    let branch = git::branch(&repo).unwrap_or_else(|| "a detached HEAD".into());
    let dirty = git::dirty_paths(&repo).map(|d| d.len()).unwrap_or(0);
    out.push(Finding::new(
        Level::Ok,
        format!("git repository on {branch}, {dirty} file(s) with uncommitted changes"),
    ));
    // Runs in their own worktrees: one killed mid-run, or a branch whose merge waits.
    for rec in crate::engine::runs::isolate::leftovers(ws) {
        out.push(Finding::new(
            Level::Warn,
            format!(
                "a run that did not finish left {} ({}): `clk merge` takes its work, \
                 `clk merge --discard` drops it",
                rec.branch, rec.path
            ),
        ));
    }
    let idle = git::worktree::idle(&repo).len();
    if idle > 0 {
        out.push(Finding::new(
            Level::Ok,
            format!(
                "{idle} idle worktree(s) kept for the next runs in .git/clk/pool; \
                 `clk merge --discard` removes them"
            ),
        ));
    }
    // A branch with a run record is a run going on (or the leftover above), not a wait.
    let waiting: Vec<String> = git::worktree::waiting_branches(&repo)
        .unwrap_or_default()
        .into_iter()
        .filter(|b| {
            let id = b.trim_start_matches(git::worktree::BRANCH_PREFIX);
            !ws.state_dir()
                .join("runs")
                .join(format!("{id}.json"))
                .exists()
        })
        .collect();
    if !waiting.is_empty() {
        out.push(Finding::new(
            Level::Warn,
            format!(
                "run branch(es) waiting to be merged: {}; `clk merge` takes them",
                waiting.join(", ")
            ),
        ));
    }
}

fn check_lock(ws: &Workspace, out: &mut Vec<Finding>) {
    let lock = ws.state_dir().join(".tui-active");
    let Ok(text) = std::fs::read_to_string(&lock) else {
        return;
    };
    let pid: Option<i32> = text.split_whitespace().next().and_then(|p| p.parse().ok());
    // SAFETY: kill with signal 0 only asks whether the process exists.
    let alive = pid.is_some_and(|p| p > 0 && unsafe { libc::kill(p, 0) } == 0);
    if alive {
        out.push(Finding::new(
            Level::Ok,
            format!("a dashboard is running (pid {})", pid.unwrap_or(0)),
        ));
    } else {
        out.push(
            Finding::new(
                Level::Warn,
                "a dashboard lock is left from a session that crashed",
            )
            .fixable("Remove the stale dashboard lock?", Repair::StaleLock(lock)),
        );
    }
}

async fn check_providers(ws: &Workspace, out: &mut Vec<Finding>) {
    let Ok(project) = ws.load(&Env::process()) else {
        out.push(Finding::new(
            Level::Warn,
            "providers not checked: fix the config first",
        ));
        return;
    };
    let mut tasks = Vec::new();
    for (name, settings) in &project.providers.providers {
        let (name, settings) = (name.clone(), settings.clone());
        tasks.push(tokio::spawn(async move {
            let avail = registry::availability(&name, &settings, PROVIDER_BUDGET).await;
            (name, avail)
        }));
    }
    let active = project.providers.active.clone();
    for t in tasks {
        let Ok((name, avail)) = t.await else { continue };
        let is_active = name == active;
        let label = if is_active {
            format!("{name} (active)")
        } else {
            name.clone()
        };
        out.push(match (avail.usable, is_active) {
            (true, _) if avail.reason.is_empty() => {
                Finding::new(Level::Ok, format!("provider {label} is usable"))
            }
            (true, _) => Finding::new(Level::Warn, format!("provider {label}: {}", avail.reason)),
            (false, true) => Finding::new(
                Level::Fail,
                format!(
                    "provider {label} is not usable: {}; /provider <name> switches",
                    avail.reason
                ),
            ),
            (false, false) => Finding::new(
                Level::Warn,
                format!("provider {label} is not usable: {}", avail.reason),
            ),
        });
    }
}

/// Which sandbox runs agents' commands (the defaults when the config does not load).
fn check_sandbox(ws: &Workspace, out: &mut Vec<Finding>) {
    let cfg = ws
        .load(&Env::process())
        .map(|p| p.config.sandbox)
        .unwrap_or_default();
    let (health, line) = confine::describe(&cfg);
    let level = match health {
        confine::Health::Sandboxed => Level::Ok,
        confine::Health::Off => Level::Warn,
        confine::Health::Missing => Level::Fail,
    };
    out.push(Finding::new(level, line));
}

/// Every finding for the project at `ws`.
pub async fn examine(ws: &Workspace) -> Vec<Finding> {
    let mut out = Vec::new();
    check_layout(ws, &mut out);
    host::check_user_settings(&Env::process(), &mut out);
    let config_ok = check_config(ws, &mut out);
    check_git(ws, &mut out);
    host::check_hook(ws, &mut out);
    host::check_disk(ws, &mut out);
    check_lock(ws, &mut out);
    check_sandbox(ws, &mut out);
    host::check_remotes(ws, &mut out).await;
    if config_ok {
        if let Ok(p) = ws.load(&Env::process()) {
            host::check_store(&p.config.store.url, p.config.store.lease_s, &mut out).await;
        }
        check_providers(ws, &mut out).await;
    }
    out
}

fn set_aside(path: &Path) -> std::io::Result<()> {
    let broken = path.with_file_name(format!(
        "{}.broken",
        path.file_name().unwrap_or_default().to_string_lossy()
    ));
    std::fs::rename(path, broken)
}

/// Carry out one repair.
pub fn apply(ws: &Workspace, repair: &Repair) -> Result<String, String> {
    match repair {
        Repair::Reinit => init::init(&ws.root, None)
            .map(|r| {
                format!(
                    "init wrote {} prompt(s) and {} workflow(s)",
                    r.prompts_written, r.workflows_written
                )
            })
            .map_err(|e| e.to_string()),
        Repair::RestoreBackup(path) => {
            let bak = path.with_file_name(format!(
                "{}.bak",
                path.file_name().unwrap_or_default().to_string_lossy()
            ));
            let text = std::fs::read(&bak).map_err(|e| e.to_string())?;
            set_aside(path).map_err(|e| e.to_string())?;
            crate::engine::store::workspace::write_atomic(path, &text)
                .map_err(|e| e.to_string())?;
            Ok(format!("restored {} from its backup", rel(ws, path)))
        }
        Repair::ResetToDefaults(path) => {
            set_aside(path).map_err(|e| e.to_string())?;
            init::init(&ws.root, None).map_err(|e| e.to_string())?;
            Ok(format!("wrote default {}", rel(ws, path)))
        }
        Repair::GitIdentity => {
            let repo = git::open(&ws.root).ok_or("not a git repository")?;
            git::ensure_identity(&repo).map_err(|e| e.to_string())?;
            Ok("set a local git identity".into())
        }
        Repair::StaleLock(path) => {
            std::fs::remove_file(path).map_err(|e| e.to_string())?;
            Ok("removed the stale dashboard lock".into())
        }
        Repair::InstallHook => host::install_hook(ws),
        Repair::SetAside(path) => {
            set_aside(path).map_err(|e| e.to_string())?;
            Ok(format!("moved {} aside (kept as .broken)", rel(ws, path)))
        }
    }
}

/// What a doctor run found: its report, and whether any check still fails after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkup {
    pub lines: Vec<String>,
    pub failing: bool,
}

/// Examine, report, and with `fix` offer each repair.
pub async fn run(ws: &Workspace, bus: &Bus, fix: bool) -> Checkup {
    let findings = examine(ws).await;
    let mut lines: Vec<String> = findings.iter().map(Finding::line).collect();
    let fixable: Vec<&(String, Repair)> =
        findings.iter().filter_map(|f| f.repair.as_ref()).collect();
    if fixable.is_empty() {
        let failing = findings.iter().any(|f| f.level == Level::Fail);
        return Checkup { lines, failing };
    }
    if !fix {
        lines.push(format!(
            "{} problem(s) can be repaired: /doctor --fix offers each one",
            fixable.len()
        ));
        let failing = findings.iter().any(|f| f.level == Level::Fail);
        return Checkup { lines, failing };
    }
    bus.emit(crate::engine::ground::events::Event::Report {
        topic: "doctor".into(),
        lines: std::mem::take(&mut lines),
    });
    let mut done = Vec::new();
    for (question, repair) in fixable {
        if done.contains(repair) {
            continue;
        }
        if bus.ask(question.clone()).await {
            match apply(ws, repair) {
                Ok(what) => lines.push(format!("fixed: {what}")),
                Err(e) => lines.push(format!("could not fix: {e}")),
            }
            done.push(repair.clone());
        } else {
            lines.push(format!("skipped: {question}"));
        }
    }
    let after = examine(ws).await;
    let failing = after.iter().any(|f| f.level == Level::Fail);
    lines.push(if failing {
        "still failing after repairs; see the fail lines above".into()
    } else {
        "all checks pass or only warn now".into()
    });
    Checkup { lines, failing }
}
