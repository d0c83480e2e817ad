use std::collections::BTreeMap;

use super::feedback::{FEEDBACK_HEADER, casting_feedback, roster_summary};
use super::rules::*;
use super::{log_path, log_workflow_rejected};
use crate::engine::ground::bundled;
use crate::engine::ground::config::{AgentSpec, AgentsFile};
use crate::engine::ground::protocol::RoleProposal;
use crate::engine::store::prompts::protocol_section;
use crate::engine::store::workspace::{Workspace, append_jsonl};

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

fn with_dynamic(names: &[&str]) -> AgentsFile {
    let mut roster = AgentsFile::default();
    for n in names {
        roster.agents.insert(
            n.to_string(),
            AgentSpec {
                prompt: format!("{n}.md"),
                role: format!("does {n} work"),
                dynamic: true,
                ..AgentSpec::default()
            },
        );
    }
    roster
}

/// Prompts by agent name from a map, falling back to the bundled ones.
fn lookup(map: BTreeMap<&'static str, &'static str>) -> impl Fn(&str) -> Option<String> {
    move |agent: &str| {
        map.get(agent)
            .map(|t| t.to_string())
            .or_else(|| bundled::prompt(&format!("{agent}.md")).map(str::to_string))
    }
}

fn decide_one(roster: &AgentsFile, p: &RoleProposal) -> Decision {
    decide(roster, &lookup(BTreeMap::new()), p, 12)
}

fn rejected(d: Decision) -> RejectReason {
    match d {
        Decision::Reject { reason } => reason,
        other @ (Decision::Add | Decision::Update | Decision::RefreshBaselinePrompt) => {
            panic!("expected a rejection, got {other:?}")
        }
    }
}

const STEWARD: &str = "You are the data steward. You own the database schema, migrations, \
    seed fixtures and SCHEMA.md. Review every migration for reversibility, keep sample \
    records realistic, document each table and column, and post schema changes. $objective";

#[test]
fn names_are_normalized() {
    assert_eq!(normalize("Data Steward"), "data_steward");
    assert_eq!(normalize("  --Foo--bar!! "), "foo_bar");
    assert_eq!(normalize("a__b"), "a__b");
    assert_eq!(normalize("ünï"), "n");
    assert_eq!(normalize("***"), "");
}

#[test]
fn engineer_aliases_share_the_engineer_key() {
    let engineer = name_key("engineer");
    for n in [
        "Developer",
        "senior-developer",
        "coders",
        "devs",
        "engineering_lead",
        "Software-Engineer",
        "backend_engineer",
    ] {
        assert!(names_engineer(n), "{n} should name the engineer");
        if !n.contains("backend") {
            assert_eq!(name_key(n), engineer, "{n}");
        }
    }
    assert!(!names_engineer("physics_engine"));
    assert!(!names_engineer("data_steward"));
}

#[test]
fn keys_fold_synonyms_modifiers_and_suffixes() {
    assert_eq!(name_key("qa_lead"), name_key("qa"));
    assert_eq!(name_key("senior_tester"), "qa");
    assert_eq!(name_key("dev-ops"), name_key("operator"));
    assert_eq!(name_key("operations"), name_key("operator"));
    assert_eq!(name_key("data_steward"), "data_steward");
    assert_eq!(name_key("notifications"), "notific");
    assert_eq!(name_key("libraries"), "library");
    // A name made only of modifiers keeps them.
    assert_eq!(name_key("lead"), "lead");
}

#[test]
fn prefixes_count_only_on_whole_words_of_six_letters_or_more() {
    assert!(keys_clash("research", "research_plann"));
    assert!(keys_clash("auto_research", "autoresearch"));
    assert!(keys_clash("qa", "qa"));
    assert!(!keys_clash("critic", "critical_path"));
    assert!(!keys_clash("qa", "qa_autom"), "a short key is not a prefix");
    assert!(!keys_clash("", ""));
}

#[test]
fn prompt_similarity_reads_content_words_only() {
    assert!((prompt_similarity(STEWARD, STEWARD) - 1.0).abs() < 1e-9);
    let reworded = "You are our data steward: you own the database schema, migrations, seed \
        fixtures and SCHEMA.md; review each migration for reversibility and document tables.";
    assert!(prompt_similarity(STEWARD, reworded) >= SIMILAR_PROMPT_THRESHOLD);
    let other = "You write the user guide: installation, configuration and troubleshooting \
        chapters, with screenshots and copy-paste examples for every command.";
    assert!(prompt_similarity(STEWARD, other) < 0.1);
    // The shared protocol section and placeholders do not make prompts alike.
    let a = format!(
        "Guard the release notes. $state_summary $objective\n\n{}",
        protocol_section()
    );
    let b = format!(
        "Tune the database indexes. ${{state_summary}} $objective\n\n{}",
        protocol_section()
    );
    assert_eq!(prompt_similarity(&a, &b), 0.0);
    assert_eq!(prompt_similarity("", STEWARD), 0.0);
}

#[test]
fn bundled_prompts_are_not_near_duplicates_of_each_other() {
    for (a, ta) in bundled::PROMPTS {
        for (b, tb) in bundled::PROMPTS {
            if a < b {
                let s = prompt_similarity(ta, tb);
                assert!(s < SIMILAR_PROMPT_THRESHOLD - 0.15, "{a} vs {b}: {s:.2}");
            }
        }
    }
}

#[test]
fn a_new_specialist_is_added_and_its_exact_name_updates_it() {
    let roster = AgentsFile::default();
    let p = proposal("data_steward", "owns the schema", STEWARD);
    assert_eq!(decide_one(&roster, &p), Decision::Add);
    let roster = with_dynamic(&["data_steward"]);
    assert_eq!(decide_one(&roster, &p), Decision::Update);
}

#[test]
fn baseline_names_are_protected_unless_a_prompt_is_given() {
    let roster = AgentsFile::default();
    let r = rejected(decide_one(&roster, &proposal("QA", "tests things", "")));
    assert_eq!(r, RejectReason::BaselineProtected { name: "qa".into() });
    let p = proposal(
        "qa",
        "",
        "You are QA. Audit every change and say PASS or FAIL.",
    );
    assert_eq!(decide_one(&roster, &p), Decision::RefreshBaselinePrompt);
    assert_eq!(
        decide_one(&roster, &proposal("engineer", "", "Build it. $objective")),
        Decision::RefreshBaselinePrompt
    );
}

#[test]
fn engineer_aliases_are_refused_with_the_reference_message() {
    let roster = AgentsFile::default();
    let r = rejected(decide_one(&roster, &proposal("coder", "writes code", "")));
    assert_eq!(
        r.message(),
        "'coder' is a reserved alias of 'engineer'; use 'engineer' directly and do not create variants"
    );
    for n in [
        "senior-developer",
        "coders",
        "engineering_lead",
        "Programmers",
        "engineers",
    ] {
        let r = rejected(decide_one(&roster, &proposal(n, "builds", "")));
        assert_eq!(r.code(), "engineer_alias", "{n}");
    }
}

#[test]
fn near_duplicate_names_are_refused() {
    let roster = with_dynamic(&["data_steward"]);
    let cases = [
        ("qa_lead", "qa"),
        ("senior_tester", "qa"),
        ("research_planner", "researcher"),
        ("data_stewards", "data_steward"),
        ("Data-Steward-Lead", "data_steward"),
        ("dev-ops", "operator"),
        ("critics", "critic"),
    ];
    for (name, existing) in cases {
        let r = rejected(decide_one(&roster, &proposal(name, "x", "")));
        assert_eq!(
            r,
            RejectReason::SimilarName {
                existing: existing.into()
            },
            "{name}"
        );
    }
    assert_eq!(
        decide_one(&roster, &proposal("critical_path_planner", "plans", "")),
        Decision::Add
    );
}

#[test]
fn retired_names_and_their_variants_are_refused() {
    let roster = with_dynamic(&["autoresearch"]);
    for n in ["autoresearch", "auto-research", "AutoResearcher"] {
        let r = rejected(decide_one(&roster, &proposal(n, "loops", "")));
        assert_eq!(r.code(), "retired_name", "{n}");
        assert!(r.message().contains("ralph"), "{}", r.message());
    }
}

#[test]
fn similar_prompts_are_refused_but_not_against_the_agent_itself() {
    let roster = with_dynamic(&["data_steward"]);
    let prompts = lookup(BTreeMap::from([("data_steward", STEWARD)]));
    let copy = format!("{STEWARD} Be careful.");
    let p = proposal("schema_keeper", "keeps schemas", &copy);
    match rejected(decide(&roster, &prompts, &p, 12)) {
        RejectReason::SimilarPrompt { existing, score } => {
            assert_eq!(existing, "data_steward");
            assert!(score >= SIMILAR_PROMPT_THRESHOLD);
        }
        other => panic!("expected a similar prompt, got {other:?}"),
    }
    let p = proposal("data_steward", "keeps schemas", &copy);
    assert_eq!(decide(&roster, &prompts, &p, 12), Decision::Update);
}

#[test]
fn the_cap_stops_additions_but_not_updates() {
    let roster = with_dynamic(&["alpha_role", "bravo_role"]);
    let prompts = lookup(BTreeMap::new());
    let add = proposal("charlie_role", "does c", "");
    assert_eq!(
        rejected(decide(&roster, &prompts, &add, 2)),
        RejectReason::CapReached { max: 2 }
    );
    assert_eq!(decide(&roster, &prompts, &add, 3), Decision::Add);
    let update = proposal("alpha_role", "does a better", "");
    assert_eq!(decide(&roster, &prompts, &update, 2), Decision::Update);
}

#[test]
fn invalid_and_empty_proposals_are_refused() {
    let roster = AgentsFile::default();
    for n in ["", "***", "9lives", &"x".repeat(MAX_NAME_LEN + 1)] {
        let r = rejected(decide_one(&roster, &proposal(n, "r", "")));
        assert_eq!(r.code(), "invalid_name", "{n}");
    }
    let r = rejected(decide_one(&roster, &proposal("\n9 lives\n", "r", "")));
    assert_eq!(r.code(), "invalid_name");
    assert!(
        r.message().starts_with("'9 lives' is not"),
        "{}",
        r.message()
    );
    let r = rejected(decide_one(&roster, &proposal("data_steward", "  ", "\n")));
    assert_eq!(r, RejectReason::EmptyRole);
}

#[test]
fn every_reason_has_a_one_line_message_and_a_code() {
    let reasons = [
        RejectReason::BaselineProtected { name: "qa".into() },
        RejectReason::EngineerAlias {
            name: "dev".into(),
            canonical: "engineer".into(),
        },
        RejectReason::SimilarName {
            existing: "qa".into(),
        },
        RejectReason::SimilarPrompt {
            existing: "qa".into(),
            score: 0.5123,
        },
        RejectReason::CapReached { max: 12 },
        RejectReason::InvalidName { name: "9".into() },
        RejectReason::EmptyRole,
        RejectReason::RetiredName {
            name: "autoresearch".into(),
        },
    ];
    for r in reasons {
        let m = r.message();
        assert!(!m.is_empty() && !m.contains('\n'), "{m}");
        assert!(!r.code().is_empty());
        let back: RejectReason = serde_json::from_value(serde_json::to_value(&r).unwrap()).unwrap();
        assert_eq!(back, r);
    }
    let r = RejectReason::SimilarPrompt {
        existing: "qa".into(),
        score: 0.5123,
    };
    assert!(r.message().contains("0.51"), "{}", r.message());
}

#[test]
fn feedback_lists_the_last_rejections_oldest_first() {
    let dir = tempfile::tempdir().unwrap();
    let ws = Workspace::new(dir.path());
    assert_eq!(casting_feedback(&ws, 8), "(none)");
    let log = log_path(&ws);
    append_jsonl(
        &log,
        &serde_json::json!({"ts": "t0", "event": "role_added", "name": "a"}),
    )
    .unwrap();
    assert_eq!(casting_feedback(&ws, 8), "(none)");
    for i in 1..=9 {
        let rec = serde_json::json!({
            "ts": format!("t{i}"), "event": "role_rejected",
            "name": format!("r{i}"), "reason": format!("why\n{i}"),
        });
        append_jsonl(&log, &rec).unwrap();
    }
    log_workflow_rejected(&ws, "chief", "engineering", "invalid_yaml: no stages").unwrap();
    let text = casting_feedback(&ws, 8);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], FEEDBACK_HEADER);
    assert_eq!(lines.len(), 9, "{text}");
    assert_eq!(lines[1], "- t3 role `r3` rejected: why 3");
    assert!(
        lines[8].ends_with("workflow `engineering` rejected: invalid_yaml: no stages"),
        "{}",
        lines[8]
    );
}

#[test]
fn the_roster_summary_shows_kind_role_and_a_short_preview() {
    let mut roster = with_dynamic(&["data_steward"]);
    roster.agents.remove("critic");
    let prompts = lookup(BTreeMap::from([("data_steward", STEWARD)]));
    let text = roster_summary(&roster, &prompts);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines.len(),
        6,
        "critic is listed although agents.json lacks it"
    );
    assert!(
        lines[0].starts_with("- [baseline] chief :: "),
        "{}",
        lines[0]
    );
    let steward = lines[5];
    assert!(
        steward.starts_with("- [dynamic] data_steward :: does data_steward work (prompt preview: You are the data steward."),
        "{steward}"
    );
    let preview = steward.split("prompt preview: ").nth(1).unwrap();
    assert_eq!(
        preview.chars().count(),
        160 + 1 + 1,
        "160 chars, an ellipsis, ')'"
    );
}
