//! Scripted agents for the loop tests: one shell script plays ralph, engineer, qa, critic and
//! chief through the shell provider's command mode, steered by the provider's environment.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use clk::engine::ground::config::Env;
use clk::engine::runs::loops::LoopOptions;
use clk::engine::store::workspace::{Project, Workspace, read_jsonl};
use serde_json::Value;

/// Every agent of both loops. `$CLK_STAGE` is `<loop>-<iteration>`; the rest comes from the
/// provider's environment: FILE (what the engineer writes), BAD_FROM (from this iteration on
/// the engineer writes bad.txt instead), RALPH_STUB (ralph answers like the shell stub),
/// DONE_AFTER_QA (qa's turn asks for done with ACTION: done).
pub const AGENT: &str = r#"cat >/dev/null
n=${CLK_STAGE##*-}
file=$FILE
if [ -n "$BAD_FROM" ] && [ "$n" -ge "$BAD_FROM" ]; then file=bad.txt; fi
case "$CLK_AGENT" in
ralph)
  case "$CLK_STAGE" in
  autoresearch-*) printf 'Survey: a tiny project\nQ: question %s\nHypothesis: it works\n\nCONFIDENCE: 0.8\nNEEDS_REVIEW: no\nPROGRESS: yes\n' "$n" ;;
  *) if [ -n "$RALPH_STUB" ]; then
       printf '[shell] ralph received a prompt of 900 chars. No model is attached.\n\nCONFIDENCE: 0\nNEEDS_REVIEW: no\nPROGRESS: no\n'
     else
       printf 'Create the greeting file so the check passes\nThe check looks for it.\n\nCONFIDENCE: 0.8\nNEEDS_REVIEW: no\nPROGRESS: yes\n'
     fi ;;
  esac ;;
engineer)
  if [ "$CLK_STAGE" = "autoresearch-2" ]; then file=broken.txt; fi
  printf 'Done: wrote %s for step %s\nACTION: write\nPATH: %s\nCONTENT:\nhello %s\nEND_ACTION\nCONFIDENCE: 0.9\nNEEDS_REVIEW: no\nPROGRESS: yes\n' "$file" "$n" "$file" "$CLK_RUN_ID"
  if [ -n "$ALSO_APP" ]; then printf 'ACTION: write\nPATH: app.txt\nCONTENT:\nv2\nEND_ACTION\n'; fi ;;
qa)
  if [ -n "$DONE_AFTER_QA" ]; then printf 'ACTION: done\nREASON: qa passed\nEND_ACTION\n'; fi
  printf 'POST: qa\nBODY:\nPASS checked\nEND_POST\nCONFIDENCE: 0.9\n' ;;
critic) printf 'POST: critique\nBODY:\nThe change broke the check.\nEND_POST\nVERDICT: revise\n' ;;
chief) printf 'Reframing: try a different area.\nCONFIDENCE: 0.6\n' ;;
esac
"#;

pub fn project(dir: &Path, env: &[(&str, &str)]) -> Project {
    clk::engine::store::init::init(dir, Some("demo")).unwrap();
    let script = dir.join("../agent.sh");
    fs::write(&script, AGENT).unwrap();
    let mut p = Workspace::new(dir.canonicalize().unwrap())
        .load(&Env::none())
        .unwrap();
    p.providers.active = "shell".into();
    let shell = p.providers.providers.get_mut("shell").unwrap();
    shell.command = Some(format!("sh {}", script.display()));
    for (k, v) in env {
        shell.env.insert(k.to_string(), v.to_string());
    }
    p
}

pub fn new_dir() -> (tempfile::TempDir, PathBuf) {
    let top = tempfile::tempdir().unwrap();
    let dir = top.path().join("p");
    fs::create_dir(&dir).unwrap();
    (top, dir)
}

pub fn git_out(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn subjects(dir: &Path) -> Vec<String> {
    git_out(dir, &["log", "--format=%s"])
        .lines()
        .map(str::to_string)
        .collect()
}

pub fn experiments(p: &Project) -> Vec<Value> {
    read_jsonl(&p.ws.state_dir().join("experiments.jsonl"))
}

pub fn activity(p: &Project) -> Vec<Value> {
    read_jsonl(&p.ws.activity_log())
}

/// Dispatches per agent, from the activity log.
pub fn dispatches(p: &Project) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for e in activity(p) {
        if e["event"] == "dispatch_started" {
            *m.entry(e["agent"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
    }
    m
}

pub fn opts(max: u32, check: &str) -> LoopOptions {
    LoopOptions {
        max_iterations: max,
        dry_run: false,
        checks: vec![check.to_string()],
    }
}
