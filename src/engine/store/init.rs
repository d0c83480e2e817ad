//! `clk init`: create or complete a project's `.clk/` folder.
//!
//! Running it again is harmless: config files and prompts/workflows are written only where
//! absent, the `.gitignore` block is added once, and the first commit is made only when clk's
//! own files are new. Only the files init wrote are committed; whatever else is in the folder
//! (a user's existing work) is left as it was.

use std::fs;
use std::path::Path;

use crate::engine::ground::bundled;
use crate::engine::ground::config::AgentsFile;
use crate::engine::store::git;
use crate::engine::store::workspace::{
    DIRS, Durability, Workspace, replace_file, write_atomic, write_json,
};

/// The `.gitignore` block for clk's local-only files.
pub const GITIGNORE_MARKER: &str = "# clk: local-only files";
pub const GITIGNORE_LINES: &[&str] = &[
    ".clk/logs/",
    ".clk/runs/",
    ".clk/backups/",
    ".clk/cache/",
    ".clk/state/agent_memory.jsonl",
    ".clk/state/experiments.jsonl",
    ".clk/state/usage.json",
    ".clk/state/.tui-active",
    ".clk/state/*.lock",
    ".clk/state/conversation.jsonl",
    ".clk/state/tutorial.json",
    ".clk/state/runs/",
    ".clk/state/clk.db*",
    ".clk/tutorial/",
    ".clk/**/*.bak",
];

/// The `.gitignore` block that keeps files holding secrets out of commits.
pub const SECRETS_MARKER: &str = "# clk: files that hold secrets";
pub const SECRETS_LINES: &[&str] = &[
    ".env",
    ".env.*",
    "!.env.example",
    "!.env.sample",
    "*.pem",
    "*.key",
    "id_rsa",
    "id_dsa",
    "id_ecdsa",
    "id_ed25519",
    ".netrc",
];

/// clk's local-only lines that `.gitignore` (its text given) does not have yet. None when
/// the whole `.clk/` folder is ignored.
pub fn gitignore_missing(gitignore: &str) -> Vec<&'static str> {
    let has = |want: &str| gitignore.lines().any(|l| l.trim() == want);
    if has(".clk") || has(".clk/") {
        return Vec::new();
    }
    GITIGNORE_LINES
        .iter()
        .copied()
        .filter(|l| !has(l))
        .collect()
}

/// What init did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InitReport {
    pub root: String,
    pub created_config: bool,
    pub prompts_written: usize,
    pub workflows_written: usize,
    pub gitignore_updated: bool,
    pub git_created: bool,
    pub commit: Option<String>,
}

/// Problems init can meet.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("cannot write in {path}: {detail}")]
    Io { path: String, detail: String },
    #[error(transparent)]
    Git(#[from] git::GitError),
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> InitError + '_ {
    move |e| InitError::Io {
        path: path.display().to_string(),
        detail: e.to_string(),
    }
}

fn write_if_absent(
    path: &Path,
    text: &str,
    written: &mut Vec<String>,
    root: &Path,
) -> Result<bool, InitError> {
    if path.exists() {
        return Ok(false);
    }
    write_atomic(path, text.as_bytes()).map_err(io(path))?;
    if let Ok(rel) = path.strip_prefix(root) {
        written.push(rel.to_string_lossy().into_owned());
    }
    Ok(true)
}

/// Initialize `root` (which must exist). `name` defaults to the folder's name.
pub fn init(root: &Path, name: Option<&str>) -> Result<InitReport, InitError> {
    let root = root.canonicalize().map_err(io(root))?;
    let ws = Workspace::new(&root);
    for d in DIRS {
        let p = ws.clk().join(d);
        fs::create_dir_all(&p).map_err(io(&p))?;
    }
    let mut written = Vec::new();
    let mut report = InitReport {
        root: root.display().to_string(),
        ..Default::default()
    };

    let cfg_path = ws.config_file();
    if !cfg_path.exists() {
        // Only what is this project's own: every other value comes from the built-in
        // defaults or the user's settings (`config.json` in the user's clk folder), which a
        // key written here would hide.
        let project_name = name.map(str::to_string).unwrap_or_else(|| {
            root.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "project".into())
        });
        let v = serde_json::json!({ "project_name": project_name });
        write_json(&cfg_path, &v).map_err(io(&cfg_path))?;
        written.push(".clk/config/clk.config.json".into());
        report.created_config = true;
    }
    for (path, value) in [
        // Empty for the same reason: the built-in providers and the user's own apply.
        (ws.providers_file(), serde_json::json!({})),
        (
            ws.agents_file(),
            crate::engine::ground::fixed::json(&AgentsFile::default()),
        ),
    ] {
        if !path.exists() {
            write_json(&path, &value).map_err(io(&path))?;
            if let Ok(rel) = path.strip_prefix(&root) {
                written.push(rel.to_string_lossy().into_owned());
            }
        }
    }
    for (file, text) in bundled::PROMPTS {
        if write_if_absent(&ws.prompts_dir().join(file), text, &mut written, &root)? {
            report.prompts_written += 1;
        }
    }
    for (file, text) in bundled::WORKFLOWS {
        if write_if_absent(&ws.workflows_dir().join(file), text, &mut written, &root)? {
            report.workflows_written += 1;
        }
    }
    let now = chrono::Local::now().format("%Y-%m-%d %H:%M");
    write_if_absent(
        &ws.state_dir().join("progress.md"),
        &format!("# Progress\n\n- {now} :: clk initialized\n"),
        &mut written,
        &root,
    )?;
    write_if_absent(
        &ws.state_dir().join("decisions.md"),
        "# Decisions\n",
        &mut written,
        &root,
    )?;

    let gi = root.join(".gitignore");
    let existing = fs::read_to_string(&gi).unwrap_or_default();
    let missing = gitignore_missing(&existing);
    let has = |want: &str| existing.lines().any(|l| l.trim() == want);
    let secrets: Vec<&str> = if has(SECRETS_MARKER) {
        Vec::new()
    } else {
        SECRETS_LINES.iter().copied().filter(|l| !has(l)).collect()
    };
    if !missing.is_empty() || !secrets.is_empty() {
        let mut text = existing.clone();
        // A newer clk adds its new lines under a marker again rather than editing the
        // user's file in the middle.
        for (marker, lines) in [(GITIGNORE_MARKER, missing), (SECRETS_MARKER, secrets)] {
            if lines.is_empty() {
                continue;
            }
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(marker);
            text.push('\n');
            for l in lines {
                text.push_str(l);
                text.push('\n');
            }
        }
        // A user's pending edits to .gitignore must not land in clk's commit.
        let user_edits = git::open(&root)
            .map(|r| !git::dirty_among(&r, &[".gitignore".to_string()]).is_empty())
            .unwrap_or(false)
            && !existing.is_empty();
        replace_file(&gi, text.as_bytes(), Durability::PowerLoss).map_err(io(&gi))?;
        if !user_edits {
            written.push(".gitignore".into());
        }
        report.gitignore_updated = true;
    }

    let (repo, created) = git::open_or_init(&root)?;
    report.git_created = created;
    git::ensure_identity(&repo)?;
    if !written.is_empty() {
        let msg = format!(
            "[clk-init] Set up clk in this project\n\nFiles:\n{}\n\nGenerated by clk",
            written
                .iter()
                .map(|w| format!("  - {w}"))
                .collect::<Vec<_>>()
                .join("\n")
        );
        if let Some(c) = git::commit_paths(&repo, "clk-init", &written, &msg)? {
            report.commit = Some(c.sha);
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_is_idempotent_and_keeps_user_files_out_of_its_commit() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("mine.txt"), "user work\n").unwrap();
        let r1 = init(dir.path(), Some("demo")).unwrap();
        assert!(r1.created_config && r1.git_created && r1.gitignore_updated);
        assert!(r1.commit.is_some());
        assert_eq!(r1.prompts_written, bundled::PROMPTS.len());
        let repo = git2::Repository::open(dir.path()).unwrap();
        let tree = repo
            .head()
            .unwrap()
            .peel_to_commit()
            .unwrap()
            .tree()
            .unwrap();
        assert!(
            tree.get_path(Path::new(".clk/config/clk.config.json"))
                .is_ok()
        );
        assert!(tree.get_path(Path::new("mine.txt")).is_err());
        assert_eq!(git::branch(&repo).as_deref(), Some("main"));

        let r2 = init(dir.path(), None).unwrap();
        assert!(!r2.created_config && !r2.gitignore_updated && r2.commit.is_none());
        assert_eq!(r2.prompts_written, 0);
        let gi = fs::read_to_string(dir.path().join(".gitignore")).unwrap();
        assert_eq!(gi.matches(GITIGNORE_MARKER).count(), 1);
        assert_eq!(
            fs::read_to_string(dir.path().join("mine.txt")).unwrap(),
            "user work\n"
        );
    }
}
