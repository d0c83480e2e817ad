//! Meta-prompting: the chief drafts each stage's objective once; the drafts reach the stage
//! prompts and the run records, are reused by the next cycle, and are drafted again after the
//! idea changes. Exact mock call counts.

use std::fs;
use std::path::Path;

use super::{agents, clk, project, prompts};
use crate::support::mock_server::{MockServer, Reply, Script};

const WORKFLOW: &str = r#"
name: demo
stages:
  - id: build
    agent: engineer
    objective: Build the app.
"#;

const DRAFT: &str = "OBJECTIVE: build\nWrite journal.py with add and list commands.\n\
END_OBJECTIVE\n";
const DRAFT_2: &str = "OBJECTIVE: build\nWrite diary.py that keeps one entry per day.\n\
END_OBJECTIVE\n";

fn work(n: u32) -> Reply {
    Reply::text(&format!(
        "ACTION: write\nPATH: app{n}.py\nCONTENT:\nprint({n})\nEND_ACTION\nPROGRESS: yes\n"
    ))
}

/// The objective each stage dispatch's run record holds, in run order.
fn recorded_objectives(dir: &Path) -> Vec<String> {
    let mut runs: Vec<_> = fs::read_dir(dir.join(".clk/runs"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    runs.sort();
    runs.iter()
        .filter_map(|d| fs::read_to_string(d.join("meta.json")).ok())
        .filter_map(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .filter(|m| m["stage"] == "build")
        .map(|m| m["objective"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn drafted_objectives_reach_the_prompts_are_reused_and_redrafted_for_a_new_idea() {
    let mock = MockServer::start(Script::new(vec![
        Reply::text(DRAFT),
        work(1),
        work(2),
        Reply::text(DRAFT_2),
        work(3),
    ]));
    let (_top, dir) = project(&mock, WORKFLOW);
    let idea = |text: &str| {
        clk(&dir, &mock)
            .env("CLK_CASTING_AUTO_CAST_ON_IDEA", "false")
            .args(["idea", text])
            .assert()
            .success();
    };
    let run = |cycles: &str| {
        clk(&dir, &mock)
            .env("CLK_WORKFLOW_META_PROMPTING", "true")
            .env("CLK_SUPERVISE_MAX_CYCLES", cycles)
            .args(["run", "--workflow", "demo"])
            .output()
            .unwrap()
    };
    idea("A journaling app");
    run("2");
    // One draft for two cycles.
    assert_eq!(agents(&mock), ["chief", "engineer", "engineer"]);
    let all = prompts(&mock);
    assert!(all[0].contains("DRAFT STAGE OBJECTIVES"), "{:.300}", all[0]);
    assert!(all[0].contains("- build (agent engineer): Build the app."));
    for p in &all[1..3] {
        assert!(
            p.contains("Write journal.py with add and list commands."),
            "{p:.600}"
        );
        assert!(p.contains("(The workflow's own words for this stage: Build the app.)"));
    }
    let cache = fs::read_to_string(dir.join(".clk/state/objectives.json")).unwrap();
    assert!(cache.contains("Write journal.py"), "{cache}");

    // A new idea: drafted again.
    idea("A diary app");
    run("1");
    assert_eq!(
        agents(&mock),
        ["chief", "engineer", "engineer", "chief", "engineer"]
    );
    assert!(prompts(&mock)[4].contains("Write diary.py that keeps one entry per day."));
    let recorded = recorded_objectives(&dir);
    assert_eq!(recorded.len(), 3, "{recorded:?}");
    assert!(recorded[0].starts_with("Write journal.py"), "{recorded:?}");
    assert!(recorded[2].starts_with("Write diary.py"), "{recorded:?}");
}

#[test]
fn without_meta_prompting_the_chief_is_not_asked() {
    let mock = MockServer::start(Script::new(vec![work(1)]));
    let (_top, dir) = project(&mock, WORKFLOW);
    clk(&dir, &mock)
        .args(["run", "--workflow", "demo"])
        .output()
        .unwrap();
    assert_eq!(agents(&mock), ["engineer"]);
    assert!(!dir.join(".clk/state/objectives.json").exists());
}
