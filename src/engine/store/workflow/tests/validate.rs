//! Loading: every error names file, stage and field, on one line.

use super::{ROSTER, error};
use crate::engine::store::workflow::load;

/// A stage block; `extra` is appended as more keys of the same stage.
pub(super) fn st(id: &str, agent: &str, extra: &str) -> String {
    format!("  - id: {id}\n    agent: {agent}\n    objective: do {id}\n{extra}")
}

pub(super) fn doc(stages: &[String]) -> String {
    format!("name: engineering\nstages:\n{}", stages.concat())
}

#[test]
fn a_full_stage_loads_with_its_defaults_and_yaml_niceties() {
    let yaml = "# a comment\nstages:\n  - id: build   # trailing comment\n    agent: engineer\n    objective: >-\n      Build the\n      thing.\n    inputs: [type:qa, 'stage:plan']\n    refine: {critic: critic, max_rounds: 2, accept_threshold: 0.8, mode: Debate}\n    phase: REVIEW\n    rounds: 3\n    metadata: {k: v}\n  - id: check\n    agent: qa\n    objective: |\n      Check it.\n    depends_on: build\n    commit: false\n    careful: true\n    validation: test -f x\n    refine: true\n";
    let wf = load("dir/engineering.yaml", yaml, &ROSTER).unwrap();
    assert_eq!(wf.name, "engineering", "name defaults to the file stem");
    let [build, check] = &wf.stages[..] else {
        panic!("{wf:?}")
    };
    assert_eq!(build.objective, "Build the thing.");
    assert_eq!(build.inputs, ["type:qa", "stage:plan"]);
    assert!(build.commit && !build.careful);
    assert_eq!(build.phase.as_deref(), Some("review"));
    assert_eq!(build.rounds, Some(3));
    let r = build.refine.as_ref().unwrap();
    assert_eq!(r.mode.as_deref(), Some("debate"));
    assert_eq!((r.max_rounds, r.accept_threshold), (Some(2), Some(0.8)));
    assert_eq!(build.metadata["k"], "v");
    assert_eq!(check.objective, "Check it.");
    assert_eq!(
        check.depends_on,
        ["build"],
        "a single id is a one-item list"
    );
    assert!(!check.commit && check.careful);
    assert_eq!(check.validation.as_deref(), Some("test -f x"));
    assert_eq!(check.refine, Some(Default::default()));
}

#[test]
fn unknown_agent_names_file_stage_and_known_agents() {
    let e = error(&doc(&[st("qa", "tester", "")]));
    assert_eq!(
        e,
        "engineering.yaml: stage \"qa\": unknown agent \"tester\" (known: chief, critic, engineer, qa, ralph)"
    );
    let e = error(&doc(&[st(
        "b",
        "engineer",
        "    refine: {critic: judge}\n",
    )]));
    assert!(
        e.starts_with(
            "engineering.yaml: stage \"b\": refine: critic names an unknown agent \"judge\""
        ),
        "{e}"
    );
    // A closure roster cannot list names; the message still names the agent.
    let err = load("x.yaml", &doc(&[st("a", "ghost", "")]), &|n: &str| {
        n == "chief"
    })
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "x.yaml: stage \"a\": unknown agent \"ghost\""
    );
}

#[test]
fn missing_and_malformed_ids_point_at_the_position() {
    let third = "  - agent: qa\n    objective: check\n".to_string();
    let e = error(&doc(&[st("a", "qa", ""), st("b", "qa", ""), third]));
    assert_eq!(e, "engineering.yaml: stage 3: missing id");
    let e = error(&doc(&[st("a", "qa", ""), st("Build Step", "qa", "")]));
    assert!(
        e.starts_with(
            "engineering.yaml: stage 2: id \"Build Step\" must match [a-z0-9][a-z0-9_-]*"
        ),
        "{e}"
    );
    let e = error(&doc(&[st("\"\"", "qa", "")]));
    assert_eq!(e, "engineering.yaml: stage 1: missing id");
    let e = error(&doc(&[st("[a]", "qa", "")]));
    assert_eq!(e, "engineering.yaml: stage 1: id must be text, got a list");
    let e = error("stages:\n  - just words\n");
    assert!(
        e.starts_with("engineering.yaml: stage 1: must be a mapping"),
        "{e}"
    );
}

#[test]
fn duplicate_ids_and_unknown_dependencies_are_named() {
    let e = error(&doc(&[st("build", "engineer", ""), st("build", "qa", "")]));
    assert_eq!(e, "engineering.yaml: duplicate stage id \"build\"");
    let e = error(&doc(&[
        st("a", "qa", ""),
        st("b", "qa", "    depends_on: [a, x]\n"),
    ]));
    assert_eq!(
        e,
        "engineering.yaml: stage \"b\": depends_on names unknown stage \"x\""
    );
}

#[test]
fn cycles_of_length_one_two_and_three_are_spelled_out() {
    let e = error(&doc(&[st("a", "qa", "    depends_on: [a]\n")]));
    assert_eq!(e, "engineering.yaml: dependency cycle: a -> a");
    let e = error(&doc(&[
        st("a", "qa", "    depends_on: [b]\n"),
        st("b", "qa", "    depends_on: [a]\n"),
    ]));
    assert_eq!(e, "engineering.yaml: dependency cycle: a -> b -> a");
    let e = error(&doc(&[
        st("a", "qa", "    depends_on: [b]\n"),
        st("b", "qa", "    depends_on: [c]\n"),
        st("c", "qa", "    depends_on: [a]\n"),
    ]));
    assert_eq!(e, "engineering.yaml: dependency cycle: a -> b -> c -> a");
    // The cycle need not include the first stage, and a diamond is not a cycle.
    let e = error(&doc(&[
        st("x", "qa", ""),
        st("y", "qa", "    depends_on: [x, z]\n"),
        st("z", "qa", "    depends_on: [y]\n"),
    ]));
    assert_eq!(e, "engineering.yaml: dependency cycle: y -> z -> y");
    let diamond = doc(&[
        st("a", "qa", ""),
        st("b", "qa", "    depends_on: [a]\n"),
        st("c", "qa", "    depends_on: [a]\n"),
        st("d", "qa", "    depends_on: [b, c]\n"),
    ]);
    assert!(load("d.yaml", &diamond, &ROSTER).is_ok());
}

#[test]
fn a_long_chain_does_not_overflow_the_stack() {
    let mut stages = vec![st("s0", "qa", "")];
    for i in 1..5000 {
        stages.push(st(
            &format!("s{i}"),
            "qa",
            &format!("    depends_on: [s{}]\n", i - 1),
        ));
    }
    assert_eq!(
        load("long.yaml", &doc(&stages), &ROSTER)
            .unwrap()
            .stages
            .len(),
        5000
    );
}

#[test]
fn no_stages_in_any_form() {
    for yaml in [
        "",
        "# nothing\n",
        "name: x\n",
        "name: x\nstages:\n",
        "name: x\nstages: []\n",
    ] {
        assert_eq!(
            error(yaml),
            "engineering.yaml: no stages (add a `stages:` list with at least one stage)",
            "{yaml:?}"
        );
    }
}

#[test]
fn empty_objective_and_missing_agent() {
    for objective in ["", "    objective: \"\"\n", "    objective: \"  \"\n"] {
        let yaml = format!("stages:\n  - id: x\n    agent: qa\n{objective}");
        assert_eq!(
            error(&yaml),
            "engineering.yaml: stage \"x\": objective is empty"
        );
    }
    let e = error("stages:\n  - id: x\n    objective: o\n");
    assert_eq!(e, "engineering.yaml: stage \"x\": missing agent");
}

#[test]
fn yaml_syntax_errors_carry_line_and_column() {
    let e = error("name: x\nstages:\n  - id: a\n    depends_on: [b\n");
    assert!(e.starts_with("engineering.yaml: line 4 column 17: "), "{e}");
    assert!(e.contains("bracket"), "{e}");
    let e = error("name: x\nname: y\nstages: []\n");
    assert_eq!(
        e,
        "engineering.yaml: line 2 column 1: duplicate mapping key: name"
    );
    let e = error("name: x\n---\nname: y\n");
    assert!(
        e.ends_with("more than one YAML document (remove the extra `---` line)"),
        "{e}"
    );
}

#[test]
fn unknown_keys_are_rejected_with_a_suggestion() {
    let e = error(&doc(&[
        st("a", "qa", ""),
        st("b", "qa", "    depend_on: [a]\n"),
    ]));
    assert_eq!(
        e,
        "engineering.yaml: stage \"b\": unknown key \"depend_on\" (did you mean \"depends_on\"?)"
    );
    let e = error(&doc(&[st("a", "qa", "    colour: red\n")]));
    assert!(
        e.starts_with("engineering.yaml: stage \"a\": unknown key \"colour\" (known: id, agent"),
        "{e}"
    );
    let e = error(&doc(&[st(
        "a",
        "qa",
        "    refine: {critic: critic, max_round: 2}\n",
    )]));
    assert_eq!(
        e,
        "engineering.yaml: stage \"a\": refine: unknown key \"max_round\" (did you mean \"max_rounds\"?)"
    );
    let e = error("name: x\nstage:\n  - id: a\n");
    assert_eq!(
        e,
        "engineering.yaml: unknown top-level key \"stage\" (did you mean \"stages\"?)"
    );
}

#[test]
fn wrong_value_shapes_name_the_field() {
    let cases = [
        (
            "    commit: maybe\n",
            "commit must be true or false, got \"maybe\"",
        ),
        ("    careful: 1\n", "careful must be true or false, got 1"),
        (
            "    rounds: 0\n",
            "rounds must be a whole number of at least 1, got 0",
        ),
        (
            "    rounds: two\n",
            "rounds must be a whole number of at least 1, got \"two\"",
        ),
        (
            "    depends_on: {a: b}\n",
            "depends_on must be a list of stage ids",
        ),
        (
            "    outputs: [[a]]\n",
            "outputs must be a list of contract keys",
        ),
        ("    inputs: [type:qa, \"\"]\n", "inputs has an empty entry"),
        (
            "    validation: [a, b]\n",
            "validation must be text, got a list",
        ),
        ("    refine: 3\n", "refine must be true, false or a mapping"),
        (
            "    refine: {accept_threshold: 2}\n",
            "refine: accept_threshold must be a number from 0 to 1, got 2",
        ),
        (
            "    refine: {max_rounds: 0}\n",
            "refine: max_rounds must be a whole number of at least 1",
        ),
        (
            "    refine: {mode: debat}\n",
            "refine: mode must be \"refine\" or \"debate\", got \"debat\"",
        ),
        (
            "    metadata: [1]\n",
            "metadata must be a mapping, got a list",
        ),
        (
            "    inputs: [tpye:qa]\n",
            "inputs: unknown selector prefix \"tpye\" in \"tpye:qa\"",
        ),
        (
            "    inputs: [\"stage:\"]\n",
            "inputs: selector \"stage:\" has no value",
        ),
    ];
    for (extra, want) in cases {
        let e = error(&doc(&[st("a", "qa", extra)]));
        let prefix = "engineering.yaml: stage \"a\": ";
        assert!(e.starts_with(&format!("{prefix}{want}")), "{extra:?}: {e}");
        assert!(!e.contains('\n'), "{e}");
    }
    assert!(
        error("- a\n- b\n")
            .starts_with("engineering.yaml: not a workflow: the top level must be a mapping")
    );
    assert_eq!(
        error("name: [a]\nstages: []\n"),
        "engineering.yaml: name: must be text, got a list"
    );
    assert_eq!(
        error("stages: {a: 1}\n"),
        "engineering.yaml: stages: must be a list of stages, got a mapping"
    );
}

#[test]
fn scalars_yaml_reads_as_numbers_count_as_text() {
    let wf = load(
        "n.yaml",
        "name: 2024\nstages:\n  - id: 1\n    agent: qa\n    objective: 42\n    depends_on: []\n",
        &ROSTER,
    )
    .unwrap();
    assert_eq!((wf.name.as_str(), wf.stages[0].id.as_str()), ("2024", "1"));
    assert_eq!(wf.stages[0].objective, "42");
}

#[test]
fn yaml_1_1_booleans_and_leading_zeros_stay_names() {
    let yaml = "stages:\n  - {id: y, agent: qa, objective: yes}\n  - {id: 'on', agent: qa, objective: o, depends_on: [y]}\n  - {id: 007, agent: qa, objective: o, commit: no}\n";
    let e = error(yaml);
    assert_eq!(
        e,
        "engineering.yaml: stage \"007\": commit must be true or false, got \"no\""
    );
    let wf = load(
        "b.yaml",
        &yaml.replace("commit: no", "commit: False"),
        &ROSTER,
    )
    .unwrap();
    let ids: Vec<&str> = wf.stages.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["y", "on", "007"]);
    assert_eq!(wf.stages[0].objective, "yes");
    assert!(!wf.stages[2].commit);
}

#[test]
fn suggestions_only_for_likely_typos() {
    let e = error(&doc(&[st("a", "qa", "    agnet: qa\n")]));
    assert!(
        e.contains("unknown key \"agnet\" (did you mean \"agent\"?)"),
        "{e}"
    );
    let e = error(&doc(&[st("a", "qa", "    to: qa\n")]));
    assert!(e.contains("unknown key \"to\" (known: "), "{e}");
}
