use super::messages;
use crate::engine::ground::protocol::{
    BlockKind, ConsensusProposal, RoleProposal, Urgency, WorkflowProposal, parse,
};

#[test]
fn post_with_all_fields() {
    let text = "\
intro
POST: finding
TITLE: Auth is broken
SLUG: auth-broken
TO: @architect!
URGENCY: Blocking
PRODUCES: prd, risks
PRODUCES: api
CONSUMES: spec  plan,notes
some stray line
BODY: first line
  second line

END_POST
outro";
    let p = parse(text);
    assert!(p.problems.is_empty(), "{:?}", p.problems);
    let post = p
        .posts
        .first()
        .cloned()
        .unwrap_or_else(|| panic!("no post in {p:?}"));
    assert_eq!(post.line, 2);
    assert_eq!(post.post_type, "finding");
    assert_eq!(post.title.as_deref(), Some("Auth is broken"));
    assert_eq!(post.slug.as_deref(), Some("auth-broken"));
    assert_eq!(post.to.as_deref(), Some("architect"));
    assert_eq!(post.urgency, Urgency::Blocking);
    assert_eq!(post.produces, vec!["prd", "risks", "api"]);
    assert_eq!(post.consumes, vec!["spec", "plan", "notes"]);
    assert_eq!(post.body, "first line\n  second line");
    assert_eq!((p.counts.post_heads, p.counts.post_ends), (1, 1));
}

#[test]
fn post_addressee_is_the_first_name_cleaned() {
    let to = |line: &str| {
        let p = parse(&format!("POST: note\n{line}\nBODY: b\nEND_POST"));
        p.posts.first().and_then(|p| p.to.clone())
    };
    assert_eq!(to("TO: @qa-lead!"), Some("qa-lead".into()));
    assert_eq!(to("TO: architect, engineer"), Some("architect".into()));
    assert_eq!(to("TO: @@"), None);
    assert_eq!(to("TO:"), None);
}

#[test]
fn post_urgency_words() {
    for (word, want) in [
        ("block", Urgency::Blocking),
        ("sync", Urgency::Blocking),
        ("ASYNC", Urgency::Async),
        ("background", Urgency::Async),
        ("deferred", Urgency::Async),
        ("whenever", Urgency::None),
    ] {
        let p = parse(&format!("POST: note\nURGENCY: {word}\nBODY:\nx\nEND_POST"));
        assert_eq!(p.posts.first().map(|p| p.urgency), Some(want), "{word}");
    }
}

#[test]
fn post_head_is_case_sensitive_and_needs_a_valid_type() {
    let p = parse("post: finding\nBODY:\nx\nEND_POST\nPost: y\n");
    assert!(p.posts.is_empty() && p.problems.is_empty());
    let p = parse("POST: 1bad\nBODY:\nx\nEND_POST\nPOST:\n");
    assert!(p.posts.is_empty());
    assert_eq!(p.problems.len(), 2);
    assert!(p.problems.iter().all(|pr| pr.block == BlockKind::Post));
    let p = parse("POST: risk-note_2 extra words\nBODY: b\nEND_POST");
    assert_eq!(
        p.posts.first().map(|p| p.post_type.as_str()),
        Some("risk-note_2")
    );
}

#[test]
fn post_body_keeps_header_like_lines() {
    let text = "POST: review\nBODY:\nACTION: write\nPATH: x\nEND_ACTION\nCONFIDENCE: 0.1\nPOST_SCRIPT: no\nEND_POST\n";
    let p = parse(text);
    assert!(p.actions.is_empty() && p.footer.confidence.is_none());
    assert_eq!(
        p.posts.first().map(|p| p.body.as_str()),
        Some("ACTION: write\nPATH: x\nEND_ACTION\nCONFIDENCE: 0.1\nPOST_SCRIPT: no")
    );
}

#[test]
fn empty_post_is_dropped_with_a_problem() {
    let p = parse("POST: note\nTITLE: t\nBODY:\n\nEND_POST\nPOST: other\nTITLE: x\nEND_POST");
    assert!(p.posts.is_empty());
    assert_eq!(
        messages(&p),
        vec![
            "POST note at line 1 has an empty BODY; the post was dropped",
            "POST other at line 6 has no BODY: section; the post was dropped",
        ]
    );
}

#[test]
fn unterminated_post_runs_to_the_end_and_is_kept() {
    let p = parse("POST: note\nBODY:\nline one\nline two\n");
    assert_eq!(
        p.posts.first().map(|p| p.body.as_str()),
        Some("line one\nline two")
    );
    assert_eq!(
        messages(&p),
        vec!["POST note at line 1 has no END_POST (read up to line 4)"]
    );
    assert_eq!((p.counts.post_heads, p.counts.post_ends), (1, 0));
}

#[test]
fn unterminated_post_stops_at_the_next_block_and_leaves_the_footer() {
    let text = "POST: a\nBODY:\nalpha\nPOST: b\nBODY:\nbeta\nEND_POST\nPOST: c\nBODY:\ngamma\n\nCONFIDENCE: 80%\nNEEDS_REVIEW: no\n";
    let p = parse(text);
    let bodies: Vec<_> = p.posts.iter().map(|p| p.body.as_str()).collect();
    assert_eq!(bodies, vec!["alpha", "beta", "gamma"]);
    assert_eq!(p.footer.confidence, Some(0.8));
    assert_eq!(p.footer.needs_review, Some(false));
    assert_eq!(p.problems.len(), 2, "{:?}", p.problems);
}

#[test]
fn unterminated_post_does_not_swallow_actions() {
    let p = parse("POST: a\nBODY:\nalpha\nACTION: run\nCMD: ls\nEND_ACTION\n");
    assert_eq!(p.posts.first().map(|p| p.body.as_str()), Some("alpha"));
    assert_eq!(p.actions.len(), 1);
}

#[test]
fn role_proposal() {
    let text = "PROPOSE_ROLE: data_steward\nROLE: owns schema versioning\nPROVIDER: claude\nCAPABILITIES: no-tools, thinking-off\nPROMPT:\nYou are the Data Steward… $objective\n  - keep it tidy\nEND_ROLE";
    let p = parse(text);
    assert_eq!(
        p.roles,
        vec![RoleProposal {
            line: 1,
            name: "data_steward".into(),
            role: "owns schema versioning".into(),
            provider: Some("claude".into()),
            capabilities: vec!["no-tools".into(), "thinking-off".into()],
            prompt: "You are the Data Steward… $objective\n  - keep it tidy".into(),
        }]
    );
    assert!(p.problems.is_empty());
}

#[test]
fn role_with_empty_provider_and_no_end() {
    let p = parse("propose_role: qa\nPROVIDER:\nPROMPT: test everything\n");
    assert_eq!(
        p.roles
            .first()
            .map(|r| (r.provider.clone(), r.prompt.as_str())),
        Some((None, "test everything"))
    );
    assert_eq!(
        messages(&p),
        vec!["PROPOSE_ROLE qa at line 1 has no END_ROLE (read up to line 3)"]
    );
}

#[test]
fn workflow_keeps_yaml_indentation() {
    let yaml =
        "name: engineering\nstages:\n  - id: build\n    agent: engineer\n    objective: do it";
    let text = format!(
        "PROPOSE_WORKFLOW: engineering\nDESCRIPTION: one line\nYAML:\n{yaml}\nEND_WORKFLOW"
    );
    let p = parse(&text);
    assert_eq!(
        p.workflows,
        vec![WorkflowProposal {
            line: 1,
            name: "engineering".into(),
            description: Some("one line".into()),
            yaml: yaml.into()
        }]
    );
}

#[test]
fn workflow_without_yaml_is_a_problem() {
    let p = parse(
        "PROPOSE_WORKFLOW: x\nDESCRIPTION: d\nEND_WORKFLOW\nPROPOSE_WORKFLOW: y\nYAML:\n\nEND_WORKFLOW",
    );
    assert!(p.workflows.is_empty());
    assert_eq!(p.problems.len(), 2);
    assert!(p.problems.iter().all(|pr| pr.block == BlockKind::Workflow));
}

#[test]
fn consensus_proposal() {
    let text = "PROPOSE_CONSENSUS: pick_db\nAGENTS: architect, engineer\nAGENT: critic\nCOPIES: 4\nOBJECTIVE:\nWhich storage engine and why?\nEND_CONSENSUS";
    let p = parse(text);
    assert_eq!(
        p.consensus,
        vec![ConsensusProposal {
            line: 1,
            name: "pick_db".into(),
            agents: vec!["architect".into(), "engineer".into(), "critic".into()],
            copies: 4,
            objective: "Which storage engine and why?".into(),
        }]
    );
    assert!(p.problems.is_empty());
}

#[test]
fn consensus_copies_default_and_bad_values() {
    let copies = |line: &str| {
        let p = parse(&format!(
            "PROPOSE_CONSENSUS: c\n{line}\nOBJECTIVE: o\nEND_CONSENSUS"
        ));
        (p.consensus.first().map(|c| c.copies), p.problems.len())
    };
    assert_eq!(copies(""), (Some(3), 0));
    assert_eq!(copies("COPIES: 7"), (Some(7), 0));
    assert_eq!(copies("COPIES: 2 copies"), (Some(2), 0));
    assert_eq!(copies("COPIES: many"), (Some(3), 1));
    assert_eq!(copies("COPIES: 0"), (Some(3), 1));
    assert_eq!(copies("COPIES: -2"), (Some(3), 1));
    assert_eq!(copies("COPIES: 99999999999"), (Some(3), 1));
}

#[test]
fn terminators_only_close_their_own_block() {
    let text = "PROPOSE_ROLE: r\nPROMPT:\nsay END_POST\nEND_POST\nEND_WORKFLOW\nEND_ROLE";
    let p = parse(text);
    assert_eq!(
        p.roles.first().map(|r| r.prompt.as_str()),
        Some("say END_POST\nEND_POST\nEND_WORKFLOW")
    );
}
