//! Doctor's checks of what surrounds the project: the user's own settings, the pre-push
//! secret scan's hook, whether each git remote answers, room on disk for run worktrees, and
//! whether a shared task store answers over an encrypted connection.
//!
//! Each check is cheap and bounded: the remote check waits a few seconds at most, the disk
//! check reads sizes from git's index rather than walking the tree.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{Finding, Level, Repair};
use crate::engine::act::confine::Isolation;
use crate::engine::act::process::{self, Ending, Spec};
use crate::engine::ground::config::Env;
use crate::engine::ground::redact;
use crate::engine::store::git::{self, scan};
use crate::engine::store::tasks;
use crate::engine::store::user;
use crate::engine::store::workspace::Workspace;

/// Longest a `git ls-remote` may take before the remote counts as unreachable.
pub const REMOTE_TIMEOUT: Duration = Duration::from_secs(4);

/// Free space kept beyond the room for worktrees, so the disk never fills up.
const DISK_MARGIN: u64 = 256 * 1024 * 1024;

/// How many copies of the work tree runs may hold at once (a run's worktree, idle ones).
const WORKTREE_COPIES: u64 = 3;

/// The user-level `config.json` and `providers.json`: where they are and whether they parse.
pub fn check_user_settings(env: &Env, out: &mut Vec<Finding>) {
    let Some(dir) = user::config_dir(env) else {
        out.push(Finding::new(
            Level::Ok,
            "no user settings folder (neither XDG_CONFIG_HOME nor HOME is set)",
        ));
        return;
    };
    let mut found = Vec::new();
    let mut broken = false;
    for path in [user::config_file(env), user::providers_file(env)]
        .into_iter()
        .flatten()
    {
        match user::read_object(Some(&path)) {
            Ok(Some(_)) => found.push(file_name(&path)),
            Ok(None) => {}
            Err(e) => {
                broken = true;
                let name = path.display().to_string();
                out.push(super::broken_file(
                    Finding::new(
                        Level::Fail,
                        format!("user settings: {e}; fix or remove the file"),
                    ),
                    &path,
                    &name,
                    (
                        format!("Move {name} aside as .broken, so every project goes back to its own settings and clk's defaults?"),
                        Repair::SetAside(path.clone()),
                    ),
                ));
            }
        }
    }
    if broken {
        return;
    }
    out.push(Finding::new(
        Level::Ok,
        if found.is_empty() {
            format!("no user settings in {} (optional)", dir.display())
        } else {
            format!(
                "user settings in {}: {} parse",
                dir.display(),
                found.join(", ")
            )
        },
    ));
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned()
}

/// Whether git runs clk's secret scan before a push.
pub fn check_hook(ws: &Workspace, out: &mut Vec<Finding>) {
    if git::open(&ws.root).is_none() {
        return;
    }
    out.push(match scan::hook_state(&ws.root) {
        Some(scan::Hook::AlreadyThere(_) | scan::Hook::Installed(_)) => Finding::new(
            Level::Ok,
            "the pre-push secret scan is installed as a git hook",
        ),
        Some(scan::Hook::Other(path)) => Finding::new(
            Level::Warn,
            format!(
                "{} is a hook of your own, so clk's secret scan does not run before a push; \
                 add `clk scan-secrets --pre-push \"$@\"` to it",
                path.display()
            ),
        ),
        None => Finding::new(
            Level::Warn,
            "the pre-push secret scan is not installed: a push could carry a key",
        )
        .fixable(
            "Install clk's pre-push hook that blocks pushes adding keys?",
            Repair::InstallHook,
        ),
    });
}

/// Install the pre-push hook with this program as the scanner.
pub fn install_hook(ws: &Workspace) -> Result<String, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find clk itself: {e}"))?;
    match scan::install_hook(&ws.root, &exe).map_err(|e| e.to_string())? {
        scan::Hook::Installed(p) => Ok(format!("installed the pre-push hook at {}", p.display())),
        scan::Hook::AlreadyThere(_) => Ok("the pre-push hook was already there".into()),
        scan::Hook::Other(p) => Err(format!("{} is a hook of your own; left alone", p.display())),
    }
}

/// A remote's URL fit to show: any user name or token in it replaced.
fn shown_url(url: &str) -> String {
    let cleaned = match (url.find("://"), url.find('@')) {
        (Some(scheme), Some(at)) if at > scheme && !url[scheme + 3..at].contains('/') => {
            format!("{}***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_string(),
    };
    redact::redact_text(&cleaned)
}

/// Every configured remote answers `git ls-remote` within [`REMOTE_TIMEOUT`].
pub async fn check_remotes(ws: &Workspace, out: &mut Vec<Finding>) {
    let remotes: Vec<(String, String)> = {
        let Some(repo) = git::open(&ws.root) else {
            return;
        };
        let Ok(names) = repo.remotes() else { return };
        names
            .iter()
            .filter_map(|n| {
                let n = n.ok()??;
                let remote = repo.find_remote(n).ok()?;
                let url = remote.url().ok()?.to_string();
                Some((n.to_string(), url))
            })
            .collect()
    };
    let mut tasks = Vec::new();
    for (name, url) in remotes {
        let root = ws.root.clone();
        tasks.push(tokio::spawn(async move {
            let why = ls_remote(&root, &name).await;
            (name, url, why)
        }));
    }
    for t in tasks {
        let Ok((name, url, why)) = t.await else {
            continue;
        };
        let url = shown_url(&url);
        out.push(match why {
            None => Finding::new(Level::Ok, format!("remote {name} ({url}) answers")),
            Some(why) => Finding::new(
                Level::Warn,
                format!("remote {name} ({url}) did not answer: {why}; pushes and pulls will fail"),
            ),
        });
    }
}

/// Longest doctor waits for the task store's database to answer.
const STORE_TIMEOUT: Duration = Duration::from_secs(8);

/// A PostgreSQL task store answers, and whether its connection is encrypted (the server's own
/// `pg_stat_ssl`). Plain to a store on another machine is a warning.
pub async fn check_store(url: &str, lease_s: u64, out: &mut Vec<Finding>) {
    let url = url.trim().to_string();
    if !url.starts_with("postgres") {
        return;
    }
    let shown = tasks::shown_url(&url);
    // On a thread of its own, left behind if the database never answers.
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let got =
            tasks::PgStore::open(&url, lease_s).and_then(|s| Ok((s.encryption()?, s.is_local())));
        let _ = tx.send(got);
    });
    out.push(match tokio::time::timeout(STORE_TIMEOUT, rx).await {
        Ok(Ok(Ok(((Some(version), _), _)))) => Finding::new(
            Level::Ok,
            format!("task store {shown} answers, encrypted ({version})"),
        ),
        Ok(Ok(Ok(((None, mode), local)))) => Finding::new(
            if local { Level::Ok } else { Level::Warn },
            format!("task store {shown} answers, NOT encrypted (sslmode={mode})"),
        ),
        Ok(Ok(Err(e))) => Finding::new(Level::Fail, e.to_string()),
        _ => Finding::new(
            Level::Fail,
            format!(
                "task store {shown} did not answer in {}s; check the host and port",
                STORE_TIMEOUT.as_secs()
            ),
        ),
    });
}

/// Why `git ls-remote NAME` failed, or None when it answered.
async fn ls_remote(root: &Path, name: &str) -> Option<String> {
    let mut env = BTreeMap::new();
    // Never wait on a password prompt, on the terminal or over ssh.
    env.insert("GIT_TERMINAL_PROMPT".into(), "0".into());
    if std::env::var_os("GIT_SSH_COMMAND").is_none() {
        env.insert(
            "GIT_SSH_COMMAND".into(),
            "ssh -o BatchMode=yes -o ConnectTimeout=3".into(),
        );
    }
    let spec = Spec {
        program: "git".into(),
        args: vec!["ls-remote".into(), "-q".into(), name.into(), "HEAD".into()],
        cwd: root.to_path_buf(),
        env,
        stdin: None,
        timeout: REMOTE_TIMEOUT,
        idle_timeout: None,
        keep_bytes: 4096,
        max_line_bytes: 1024,
        sandbox: Isolation::None,
    };
    match process::run(&spec, &CancellationToken::new(), |_| {}, |_, _| {}).await {
        Err(e) => Some(e.to_string()),
        Ok(o) => match o.ending {
            Ending::Exited(Some(0)) => None,
            Ending::TimedOut | Ending::Idle => {
                Some(format!("no answer in {} s", REMOTE_TIMEOUT.as_secs()))
            }
            _ => {
                // git's `fatal:` line says why; the lines after it are advice.
                let lines: Vec<&str> = o.stderr.lines().map(str::trim).collect();
                let why = lines
                    .iter()
                    .find_map(|l| l.strip_prefix("fatal:"))
                    .or_else(|| lines.iter().find(|l| !l.is_empty()).copied())
                    .unwrap_or("git ls-remote failed")
                    .trim();
                Some(redact::redact_text(why))
            }
        },
    }
}

/// Free bytes for an ordinary user on the filesystem holding `path`.
fn free_bytes(path: &Path) -> Option<u64> {
    let c = CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: statvfs fills the zeroed struct we pass; the path is a valid C string.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return None;
    }
    Some((st.f_bavail as u64).saturating_mul(st.f_frsize as u64))
}

/// The bytes a checkout of the work tree writes: the sizes git's index records.
fn tree_bytes(root: &Path) -> Option<u64> {
    let repo = git::open(root)?;
    let index = repo.index().ok()?;
    Some(index.iter().map(|e| u64::from(e.file_size)).sum())
}

fn human(bytes: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    if bytes < MIB {
        "under 1 MiB".into()
    } else if bytes >= 1024 * MIB {
        format!("{:.1} GiB", bytes as f64 / (1024 * MIB) as f64)
    } else {
        format!("{} MiB", bytes.div_ceil(MIB))
    }
}

/// The finding for `free` bytes left beside a work tree of `tree` bytes.
pub fn disk_finding(free: u64, tree: u64) -> Finding {
    let need = tree
        .saturating_mul(WORKTREE_COPIES)
        .saturating_add(DISK_MARGIN);
    if free >= need {
        Finding::new(
            Level::Ok,
            format!(
                "{} free for run worktrees (the work tree is {})",
                human(free),
                human(tree)
            ),
        )
    } else {
        Finding::new(
            Level::Warn,
            format!(
                "only {} free on the repository's disk; runs' worktrees need about {} \
                 (the work tree is {}): free some space",
                human(free),
                human(need),
                human(tree)
            ),
        )
    }
}

/// Room on the repository's filesystem for the worktrees runs make.
pub fn check_disk(ws: &Workspace, out: &mut Vec<Finding>) {
    let Some(tree) = tree_bytes(&ws.root) else {
        return;
    };
    if let Some(free) = free_bytes(&ws.root) {
        out.push(disk_finding(free, tree));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_warns_below_room_for_worktrees_and_margin() {
        let mib = 1024 * 1024;
        assert_eq!(disk_finding(10 * 1024 * mib, 100 * mib).level, Level::Ok);
        let low = disk_finding(500 * mib, 100 * mib);
        assert_eq!(low.level, Level::Warn);
        assert!(low.what.contains("only 500 MiB free"), "{}", low.what);
        assert!(low.what.contains("about 556 MiB"), "{}", low.what);
    }

    #[test]
    fn remote_urls_lose_their_credentials() {
        assert_eq!(
            shown_url("https://me:ghp_secret@github.com/a/b.git"),
            "https://***@github.com/a/b.git"
        );
        assert_eq!(
            shown_url("git@github.com:a/b.git"),
            "git@github.com:a/b.git"
        );
        assert_eq!(shown_url("/srv/git/b.git"), "/srv/git/b.git");
    }
}
