//! The gate's pure parts: `decide` criterion by criterion, alone and together, the qa verdict
//! words, the config defaults, and the messages the chief sees.

use std::collections::BTreeSet;

use serde_json::json;

use super::*;

/// Facts under which the default gate passes.
fn passing() -> Facts {
    Facts {
        tests: TestsStatus::Green,
        deliverable_files: vec!["main.py".into()],
        latest_qa_post: Some("PASS: all 12 tests pass".into()),
        ralph_passes: 1,
        todo_markers: vec![],
        open_todos: vec![],
    }
}

fn strict() -> GateConfig {
    GateConfig {
        forbid_todo_markers: true,
        ..GateConfig::default()
    }
}

/// The passing facts with one change.
fn with(change: impl FnOnce(&mut Facts)) -> Facts {
    let mut f = passing();
    change(&mut f);
    f
}

#[test]
fn config_defaults_and_partial_json() {
    let d = GateConfig::default();
    assert!(d.require_tests_green && d.require_deliverables && d.require_qa_pass);
    assert!(d.require_ralph_pass && !d.forbid_todo_markers);
    assert_eq!(d.min_deliverable_files, 1);
    let partial: GateConfig =
        serde_json::from_value(json!({"require_qa_pass": false, "enabled": true})).unwrap();
    assert_eq!(
        partial,
        GateConfig {
            require_qa_pass: false,
            ..GateConfig::default()
        }
    );
    let back: GateConfig = serde_json::from_value(serde_json::to_value(&d).unwrap()).unwrap();
    assert_eq!(back, d);
}

#[test]
fn each_criterion_alone() {
    assert_eq!(decide(&strict(), &passing()), Ok(()));
    let cases: Vec<(Facts, Unmet)> = vec![
        (
            with(|f| f.tests = TestsStatus::Red("2 failed".into())),
            Unmet::TestsRed("2 failed".into()),
        ),
        (with(|f| f.tests = TestsStatus::NotRun), Unmet::TestsNotRun),
        (
            with(|f| f.deliverable_files.clear()),
            Unmet::NoDeliverables {
                found: 0,
                needed: 1,
            },
        ),
        (with(|f| f.latest_qa_post = None), Unmet::NoQaPass),
        (
            with(|f| f.latest_qa_post = Some("looks fine to me".into())),
            Unmet::NoQaPass,
        ),
        (
            with(|f| f.latest_qa_post = Some("FAIL: login crashes".into())),
            Unmet::QaFailed,
        ),
        (with(|f| f.ralph_passes = 0), Unmet::NoRalphPass),
        (
            with(|f| f.todo_markers = vec!["a.py:3".into()]),
            Unmet::TodoMarkers(vec!["a.py:3".into()]),
        ),
    ];
    for (facts, want) in cases {
        assert_eq!(
            decide(&strict(), &facts),
            Err(vec![want.clone()]),
            "{want:?}"
        );
    }
}

#[test]
fn weak_tests_pass_but_no_result_is_not_a_pass() {
    let weak = with(|f| f.tests = TestsStatus::GreenWeak);
    assert_eq!(decide(&GateConfig::default(), &weak), Ok(()));
    let none = with(|f| f.tests = TestsStatus::NotRun);
    assert_eq!(
        decide(&GateConfig::default(), &none),
        Err(vec![Unmet::TestsNotRun])
    );
}

#[test]
fn every_unmet_criterion_is_reported_at_once_in_order() {
    let bare = Facts {
        deliverable_files: vec!["a".into()],
        todo_markers: vec!["a:1".into()],
        latest_qa_post: Some("PASS but 1 test FAILED".into()),
        ..Facts::default()
    };
    let cfg = GateConfig {
        min_deliverable_files: 3,
        ..strict()
    };
    let ids: Vec<&str> = decide(&cfg, &bare)
        .unwrap_err()
        .iter()
        .map(Unmet::id)
        .collect();
    assert_eq!(
        ids,
        [
            "tests_not_run",
            "no_deliverables",
            "qa_failed",
            "no_ralph_pass",
            "todo_markers"
        ]
    );
}

#[test]
fn disabled_criteria_are_not_checked() {
    let off = GateConfig {
        require_tests_green: false,
        require_deliverables: false,
        min_deliverable_files: 5,
        require_qa_pass: false,
        require_ralph_pass: false,
        forbid_todo_markers: false,
    };
    let bare = Facts {
        tests: TestsStatus::Red("x".into()),
        latest_qa_post: Some("FAIL".into()),
        todo_markers: vec!["a:1".into()],
        ..Facts::default()
    };
    assert_eq!(decide(&off, &bare), Ok(()));
    // A zero minimum is met by an empty project.
    let zero = GateConfig {
        min_deliverable_files: 0,
        ..GateConfig::default()
    };
    assert_eq!(
        decide(&zero, &with(|f| f.deliverable_files.clear())),
        Ok(())
    );
}

#[test]
fn qa_verdict_words() {
    use QaVerdict::{Fail, Pass, Unclear};
    for (body, want) in [
        ("PASS", Pass),
        ("PASSED", Pass),
        ("Verdict: PASS.\nAll good", Pass),
        ("**PASS** (12/12)", Pass),
        ("FAIL: x", Fail),
        ("FAILED", Fail),
        ("FAILURE in login", Fail),
        ("PASS but 1 test FAILED", Fail),
        ("passport checks passed", Unclear),
        ("pass", Unclear),
        ("PASSPORT", Unclear),
        ("BYPASS the cache", Unclear),
        ("FAILS sometimes", Unclear),
        ("", Unclear),
    ] {
        assert_eq!(qa_verdict(body), want, "{body:?}");
    }
}

#[test]
fn ids_messages_and_hint() {
    let all = vec![
        Unmet::TestsRed("3 failed\nin test_a.py".into()),
        Unmet::TestsNotRun,
        Unmet::NoDeliverables {
            found: 0,
            needed: 2,
        },
        Unmet::NoQaPass,
        Unmet::QaFailed,
        Unmet::NoRalphPass,
        Unmet::TodoMarkers((1..=8).map(|n| format!("a.py:{n}")).collect()),
    ];
    let ids: BTreeSet<&str> = all.iter().map(Unmet::id).collect();
    assert_eq!(ids.len(), all.len());
    for u in &all {
        let m = u.message();
        assert!(!m.is_empty() && !m.contains('\n'), "{m:?}");
    }
    assert_eq!(
        Unmet::NoQaPass.message(),
        "no qa post says PASS yet: ask qa to audit and post a verdict"
    );
    assert!(all[0].message().contains("3 failed in test_a.py"));
    assert!(all[6].message().starts_with("8 TODO"));
    let hint = rejection_hint(&all);
    for u in &all {
        assert!(hint.contains(&format!("[{}]", u.id())), "{hint}");
    }
    assert!(hint.contains("Do not emit ACTION: done"), "{hint}");
}

#[test]
fn open_required_todos_block_done_even_with_every_switch_off() {
    let off = GateConfig {
        require_tests_green: false,
        require_deliverables: false,
        min_deliverable_files: 0,
        require_qa_pass: false,
        require_ralph_pass: false,
        forbid_todo_markers: false,
    };
    let open = Facts {
        open_todos: vec!["engineer: tests for empty files".into()],
        ..Facts::default()
    };
    let unmet = decide(&off, &open).unwrap_err();
    assert_eq!(
        unmet.iter().map(Unmet::id).collect::<Vec<_>>(),
        ["open_todos"]
    );
    assert!(
        unmet[0]
            .message()
            .contains("engineer: tests for empty files")
    );
    assert!(
        open.summary()
            .contains("required todos: engineer: tests for empty files")
    );
    assert_eq!(decide(&off, &Facts::default()), Ok(()));
}
