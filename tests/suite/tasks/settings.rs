//! `clk configure --set` for the tasks block's reviewer pairs and check commands: set one pair
//! or several, one command (commas kept) or a list; a bad value is one line and the file stays
//! as it was.

use std::fs;

use super::*;

fn config(dir: &Path) -> (String, Value) {
    let text = fs::read_to_string(dir.join(".clk/config/clk.config.json")).unwrap();
    let v = serde_json::from_str(&text).unwrap();
    (text, v)
}

#[test]
fn review_pairs_and_checks_are_set_checked_and_refused_in_one_line() {
    let mock = MockServer::start(Script::new(vec![]));
    let (_t, dir) = project(&mock);
    let out = ok(
        &dir,
        &[
            "configure",
            "--set",
            "tasks.review_pairs.gemini=claude",
            "--set",
            "tasks.review_pairs.claude=",
            "--set",
            "tasks.checks=cargo test --features a,b",
        ],
    );
    assert!(!out.contains("keys clk does not use"), "{out}");
    let (_, c) = config(&dir);
    assert_eq!(c["tasks"]["review_pairs"]["gemini"], "claude");
    assert_eq!(c["tasks"]["review_pairs"]["claude"], "");
    assert_eq!(
        c["tasks"]["checks"],
        serde_json::json!(["cargo test --features a,b"])
    );
    // The effective settings keep the default pair it did not touch.
    let shown = ok(&dir, &["configure", "--show"]);
    let doc: Value = serde_json::from_str(&shown[shown.find('{').unwrap()..]).unwrap();
    assert_eq!(doc["config"]["tasks"]["review_pairs"]["codex"], "claude");
    assert_eq!(doc["config"]["tasks"]["review_pairs"]["gemini"], "claude");

    ok(
        &dir,
        &[
            "configure",
            "--set",
            r#"tasks.checks=["make lint", "make test"]"#,
            "--set",
            "tasks.review_pairs=codex=gemini,ollama=codex",
        ],
    );
    let (before, c) = config(&dir);
    assert_eq!(
        c["tasks"]["checks"],
        serde_json::json!(["make lint", "make test"])
    );
    assert_eq!(c["tasks"]["review_pairs"]["ollama"], "codex");

    for (set, says) in [
        (
            "tasks.review_pairs.claude=nobody",
            "tasks.review_pairs.claude: no provider called \"nobody\"; use one of: ",
        ),
        (
            "tasks.review_pairs=claude",
            "tasks.review_pairs: takes implementer=reviewer pairs",
        ),
        (
            "tasks.checks=[1, 2]",
            "tasks.checks: takes one command, a JSON list",
        ),
    ] {
        let (good, text) = run(
            &dir,
            &["configure", "--set", "tasks.max_turns=3", "--set", set],
        );
        assert!(!good, "{set}: {text}");
        assert!(text.contains(says), "{set}: {text}");
        assert_eq!(text.trim().lines().count(), 1, "{text}");
        assert_eq!(config(&dir).0, before, "{set} left the file as it was");
    }
}
