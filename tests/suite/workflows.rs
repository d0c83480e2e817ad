//! Workflow files as shipped and as the chief proposes them: every bundled workflow loads
//! against the roster a fresh project has, and a rejected proposal never touches the file on
//! disk.

use std::fs;
use std::path::Path;

use clk::engine::ground::bundled;
use clk::engine::ground::protocol::WorkflowProposal;
use clk::engine::store::workflow::propose::{prepare, write};
use clk::engine::store::workflow::{
    Workflow, WorkflowError, load, load_file, load_named, topo_order,
};
use clk::engine::store::workspace::Workspace;

/// The baseline roster plus every agent that ships with a prompt.
const ROSTER: [&str; 10] = [
    "chief",
    "critic",
    "engineer",
    "qa",
    "ralph",
    "researcher",
    "analyst",
    "product_manager",
    "architect",
    "operator",
];

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn the_roster_above_is_exactly_the_bundled_prompts() {
    let mut prompts: Vec<String> = bundled::PROMPTS
        .iter()
        .map(|(n, _)| n.trim_end_matches(".md").to_string())
        .collect();
    prompts.sort();
    let mut roster: Vec<String> = ROSTER.iter().map(|s| s.to_string()).collect();
    roster.sort();
    assert_eq!(prompts, roster);
}

#[test]
fn every_bundled_workflow_loads_and_validates() {
    let mut names = Vec::new();
    for entry in fs::read_dir(repo().join("workflows")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let wf = load_file(&path, &ROSTER).unwrap_or_else(|e| panic!("{e}"));
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        assert_eq!(
            wf.name,
            stem,
            "{}: name differs from file name",
            path.display()
        );
        assert!(wf.description.is_some(), "{stem}: no description");
        assert_eq!(topo_order(&wf).len(), wf.stages.len());
        // A loaded workflow survives a JSON round trip (events and state files carry it).
        let json = serde_json::to_string(&wf).unwrap();
        assert_eq!(serde_json::from_str::<Workflow>(&json).unwrap(), wf);
        names.push(stem);
    }
    names.sort();
    let want = [
        "deployment",
        "discovery",
        "engineering",
        "product",
        "ralph_loop",
        "validation",
    ];
    assert_eq!(names, want);
    // The copies compiled into the binary are the same files.
    for (name, text) in bundled::WORKFLOWS {
        load(name, text, &ROSTER).unwrap_or_else(|e| panic!("{e}"));
    }
    assert_eq!(bundled::WORKFLOWS.len(), want.len());
}

#[test]
fn bundled_engineering_has_the_shape_the_runner_expects() {
    let text = bundled::workflow("engineering.yaml").unwrap();
    let wf = load("engineering.yaml", text, &ROSTER).unwrap();
    assert_eq!(topo_order(&wf), ["implement", "refine", "qa", "supervise"]);
    let sup = wf.stage("supervise").unwrap();
    assert!(!sup.commit && sup.is_review() && sup.agent == "chief");
    let implement = wf.stage("implement").unwrap();
    assert_eq!(implement.outputs, ["implementation"]);
    assert_eq!(
        implement.refine.as_ref().and_then(|r| r.critic.as_deref()),
        Some("critic")
    );
}

#[test]
fn bundled_workflows_name_an_unknown_agent_when_the_roster_lacks_it() {
    let baseline = ["chief", "critic", "engineer", "qa", "ralph"];
    let text = bundled::workflow("discovery.yaml").unwrap();
    let e = load("discovery.yaml", text, &baseline).unwrap_err();
    assert_eq!(
        e.to_string(),
        "discovery.yaml: stage \"research\": unknown agent \"researcher\" (known: chief, critic, engineer, qa, ralph)"
    );
}

fn project() -> (tempfile::TempDir, Workspace) {
    let dir = tempfile::tempdir().unwrap();
    let ws = Workspace::new(dir.path());
    fs::create_dir_all(ws.workflows_dir()).unwrap();
    let text = bundled::workflow("engineering.yaml").unwrap();
    fs::write(ws.workflows_dir().join("engineering.yaml"), text).unwrap();
    (dir, ws)
}

fn proposal(yaml: &str) -> WorkflowProposal {
    WorkflowProposal {
        line: 3,
        name: "Engineering".into(),
        description: Some("Cast cycle: build, then check.".into()),
        yaml: yaml.into(),
    }
}

#[test]
fn a_good_proposal_replaces_the_workflow() {
    let (_dir, ws) = project();
    let yaml = "stages:\n  - id: build\n    agent: engineer\n    objective: Build the CLI.\n    outputs: [implementation]\n  - id: check\n    agent: qa\n    depends_on: [build]\n    objective: Test it.\n    inputs: [stage:build]\n";
    let (file, text, wf) = prepare(&proposal(yaml), &ROSTER).unwrap();
    assert_eq!(file, "engineering.yaml");
    assert!(
        text.starts_with("name: engineering\ndescription: \"Cast cycle: build, then check.\"\n")
    );
    assert_eq!(wf.stages.len(), 2);
    write(&ws, &file, &text).unwrap();
    let on_disk = fs::read_to_string(ws.workflows_dir().join("engineering.yaml")).unwrap();
    assert_eq!(on_disk, text);
    let loaded = load_named(&ws, "engineering", &ROSTER).unwrap();
    assert_eq!(loaded, wf);
    // The replaced version is kept beside it, and is not offered as a workflow.
    assert!(ws.workflows_dir().join("engineering.yaml.bak").is_file());
    let e = load_named(&ws, "nope", &ROSTER).unwrap_err();
    assert_eq!(
        e.to_string(),
        "workflow \"nope\" does not exist; available: engineering"
    );
}

#[test]
fn bad_proposals_leave_the_existing_file_byte_identical() {
    let (_dir, ws) = project();
    let path = ws.workflows_dir().join("engineering.yaml");
    let before = fs::read(&path).unwrap();
    let cases = [
        (
            "stages:\n  - id: a\n    agent: qa\n  objective: [\n",
            "line ",
        ),
        ("name: engineering\n", "no stages"),
        ("", "no stages"),
        (
            "stages:\n  - id: qa\n    agent: tester\n    objective: o\n",
            "stage \"qa\": unknown agent \"tester\"",
        ),
        (
            "stages:\n  - {id: a, agent: qa, objective: o, depends_on: [c]}\n  - {id: b, agent: qa, objective: o, depends_on: [a]}\n  - {id: c, agent: qa, objective: o, depends_on: [b]}\n",
            "dependency cycle: a -> c -> b -> a",
        ),
        (
            "stages:\n  - id: a\n    agent: qa\n    objective: o\n    depend_on: [x]\n",
            "stage \"a\": unknown key \"depend_on\" (did you mean \"depends_on\"?)",
        ),
    ];
    for (yaml, want) in cases {
        // The runner's contract: write only after prepare succeeded.
        let err: WorkflowError = match prepare(&proposal(yaml), &ROSTER) {
            Ok((file, text, _)) => {
                write(&ws, &file, &text).unwrap();
                panic!("{yaml:?} was accepted")
            }
            Err(e) => e,
        };
        let msg = err.to_string();
        assert!(msg.starts_with("proposed engineering.yaml: "), "{msg}");
        assert!(msg.contains(want), "{yaml:?}: {msg}");
        assert!(!msg.contains('\n'), "{msg}");
        assert_eq!(
            fs::read(&path).unwrap(),
            before,
            "{yaml:?} touched the file"
        );
    }
    assert!(!ws.workflows_dir().join("engineering.yaml.bak").exists());
    let names: Vec<_> = fs::read_dir(ws.workflows_dir()).unwrap().collect();
    assert_eq!(names.len(), 1, "no stray files");
}
