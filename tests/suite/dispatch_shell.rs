//! Whole dispatches through the real binary with the shell provider in command mode: a script
//! plays the agent, so the prompt, the gate, the commit and the records are all real.

use crate::support;

use std::fs;
use std::path::Path;
use std::process::Command as StdCommand;

use assert_cmd::Command;
use predicates::prelude::*;

fn clk(dir: &Path) -> Command {
    let mut c = support::clk();
    c.current_dir(dir).env("CLK_NO_TUI", "1");
    c
}

/// A project whose shell provider runs `script` (a file written in the project's parent).
fn project_with_agent(script: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("proj");
    fs::create_dir(&root).unwrap();
    clk(&root).arg("init").assert().success();
    let agent = d.path().join("agent.sh");
    fs::write(&agent, script).unwrap();
    clk(&root)
        .args([
            "configure",
            "--set",
            &format!("providers.shell.command=sh {}", agent.display()),
        ])
        .assert()
        .success();
    // The agent program keeps its prompt beside itself, outside the project: the sandbox
    // every shell provider command runs in lets it write there only when told.
    let cfg = root.join(".clk/config/clk.config.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&cfg).unwrap()).unwrap();
    v["sandbox"] = serde_json::json!({ "writable": [d.path().canonicalize().unwrap()] });
    fs::write(&cfg, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    (d, root)
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = StdCommand::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

const WRITER: &str = r#"cat > "$(dirname "$0")/last-prompt.txt"
cat <<'EOF'
I will add the module.
ACTION: write
PATH: src/hello.py
CONTENT:
def hello():
    return "hi"
END_ACTION
ACTION: write
PATH: ../escape.txt
CONTENT:
nope
END_ACTION
ACTION: run
CMD: test -f src/hello.py
END_ACTION
POST: finding
TITLE: hello added
PRODUCES: hello
BODY:
hello() returns hi
END_POST
CONFIDENCE: 0.9
PROGRESS: yes
EOF
"#;

#[test]
fn an_agent_batch_is_applied_jailed_committed_and_recorded() {
    let (d, root) = project_with_agent(WRITER);
    fs::write(root.join("user-notes.txt"), "my uncommitted notes\n").unwrap();
    clk(&root)
        .args(["ask", "engineer", "add", "a", "hello", "module"])
        .assert()
        .success()
        .stdout(predicate::str::contains("engineer: write src/hello.py"))
        .stdout(predicate::str::contains("refused write ../escape.txt"));

    assert_eq!(
        fs::read_to_string(root.join("src/hello.py")).unwrap(),
        "def hello():\n    return \"hi\"\n"
    );
    assert!(!d.path().join("escape.txt").exists());

    // The prompt opened with the trace line and carried the objective.
    let prompt = fs::read_to_string(d.path().join("last-prompt.txt")).unwrap();
    let first = prompt.lines().next().unwrap();
    assert!(
        first.starts_with("[clk] agent=engineer stage=none run="),
        "{first}"
    );
    assert!(prompt.contains("add a hello module"));
    assert!(prompt.contains("## Action protocol (executed by the harness)"));

    // One commit for the batch, by the agent, with only its file; the user's file untouched.
    let log = git(&root, &["log", "--format=%an|%s"]);
    let top = log.lines().next().unwrap();
    assert_eq!(top, "engineer (clk)|[engineer] update src/hello.py");
    let files = git(&root, &["show", "--name-only", "--format=", "HEAD"]);
    assert_eq!(files.trim(), "src/hello.py");
    let body = git(&root, &["log", "-1", "--format=%b"]);
    assert!(body.contains("Files changed:\n  - src/hello.py"), "{body}");
    assert!(body.contains("$ test -f src/hello.py (exit 0)"), "{body}");
    assert!(body.contains("Refused actions:"), "{body}");
    assert!(body.contains("Tokens: total="), "{body}");
    assert_eq!(
        fs::read_to_string(root.join("user-notes.txt")).unwrap(),
        "my uncommitted notes\n"
    );
    assert!(git(&root, &["status", "--porcelain"]).contains("?? user-notes.txt"));

    // Records: run folder, memory line, activity events, blackboard post.
    let runs: Vec<_> = fs::read_dir(root.join(".clk/runs")).unwrap().collect();
    assert_eq!(runs.len(), 1);
    let run = runs[0].as_ref().unwrap().path();
    for f in ["prompt.txt", "response.txt", "meta.json"] {
        assert!(run.join(f).is_file(), "{f}");
    }
    let meta: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(run.join("meta.json")).unwrap()).unwrap();
    assert_eq!(meta["ok"], true);
    assert_eq!(meta["usage"]["estimated"], true);
    let memory = fs::read_to_string(root.join(".clk/state/agent_memory.jsonl")).unwrap();
    assert_eq!(memory.lines().count(), 1);
    let activity = fs::read_to_string(root.join(".clk/logs/activity.jsonl")).unwrap();
    for ev in [
        "dispatch_started",
        "agent_output",
        "usage_recorded",
        "dispatch_finished",
        "post_added",
        "\"decision\":\"applied\"",
        "\"decision\":\"rejected\"",
        "command_finished",
        "committed",
    ] {
        assert!(activity.contains(ev), "activity.jsonl lacks {ev}");
    }
    // A command's own line comes before what it printed and before its end.
    let started = activity
        .find("\"command_started\"")
        .expect("command_started");
    assert!(started < activity.find("\"command_finished\"").unwrap());
    assert_eq!(
        fs::read_dir(root.join(".clk/blackboard")).unwrap().count(),
        1
    );
}

#[test]
fn an_agent_never_overwrites_uncommitted_user_work() {
    let script = "cat >/dev/null\nprintf 'ACTION: write\\nPATH: notes.txt\\nCONTENT:\\nagent text\\nEND_ACTION\\n'\n";
    let (_d, root) = project_with_agent(script);
    fs::write(root.join("notes.txt"), "my draft\n").unwrap();
    clk(&root)
        .args(["ask", "engineer", "rewrite notes"])
        .assert()
        .success()
        .stdout(predicate::str::contains("uncommitted changes"));
    assert_eq!(
        fs::read_to_string(root.join("notes.txt")).unwrap(),
        "my draft\n"
    );
    assert_eq!(git(&root, &["log", "--format=%s"]).lines().count(), 1);
}

#[test]
fn json_output_is_one_event_per_line() {
    let (_d, root) = project_with_agent(WRITER);
    let out = clk(&root)
        .args(["--json", "ask", "engineer", "go"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    let events: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    // The run gets its own worktree first, then the dispatch starts.
    assert_eq!(events[0]["event"], "worktree_created");
    assert_eq!(events[1]["event"], "dispatch_started");
    assert!(events.iter().any(|e| e["event"] == "committed"));
}

#[test]
fn dry_run_renders_the_prompt_and_changes_nothing() {
    let (d, root) = project_with_agent(WRITER);
    clk(&root)
        .args(["ask", "--dry-run", "engineer", "go"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Dry run: prompt saved"));
    assert!(
        !d.path().join("last-prompt.txt").exists(),
        "the provider was called"
    );
    assert!(!root.join("src/hello.py").exists());
    let run = fs::read_dir(root.join(".clk/runs"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    assert!(
        fs::read_to_string(run.join("prompt.txt"))
            .unwrap()
            .starts_with("[clk] agent=engineer")
    );
}

#[test]
fn a_failing_provider_is_a_clean_failure() {
    let (_d, root) = project_with_agent("echo 'model exploded' >&2; exit 3\n");
    clk(&root)
        .args(["ask", "engineer", "go"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "engineer: failed: shell command exited with code 3",
        ));
}

#[test]
fn the_built_in_shell_reply_changes_nothing_and_claims_no_progress() {
    let d = tempfile::tempdir().unwrap();
    clk(d.path()).arg("init").assert().success();
    clk(d.path())
        .args(["ask", "engineer", "build it"])
        .assert()
        .success()
        .stdout(predicate::str::contains("No model is attached"));
    let run = fs::read_dir(d.path().join(".clk/runs"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    assert!(
        fs::read_to_string(run.join("response.txt"))
            .unwrap()
            .contains("PROGRESS: no")
    );
    assert_eq!(git(d.path(), &["log", "--format=%s"]).lines().count(), 1);
}

#[test]
fn secrets_never_reach_files_or_commits() {
    let secret = "sk-test-SUPERSECRETVALUE-0123456789";
    let script = "cat >/dev/null\necho \"key is $CLK_OPENWEBUI_API_KEY\"\nprintf 'ACTION: write\\nPATH: leak.txt\\nCONTENT:\\nnothing secret\\nEND_ACTION\\n'\n";
    let (_d, root) = project_with_agent(script);
    clk(&root)
        .env("CLK_OPENWEBUI_API_KEY", secret)
        .env("OPENAI_API_KEY", "another-secret-value-xyz")
        .args(["ask", "engineer", "use key another-secret-value-xyz"])
        .assert()
        .success();
    let mut stack = vec![root.join(".clk")];
    while let Some(p) = stack.pop() {
        for e in fs::read_dir(&p).unwrap() {
            let path = e.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let text = String::from_utf8_lossy(&fs::read(&path).unwrap()).into_owned();
                assert!(!text.contains(secret), "{} holds the key", path.display());
                assert!(
                    !text.contains("another-secret-value-xyz"),
                    "{} holds a key",
                    path.display()
                );
            }
        }
    }
    let log = git(&root, &["log", "-p", "--all"]);
    assert!(!log.contains(secret) && !log.contains("another-secret-value-xyz"));
}
