//! The `.clk/` folder of a project: its layout, safe file writes, and loading its config.
//!
//! Invariants: every JSON file is written whole or not at all (temp file, fsync, rename), and
//! the previous version is kept as `<file>.bak`; JSONL logs are appended one whole line per
//! write, and a line cut short by a crash is skipped by readers and never glued to the next
//! record. Run ids are unique even for the same agent within one millisecond, across
//! processes: the run folder is created exclusively and a suffix is added on collision.
//! Whatever is written under a `.clk/state/` folder (done requests, progress, memory, usage,
//! the posts record) holds text from models and is redacted on the way to disk, by the
//! writers here, like the logs.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::engine::ground::config::{AgentsFile, ClkConfig, ConfigError, Env, ProvidersFile};

/// Paths of one project's `.clk/` folder, and the tree agents work in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace {
    /// The user's project folder; `.clk/` (clk's own state, written by clk only) is under it.
    pub root: PathBuf,
    /// Where agents' files are written, commands run, checks run and batches are committed:
    /// the run's own git worktree during a run, else `root`. It lives here rather than on
    /// [`Project`] because a run reloads its project from the workspace every cycle.
    pub work: PathBuf,
}

/// The folders `clk init` creates under `.clk/`.
pub const DIRS: &[&str] = &[
    "config",
    "config/workflows",
    "prompts",
    "state",
    "logs",
    "runs",
    "backups",
    "blackboard",
];

impl Workspace {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        let root = root.into();
        Workspace {
            work: root.clone(),
            root,
        }
    }

    /// The same workspace with agents working in `work` (a run's worktree).
    pub fn with_work(&self, work: impl Into<PathBuf>) -> Self {
        Workspace {
            root: self.root.clone(),
            work: work.into(),
        }
    }

    /// True while agents work in a tree of their own, not the user's.
    pub fn isolated(&self) -> bool {
        self.work != self.root
    }

    /// The nearest ancestor of `start` (itself included) that holds an initialized `.clk/`.
    /// The root is canonical (absolute, no symlinks), which the path jail relies on.
    pub fn find(start: &Path) -> Option<Workspace> {
        let start = start.canonicalize().ok()?;
        start
            .ancestors()
            .find(|p| p.join(".clk/config/clk.config.json").is_file())
            .map(Workspace::new)
    }

    pub fn clk(&self) -> PathBuf {
        self.root.join(".clk")
    }
    pub fn config_dir(&self) -> PathBuf {
        self.clk().join("config")
    }
    pub fn config_file(&self) -> PathBuf {
        self.config_dir().join("clk.config.json")
    }
    pub fn providers_file(&self) -> PathBuf {
        self.config_dir().join("providers.json")
    }
    pub fn agents_file(&self) -> PathBuf {
        self.config_dir().join("agents.json")
    }
    pub fn workflows_dir(&self) -> PathBuf {
        self.config_dir().join("workflows")
    }
    pub fn prompts_dir(&self) -> PathBuf {
        self.clk().join("prompts")
    }
    pub fn state_dir(&self) -> PathBuf {
        self.clk().join("state")
    }
    pub fn logs_dir(&self) -> PathBuf {
        self.clk().join("logs")
    }
    pub fn runs_dir(&self) -> PathBuf {
        self.clk().join("runs")
    }
    pub fn backups_dir(&self) -> PathBuf {
        self.clk().join("backups")
    }
    pub fn blackboard_dir(&self) -> PathBuf {
        self.clk().join("blackboard")
    }
    pub fn activity_log(&self) -> PathBuf {
        self.logs_dir().join("activity.jsonl")
    }

    pub fn is_initialized(&self) -> bool {
        self.config_file().is_file()
    }

    /// Load the three config files over their defaults, with overrides from `env`, which the
    /// project keeps for its later reloads.
    pub fn load(&self, env: &Env) -> Result<Project, ConfigError> {
        let lookup = |name: &str| env.get(name);
        let user_cfg = crate::engine::store::user::config_file(env);
        let user = crate::engine::store::user::read_object(user_cfg.as_deref())?;
        let project = crate::engine::store::user::read_object(Some(&self.config_file()))?;
        let user_name = user_cfg
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        let config = ClkConfig::from_layers(
            &[
                (user_name.as_str(), user.as_ref()),
                ("clk.config.json", project.as_ref()),
            ],
            &lookup,
        )?;
        let user_prov = crate::engine::store::user::read_object(
            crate::engine::store::user::providers_file(env).as_deref(),
        )?;
        let providers = ProvidersFile::from_layers(
            &[
                user_prov.as_ref(),
                read_json(&self.providers_file())?.as_ref(),
            ],
            &lookup,
        )?;
        let agents = match read_json(&self.agents_file())? {
            Some(v) => serde_json::from_value(v).map_err(|e| {
                ConfigError::Invalid(format!("{}: {e}", self.agents_file().display()))
            })?,
            None => AgentsFile::default(),
        };
        Ok(Project {
            ws: self.clone(),
            config,
            providers,
            agents,
            env: env.clone(),
        })
    }

    /// Create `.clk/runs/<run_id>/` for a new dispatch and return its id and folder.
    pub fn reserve_run(&self, agent: &str) -> std::io::Result<(String, PathBuf)> {
        fs::create_dir_all(self.runs_dir())?;
        let stamp = chrono::Local::now().format("%Y%m%dT%H%M%S%.3f").to_string();
        let base = format!("{}-{}", stamp.replace('.', ""), slug(agent, 24));
        for n in 1u32.. {
            let id = if n == 1 {
                base.clone()
            } else {
                format!("{base}-{n}")
            };
            let dir = self.runs_dir().join(&id);
            match fs::create_dir(&dir) {
                Ok(()) => return Ok((id, dir)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
        unreachable!("u32 run suffixes exhausted")
    }
}

/// A loaded project: where it is and its configuration.
#[derive(Debug, Clone)]
pub struct Project {
    pub ws: Workspace,
    pub config: ClkConfig,
    pub providers: ProvidersFile,
    pub agents: AgentsFile,
    /// Where the config's `CLK_*` overrides came from; reloads read the same source.
    pub env: Env,
}

/// Lowercase, runs of anything but `[a-z0-9]` become `-`, trimmed, at most `max` chars.
pub fn slug(text: &str, max: usize) -> String {
    let mut out = String::new();
    for c in text.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let trimmed: String = out.trim_matches('-').chars().take(max).collect();
    let trimmed = trimmed.trim_end_matches('-').to_string();
    if trimmed.is_empty() {
        "item".to_string()
    } else {
        trimmed
    }
}

/// Read a JSON file; `None` when it does not exist.
pub fn read_json(path: &Path) -> Result<Option<Value>, ConfigError> {
    match fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| ConfigError::Parse {
                path: path.display().to_string(),
                detail: e.to_string(),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ConfigError::Io {
            path: path.display().to_string(),
            detail: e.to_string(),
        }),
    }
}

/// Whether `path` lies in a `.clk/state/` folder.
fn is_state_file(path: &Path) -> bool {
    let parts: Vec<_> = path.components().map(|c| c.as_os_str()).collect();
    parts.windows(2).any(|w| w[0] == ".clk" && w[1] == "state")
}

/// `bytes` redacted when they go into a state file and read as text.
fn for_disk<'a>(path: &Path, bytes: &'a [u8]) -> std::borrow::Cow<'a, [u8]> {
    match std::str::from_utf8(bytes) {
        Ok(text) if is_state_file(path) => {
            let clean = crate::engine::ground::redact::redact_text(text);
            if clean == text {
                std::borrow::Cow::Borrowed(bytes)
            } else {
                std::borrow::Cow::Owned(clean.into_bytes())
            }
        }
        _ => std::borrow::Cow::Borrowed(bytes),
    }
}

/// A temp-file name no other writer (thread or process) uses at the same time.
fn temp_name(name: &str) -> String {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!(".{name}.tmp-{}-{n}", std::process::id())
}

/// How hard [`replace_file`] works to keep a file across a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// fsync the file before the rename and its folder after: whole or old even after a power
    /// loss. For settings and records read back to decide something.
    PowerLoss,
    /// No fsync: whole or old after a crash of clk, which is all a file rewritten on every
    /// dispatch (usage totals) can afford.
    ClkCrash,
}

/// Replace `path` with `bytes` atomically: a temp file in the same folder, renamed over it;
/// `durability` says whether both are synced to disk first. State files are redacted on the
/// way (see [`for_disk`]).
pub fn replace_file(path: &Path, bytes: &[u8], durability: Durability) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    let tmp = dir.join(temp_name(&name));
    let written = create_for(&tmp, holds_keys(&name)).and_then(|mut f| {
        f.write_all(&for_disk(path, bytes))?;
        match durability {
            Durability::PowerLoss => f.sync_all(),
            Durability::ClkCrash => Ok(()),
        }
    });
    if let Err(e) = written.and_then(|()| fs::rename(&tmp, path)) {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    if durability == Durability::PowerLoss
        && let Ok(d) = File::open(dir)
    {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Whether a file of this name may hold API keys (providers.json and its `.bak`): it is
/// created readable by its owner only.
fn holds_keys(name: &str) -> bool {
    name.starts_with("providers.json")
}

fn create_for(path: &Path, private: bool) -> std::io::Result<File> {
    let mut o = OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    o.open(path)
}

/// Write a file that is written once and never replaced (run records in a fresh run
/// folder): no temp file and no fsync, which cost more than clk's own work per dispatch.
/// Nothing reads these back to decide anything; `agent_memory.jsonl` is the index.
pub fn write_record(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = OpenOptions::new().write(true).create_new(true).open(path)?;
    f.write_all(bytes)
}

/// [`replace_file`], keeping the version it replaces as `<path>.bak`.
///
/// The new version is synced to disk; the `.bak` is not. It is a copy for a person undoing a
/// bad edit, and the file it backs up is never left half-written, so it does not need to
/// survive a power cut (its rename is made durable by the directory sync that follows).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if path.is_file() {
        if let Ok(old) = fs::read(path) {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "file".into());
            replace_file(
                &path.with_file_name(format!("{name}.bak")),
                &old,
                Durability::ClkCrash,
            )?;
        }
    }
    replace_file(path, bytes, Durability::PowerLoss)
}

/// Pretty JSON with sorted keys and a trailing newline, written atomically.
pub fn write_json(path: &Path, value: &Value) -> std::io::Result<()> {
    // serde_json's map is ordered by key (no preserve_order feature), so output is sorted.
    let mut text = serde_json::to_string_pretty(value).map_err(std::io::Error::other)?;
    text.push('\n');
    write_atomic(path, text.as_bytes())
}

/// Open a JSONL file for appending whole lines. If a crash left it without a final newline,
/// a newline is written first so the cut record stays alone (and is skipped by readers).
pub fn open_jsonl(path: &Path) -> std::io::Result<File> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .read(true)
        .open(path)?;
    let len = f.metadata()?.len();
    if len > 0 {
        let mut last = [0u8; 1];
        f.seek(SeekFrom::Start(len - 1))?;
        f.read_exact(&mut last)?;
        if last[0] != b'\n' {
            f.write_all(b"\n")?;
        }
    }
    Ok(f)
}

/// Append one record as a single line (see [`open_jsonl`]).
pub fn append_jsonl(path: &Path, value: &Value) -> std::io::Result<()> {
    let mut f = open_jsonl(path)?;
    let mut value = value.clone();
    if is_state_file(path) {
        crate::engine::ground::redact::redact_json(&mut value);
    }
    let mut line = serde_json::to_string(&value).map_err(std::io::Error::other)?;
    line.push('\n');
    f.write_all(line.as_bytes())
}

/// Every whole, parseable record of a JSONL file (cut or garbled lines are skipped).
pub fn read_jsonl(path: &Path) -> Vec<Value> {
    fs::read_to_string(path)
        .map(|t| {
            t.lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_keeps_a_backup() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.json");
        write_json(&p, &serde_json::json!({"b": 1, "a": 2})).unwrap();
        write_json(&p, &serde_json::json!({"a": 3})).unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "{\n  \"a\": 3\n}\n");
        let bak = fs::read_to_string(dir.path().join("a.json.bak")).unwrap();
        assert_eq!(bak, "{\n  \"a\": 2,\n  \"b\": 1\n}\n");
    }

    #[test]
    fn state_files_are_redacted_on_the_way_to_disk() {
        crate::engine::ground::redact::register("state-file-secret-91");
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join(".clk/state");
        write_atomic(&state.join("done.md"), b"Reason: state-file-secret-91").unwrap();
        append_jsonl(
            &state.join("m.jsonl"),
            &serde_json::json!({"a": "sk-proj-ABCDEFGHIJKLMNOP"}),
        )
        .unwrap();
        replace_file(
            &state.join("u.json"),
            b"state-file-secret-91",
            Durability::ClkCrash,
        )
        .unwrap();
        for f in ["done.md", "m.jsonl", "u.json"] {
            let text = fs::read_to_string(state.join(f)).unwrap();
            assert!(text.contains("<redacted:"), "{f}: {text}");
        }
        // Config is the user's own, keys included: not touched.
        let cfg = dir.path().join(".clk/config/providers.json");
        write_atomic(&cfg, b"state-file-secret-91").unwrap();
        assert_eq!(fs::read_to_string(cfg).unwrap(), "state-file-secret-91");
    }

    #[test]
    fn a_cut_jsonl_line_stays_alone() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("log.jsonl");
        fs::write(&p, "{\"a\":1}\n{\"cut\":").unwrap();
        append_jsonl(&p, &serde_json::json!({"b": 2})).unwrap();
        let recs = read_jsonl(&p);
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[1]["b"], 2);
    }

    #[test]
    fn run_ids_never_collide() {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::new(dir.path());
        let mut ids = std::collections::HashSet::new();
        for _ in 0..200 {
            let (id, path) = ws.reserve_run("engineer").unwrap();
            assert!(path.is_dir());
            assert!(ids.insert(id));
        }
    }

    #[test]
    fn slugs_are_tidy() {
        assert_eq!(slug("Hello, World!", 32), "hello-world");
        assert_eq!(slug("***", 32), "item");
        assert_eq!(slug("abc def ghi", 5), "abc-d");
    }
}
