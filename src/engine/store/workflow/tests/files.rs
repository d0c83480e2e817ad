//! Loading workflows by name from a project's `.clk/config/workflows/`.

use super::ROSTER;
use super::validate::{doc, st};
use crate::engine::store::workflow::{Problem, WorkflowError, available, load_named};
use crate::engine::store::workspace::Workspace;

#[test]
fn named_workflows_load_from_the_project_and_missing_ones_list_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let ws = Workspace::new(dir.path());
    let wdir = ws.workflows_dir();
    std::fs::create_dir_all(&wdir).unwrap();
    let e = load_named(&ws, "nope", &ROSTER).unwrap_err();
    assert_eq!(
        e.to_string(),
        "workflow \"nope\" does not exist; available: (none)"
    );
    std::fs::write(wdir.join("beta.yaml"), doc(&[st("a", "qa", "")])).unwrap();
    std::fs::write(
        wdir.join("alpha.yaml"),
        "stages: [{id: x, agent: ghost, objective: o}]\n",
    )
    .unwrap();
    std::fs::write(wdir.join("beta.yaml.bak"), "old").unwrap();
    std::fs::write(wdir.join(".gamma.yaml.tmp-1"), "tmp").unwrap();
    std::fs::write(wdir.join("notes.txt"), "x").unwrap();
    let e = load_named(&ws, "deploy", &ROSTER).unwrap_err();
    assert_eq!(
        e.to_string(),
        "workflow \"deploy\" does not exist; available: alpha, beta"
    );
    assert!(matches!(e, WorkflowError::NotFound { .. }));
    assert_eq!(available(&ws), ["alpha", "beta"]);
    assert_eq!(
        load_named(&ws, "beta", &ROSTER).unwrap().name,
        "engineering"
    );
    assert_eq!(
        load_named(&ws, "beta.yaml", &ROSTER).unwrap().stages.len(),
        1
    );
    let e = load_named(&ws, "alpha", &ROSTER).unwrap_err();
    assert!(
        e.to_string()
            .starts_with(".clk/config/workflows/alpha.yaml: stage \"x\": unknown agent \"ghost\""),
        "{e}"
    );
    assert!(matches!(e.problem(), Some(Problem::Stage { .. })));
    for bad in ["../etc/passwd", "", "a/b", "a.b"] {
        let e = load_named(&ws, bad, &ROSTER).unwrap_err();
        assert!(matches!(e, WorkflowError::BadName { .. }), "{bad}: {e}");
    }
    std::fs::write(wdir.join("bin.yaml"), [0xff, 0xfe, 0x00]).unwrap();
    let e = load_named(&ws, "bin", &ROSTER).unwrap_err().to_string();
    assert!(
        e.starts_with(".clk/config/workflows/bin.yaml: cannot read: "),
        "{e}"
    );
}

#[test]
fn a_project_without_a_workflows_folder_has_none() {
    let dir = tempfile::tempdir().unwrap();
    let ws = Workspace::new(dir.path());
    assert!(available(&ws).is_empty());
    let e = load_named(&ws, "engineering", &ROSTER).unwrap_err();
    assert_eq!(
        e.to_string(),
        "workflow \"engineering\" does not exist; available: (none)"
    );
}
