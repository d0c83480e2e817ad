//! The path jail: where an agent may write.
//!
//! A path is accepted only if it names a place inside the project root that is not `.git/`
//! and not `.clk/`, the blackboard included: posts come only from POST blocks, which clk
//! stores with their author, so a file action can never forge one. `blackboard/x` is an
//! ordinary project path, spelled with or without `./`. `..` and backslashes are refused
//! outright rather than interpreted, absolute paths are accepted only when they lie under the
//! root, and the deepest existing ancestor of the target is canonicalized so a symlink anywhere
//! on the way that leads out of the root, or into `.git/` or `.clk/`, is refused too.

use std::path::{Component, Path, PathBuf};

/// Why a path was refused. The text is what the agent and the user are shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal(pub String);

/// A path the gate may touch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Jailed {
    /// Relative to the root, `/`-separated, no `.` or `..` parts.
    pub rel: String,
    pub abs: PathBuf,
}

/// What the action does to the path (both are held to the same rules; the refusal wording
/// differs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// write: creates or replaces.
    Write,
    /// edit, append, delete.
    Modify,
}

/// Whether `root` is absolute and names itself with no symlink on the way. A root found so
/// is remembered: a gate checks every path of every action against the same one, and its
/// ancestors are outside what any agent can change.
fn is_canonical(root: &Path) -> bool {
    static KNOWN: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());
    if !root.is_absolute() {
        return false;
    }
    let mut known = KNOWN.lock().unwrap_or_else(|p| p.into_inner());
    if known.iter().any(|k| k == root) {
        return true;
    }
    let ok = root.canonicalize().ok().as_deref() == Some(root);
    if ok {
        // A long-lived process sees few roots; keep the latest ones.
        if known.len() >= 64 {
            known.remove(0);
        }
        known.push(root.to_path_buf());
    }
    ok
}

fn refuse(msg: impl Into<String>) -> Result<Jailed, Refusal> {
    Err(Refusal(msg.into()))
}

/// Resolve `raw` against `root`, which must already be canonical.
pub fn resolve(root: &Path, raw: &str, access: Access) -> Result<Jailed, Refusal> {
    if !is_canonical(root) {
        return refuse("the project root is not a resolved absolute path; nothing is written");
    }
    let trimmed = raw
        .trim()
        .trim_matches(|c| c == '`' || c == '"' || c == '\'')
        .trim();
    if trimmed.is_empty() {
        return refuse("empty path");
    }
    if trimmed.contains('\0') {
        return refuse("path contains a NUL byte");
    }
    if trimmed.contains('\\') {
        return refuse(
            "paths may not contain a backslash; use / between folders (a backslash is part of \
             a file name on Linux, so the path would not name what it seems to)",
        );
    }
    if trimmed.starts_with('~') {
        return refuse("paths starting with ~ point outside the project");
    }
    let mut rel_str = trimmed.to_string();
    if Path::new(trimmed).is_absolute() {
        match Path::new(trimmed).strip_prefix(root) {
            Ok(r) => rel_str = r.to_string_lossy().into_owned(),
            Err(_) => return refuse("absolute path outside the project"),
        }
    }
    let mut parts: Vec<String> = Vec::new();
    for comp in Path::new(&rel_str).components() {
        match comp {
            Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
            Component::CurDir => {}
            Component::ParentDir => return refuse("paths may not contain '..'"),
            Component::RootDir | Component::Prefix(_) => {
                return refuse("absolute path outside the project");
            }
        }
    }
    if parts.is_empty() {
        return refuse("the path names the project root itself");
    }
    check_protected(&parts, access)?;
    if parts.iter().any(|p| p.eq_ignore_ascii_case(".git")) {
        return refuse("agents may not touch a .git folder or file, at any depth");
    }
    let rel = parts.join("/");
    let abs = root.join(&rel);

    // No symlink on the way: writing through one would change a file other than the one
    // named, past the checks on uncommitted work, and commit the wrong path.
    let mut walk = root.to_path_buf();
    let mut seen = 0;
    for p in &parts {
        walk.push(p);
        match walk.symlink_metadata() {
            Ok(m) if m.file_type().is_symlink() => {
                return refuse(format!(
                    "{} is a symlink; agents may not write through symlinks",
                    walk.strip_prefix(root).unwrap_or(&walk).display()
                ));
            }
            Ok(_) => seen += 1,
            // Every part that exists was looked at and none is a symlink, under a canonical
            // root: the path is already what it resolves to.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Jailed { rel, abs }),
            Err(_) => break,
        }
    }
    if seen == parts.len() {
        return Ok(Jailed { rel, abs });
    }
    // Follow symlinks on the existing part of the path.
    let mut probe = abs.clone();
    let mut rest = Vec::new();
    while !probe.exists() && probe.symlink_metadata().is_err() {
        match (probe.file_name(), probe.parent()) {
            (Some(name), Some(parent)) => {
                rest.push(name.to_owned());
                probe = parent.to_path_buf();
            }
            _ => return refuse("path cannot be resolved"),
        }
    }
    let real = match probe.canonicalize() {
        Ok(r) => r,
        // A dangling symlink: refuse rather than write through it.
        Err(_) => return refuse("path goes through a broken symlink"),
    };
    let Ok(real_rel) = real.strip_prefix(root) else {
        return refuse("path leads outside the project through a symlink");
    };
    let mut real_parts: Vec<String> = real_rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    real_parts.extend(rest.iter().rev().map(|s| s.to_string_lossy().into_owned()));
    if real_parts.is_empty() {
        return refuse("the path names the project root itself");
    }
    if real_parts != parts {
        check_protected(&real_parts, access)
            .map_err(|Refusal(m)| Refusal(format!("{m} (through a symlink)")))?;
    }
    Ok(Jailed { rel, abs })
}

/// Why agents may not touch `.clk/`, the blackboard included.
pub const CLK_REFUSAL: &str =
    "agents may not touch .clk/; to share a finding or a verdict, use a POST block";

fn check_protected(parts: &[String], access: Access) -> Result<(), Refusal> {
    let first = parts[0].to_ascii_lowercase();
    if first == ".git" {
        return Err(Refusal("agents may not touch .git/".into()));
    }
    if first == ".clk" {
        let what = match access {
            Access::Write => "write",
            Access::Modify => "change",
        };
        let board = parts
            .get(1)
            .is_some_and(|p| p.eq_ignore_ascii_case("blackboard"));
        return Err(Refusal(if board {
            format!(
                "agents may not {what} blackboard files: posts come only from POST blocks, \
                 which clk stores with their author"
            )
        } else {
            CLK_REFUSAL.to_string()
        }));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn root() -> (tempfile::TempDir, PathBuf) {
        let d = tempfile::tempdir().unwrap();
        let r = d.path().canonicalize().unwrap();
        std::fs::create_dir_all(r.join(".clk/blackboard")).unwrap();
        std::fs::create_dir_all(r.join(".git")).unwrap();
        (d, r)
    }

    fn ok(root: &Path, p: &str) -> String {
        resolve(root, p, Access::Write).unwrap().rel
    }

    fn no(root: &Path, p: &str) -> String {
        resolve(root, p, Access::Write).unwrap_err().0
    }

    #[test]
    fn plain_paths_are_normalized() {
        let (_d, r) = root();
        assert_eq!(ok(&r, "src/app.rs"), "src/app.rs");
        assert_eq!(ok(&r, "./src/./app.rs"), "src/app.rs");
        assert_eq!(ok(&r, " `README.md` "), "README.md");
        let abs = format!("{}/notes/a.md", r.display());
        assert_eq!(ok(&r, &abs), "notes/a.md");
        // No shorthand into .clk/: `blackboard/x` names a project folder, however spelled.
        assert_eq!(ok(&r, "blackboard/x.json"), "blackboard/x.json");
        assert_eq!(ok(&r, "./blackboard/x.json"), "blackboard/x.json");
    }

    #[test]
    fn escapes_are_refused() {
        let (_d, r) = root();
        for p in [
            "../x",
            "a/../../x",
            "/etc/passwd",
            "~/.bashrc",
            "",
            ".",
            ".git/config",
            ".GIT/hooks/pre-commit",
            ".clk/config/clk.config.json",
            ".clk/state/done.md",
            "a\0b",
            ".clk/blackboard/p.json",
            ".CLK/blackboard/p.json",
            "./.clk/blackboard/p.json",
            "src\\app.rs",
            "..\\x",
            "\\etc\\passwd",
        ] {
            assert!(resolve(&r, p, Access::Write).is_err(), "{p:?} was accepted");
        }
        assert!(no(&r, "../x").contains(".."));
        assert!(resolve(&r, ".clk/blackboard/p.json", Access::Modify).is_err());
        assert!(no(&r, ".clk/blackboard/p.json").contains("POST block"));
        assert!(no(&r, "a\\b").contains("backslash"));
    }

    #[test]
    fn symlinks_that_lead_out_are_refused() {
        let (_d, r) = root();
        let outside = tempfile::tempdir().unwrap();
        symlink(outside.path(), r.join("out")).unwrap();
        symlink(r.join(".git"), r.join("g")).unwrap();
        symlink(r.join("missing-target"), r.join("dangling")).unwrap();
        std::fs::create_dir(r.join("inner")).unwrap();
        symlink(r.join("inner"), r.join("in")).unwrap();
        assert!(no(&r, "out/x.txt").contains("symlink"));
        assert!(no(&r, "g/config").contains("symlink"));
        assert!(resolve(&r, "dangling", Access::Write).is_err());
        // Even a link that stays inside is refused: it would bypass the dirty-file checks.
        assert!(no(&r, "in/x.txt").contains("symlink"));
        assert!(resolve(&r, "in", Access::Modify).is_err());
    }

    #[test]
    fn nested_git_folders_and_loose_roots_are_refused() {
        let (_d, r) = root();
        for p in [
            "vendor/lib/.git/hooks/pre-commit",
            "a/.GIT/config",
            "sub/.git",
        ] {
            assert!(no(&r, p).contains(".git"), "{p}");
        }
        assert!(resolve(Path::new(""), "x.txt", Access::Write).is_err());
        assert!(resolve(Path::new("relative/root"), "x.txt", Access::Write).is_err());
    }
}
