//! Proposals: name normalisation, the text that would be written, and rejections.

use super::ROSTER;
use crate::engine::ground::protocol::WorkflowProposal;
use crate::engine::store::workflow::propose::{normalize_name, prepare, write};
use crate::engine::store::workflow::{WorkflowError, load};
use crate::engine::store::workspace::Workspace;

const STAGES: &str = "stages:\n  - id: build\n    agent: engineer\n    objective: build it\n";

fn proposal(name: &str, description: Option<&str>, yaml: &str) -> WorkflowProposal {
    WorkflowProposal {
        line: 1,
        name: name.into(),
        description: description.map(str::to_string),
        yaml: yaml.into(),
    }
}

#[test]
fn names_are_normalised_to_lower_snake_case() {
    assert_eq!(
        normalize_name("Engineering").as_deref(),
        Some("engineering")
    );
    assert_eq!(normalize_name("Ralph Loop!").as_deref(), Some("ralph_loop"));
    assert_eq!(
        normalize_name("  my--flow v2 ").as_deref(),
        Some("my_flow_v2")
    );
    assert_eq!(
        normalize_name("../../etc/passwd").as_deref(),
        Some("etc_passwd")
    );
    assert_eq!(
        normalize_name("keep__double").as_deref(),
        Some("keep__double")
    );
    assert_eq!(normalize_name("Café").as_deref(), Some("caf"));
    assert_eq!(normalize_name("!!!"), None);
    assert_eq!(normalize_name(""), None);
    assert_eq!(normalize_name(&"a".repeat(100)).map(|n| n.len()), Some(64));
}

#[test]
fn name_and_description_are_added_when_missing() {
    let (file, text, wf) = prepare(
        &proposal("Eng Flow", Some("One \"cycle\""), STAGES),
        &ROSTER,
    )
    .unwrap();
    assert_eq!(file, "eng_flow.yaml");
    assert!(
        text.starts_with("name: eng_flow\ndescription: \"One \\\"cycle\\\"\"\nstages:\n"),
        "{text}"
    );
    assert_eq!(wf.name, "eng_flow");
    assert_eq!(wf.description.as_deref(), Some("One \"cycle\""));
    // What is returned is what loads.
    assert_eq!(load(&file, &text, &ROSTER).unwrap(), wf);
}

#[test]
fn existing_name_and_description_are_kept() {
    let yaml = format!("name: mine\ndescription: theirs\n{STAGES}");
    let (file, text, wf) =
        prepare(&proposal("engineering", Some("ignored"), &yaml), &ROSTER).unwrap();
    assert_eq!(file, "engineering.yaml");
    assert_eq!(text, yaml);
    assert_eq!(
        (wf.name.as_str(), wf.description.as_deref()),
        ("mine", Some("theirs"))
    );
    // With a name but no description, the description goes right after the name line.
    let yaml = format!("# header\nname: mine\n{STAGES}");
    let (_, text, _) = prepare(&proposal("x", Some("d"), &yaml), &ROSTER).unwrap();
    assert!(
        text.starts_with("# header\nname: mine\ndescription: \"d\"\nstages:"),
        "{text}"
    );
}

#[test]
fn fences_indentation_and_document_markers_are_handled() {
    let fenced = format!("```yaml\n{STAGES}```\n");
    let (_, text, wf) = prepare(&proposal("f", None, &fenced), &ROSTER).unwrap();
    assert_eq!(text, format!("name: f\n{STAGES}"));
    assert_eq!(wf.stages[0].id, "build");
    let indented: String = STAGES.lines().map(|l| format!("    {l}\n")).collect();
    let (_, text, _) = prepare(&proposal("i", None, &indented), &ROSTER).unwrap();
    assert_eq!(text, format!("name: i\n{STAGES}"));
    let marked = format!("%YAML 1.2\n---\n{STAGES}");
    let (_, text, _) = prepare(&proposal("m", Some("d"), &marked), &ROSTER).unwrap();
    assert_eq!(
        text,
        format!("%YAML 1.2\n---\nname: m\ndescription: \"d\"\n{STAGES}")
    );
}

#[test]
fn errors_use_the_chiefs_own_line_numbers() {
    let fenced = "```yaml\nstages:\n  - id: a\n    depends_on: [b\n```\n";
    let e = prepare(&proposal("eng", None, fenced), &ROSTER)
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("proposed eng.yaml: line 4 column 17: "),
        "{e}"
    );
}

#[test]
fn bad_proposals_are_rejected_with_the_reason() {
    let cases = [
        ("stages: [\n", "proposed eng.yaml: line "),
        ("", "proposed eng.yaml: no stages"),
        ("name: eng\n", "proposed eng.yaml: no stages"),
        (
            "stages:\n  - id: a\n    agent: tester\n    objective: o\n",
            "proposed eng.yaml: stage \"a\": unknown agent \"tester\" (known: chief, critic, engineer, qa, ralph)",
        ),
        (
            "stages:\n  - {id: a, agent: qa, objective: o, depends_on: [b]}\n  - {id: b, agent: qa, objective: o, depends_on: [a]}\n",
            "proposed eng.yaml: dependency cycle: a -> b -> a",
        ),
        ("- id: a\n", "proposed eng.yaml: not a workflow"),
    ];
    for (yaml, want) in cases {
        let e = prepare(&proposal("eng", Some("d"), yaml), &ROSTER).unwrap_err();
        assert!(e.to_string().starts_with(want), "{yaml:?}: {e}");
    }
    let e = prepare(&proposal("???", None, STAGES), &ROSTER).unwrap_err();
    assert!(matches!(e, WorkflowError::BadName { .. }), "{e}");
}

#[test]
fn a_flow_style_root_that_cannot_take_a_name_line_is_rejected_not_written() {
    // Valid as written, but prepending `name:` would make it invalid YAML: refused.
    let yaml = "{stages: [{id: a, agent: qa, objective: o}]}\n";
    assert!(load("x.yaml", yaml, &ROSTER).is_ok());
    let e = prepare(&proposal("flow", None, yaml), &ROSTER).unwrap_err();
    assert!(
        e.to_string().starts_with("proposed flow.yaml: line "),
        "{e}"
    );
}

#[test]
fn write_refuses_names_that_are_not_normalised() {
    let dir = tempfile::tempdir().unwrap();
    let ws = Workspace::new(dir.path());
    for bad in ["../x", "Eng", "a b", ""] {
        let e = write(&ws, bad, STAGES).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "{bad}");
    }
    write(&ws, "eng.yaml", STAGES).unwrap();
    let path = ws.workflows_dir().join("eng.yaml");
    assert_eq!(std::fs::read_to_string(path).unwrap(), STAGES);
}

#[test]
fn an_empty_name_key_is_filled_from_the_proposal_not_duplicated() {
    let yaml = format!("name: \"\"\ndescription:\n{STAGES}");
    let (_, text, wf) = prepare(&proposal("Eng", Some("d"), &yaml), &ROSTER).unwrap();
    assert_eq!(text, yaml);
    assert_eq!((wf.name.as_str(), wf.description), ("eng", None));
}
