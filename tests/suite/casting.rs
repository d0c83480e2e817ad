//! Casting against a real project folder: prompt files, agents.json, casting.log and the
//! feedback the chief reads back.

use std::fs;

use clk::engine::ground::config::AgentsFile;
use clk::engine::ground::config::Env;
use clk::engine::ground::protocol::RoleProposal;
use clk::engine::store::casting::{
    self, CastOutcome, Decision, FEEDBACK_MAX, RejectReason, add_manual, casting_feedback,
    current_prompt, remove, roster_summary,
};
use clk::engine::store::init::init;
use clk::engine::store::prompts::PROTOCOL_MARKER;
use clk::engine::store::workspace::{Workspace, read_jsonl};
use serde_json::Value;

fn project() -> (tempfile::TempDir, Workspace, AgentsFile) {
    let dir = tempfile::tempdir().unwrap();
    init(dir.path(), Some("demo")).unwrap();
    let ws = Workspace::new(dir.path().canonicalize().unwrap());
    let roster = ws.load(&Env::none()).unwrap().agents;
    (dir, ws, roster)
}

fn proposal(name: &str, role: &str, prompt: &str) -> RoleProposal {
    RoleProposal {
        line: 1,
        name: name.into(),
        role: role.into(),
        provider: None,
        capabilities: vec![],
        prompt: prompt.into(),
    }
}

fn log(ws: &Workspace) -> Vec<Value> {
    read_jsonl(&casting::log_path(ws))
}

fn saved_roster(ws: &Workspace) -> AgentsFile {
    serde_json::from_str(&fs::read_to_string(ws.agents_file()).unwrap()).unwrap()
}

fn reason(o: &CastOutcome) -> &RejectReason {
    match &o.decision {
        Decision::Reject { reason } => reason,
        other @ (Decision::Add | Decision::Update | Decision::RefreshBaselinePrompt) => {
            panic!("{} was not rejected: {other:?}", o.name)
        }
    }
}

const STEWARD: &str = "You are the data steward for $project_name. You own the database \
    schema, migrations, seed fixtures and SCHEMA.md. Review every migration for reversibility, \
    keep sample records realistic, and document each table and column.\nObjective: $objective";

#[test]
fn a_batch_is_decided_in_order_written_logged_and_fed_back() {
    let (_dir, ws, mut roster) = project();
    assert_eq!(casting_feedback(&ws, FEEDBACK_MAX), "(none)");

    let mut writer = proposal(
        "release-notes-writer",
        "keeps CHANGELOG.md and release notes",
        "",
    );
    writer.provider = Some("claude".into());
    writer.capabilities = vec!["no-tools".into()];
    let near_copy = format!("{STEWARD}\nBe thorough.");
    let qa_prompt = "# QA\n\nYou are QA on $project_name. Run the tests, then say PASS or FAIL.";
    let batch = [
        proposal("Data Steward", "owns the schema and migrations", STEWARD),
        proposal("schema_keeper", "keeps the schema", &near_copy),
        proposal("coder", "writes code", ""),
        proposal("qa", "tests", ""),
        writer,
        proposal("qa", "", qa_prompt),
        proposal(
            "data_steward",
            "owns the schema, migrations and fixtures",
            "",
        ),
    ];
    let out = casting::apply(&ws, &mut roster, &batch, "chief", 12).unwrap();
    let decisions: Vec<&str> = out.iter().map(|o| o.decision.event()).collect();
    assert_eq!(
        decisions,
        [
            "role_added",
            "role_rejected",
            "role_rejected",
            "role_rejected",
            "role_added",
            "baseline_prompt_refreshed",
            "role_updated"
        ]
    );
    assert!(
        matches!(reason(&out[1]), RejectReason::SimilarPrompt { existing, .. } if existing == "data_steward")
    );
    assert_eq!(reason(&out[2]).code(), "engineer_alias");
    assert_eq!(reason(&out[3]).code(), "baseline_protected");

    // Prompt files: the given body plus the protocol; a scaffold for a role without a body.
    let steward = fs::read_to_string(ws.prompts_dir().join("data_steward.md")).unwrap();
    assert!(steward.starts_with("You are the data steward for $project_name."));
    assert_eq!(steward.matches(PROTOCOL_MARKER).count(), 1);
    let notes = fs::read_to_string(ws.prompts_dir().join("release_notes_writer.md")).unwrap();
    for needle in [
        "# Release Notes Writer",
        "keeps CHANGELOG.md",
        "$objective",
        "$state_summary",
        "$blackboard_digest",
        PROTOCOL_MARKER,
    ] {
        assert!(notes.contains(needle), "scaffold lacks {needle}:\n{notes}");
    }
    let qa = fs::read_to_string(ws.prompts_dir().join("qa.md")).unwrap();
    assert!(qa.starts_with(qa_prompt) && qa.contains(PROTOCOL_MARKER));
    assert!(!ws.prompts_dir().join("schema_keeper.md").exists());
    assert!(!ws.prompts_dir().join("coder.md").exists());
    assert_eq!(
        out[0].files_written,
        [".clk/prompts/data_steward.md", ".clk/config/agents.json"]
    );
    assert_eq!(
        out[6].files_written,
        [".clk/config/agents.json"],
        "an update without a body keeps the prompt"
    );
    assert!(out[1].files_written.is_empty());

    // agents.json matches the roster in memory.
    let saved = saved_roster(&ws);
    assert_eq!(saved, roster);
    let ds = &saved.agents["data_steward"];
    assert!(ds.dynamic);
    assert_eq!(ds.prompt, "data_steward.md");
    assert_eq!(ds.role, "owns the schema, migrations and fixtures");
    let rn = &saved.agents["release_notes_writer"];
    assert_eq!(rn.provider.as_deref(), Some("claude"));
    assert_eq!(rn.capabilities, ["no-tools"]);
    assert!(!saved.agents["qa"].dynamic);
    assert!(!saved.agents.contains_key("coder"));

    // One log line per decision, rejected ones with their reason.
    let lines = log(&ws);
    assert_eq!(lines.len(), batch.len());
    for (line, o) in lines.iter().zip(&out) {
        assert_eq!(line["event"], o.decision.event());
        assert_eq!(line["agent"], "chief");
        assert_eq!(line["name"], o.name.as_str());
        assert!(line["ts"].is_string() && line["prompt_chars"].is_u64());
        assert_eq!(line.get("reason").is_some(), !o.decision.is_accepted());
    }
    assert_eq!(lines[0]["prompt_chars"], STEWARD.chars().count());
    assert_eq!(lines[4]["provider"], "claude");

    // The chief sees exactly the rejections.
    let fb = casting_feedback(&ws, FEEDBACK_MAX);
    let fb_lines: Vec<&str> = fb.lines().collect();
    assert_eq!(fb_lines.len(), 4, "{fb}");
    assert_eq!(
        fb_lines[0],
        "Rejected casting proposals (do not repeat them):"
    );
    assert!(fb_lines[1].contains("role `schema_keeper` rejected: its prompt overlaps"));
    assert!(fb_lines[2].ends_with(
        "role `coder` rejected: 'coder' is a reserved alias of 'engineer'; use 'engineer' directly and do not create variants"
    ));
    assert!(fb_lines[3].contains("role `qa` rejected: 'qa' is a baseline role"));

    // And the roster it reads lists the new roles with a preview of their prompts.
    let lookup = |agent: &str| current_prompt(&ws, &roster, agent);
    let summary = roster_summary(&roster, &lookup);
    assert!(summary.contains(
        "- [dynamic] data_steward :: owns the schema, migrations and fixtures (prompt preview: You are the data steward for $project_name."
    ), "{summary}");
    assert!(summary.contains("- [baseline] qa :: "));
}

#[test]
fn a_body_that_has_the_protocol_is_not_given_it_twice() {
    let (_dir, ws, mut roster) = project();
    let body =
        format!("You are the data steward. $objective\n\n{PROTOCOL_MARKER}\n\nCustom rules.");
    let out = casting::apply(
        &ws,
        &mut roster,
        &[proposal("data_steward", "", &body)],
        "chief",
        12,
    )
    .unwrap();
    assert_eq!(out[0].decision, Decision::Add);
    let text = fs::read_to_string(ws.prompts_dir().join("data_steward.md")).unwrap();
    assert_eq!(text, format!("{body}\n"));
    assert_eq!(
        saved_roster(&ws).agents["data_steward"].role,
        "You are the data steward. $objective"
    );
}

#[test]
fn the_cap_holds_within_one_batch() {
    let (_dir, ws, mut roster) = project();
    let batch = [
        proposal("data_steward", "owns the schema", ""),
        proposal("security_reviewer", "reviews authentication code", ""),
    ];
    let out = casting::apply(&ws, &mut roster, &batch, "chief", 1).unwrap();
    assert_eq!(out[0].decision, Decision::Add);
    assert_eq!(reason(&out[1]), &RejectReason::CapReached { max: 1 });
    assert!(!saved_roster(&ws).agents.contains_key("security_reviewer"));
}

#[test]
fn a_batch_with_only_rejections_leaves_agents_json_alone() {
    let (_dir, ws, mut roster) = project();
    let before = fs::read_to_string(ws.agents_file()).unwrap();
    let out = casting::apply(
        &ws,
        &mut roster,
        &[proposal("developer", "", "")],
        "chief",
        12,
    )
    .unwrap();
    assert_eq!(reason(&out[0]).code(), "engineer_alias");
    assert_eq!(fs::read_to_string(ws.agents_file()).unwrap(), before);
    assert!(!ws.config_dir().join("agents.json.bak").exists());
    assert_eq!(log(&ws).len(), 1);
}

#[test]
fn roles_are_added_and_removed_by_hand_under_the_same_rules() {
    let (_dir, ws, mut roster) = project();
    let added = add_manual(&ws, &mut roster, "Data Steward", "owns the schema", 12).unwrap();
    assert_eq!(added.name, "data_steward");
    assert!(ws.prompts_dir().join("data_steward.md").is_file());

    let err = add_manual(&ws, &mut roster, "developer", "writes code", 12).unwrap_err();
    assert!(err.contains("reserved alias of 'engineer'"), "{err}");
    assert!(!err.contains('\n'));

    let err = remove(&ws, &mut roster, "qa").unwrap_err();
    assert!(
        err.contains("'qa' is a baseline role and cannot be removed"),
        "{err}"
    );
    let err = remove(&ws, &mut roster, "nobody").unwrap_err();
    assert!(err.contains("no role named 'nobody'"), "{err}");

    remove(&ws, &mut roster, "data-steward").unwrap();
    assert!(!roster.agents.contains_key("data_steward"));
    assert!(!saved_roster(&ws).agents.contains_key("data_steward"));
    assert!(saved_roster(&ws).agents.contains_key("qa"));
    let events: Vec<String> = log(&ws)
        .iter()
        .map(|l| l["event"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(events, ["role_added", "role_rejected", "role_removed"]);
    assert_eq!(log(&ws)[0]["agent"], "user");
}

#[test]
fn workflow_rejections_reach_the_same_feedback() {
    let (_dir, ws, _roster) = project();
    casting::log_workflow_rejected(
        &ws,
        "chief",
        "engineering",
        "stage `build`: unknown agent `coder`",
    )
    .unwrap();
    let fb = casting_feedback(&ws, FEEDBACK_MAX);
    assert!(
        fb.ends_with("workflow `engineering` rejected: stage `build`: unknown agent `coder`"),
        "{fb}"
    );
}
