//! How a task is worked: the duo flow's handoffs and review, single-agent mode, daily budgets,
//! context rules and templates.

use std::fs;
use std::path::Path;

use super::*;

/// A second provider on the same mock, paired as the reviewer of the first through
/// `clk configure`, committed.
fn pair_reviewer(dir: &Path) {
    let path = dir.join(".clk/config/providers.json");
    let mut doc: Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    doc["providers"]["reviewer"] = doc["providers"]["ollama"].clone();
    doc["providers"]["reviewer"]["type"] = "ollama".into();
    fs::write(&path, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    let out = ok(
        dir,
        &["configure", "--set", "tasks.review_pairs.ollama=reviewer"],
    );
    assert!(!out.contains("keys clk does not use"), "{out}");
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-qm", "user: reviewer"]);
}

/// Task 1's timeline holds each of `wants`.
fn timeline_has(dir: &Path, wants: &[&str]) {
    let tl = timeline(dir, 1);
    for want in wants {
        assert!(tl.contains(want), "{want:?} not in:\n{tl}");
    }
}

fn verdict(v: &str) -> Reply {
    Reply::text(&format!("Read the diff.\nVERDICT: {v}\n"))
}

#[test]
fn duo_repairs_a_broken_handoff_and_revises_once_for_the_other_reviewer() {
    let mock = MockServer::start(Script::new(vec![
        // Turn 1: the implementer writes the file but its handoff is not JSON.
        Reply::text("ACTION: write\nPATH: api.txt\nCONTENT:\nv1\nEND_ACTION\nHANDOFF: all done!\n"),
        // Turn 2: told why, it hands off properly.
        Reply::text(&handoff("wrote api.txt", "api.txt")),
        // Turn 3: the reviewer (another provider) asks for one change.
        verdict(r#"{"verdict": "revise", "reasons": ["no docs"], "requests": ["add API.md"]}"#),
        // Turn 4: the implementer makes it.
        Reply::text(&format!(
            "ACTION: write\nPATH: API.md\nCONTENT:\ndocs\nEND_ACTION\n{}",
            handoff("added API.md", "API.md")
        )),
        // Turn 5: approved.
        verdict(r#"{"verdict": "approve", "reasons": ["tested and documented"]}"#),
    ]));
    let (_t, dir) = project(&mock);
    pair_reviewer(&dir);
    ok(&dir, &["task", "add", "write api.txt"]);
    let out = ok(&dir, &["work", "--until-idle"]);
    assert!(out.contains("1 merged"), "{out}");
    timeline_has(
        &dir,
        &[
            "turn 1: handoff rejected: HANDOFF: is not followed by a JSON object",
            "turn 2: wrote api.txt (1/1 item(s) done)",
            "reviewer turn 3 (reviewer)",
            "review 1 by reviewer: revise — add API.md",
            "turn 4: added API.md (1/1 item(s) done)",
            "review 2 by reviewer: approve — tested and documented",
        ],
    );
    assert_eq!(task(&dir, 1)["turns"], 5);
    assert_eq!(fs::read_to_string(dir.join("API.md")).unwrap(), "docs\n");
    // The prompts: the broken handoff's reason went back, the reviewer saw the diff, and the
    // reviewer's requests went back to the implementer.
    let prompts: Vec<String> = mock
        .model_requests()
        .iter()
        .map(|r| r.json.as_ref().unwrap()["messages"].to_string())
        .collect();
    assert!(prompts[1].contains("handoff was rejected: HANDOFF: is not followed by a JSON object"));
    assert!(prompts[2].contains("+v1"), "the reviewer sees the diff");
    assert!(prompts[3].contains("An independent reviewer asks for these changes: add API.md"));
}

#[test]
fn task_review_runs_another_pass_whose_revise_goes_back_to_the_implementer() {
    let approve = r#"{"verdict": "approve", "reasons": ["fine"]}"#;
    let mock = MockServer::start(Script::new(vec![
        // The task's own run: one implementer turn, approved; safe, so it waits.
        Reply::text(&format!(
            "ACTION: write\nPATH: api.txt\nCONTENT:\nv1\nEND_ACTION\n{}",
            handoff("wrote api.txt", "api.txt")
        )),
        verdict(approve),
        // The pass the user asks for: the reviewer first, asking for a change.
        verdict(r#"{"verdict": "revise", "reasons": ["errors"], "requests": ["add ERRORS.md"]}"#),
        Reply::text(&format!(
            "ACTION: write\nPATH: ERRORS.md\nCONTENT:\nerrors\nEND_ACTION\n{}",
            handoff("added ERRORS.md", "ERRORS.md")
        )),
        verdict(r#"{"verdict": "approve", "reasons": ["errors covered"]}"#),
    ]));
    let (_t, dir) = project(&mock);
    pair_reviewer(&dir);
    ok(
        &dir,
        &["task", "add", "write api.txt", "--autonomy", "safe"],
    );
    ok(&dir, &["task", "add", "write other.txt"]);
    // Nothing to review before it ran.
    let (good, out) = run(&dir, &["task", "review", "2"]);
    assert!(!good, "{out}");
    assert!(
        out.contains("task 2 is queued: cannot review it (only a task waiting for approval"),
        "{out}"
    );
    ok(&dir, &["task", "cancel", "2"]);
    ok(&dir, &["work", "--until-idle"]);
    assert_eq!(task(&dir, 1)["state"], "approval");
    assert_eq!(mock.model_calls(), 2);

    let out = ok(
        &dir,
        &["task", "review", "1", "check", "the", "error", "paths"],
    );
    assert!(
        out.contains("task 1 queued for another review by reviewer; `clk work` runs it"),
        "{out}"
    );
    let out = ok(&dir, &["work", "--until-idle"]);
    assert!(out.contains("1 wait for approval"), "{out}");
    timeline_has(
        &dir,
        &[
            "approval → queued: review requested by the user: check the error paths",
            "review 1 by reviewer: revise — add ERRORS.md",
            "turn 4: added ERRORS.md (1/1 item(s) done)",
            "review 2 by reviewer: approve — errors covered",
        ],
    );
    let t = task(&dir, 1);
    assert_eq!(
        (t["state"].as_str(), t["turns"].as_i64()),
        (Some("approval"), Some(5))
    );
    let prompts: Vec<String> = mock
        .model_requests()
        .iter()
        .map(|r| r.json.as_ref().unwrap()["messages"].to_string())
        .collect();
    // The pass opened with the reviewer, who saw the user's note and the branch's diff.
    assert!(
        prompts[2].contains("Review task 1 independently"),
        "{}",
        prompts[2]
    );
    assert!(prompts[2].contains("check the error paths") && prompts[2].contains("+v1"));
    assert!(prompts[3].contains("An independent reviewer asks for these changes: add ERRORS.md"));

    // With no reviewer paired it is refused with the setting to change.
    set_tasks_config(&dir, serde_json::json!({}));
    let (good, out) = run(&dir, &["task", "review", "1"]);
    assert!(!good, "{out}");
    assert!(
        out.contains("no reviewer provider is paired with ollama; pair one in tasks.review_pairs"),
        "{out}"
    );
    set_tasks_config(
        &dir,
        serde_json::json!({"review_pairs": {"ollama": "reviewer"}}),
    );
    assert_eq!(task(&dir, 1)["state"], "approval");

    ok(&dir, &["task", "approve", "1"]);
    ok(&dir, &["work", "--until-idle"]);
    assert_eq!(task(&dir, 1)["state"], "merged");
    assert_eq!(
        fs::read_to_string(dir.join("ERRORS.md")).unwrap(),
        "errors\n"
    );
    // A merged task's branch is gone.
    let (good, out) = run(&dir, &["task", "review", "1"]);
    assert!(!good && out.contains("(its branch is gone)"), "{out}");
}

#[test]
fn duo_without_a_paired_provider_says_it_runs_single_agent() {
    let mock = MockServer::start(Script::new(vec![writes("solo.txt", 10)]));
    let (_t, dir) = project(&mock);
    ok(&dir, &["task", "add", "write solo.txt"]);
    let out = ok(&dir, &["work", "--until-idle"]);
    assert!(
        out.contains("single-agent mode: no reviewer provider is paired with ollama"),
        "{out}"
    );
    assert!(timeline(&dir, 1).contains("single-agent mode"));
    assert_eq!(task(&dir, 1)["state"], "merged");
    assert_eq!(mock.model_calls(), 1);
}

#[test]
fn a_daily_budget_makes_tasks_wait_and_a_raised_one_lets_them_go_on() {
    let mock = MockServer::start(Script::new(vec![
        writes("a.txt", 10),
        writes("b.txt", 10),
        Reply::text("ACTION: write\nPATH: c.txt\nCONTENT:\nc\nEND_ACTION\nHANDOFF: soon\n"),
        Reply::text(&handoff("wrote c.txt", "c.txt")),
    ]));
    let (_t, dir) = project(&mock);
    ok(&dir, &["configure", "--set", "budget.daily.tasks=1"]);
    ok(&dir, &["task", "add", "write a.txt"]);
    ok(&dir, &["task", "add", "write b.txt"]);
    let out = ok(&dir, &["work", "--workers", "1", "--until-idle"]);
    assert!(out.contains("1 merged"), "{out}");
    let t2 = task(&dir, 2);
    assert_eq!(t2["state"], "held");
    assert!(
        t2["reason"].as_str().unwrap().starts_with(
            "waits for the daily budget: 1 of budget.daily.tasks = 1 tasks started today"
        ),
        "{t2}"
    );
    let b = ok(&dir, &["budget"]);
    assert!(
        b.contains("budget.daily.tasks") && b.contains("1 of 1"),
        "{b}"
    );

    // Raised: task 2 runs. Then a turn limit stops task 3 between its turns, worktree kept.
    ok(
        &dir,
        &[
            "configure",
            "--set",
            "budget.daily.tasks=5",
            "--set",
            "budget.daily.turns=3",
        ],
    );
    ok(&dir, &["task", "add", "write c.txt"]);
    let out = ok(&dir, &["work", "--workers", "1", "--until-idle"]);
    assert!(out.contains("1 merged"), "{out}");
    assert_eq!(task(&dir, 2)["state"], "merged", "{}", timeline(&dir, 2));
    let t3 = task(&dir, 3);
    assert_eq!(
        (t3["state"].as_str(), t3["turns"].as_i64()),
        (Some("held"), Some(1)),
        "{t3}"
    );
    assert!(
        t3["reason"]
            .as_str()
            .unwrap()
            .contains("budget.daily.turns = 3"),
        "{t3}"
    );
    assert!(Path::new(t3["worktree"].as_str().unwrap()).is_dir());

    ok(&dir, &["configure", "--set", "budget.daily.turns=10"]);
    ok(&dir, &["work", "--workers", "1", "--until-idle"]);
    let t3 = task(&dir, 3);
    assert_eq!(
        (t3["state"].as_str(), t3["turns"].as_i64()),
        (Some("merged"), Some(2)),
        "{t3}"
    );
    assert!(dir.join("c.txt").is_file());
    assert!(ok(&dir, &["budget"]).contains("4 of 10"), "turns today");
}

#[test]
fn context_rules_reach_every_task_prompt_until_removed() {
    let mock = MockServer::start(Script::new(vec![writes("x.txt", 10), writes("y.txt", 10)]));
    let (_t, dir) = project(&mock);
    assert!(ok(&dir, &["context", "add", "indent", "with", "tabs"]).contains("rule 1 added"));
    ok(&dir, &["context", "add", "never touch infra/"]);
    let listed = ok(&dir, &["context", "list"]);
    assert!(listed.contains("1  indent with tabs") && listed.contains("2  never touch infra/"));
    ok(&dir, &["task", "add", "write x.txt"]);
    ok(&dir, &["work", "--until-idle"]);
    ok(&dir, &["context", "remove", "1"]);
    let (good, text) = run(&dir, &["context", "remove", "1"]);
    assert!(!good && text.contains("there is no rule 1"), "{text}");
    ok(&dir, &["task", "add", "write y.txt"]);
    ok(&dir, &["work", "--until-idle"]);
    let prompts: Vec<String> = mock
        .model_requests()
        .iter()
        .map(|r| r.json.as_ref().unwrap()["messages"].to_string())
        .collect();
    assert!(prompts[0].contains(
        "Rules for every agent in this workspace:\\n- indent with tabs\\n- never touch infra/"
    ));
    assert!(
        !prompts[1].contains("indent with tabs") && prompts[1].contains("- never touch infra/")
    );
}

#[test]
fn templates_save_list_and_queue_tasks() {
    let mock = MockServer::start(Script::new(vec![]));
    let (_t, dir) = project(&mock);
    let out = ok(
        &dir,
        &[
            "template",
            "save",
            "docs",
            "update",
            "README.md",
            "--autonomy",
            "safe",
            "--flow",
            "solo",
        ],
    );
    assert!(out.contains("template docs saved"), "{out}");
    assert!(ok(&dir, &["template", "list"]).contains("docs                 update README.md"));
    assert!(
        ok(&dir, &["template", "run", "docs"])
            .contains("task 1 queued (engineer, solo, autonomy safe)")
    );
    ok(
        &dir,
        &[
            "task",
            "add",
            "--template",
            "docs",
            "mention",
            "the",
            "flag",
            "--autonomy",
            "balanced",
        ],
    );
    let all = tasks(&dir);
    assert_eq!(all[0]["prompt"], "update README.md");
    assert_eq!(all[1]["prompt"], "update README.md\n\nmention the flag");
    assert_eq!(
        (all[1]["autonomy"].as_str(), all[1]["flow"].as_str()),
        (Some("balanced"), Some("solo"))
    );
    assert_eq!(all[1]["predicted_files"], serde_json::json!(["README.md"]));
    let (good, text) = run(&dir, &["template", "run", "nope"]);
    assert!(
        !good && text.contains("there is no template \"nope\""),
        "{text}"
    );
    let (good, text) = run(&dir, &["template", "save", "x", "y", "--flow", "dance"]);
    assert!(!good && text.contains("no flow called \"dance\""), "{text}");
}

#[test]
fn a_daily_usd_budget_spent_holds_the_next_task_until_it_is_raised() {
    // $1 per million tokens each way: each reply of 1,000 + 1,000 tokens costs $0.002.
    let paid = |file: &str| {
        Reply::text_usage(
            &format!(
                "ACTION: write\nPATH: {file}\nCONTENT:\nx\nEND_ACTION\n{}",
                handoff(&format!("wrote {file}"), file)
            ),
            1000,
            1000,
        )
    };
    let mock = MockServer::start(Script::new(vec![paid("a.txt"), paid("b.txt")]));
    let (_t, dir) = project(&mock);
    ok(
        &dir,
        &[
            "configure",
            "--set",
            "providers.ollama.price.input_per_mtok=1",
            "--set",
            "providers.ollama.price.output_per_mtok=1",
            "--set",
            "budget.daily.usd=0.002",
        ],
    );
    git(&dir, &["commit", "-qam", "user: prices"]);
    ok(&dir, &["task", "add", "write a.txt"]);
    ok(&dir, &["task", "add", "write b.txt"]);
    let out = ok(&dir, &["work", "--workers", "1", "--until-idle"]);
    assert!(out.contains("1 merged"), "{out}");
    assert_eq!(task(&dir, 1)["cost_micros"], 2000);
    let t2 = task(&dir, 2);
    assert_eq!(
        (t2["state"].as_str(), t2["turns"].as_i64()),
        (Some("held"), Some(0)),
        "{t2}"
    );
    assert!(
        t2["reason"]
            .as_str()
            .unwrap()
            .contains("$0.002 of budget.daily.usd = $0.002 spent today"),
        "{t2}"
    );
    assert_eq!(mock.model_calls(), 1, "the held task called no model");
    assert!(ok(&dir, &["budget"]).contains("budget.daily.usd"));

    ok(&dir, &["configure", "--set", "budget.daily.usd=1"]);
    ok(&dir, &["work", "--workers", "1", "--until-idle"]);
    assert_eq!(task(&dir, 2)["state"], "merged");
    assert!(dir.join("b.txt").is_file());
}
