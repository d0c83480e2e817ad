//! A run killed with `kill -9` in the dashboard, then clk started again: the dashboard says a
//! run did not finish; the next run offers to resume it (yes: it continues on that branch and
//! its work arrives by the merge), or `/merge discard` drops it. The user's own files stay
//! byte-identical throughout.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::suite::tui_tmux::{Tmux, launch, project};
use crate::suite::worktree::{git, run_branches};

/// First call: leave a half-done file where it works, then hang (to be killed). Once the
/// half-done file is there (a resumed run): finish the work.
const AGENT: &str = "cat >/dev/null\n\
if [ -f half.txt ]; then\n\
  printf 'Finishing.\\nACTION: write\\nPATH: done.txt\\nCONTENT:\\nresumed\\nEND_ACTION\\nPROGRESS: yes\\n'\n\
else\n\
  echo half > half.txt\n\
  echo 'started the work'\n\
  sleep 600\n\
fi\n";

/// First call: write a file by an action (committed on the run's branch, its index kept in
/// memory). Second call: leave a half-done file and hang, to be killed between the two
/// commits. Resumed: finish the work.
const TWO_CALLS: &str = "cat >/dev/null\n\
if [ -f half.txt ]; then\n\
  printf 'Finishing.\\nACTION: write\\nPATH: done.txt\\nCONTENT:\\nresumed\\nEND_ACTION\\nPROGRESS: yes\\n'\n\
elif [ -f first.txt ]; then\n\
  echo half > half.txt\n\
  echo 'started the second batch'\n\
  sleep 600\n\
else\n\
  printf 'First.\\nACTION: write\\nPATH: first.txt\\nCONTENT:\\nfirst\\nEND_ACTION\\nPROGRESS: yes\\n'\n\
fi\n";

struct Killed {
    dir: tempfile::TempDir,
    script: PathBuf,
    t: Tmux,
    head: String,
    status: String,
}

/// A dashboard whose first run is killed mid-batch; the terminal is back at a shell prompt.
fn kill_a_run(name: &str, agent: &str) -> Option<Killed> {
    if !Tmux::available() {
        if std::env::var("CLK_REQUIRE_TMUX").as_deref() == Ok("1") {
            panic!("tmux is not installed (CLK_REQUIRE_TMUX=1)");
        }
        eprintln!("skipped: tmux is not installed");
        return None;
    }
    let dir = project();
    let script = dir.path().join("agent.sh");
    fs::write(&script, agent).unwrap();
    fs::write(dir.path().join("mine.txt"), "my own work\n").unwrap();
    let head = git(dir.path(), &["rev-parse", "HEAD"]);
    let status = user_status(dir.path());
    let t = Tmux::start(name);
    let command = format!("sh {}", script.display());
    launch(&t, dir.path(), &command);
    t.wait_for("type your idea", 20);
    t.line("Build a greeter");
    // The run's record names the clk process; the half-done file shows the agent is mid-batch.
    let runs = dir.path().join(".clk/state/runs");
    let deadline = Instant::now() + Duration::from_secs(60);
    let pid = loop {
        let rec = fs::read_dir(&runs).ok().and_then(|d| {
            d.flatten()
                .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
                .find_map(|e| {
                    let v: serde_json::Value =
                        serde_json::from_str(&fs::read_to_string(e.path()).ok()?).ok()?;
                    let path = PathBuf::from(v["path"].as_str()?);
                    path.join("half.txt")
                        .exists()
                        .then(|| v["pid"].as_u64())
                        .flatten()
                })
        });
        if let Some(pid) = rec {
            break pid;
        }
        assert!(
            Instant::now() < deadline,
            "the agent never started; the screen was:\n{}",
            t.screen()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let killed = Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    // The killed dashboard could not leave the alternate screen: the shell is back behind it.
    std::thread::sleep(Duration::from_millis(500));
    t.line("stty sane; tput rmcup; clear");
    t.wait_prompt(20);
    Some(Killed {
        dir,
        script,
        t,
        head,
        status,
    })
}

/// `git status` of the user's files (clk's own `.clk/` left out: the idea it keeps there is
/// committed on the run's branch).
fn user_status(dir: &Path) -> String {
    git(dir, &["status", "--porcelain"])
        .lines()
        .filter(|l| !l[3..].starts_with(".clk/"))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// Start the dashboard again, resume the killed run and wait for its merge: the half-done
/// file and the resumed batch arrive, the user's file is untouched.
fn resume_to_the_end(k: &Killed) {
    let dir = k.dir.path();
    launch(&k.t, dir, &format!("sh {}", k.script.display()));
    k.t.wait_for("a run that did not finish left branch clk/", 20);
    k.t.line("Keep going");
    k.t.wait_for("Resume it", 30);
    k.t.key("y");
    k.t.wait("the resumed run to be merged", 120, |s| {
        s.contains("fast-forward") || s.contains("merge commit")
    });
    k.t.wait("the run to end", 60, |s| s.contains("ready"));
    assert_eq!(fs::read_to_string(dir.join("half.txt")).unwrap(), "half\n");
    assert_eq!(
        fs::read_to_string(dir.join("done.txt")).unwrap(),
        "resumed\n"
    );
    assert_eq!(
        fs::read_to_string(dir.join("mine.txt")).unwrap(),
        "my own work\n"
    );
}

#[test]
fn a_killed_run_is_offered_again_and_resumed() {
    let Some(k) = kill_a_run("resume", AGENT) else {
        return;
    };
    let dir = k.dir.path();
    // Nothing of the run reached the user's tree.
    assert!(!dir.join("half.txt").exists());
    assert_eq!(git(dir, &["rev-parse", "HEAD"]), k.head);
    assert_eq!(user_status(dir), k.status);
    assert_eq!(run_branches(dir).len(), 1);

    resume_to_the_end(&k);
    assert!(run_branches(dir).is_empty(), "{:?}", run_branches(dir));
    assert!(
        fs::read_dir(dir.join(".clk/state/runs"))
            .map(|d| d.flatten().count() == 0)
            .unwrap_or(true),
        "the run's record is gone"
    );
    k.t.line("/quit");
    k.t.wait_prompt(10);
}

#[test]
fn a_killed_run_can_be_discarded_from_the_dashboard() {
    let Some(k) = kill_a_run("discard", AGENT) else {
        return;
    };
    let dir = k.dir.path();
    launch(&k.t, dir, &format!("sh {}", k.script.display()));
    k.t.wait_for("a run that did not finish left branch clk/", 20);
    k.t.line("/merge discard");
    k.t.wait_for("discarded clk/", 30);
    assert!(run_branches(dir).is_empty(), "{:?}", run_branches(dir));
    assert!(!dir.join("half.txt").exists());
    assert_eq!(git(dir, &["rev-parse", "HEAD"]), k.head);
    assert_eq!(user_status(dir), k.status);
    assert_eq!(
        fs::read_to_string(dir.join("mine.txt")).unwrap(),
        "my own work\n"
    );
    let worktrees = dir.join(".git/clk/worktrees");
    assert!(
        fs::read_dir(&worktrees)
            .map(|d| d.flatten().count() == 0)
            .unwrap_or(true),
        "the leftover worktree is gone"
    );
    k.t.line("/quit");
    k.t.wait_prompt(10);
}

#[test]
fn a_run_killed_between_its_commits_resumes_and_brings_both() {
    let Some(k) = kill_a_run("resume2", TWO_CALLS) else {
        return;
    };
    let dir = k.dir.path();
    assert_eq!(git(dir, &["rev-parse", "HEAD"]), k.head);
    let branches = run_branches(dir);
    assert_eq!(branches.len(), 1);
    // The first batch was committed on the run's branch before the kill.
    let first = format!("{}:first.txt", branches[0]);
    assert_eq!(git(dir, &["show", &first]), "first\n");

    resume_to_the_end(&k);
    assert_eq!(
        fs::read_to_string(dir.join("first.txt")).unwrap(),
        "first\n"
    );
    assert_eq!(user_status(dir), k.status);
    assert!(run_branches(dir).is_empty(), "{:?}", run_branches(dir));
    k.t.line("/quit");
    k.t.wait_prompt(10);
}
