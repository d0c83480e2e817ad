//! The evaluator: which checks tell whether the project still works, and running them.
//!
//! Explicit commands always win. Without them the checks are derived from the project's shape,
//! looking only at the project's own files: clk's `.clk/`, `.git/`, every other hidden folder
//! and the usual dependency and build folders are never read (the reference matched its own
//! `.clk/venv` and judged every project "python-shaped"). A derived check that only proves the
//! code parses is *weak*, and so is finding nothing to run: the result then says ok with
//! "no checks found" and `weak: true` — it never claims a pass it did not see. Invariants:
//! deriving reads a bounded number of directory entries and never fails (unreadable folders
//! are skipped); each command runs with `sh -c` in the project root under
//! `validation.run_timeout_s`; the first failing check ends the run.

use std::fs;
use std::path::Path;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::engine::act::confine::{self, Isolation};
use crate::engine::act::process;
use crate::engine::ground::redact::redact_text;
use crate::engine::store::workspace::Project;

/// One check that ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    pub command: String,
    /// None when it timed out, was stopped, or could not start.
    pub exit_code: Option<i32>,
    pub timed_out: bool,
    /// The last lines of combined output, redacted.
    pub output_tail: String,
}

impl CheckResult {
    pub fn passed(&self) -> bool {
        self.exit_code == Some(0)
    }
}

/// What the evaluation found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    pub ran: Vec<CheckResult>,
    pub ok: bool,
    /// The checks prove little (syntax only) or there were none.
    pub weak: bool,
    /// One line for logs, records and commit bodies.
    pub summary: String,
}

pub const CARGO_TEST: &str = "cargo test --quiet";
pub const NPM_TEST: &str = "npm test --silent";
pub const PYTEST: &str = "python3 -m pytest -q";
pub const GO_TEST: &str = "go test ./...";
/// Hidden folders (`.git`, `.clk`, a `.venv`) and [`SKIP_DIRS`] are not even walked:
/// `.clk/backups` holds copies of agents' files, the sandbox keeps `.clk/` and `.git`
/// read-only, and walking `.git` or dependencies costs more than checking the code.
pub const PY_COMPILE: &str = r"find . \( -name '.?*' -o -name node_modules -o -name target -o -name venv -o -name env -o -name __pycache__ -o -name site-packages -o -name dist -o -name build \) -prune -o -name '*.py' -type f -print0 | xargs -0 -r python3 -m py_compile";

/// Folders that hold tools, dependencies or build output rather than the project's code.
const SKIP_DIRS: &[&str] = &[
    "node_modules",
    "target",
    "venv",
    "env",
    "__pycache__",
    "site-packages",
    "dist",
    "build",
];
/// Bounds on the shape scan, so a huge tree costs a fixed amount.
const MAX_ENTRIES: usize = 20_000;
const MAX_DEPTH: usize = 8;
/// Lines of output kept per check.
const TAIL_LINES: usize = 15;

/// What the scan of the project's own files saw.
#[derive(Debug, Default)]
struct Shape {
    py_files: bool,
    py_tests: bool,
}

fn scan(root: &Path) -> Shape {
    let mut shape = Shape::default();
    let mut stack = vec![(root.to_path_buf(), 0usize)];
    let mut seen = 0usize;
    while let Some((dir, depth)) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            seen += 1;
            if seen > MAX_ENTRIES {
                return shape;
            }
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            // file_type does not follow symlinks, so a link cannot lead the scan outside.
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() {
                if depth < MAX_DEPTH && !SKIP_DIRS.contains(&name.as_str()) {
                    stack.push((e.path(), depth + 1));
                }
            } else if ft.is_file() {
                if let Some(stem) = name.strip_suffix(".py") {
                    shape.py_files = true;
                    if stem.starts_with("test_") || stem.ends_with("_test") {
                        shape.py_tests = true;
                    }
                }
            }
        }
        if shape.py_tests {
            return shape;
        }
    }
    shape
}

/// True when package.json declares a test script other than npm's placeholder.
fn has_npm_test(root: &Path) -> bool {
    let Ok(text) = fs::read_to_string(root.join("package.json")) else {
        return false;
    };
    let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else {
        return false;
    };
    v.get("scripts")
        .and_then(|s| s.get("test"))
        .and_then(|t| t.as_str())
        .map(str::trim)
        .is_some_and(|t| !t.is_empty() && !t.contains("no test specified"))
}

/// The checks to run and whether they are weak. Explicit commands (blank ones dropped) win;
/// otherwise every strong check the project's shape calls for, in a fixed order (a mixed
/// project gets all of them); else a Python syntax check (weak); else none (weak).
pub fn derive_checks(root: &Path, explicit: &[String]) -> (Vec<String>, bool) {
    let explicit: Vec<String> = explicit
        .iter()
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty())
        .collect();
    if !explicit.is_empty() {
        return (explicit, false);
    }
    let shape = scan(root);
    let mut checks = Vec::new();
    if root.join("Cargo.toml").is_file() {
        checks.push(CARGO_TEST.to_string());
    }
    if has_npm_test(root) {
        checks.push(NPM_TEST.to_string());
    }
    // pyproject.toml or setup.py alone is not enough: pytest fails when it collects nothing.
    if shape.py_tests {
        checks.push(PYTEST.to_string());
    }
    if root.join("go.mod").is_file() {
        checks.push(GO_TEST.to_string());
    }
    if !checks.is_empty() {
        return (checks, false);
    }
    if shape.py_files {
        return (vec![PY_COMPILE.to_string()], true);
    }
    (Vec::new(), true)
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().rev().take(TAIL_LINES).collect();
    lines.into_iter().rev().collect::<Vec<_>>().join("\n")
}

async fn run_check(
    command: &str,
    root: &Path,
    timeout: Duration,
    sandbox: Isolation,
    cancel: &CancellationToken,
) -> CheckResult {
    let spec = process::Spec::shell(command, root.to_path_buf(), timeout, sandbox);
    let (exit_code, timed_out, output) = match process::run(&spec, cancel, |_| {}, |_, _| {}).await
    {
        Ok(o) => {
            let mut text = o.combined();
            if let Some(w) = &o.sandbox_warning {
                text.push_str(&format!("\n({w})"));
            }
            match o.ending {
                process::Ending::Exited(code) => (code, false, text),
                process::Ending::TimedOut | process::Ending::Idle => (None, true, text),
                process::Ending::Cancelled => (None, false, format!("{text}\n(stopped)")),
            }
        }
        Err(e) => (None, false, e.to_string()),
    };
    CheckResult {
        command: redact_text(command),
        exit_code,
        timed_out,
        output_tail: redact_text(&tail(&output)),
    }
}

/// Why a check failed, in a few words.
fn how(r: &CheckResult, timeout: Duration) -> String {
    match (r.timed_out, r.exit_code) {
        (true, _) => format!("timed out after {}s", timeout.as_secs()),
        (false, Some(c)) => format!("exit {c}"),
        (false, None) => "stopped".to_string(),
    }
}

/// Run `checks` (or the derived ones when empty) in the project root, one after another,
/// stopping at the first failure.
pub async fn evaluate(
    project: &Project,
    checks: &[String],
    cancel: &CancellationToken,
) -> Evaluation {
    let root = &project.ws.work;
    let (commands, weak) = derive_checks(root, checks);
    if commands.is_empty() {
        return Evaluation {
            ran: Vec::new(),
            ok: true,
            weak: true,
            summary: "no checks found".into(),
        };
    }
    let timeout = Duration::from_secs(project.config.validation.run_timeout_s.max(1));
    let mut ran = Vec::new();
    for cmd in &commands {
        if cancel.is_cancelled() {
            return Evaluation {
                ran,
                ok: false,
                weak,
                summary: "cancelled before every check ran".into(),
            };
        }
        let sandbox = confine::for_commands(&project.config.sandbox, root);
        let r = run_check(cmd, root, timeout, sandbox, cancel).await;
        let passed = r.passed();
        let outcome = if passed {
            "passed".to_string()
        } else {
            format!("failed ({})", how(&r, timeout))
        };
        crate::engine::runs::isolate::note_check(
            &project.ws,
            passed,
            &format!("`{}` {outcome}", r.command),
        );
        ran.push(r);
        if !passed {
            break;
        }
    }
    let failed = ran.iter().find(|r| !r.passed());
    let summary = match failed {
        Some(r) => {
            let last = r.output_tail.lines().last().unwrap_or_default();
            let last: String = last.chars().take(160).collect();
            format!("FAIL `{}` ({}): {last}", r.command, how(r, timeout))
                .trim_end_matches([' ', ':'])
                .to_string()
        }
        None => format!(
            "PASS {} check{}{}: {}",
            ran.len(),
            if ran.len() == 1 { "" } else { "s" },
            if weak { " (weak)" } else { "" },
            commands.join("; ")
        ),
    };
    Evaluation {
        ok: failed.is_none(),
        ran,
        weak,
        summary,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        for (p, text) in files {
            let path = d.path().join(p);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, text).unwrap();
        }
        d
    }

    #[test]
    fn explicit_commands_win() {
        let d = dir_with(&[("Cargo.toml", "")]);
        let (c, weak) = derive_checks(d.path(), &["  ".into(), "test -f x".into()]);
        assert_eq!(c, vec!["test -f x"]);
        assert!(!weak);
    }

    #[test]
    fn shapes_pick_their_test_runner() {
        let d = dir_with(&[("Cargo.toml", "[package]")]);
        assert_eq!(
            derive_checks(d.path(), &[]),
            (vec![CARGO_TEST.into()], false)
        );
        let d = dir_with(&[("package.json", r#"{"scripts":{"test":"jest"}}"#)]);
        assert_eq!(derive_checks(d.path(), &[]), (vec![NPM_TEST.into()], false));
        let d = dir_with(&[("go.mod", "module x")]);
        assert_eq!(derive_checks(d.path(), &[]), (vec![GO_TEST.into()], false));
        let d = dir_with(&[("pkg/thing_test.py", ""), ("pkg/thing.py", "")]);
        assert_eq!(derive_checks(d.path(), &[]), (vec![PYTEST.into()], false));
        let d = dir_with(&[("tests/test_a.py", "")]);
        assert_eq!(derive_checks(d.path(), &[]), (vec![PYTEST.into()], false));
        let d = dir_with(&[("Cargo.toml", ""), ("go.mod", "")]);
        assert_eq!(derive_checks(d.path(), &[]).0, vec![CARGO_TEST, GO_TEST]);
    }

    #[test]
    fn the_npm_placeholder_is_not_a_test() {
        let d = dir_with(&[(
            "package.json",
            r#"{"scripts":{"test":"echo \"Error: no test specified\" && exit 1"}}"#,
        )]);
        assert_eq!(derive_checks(d.path(), &[]), (vec![], true));
        let d = dir_with(&[("package.json", "not json")]);
        assert_eq!(derive_checks(d.path(), &[]), (vec![], true));
    }

    #[test]
    fn python_without_tests_is_a_weak_syntax_check() {
        let d = dir_with(&[("app.py", ""), ("pyproject.toml", "")]);
        assert_eq!(
            derive_checks(d.path(), &[]),
            (vec![PY_COMPILE.into()], true)
        );
    }

    #[test]
    fn clk_and_tool_folders_are_not_the_project() {
        let d = dir_with(&[
            (".clk/venv/lib/test_x.py", ""),
            (".git/hooks/a.py", ""),
            (".hidden/test_y.py", ""),
            ("node_modules/m/test_z.py", ""),
            ("venv/lib/test_v.py", ""),
            ("target/debug/x_test.py", ""),
            ("README.md", "hi"),
        ]);
        assert_eq!(derive_checks(d.path(), &[]), (vec![], true));
    }

    fn project(dir: &Path) -> Project {
        Project {
            ws: crate::engine::store::workspace::Workspace::new(dir),
            config: Default::default(),
            providers: Default::default(),
            agents: Default::default(),
            env: crate::engine::ground::config::Env::none(),
        }
    }

    #[tokio::test]
    async fn nothing_to_run_is_weak_not_a_pass() {
        let d = dir_with(&[("notes.txt", "")]);
        let e = evaluate(&project(d.path()), &[], &CancellationToken::new()).await;
        assert!(e.ok && e.weak && e.ran.is_empty());
        assert_eq!(e.summary, "no checks found");
    }

    #[tokio::test]
    async fn the_first_failure_ends_the_run() {
        let d = dir_with(&[("ok.txt", "")]);
        let checks = vec![
            "test -f ok.txt".to_string(),
            "echo broken; exit 3".to_string(),
            "true".to_string(),
        ];
        let e = evaluate(&project(d.path()), &checks, &CancellationToken::new()).await;
        assert!(!e.ok && !e.weak);
        assert_eq!(e.ran.len(), 2);
        assert_eq!(e.ran[1].exit_code, Some(3));
        assert_eq!(e.summary, "FAIL `echo broken; exit 3` (exit 3): broken");
        let e = evaluate(&project(d.path()), &checks[..1], &CancellationToken::new()).await;
        assert!(e.ok, "{e:?}");
        assert_eq!(e.summary, "PASS 1 check: test -f ok.txt");
    }
}
