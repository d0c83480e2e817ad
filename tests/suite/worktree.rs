//! Isolation through the real binary: every run works in its own git worktree on
//! `clk/<run-id>`, and its files reach the user's tree only by clk's merge. The user's dirty
//! files stay byte-identical; a dirty file the run also changed blocks the merge with what to
//! do; `safe` autonomy leaves the branch for `clk merge`; `/undo` takes a merge back; a run
//! killed mid-batch leaves the user's tree alone and the next start reports it.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command as Std;
use std::time::{Duration, Instant};

use clk::engine::store::workspace::{Workspace, read_json, write_json};

use crate::support::clk;

/// A fresh project whose shell provider runs `script` for every agent; its config committed.
fn project(script: &str) -> (tempfile::TempDir, PathBuf) {
    let top = tempfile::tempdir().unwrap();
    let dir = top.path().join("proj");
    fs::create_dir(&dir).unwrap();
    clk().current_dir(&dir).arg("init").assert().success();
    let dir = dir.canonicalize().unwrap();
    let ws = Workspace::new(&dir);
    set_script(&ws, script);
    git(&dir, &["add", "-A"]);
    git(&dir, &["commit", "-qm", "user: config"]);
    (top, dir)
}

fn set_script(ws: &Workspace, script: &str) {
    let path = ws.config_dir().join("agent.sh");
    fs::write(&path, script).unwrap();
    let mut v = read_json(&ws.providers_file()).unwrap().unwrap_or_default();
    v["active"] = "shell".into();
    v["providers"]["shell"]["type"] = "shell".into();
    v["providers"]["shell"]["command"] = format!("sh {}", path.display()).into();
    write_json(&ws.providers_file(), &v).unwrap();
}

fn set_config(dir: &Path, key: &str, value: serde_json::Value) {
    let ws = Workspace::new(dir);
    let mut v = read_json(&ws.config_file()).unwrap().unwrap();
    v[key] = value;
    write_json(&ws.config_file(), &v).unwrap();
}

pub(crate) fn git(dir: &Path, args: &[&str]) -> String {
    let out = Std::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=user", "-c", "user.email=user@example.com"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `clk ask engineer ...` in `dir`; its stdout and whether it succeeded.
fn ask(dir: &Path) -> (String, bool) {
    let out = clk()
        .current_dir(dir)
        .args(["ask", "engineer", "do the work"])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (text, out.status.success())
}

pub(crate) fn run_branches(dir: &Path) -> Vec<String> {
    git(
        dir,
        &["branch", "--list", "clk/*", "--format=%(refname:short)"],
    )
    .lines()
    .map(str::to_string)
    .collect()
}

fn worktrees(dir: &Path) -> Vec<PathBuf> {
    fs::read_dir(dir.join(".git/clk/worktrees"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}

const WRITE_APP: &str =
    "cat >/dev/null\nprintf 'ACTION: write\\nPATH: app.py\\nCONTENT:\\nprint(1)\\nEND_ACTION\\n'\n";

#[test]
fn files_arrive_by_fast_forward_and_the_users_dirty_files_stay() {
    let (_t, dir) = project(WRITE_APP);
    fs::write(dir.join("README.md"), "mine\n").unwrap();
    git(&dir, &["add", "README.md"]);
    git(&dir, &["commit", "-qm", "user: readme"]);
    fs::write(dir.join("README.md"), "mine, edited\n").unwrap();
    fs::write(dir.join("scratch.txt"), "untracked\n").unwrap();

    let (out, ok) = ask(&dir);
    assert!(ok, "{out}");
    assert!(out.contains("agents work on branch clk/"), "{out}");
    assert!(out.contains("(fast-forward): app.py"), "{out}");
    assert_eq!(
        fs::read_to_string(dir.join("app.py")).unwrap(),
        "print(1)\n"
    );
    assert_eq!(
        fs::read_to_string(dir.join("README.md")).unwrap(),
        "mine, edited\n"
    );
    assert_eq!(
        fs::read_to_string(dir.join("scratch.txt")).unwrap(),
        "untracked\n"
    );
    // A fast-forward: the agent's commit sits right on the user's, no merge commit.
    assert_eq!(
        git(&dir, &["rev-list", "--merges", "--count", "HEAD"]).trim(),
        "0"
    );
    assert!(git(&dir, &["log", "-1", "--format=%s"]).contains("[engineer]"));
    let status = git(&dir, &["status", "--porcelain"]);
    assert!(
        status.contains(" M README.md") && status.contains("?? scratch.txt"),
        "{status}"
    );
    assert!(!status.contains("app.py"), "{status}");
    assert!(run_branches(&dir).is_empty(), "{:?}", run_branches(&dir));
    assert!(worktrees(&dir).is_empty());
    // The worktree waits idle in the pool for the next run: detached, on no branch.
    let list = git(&dir, &["worktree", "list"]);
    assert_eq!(list.lines().count(), 2, "{list}");
    let idle = pooled(&dir);
    assert_eq!(idle.len(), 1);
    assert!(list.contains("(detached HEAD)"), "{list}");
}

fn pooled(dir: &Path) -> Vec<PathBuf> {
    fs::read_dir(dir.join(".git/clk/pool"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}

#[test]
fn the_next_run_reuses_an_idle_worktree_with_nothing_of_the_last_run_left() {
    // Each run leaves an ignored scratch file where it works and says whether it found one.
    let script = "cat >/dev/null\n\
                  if [ -e scratch.tmp ] || [ -e cache ]; then s=stale; else s=clean; fi\n\
                  echo x > scratch.tmp\nmkdir -p cache && echo x > cache/x.tmp\n\
                  printf 'ACTION: write\\nPATH: seen-%s.txt\\nCONTENT:\\n%s\\nEND_ACTION\\n' \"$CLK_RUN_ID\" \"$s\"\n";
    let (_t, dir) = project(script);
    let ignore = fs::read_to_string(dir.join(".gitignore")).unwrap();
    fs::write(dir.join(".gitignore"), format!("{ignore}*.tmp\ncache/\n")).unwrap();
    git(&dir, &["add", "-A"]);
    git(&dir, &["commit", "-qm", "user: ignore scratch"]);

    for round in 1..=3 {
        let (out, ok) = ask(&dir);
        assert!(ok, "{out}");
        assert!(out.contains("(fast-forward): seen-"), "{out}");
        // One idle worktree, reused every time: never a second one.
        assert_eq!(pooled(&dir).len(), 1, "round {round}");
        assert!(worktrees(&dir).is_empty());
        assert!(run_branches(&dir).is_empty());
        let idle = &pooled(&dir)[0];
        assert!(!idle.join("scratch.tmp").exists() && !idle.join("cache").exists());
    }
    let seen: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("seen-"))
        .map(|e| fs::read_to_string(e.path()).unwrap())
        .collect();
    assert_eq!(seen, vec!["clean\n"; 3]);
    // The reused worktree sees the files earlier runs merged: it starts from the user's HEAD.
    let idle = &pooled(&dir)[0];
    assert_eq!(
        git(idle, &["rev-parse", "HEAD"]),
        git(&dir, &["rev-parse", "HEAD"])
    );
    // An idle worktree is no leftover.
    let out = clk().current_dir(&dir).arg("doctor").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("did not finish"), "{text}");
    assert!(
        text.contains("1 idle worktree(s) kept for the next runs"),
        "{text}"
    );
    assert_eq!(git(&dir, &["status", "--porcelain"]), "");

    // Cleaning up drops it.
    let out = clk()
        .current_dir(&dir)
        .args(["merge", "--discard"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(pooled(&dir).is_empty());
    assert_eq!(git(&dir, &["worktree", "list"]).lines().count(), 1);
}

#[test]
fn a_dirty_file_the_run_changed_blocks_the_merge_until_the_user_commits() {
    let base = "one\ntwo\nthree\nfour\nfive\nsix\nseven\n";
    let edit = "cat >/dev/null\nprintf 'ACTION: edit\\nPATH: notes.txt\\nOLD:\\nseven\\nNEW:\\nseven!\\nEND_ACTION\\n'\n";
    let (_t, dir) = project(edit);
    fs::write(dir.join("notes.txt"), base).unwrap();
    git(&dir, &["add", "notes.txt"]);
    git(&dir, &["commit", "-qm", "user: notes"]);
    let mine = base.replace("one\n", "ONE\n");
    fs::write(dir.join("notes.txt"), &mine).unwrap();

    let (out, _) = ask(&dir);
    assert!(
        out.contains("commit or stash your changes to notes.txt, then run `clk merge`"),
        "{out}"
    );
    assert_eq!(fs::read_to_string(dir.join("notes.txt")).unwrap(), mine);
    assert_eq!(run_branches(&dir).len(), 1);

    // The user commits; the merge now joins both with a merge commit.
    git(&dir, &["commit", "-qam", "user: ONE"]);
    let out = clk().current_dir(&dir).arg("merge").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("(merge commit): notes.txt"), "{text}");
    assert_eq!(
        fs::read_to_string(dir.join("notes.txt")).unwrap(),
        base.replace("one\n", "ONE\n")
            .replace("seven\n", "seven!\n")
    );
    assert_eq!(
        git(&dir, &["rev-list", "--merges", "--count", "HEAD"]).trim(),
        "1"
    );
    assert!(run_branches(&dir).is_empty());
    assert_eq!(git(&dir, &["status", "--porcelain"]), "");

    // /undo takes the merge back as a whole.
    let out = clk().current_dir(&dir).arg("undo").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("clk-merge"), "{text}");
    let out = clk()
        .current_dir(&dir)
        .args(["undo", "--confirm"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(fs::read_to_string(dir.join("notes.txt")).unwrap(), mine);
}

#[test]
fn safe_autonomy_headless_leaves_the_branch_for_clk_merge() {
    let (_t, dir) = project(WRITE_APP);
    set_config(&dir, "autonomy", "safe".into());
    git(&dir, &["commit", "-qam", "user: safe"]);
    let (out, _) = ask(&dir);
    assert!(out.contains("is not merged: autonomy is safe"), "{out}");
    assert!(!dir.join("app.py").exists());
    assert_eq!(run_branches(&dir).len(), 1);
    assert!(
        worktrees(&dir).is_empty(),
        "the worktree goes; the branch keeps the work"
    );

    // Meanwhile the user commits: the merge is a merge commit.
    fs::write(dir.join("other.txt"), "x\n").unwrap();
    git(&dir, &["add", "other.txt"]);
    git(&dir, &["commit", "-qm", "user: other"]);
    let out = clk().current_dir(&dir).arg("merge").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("(merge commit): app.py"), "{text}");
    assert!(dir.join("app.py").is_file());
    assert!(run_branches(&dir).is_empty());

    // Nothing waits any more.
    let out = clk().current_dir(&dir).arg("merge").output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("no run branch waits"));
}

#[test]
fn a_killed_run_leaves_the_users_tree_alone_and_is_reported_next_time() {
    // The agent writes a half-done file where it works, then hangs.
    let hang = "cat >/dev/null\necho half > half.txt\nsleep 30\n";
    let (_t, dir) = project(hang);
    fs::write(dir.join("mine.txt"), "my work\n").unwrap();
    let before = git(&dir, &["status", "--porcelain"]);
    let head = git(&dir, &["rev-parse", "HEAD"]);

    let mut child = Std::new(env!("CARGO_BIN_EXE_clk"));
    for name in crate::support::clk_env_vars() {
        child.env_remove(name);
    }
    let mut child = child
        .current_dir(&dir)
        .args(["ask", "engineer", "do the work"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let half = loop {
        if let Some(p) = worktrees(&dir)
            .into_iter()
            .map(|w| w.join("half.txt"))
            .find(|p| p.exists())
        {
            break p;
        }
        assert!(Instant::now() < deadline, "the agent never started");
        std::thread::sleep(Duration::from_millis(50));
    };
    child.kill().unwrap();
    child.wait().unwrap();

    assert!(
        half.is_file(),
        "the half-done batch stays in the run's worktree"
    );
    assert!(!dir.join("half.txt").exists());
    assert_eq!(git(&dir, &["status", "--porcelain"]), before);
    assert_eq!(git(&dir, &["rev-parse", "HEAD"]), head);
    assert_eq!(
        fs::read_to_string(dir.join("mine.txt")).unwrap(),
        "my work\n"
    );

    // The doctor lists it.
    let out = clk().current_dir(&dir).arg("doctor").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("a run that did not finish left clk/"),
        "{text}"
    );

    // The next start says so in one line and leaves it.
    set_script(
        &Workspace::new(&dir),
        "cat >/dev/null\necho nothing to do\n",
    );
    let (out, _) = ask(&dir);
    assert!(
        out.contains("a run that did not finish left branch clk/"),
        "{out}"
    );
    assert!(half.is_file());

    // `clk merge --discard` drops it.
    let out = clk()
        .current_dir(&dir)
        .args(["merge", "--discard"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(!half.exists());
    assert!(run_branches(&dir).is_empty(), "{:?}", run_branches(&dir));
    assert!(!dir.join("half.txt").exists());
}

#[test]
fn aggressive_autonomy_merges_and_pushes() {
    let (top, dir) = project(WRITE_APP);
    set_config(&dir, "autonomy", "aggressive".into());
    git(&dir, &["commit", "-qam", "user: aggressive"]);
    let remote = top.path().join("remote.git");
    let out = Std::new("git")
        .args(["init", "-q", "--bare"])
        .arg(&remote)
        .output()
        .unwrap();
    assert!(out.status.success());
    git(&dir, &["remote", "add", "origin", remote.to_str().unwrap()]);
    git(&dir, &["push", "-q", "-u", "origin", "HEAD"]);

    let (out, ok) = ask(&dir);
    assert!(ok, "{out}");
    assert!(out.contains("(fast-forward): app.py"), "{out}");
    let local = git(&dir, &["rev-parse", "HEAD"]);
    let pushed = git(&remote, &["rev-parse", "refs/heads/main"]);
    assert_eq!(local, pushed, "{out}");
}

#[test]
fn a_cycle_that_passed_its_checks_is_merged_before_the_run_ends() {
    // Cycle 1 writes app.py; cycle 2 writes seen.txt. The merge of cycle 1 comes before
    // cycle 2 starts.
    let script = "cat >/dev/null\nif [ ! -f app.py ]; then f=app.py; else f=seen.txt; fi\n\
                  printf 'ACTION: write\\nPATH: %s\\nCONTENT:\\nok\\nEND_ACTION\\nPROGRESS: yes\\n' \"$f\"\n";
    let (_t, dir) = project(script);
    fs::write(
        dir.join(".clk/config/workflows/engineering.yaml"),
        "name: engineering\nstages:\n  - id: build\n    agent: engineer\n    objective: Build the app.\n    validation: test -f app.py\n",
    )
    .unwrap();
    git(&dir, &["add", "-A"]);
    git(&dir, &["commit", "-qm", "user: workflow"]);
    let text = run(&dir, "2");
    let merged = text
        .find("into your branch (fast-forward): app.py")
        .unwrap_or_else(|| panic!("{text}"));
    let cycle2 = text
        .match_indices("stage engineering/build started")
        .nth(1)
        .map(|(i, _)| i)
        .unwrap_or_else(|| panic!("{text}"));
    assert!(merged < cycle2, "{text}");
    assert!(text.contains("(fast-forward): seen.txt"), "{text}");
    assert!(dir.join("seen.txt").is_file());
    assert!(run_branches(&dir).is_empty(), "{text}");
}

/// `clk run --max-cycles <cycles>`: what it printed.
fn run(dir: &Path, cycles: &str) -> String {
    let out = clk()
        .current_dir(dir)
        .args(["run", "--max-cycles", cycles])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A workflow whose qa stage checks for tests_pass.txt after the engineer builds; committed.
fn build_then_check(dir: &Path) {
    fs::write(
        dir.join(".clk/config/workflows/engineering.yaml"),
        "name: engineering\nstages:\n  - id: build\n    agent: engineer\n    objective: Build the app.\n\
         \x20 - id: check\n    agent: qa\n    depends_on: [build]\n    objective: Test it.\n    validation: test -f tests_pass.txt\n",
    )
    .unwrap();
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-qm", "user: workflow"]);
}

#[test]
fn balanced_keeps_a_run_whose_last_check_failed_on_its_branch() {
    // The engineer builds app.py; qa's stage then fails its validation.
    let script = "cat >/dev/null\ncase \"$CLK_AGENT\" in\n\
                  engineer) printf 'ACTION: write\\nPATH: app.py\\nCONTENT:\\nprint(1)\\nEND_ACTION\\nPROGRESS: yes\\n' ;;\n\
                  *) printf 'Checked.\\nPROGRESS: yes\\n' ;;\nesac\n";
    let (_t, dir) = project(script);
    build_then_check(&dir);
    let head = git(&dir, &["rev-parse", "HEAD"]);
    let text = run(&dir, "1");
    assert!(
        text.contains("is not merged: the run's last check failed: `test -f tests_pass.txt` of stage check failed (exit 1)"),
        "{text}"
    );
    assert!(
        text.contains("`clk merge` (or /merge) takes it anyway; `clk merge --discard` drops it"),
        "{text}"
    );
    assert!(!dir.join("app.py").exists(), "not merged blindly");
    assert_eq!(git(&dir, &["rev-parse", "HEAD"]), head);
    assert_eq!(run_branches(&dir).len(), 1, "{text}");

    // The user takes it anyway.
    let out = clk().current_dir(&dir).arg("merge").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert_eq!(
        fs::read_to_string(dir.join("app.py")).unwrap(),
        "print(1)\n"
    );
    assert!(run_branches(&dir).is_empty());
}

#[test]
fn balanced_merges_a_run_whose_last_check_passed_after_an_earlier_failure() {
    // The check fails in cycle 1 (nothing to merge then) and passes in cycle 2.
    let script = "cat >/dev/null\ncase \"$CLK_AGENT\" in\n\
                  engineer) if [ -f app.py ]; then f=tests_pass.txt; else f=app.py; fi\n\
                  printf 'ACTION: write\\nPATH: %s\\nCONTENT:\\nok\\nEND_ACTION\\nPROGRESS: yes\\n' \"$f\" ;;\n\
                  *) printf 'Checked.\\nPROGRESS: yes\\n' ;;\nesac\n";
    let (_t, dir) = project(script);
    build_then_check(&dir);
    let text = run(&dir, "2");
    assert!(!text.contains("is not merged"), "{text}");
    assert!(dir.join("app.py").is_file(), "{text}");
    assert!(dir.join("tests_pass.txt").is_file(), "{text}");
    assert!(run_branches(&dir).is_empty(), "{text}");
}
