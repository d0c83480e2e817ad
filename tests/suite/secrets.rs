//! Keys never leak. Fake keys sit in the environment (every vendor variable clk knows, and a
//! `CLK_*_API_KEY`) and in providers.json; the user pastes one into an idea and an objective;
//! the mock model echoes all of them in prose, a post, a file it writes, a command it runs,
//! a role it proposes and a workflow it proposes. Afterwards no file under `.clk/` (except
//! providers.json, where the user put one) and nothing in `git log -p --all` contains any key,
//! and neither does anything clk printed.

use crate::support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;

use assert_cmd::Command;
use support::mock_server::{Fallback, MockServer, Reply, Script};

const ENV_KEYS: &[(&str, &str)] = &[
    ("ANTHROPIC_API_KEY", "ant-fake-AAAA1111BBBB2222cccc"),
    ("OPENAI_API_KEY", "sk-proj-fakeOPENAI000111222333"),
    ("GEMINI_API_KEY", "gem-fake-CCCC3333DDDD4444eeee"),
    ("GOOGLE_API_KEY", "AIzaFakeGoogle0123456789abcdefXYZ"),
    ("CLK_CLAUDE_API_KEY", "clk-claude-fake-FFFF5555gggg"),
];
/// Stored by the user in providers.json for the active provider; the mock demands it.
const FILE_KEY: &str = "file-fake-key-HHHH7777iiii8888";

fn all_keys() -> Vec<&'static str> {
    ENV_KEYS.iter().map(|(_, v)| *v).chain([FILE_KEY]).collect()
}

fn clk(dir: &Path) -> Command {
    let mut c = support::clk();
    c.current_dir(dir).env("CLK_NO_TUI", "1");
    for (k, v) in ENV_KEYS {
        c.env(k, v);
    }
    c
}

/// A reply that carries every key everywhere a model could put one.
fn leaky_reply() -> String {
    let keys = all_keys().join(" ");
    format!(
        "I found these keys: {keys}\n\
         POST: finding\nTITLE: keys {keys}\nBODY:\nthe keys are {keys}\nEND_POST\n\
         ACTION: write\nPATH: notes.txt\nCONTENT:\nkeys: {keys}\nEND_ACTION\n\
         ACTION: write\nPATH: clean.txt\nCONTENT:\nnothing secret here\nEND_ACTION\n\
         ACTION: run\nCMD: echo {keys}; env | grep -i key || true\nEND_ACTION\n\
         PROPOSE_ROLE: keeper\nROLE: keeps {keys}\nPROMPT:\nYou keep {keys}. $objective\nEND_ROLE\n\
         PROPOSE_WORKFLOW: leaky\nDESCRIPTION: uses {keys}\nYAML:\nstages:\n  - id: a\n    \
         agent: engineer\n    objective: print {keys}\nEND_WORKFLOW\n\
         CONFIDENCE: 0.9\nPROGRESS: yes\n"
    )
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

fn leaks_in(what: &str, text: &str) -> Vec<String> {
    all_keys()
        .into_iter()
        .filter(|k| text.contains(k))
        .map(|k| format!("{what} contains {k}"))
        .collect()
}

#[test]
fn keys_from_the_environment_and_providers_json_never_reach_records_or_commits() {
    let mock = MockServer::start(
        Script::new(vec![Reply::text_usage(&leaky_reply(), 100, 100)])
            .fallback(Fallback::RepeatLast)
            .api_key(FILE_KEY),
    );
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let mut printed = Vec::new();
    let mut run = |c: &mut Command| {
        let out = c.output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        printed.push((format!("{c:?}"), text));
        out.status
    };
    assert!(run(clk(dir).arg("init")).success());
    assert!(
        run(clk(dir).args([
            "configure",
            "--set",
            "default_provider=openwebui",
            "--set",
            &format!("providers.openwebui.endpoint={}/v1", mock.url()),
            "--set",
            "providers.openwebui.model=m1",
            "--set",
            &format!("providers.openwebui.api_key={FILE_KEY}"),
        ]))
        .success()
    );
    let idea = format!("A tool that uses the key {} to call an API", ENV_KEYS[1].1);
    assert!(run(clk(dir).args(["idea", "--no-cast", &idea])).success());
    let objective = format!("wire in the key {FILE_KEY} and {}", ENV_KEYS[0].1);
    assert!(run(clk(dir).args(["ask", "chief", &objective])).success());
    assert!(run(clk(dir).args(["ask", "engineer", "--json", "write the notes"])).success());
    assert!(run(clk(dir).args(["status", "--json"])).success());
    assert!(run(clk(dir).args(["configure", "--show"])).success());
    assert!(mock.model_calls() >= 2);

    let mut leaks = Vec::new();
    for (i, (_, text)) in printed.iter().enumerate() {
        leaks.extend(leaks_in(&format!("the output of command #{}", i + 1), text));
    }
    let providers_json = dir.join(".clk/config/providers.json");
    for path in files_under(&dir.join(".clk")) {
        // The user put FILE_KEY in providers.json (and its backup) on purpose.
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if path == providers_json || name == "providers.json.bak" {
            continue;
        }
        let text = String::from_utf8_lossy(&fs::read(&path).unwrap()).to_string();
        leaks.extend(leaks_in(
            &path.strip_prefix(dir).unwrap().display().to_string(),
            &text,
        ));
    }
    let log = StdCommand::new("git")
        .args(["log", "-p", "--all"])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(log.status.success());
    let log = String::from_utf8_lossy(&log.stdout).to_string();
    leaks.extend(leaks_in("git log -p --all", &log));
    assert!(leaks.is_empty(), "leaks:\n{}", leaks.join("\n"));

    // The work around the keys still happened, with the keys masked.
    assert_eq!(
        fs::read_to_string(dir.join("clean.txt")).unwrap(),
        "nothing secret here\n"
    );
    assert!(
        !dir.join("notes.txt").exists(),
        "a file holding a key was written"
    );
    assert!(log.contains("<redacted: "), "{log}");
    let activity = fs::read_to_string(dir.join(".clk/logs/activity.jsonl")).unwrap();
    assert!(
        activity.contains("it holds a key"),
        "the refusal was not explained"
    );
}
