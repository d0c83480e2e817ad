//! Settings and workflows edited while headless work runs, through the real binary against the
//! mock model server: `clk run` takes a provider switch and a workflow edit at its next cycle,
//! and a settings edit at its next stage, a task an edit at its next turn,
//! `clk loop` a raised budget cap at its next model call (and tells it at its next iteration), `clk work` an edited model at its next
//! task; a broken workflow edit is told once and the run goes on with the one before it, and
//! `clk "idea"` goes on past a settings file broken between its steps.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::tasks::project;
use crate::support::clk;
use crate::support::mock_server::{Fallback, MockServer, Reply, Script};

/// A reply that changes a file, so each cycle or iteration counts as progress.
fn reply(file: &str) -> String {
    format!(
        "Writing it.\nACTION: write\nPATH: {file}\nCONTENT:\nnotes\nEND_ACTION\n\
         CONFIDENCE: 0.8\nPROGRESS: yes\n"
    )
}

/// `clk ARGS` in `dir`, headless, with the robustness knobs that add model calls off.
fn headless(dir: &Path, args: &[&str]) -> assert_cmd::Command {
    let mut c = clk();
    c.current_dir(dir).env("CLK_NO_TUI", "1").args(args);
    for (k, v) in crate::support::mock_project::KNOBS_OFF {
        c.env(k, v);
    }
    c.env("CLK_SUPERVISE_STALL_RESCUE", "false");
    c
}

/// Start `cmd`; wait until `mock` has been asked `calls` times, then call `edit`; the output.
fn edit_after(
    mut cmd: assert_cmd::Command,
    mock: &MockServer,
    calls: usize,
    edit: impl FnOnce(),
) -> (Option<i32>, String) {
    let running = std::thread::spawn(move || cmd.output().unwrap());
    let deadline = Instant::now() + Duration::from_secs(60);
    while mock.model_calls() < calls {
        assert!(Instant::now() < deadline, "the model was never asked");
        std::thread::sleep(Duration::from_millis(20));
    }
    edit();
    let out = running.join().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code(), text)
}

/// Change a JSON file and save it whole, as an editor does (a temp file renamed over it), so
/// clk never reads it half-written.
fn edit_json(path: &Path, change: impl FnOnce(&mut Value)) {
    let mut v: Value = serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap();
    change(&mut v);
    let name = path.file_name().unwrap().to_string_lossy();
    let tmp = path.with_file_name(format!(".{name}.swp"));
    fs::write(&tmp, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    fs::rename(&tmp, path).unwrap();
}

/// Run `cmd`; once the model was asked, edit the model in `dir`'s providers.json: the next
/// call asks for the edited one, and the edit is told once.
fn the_second_call_takes_an_edited_model(cmd: assert_cmd::Command, mock: &MockServer, dir: &Path) {
    let providers = dir.join(".clk/config/providers.json");
    let (_, out) = edit_after(cmd, mock, 1, || {
        edit_json(&providers, |v| {
            v["providers"]["ollama"]["model"] = "edited-model".into()
        });
    });
    let models: Vec<Value> = mock
        .model_requests()
        .iter()
        .map(|r| r.json.as_ref().unwrap()["model"].clone())
        .collect();
    assert_eq!(models, ["test-model", "edited-model"], "{out}");
    assert_eq!(out.matches("settings reloaded:").count(), 1, "{out}");
}

/// `clk task add ARGS` in `dir`, which must succeed.
fn add_task(dir: &Path, args: &[&str]) {
    let out = clk()
        .current_dir(dir)
        .args(["task", "add"])
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
}

fn one_stage(dir: &Path, objective: &str) {
    fs::write(
        dir.join(".clk/config/workflows/one.yaml"),
        format!(
            "name: one\nstages:\n  - id: build\n    agent: engineer\n    objective: {objective}\n"
        ),
    )
    .unwrap();
}

fn prompt(r: &crate::support::mock_server::Recorded) -> String {
    r.json.as_ref().unwrap()["messages"][0]["content"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn a_run_takes_a_provider_switch_and_a_workflow_edit_at_its_next_cycle() {
    let first = MockServer::start(
        Script::new(vec![Reply::delay(1500, Reply::text(&reply("a.txt")))])
            .fallback(Fallback::RepeatLast),
    );
    let second = MockServer::start(
        Script::new(vec![Reply::text(&reply("b.txt"))]).fallback(Fallback::RepeatLast),
    );
    let (_t, dir) = project(&first);
    let providers = dir.join(".clk/config/providers.json");
    edit_json(&providers, |v| {
        v["providers"]["alt"] = serde_json::json!({
            "type": "ollama", "endpoint": second.url(), "model": "alt-model"
        });
    });
    one_stage(&dir, "Write the notes.");
    let run = headless(&dir, &["run", "--workflow", "one", "--max-cycles", "2"]);
    let (_, out) = edit_after(run, &first, 1, || {
        edit_json(&providers, |v| v["active"] = "alt".into());
        one_stage(&dir, "Write the changelog.");
    });
    assert_eq!(
        first.model_calls(),
        1,
        "cycle 2 went to the new provider:\n{out}"
    );
    let asked = second.model_requests();
    assert_eq!(asked.len(), 1, "{out}");
    assert_eq!(asked[0].json.as_ref().unwrap()["model"], "alt-model");
    assert!(prompt(&asked[0]).contains("Write the changelog."), "{out}");
    assert_eq!(out.matches("settings reloaded:").count(), 1, "{out}");
}

#[test]
fn a_stage_takes_a_settings_edit_made_while_the_stage_before_it_ran() {
    let mock = MockServer::start(
        Script::new(vec![Reply::delay(1500, Reply::text(&reply("a.txt")))])
            .fallback(Fallback::Reply(Reply::text(&reply("b.txt")))),
    );
    let (_t, dir) = project(&mock);
    fs::write(
        dir.join(".clk/config/workflows/two.yaml"),
        "name: two\nstages:\n  - id: build\n    agent: engineer\n    objective: Write a.\n\
         \x20 - id: check\n    agent: engineer\n    depends_on: [build]\n    objective: Write b.\n",
    )
    .unwrap();
    let run = headless(&dir, &["run", "--workflow", "two", "--max-cycles", "1"]);
    the_second_call_takes_an_edited_model(run, &mock, &dir);
}

#[test]
fn a_broken_workflow_edit_is_told_once_and_the_run_goes_on_with_the_one_before() {
    let mock = MockServer::start(
        Script::new(vec![Reply::delay(1500, Reply::text(&reply("a.txt")))])
            .fallback(Fallback::RepeatLast),
    );
    let (_t, dir) = project(&mock);
    one_stage(&dir, "Write the notes.");
    let run = headless(&dir, &["run", "--workflow", "one", "--max-cycles", "3"]);
    let (_, out) = edit_after(run, &mock, 1, || {
        fs::write(
            dir.join(".clk/config/workflows/one.yaml"),
            "name: one\nstages:\n  - id: build\n    agent: [open\n",
        )
        .unwrap();
    });
    assert_eq!(mock.model_calls(), 3, "every cycle ran:\n{out}");
    for r in mock.model_requests() {
        assert!(prompt(&r).contains("Write the notes."), "{out}");
    }
    let told: Vec<&str> = out.lines().filter(|l| l.contains("one.yaml")).collect();
    assert_eq!(told.len(), 1, "{out}");
    assert!(
        told[0].contains("line 4") && told[0].contains("the settings before this edit stay"),
        "{out}"
    );
}

#[test]
fn a_loop_takes_a_raised_budget_cap_at_its_next_model_call() {
    // $1 per million tokens each way: each call costs $0.002.
    let mock = MockServer::start(
        Script::new(vec![
            Reply::text_usage(&reply("a.txt"), 1_000, 1_000),
            Reply::delay(1500, Reply::text_usage(&reply("b.txt"), 1_000, 1_000)),
            Reply::text_usage(&reply("c.txt"), 1_000, 1_000),
        ])
        .fallback(Fallback::RepeatLast),
    );
    let (_t, dir) = project(&mock);
    let providers = dir.join(".clk/config/providers.json");
    edit_json(&providers, |v| {
        v["providers"]["ollama"]["price"] =
            serde_json::json!({"input_per_mtok": 1, "output_per_mtok": 1});
    });
    let config = dir.join(".clk/config/clk.config.json");
    // $0.003: two calls take spend to $0.004, and the third would be refused.
    edit_json(&config, |v| v["budget"]["session_usd_cap"] = 0.003.into());
    let looped = headless(&dir, &["loop", "--max-iterations", "2"]);
    let (code, out) = edit_after(looped, &mock, 2, || {
        edit_json(&config, |v| v["budget"]["session_usd_cap"] = 1.into());
    });
    assert!(!out.contains("stopped by the budget"), "{out}");
    assert_eq!(code, Some(0), "{out}");
    assert!(mock.model_calls() > 3, "both iterations ran:\n{out}");
    // Told once, at the second iteration.
    assert_eq!(out.matches("settings reloaded:").count(), 1, "{out}");
}

#[test]
fn a_worker_takes_an_edited_setting_for_its_next_task() {
    let mock = MockServer::start(
        Script::new(vec![
            super::tasks::writes("one.txt", 1500),
            super::tasks::writes("two.txt", 10),
        ])
        .fallback(Fallback::RepeatLast),
    );
    let (_t, dir) = project(&mock);
    for what in ["write one.txt", "write two.txt"] {
        add_task(&dir, &[what]);
    }
    let work = headless(&dir, &["work", "--workers", "1", "--until-idle"]);
    the_second_call_takes_an_edited_model(work, &mock, &dir);
}

#[test]
fn a_task_takes_a_settings_edit_made_during_its_turn_at_its_next_turn() {
    // Turn 1's handoff is not JSON, so the same task takes a second turn.
    let mock = MockServer::start(Script::new(vec![
        Reply::delay(
            1500,
            Reply::text("ACTION: write\nPATH: a.txt\nCONTENT:\na\nEND_ACTION\nHANDOFF: soon\n"),
        ),
        Reply::text(
            "HANDOFF: {\"summary\": \"wrote a.txt\", \"changed_files\": [\"a.txt\"], \
             \"checklist\": [{\"item\": \"write a.txt\", \"status\": \"done\"}], \
             \"open_questions\": [], \"next_action\": \"review\"}\n",
        ),
    ]));
    let (_t, dir) = project(&mock);
    add_task(&dir, &["write a.txt", "--flow", "duo"]);
    let work = headless(&dir, &["work", "--workers", "1", "--until-idle"]);
    the_second_call_takes_an_edited_model(work, &mock, &dir);
}

#[test]
fn clk_idea_keeps_the_last_good_settings_when_a_file_breaks_between_its_steps() {
    use std::io::{BufRead, BufReader};
    let d = tempfile::tempdir().unwrap();
    // The shell provider with no model: a rehearsal, every step once.
    let mut c = crate::support::clk_process();
    c.current_dir(d.path())
        .env("CLK_NO_TUI", "1")
        .env("CLK_PROVIDER", "shell")
        .arg("a greeter")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut out = String::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        out.push_str(&line);
        out.push('\n');
        if line == "== plan: discovery" {
            // Saved whole, as an editor does: clk never sees a half-written file.
            let config = d.path().join(".clk/config/clk.config.json");
            let tmp = d.path().join(".clk/config/.clk.config.json.swp");
            fs::write(&tmp, "{\n  \"x\": \n").unwrap();
            fs::rename(&tmp, &config).unwrap();
            break;
        }
    }
    for line in lines {
        out.push_str(&line.unwrap());
        out.push('\n');
    }
    let status = child.wait().unwrap();
    assert!(status.success(), "{out}");
    assert!(out.contains("== loop: ralph"), "every step ran:\n{out}");
    // The steps after the edit run on the settings before it, not fail on the broken file.
    assert!(!out.contains("not valid JSON"), "{out}");
    assert!(out.contains("stage discovery/research started"), "{out}");
    assert_eq!(
        out.matches("the settings before this edit stay in force")
            .count(),
        1,
        "{out}"
    );
}
