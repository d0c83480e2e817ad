//! `clk configure --set providers.NAME.FIELD=VALUE` for every provider field the README
//! documents, and a clear one-line refusal (nothing written) for each kind of bad value.

use crate::support;

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::{Value, json};

fn clk(dir: &Path) -> Command {
    let mut c = support::clk();
    c.current_dir(dir).env("CLK_NO_TUI", "1");
    c
}

fn providers_json(dir: &Path) -> Value {
    let p = dir.join(".clk/config/providers.json");
    fs::read_to_string(p)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null)
}

/// Provider fields named in the README's Providers section: the settings column of the
/// provider table, the first column of the agent CLI settings table, and `"field": value`
/// examples in the prose.
fn readme_provider_fields() -> BTreeSet<String> {
    let readme = fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme.find("\n## Providers").unwrap();
    let end = readme[start + 1..]
        .find("\n## ")
        .map_or(readme.len(), |i| start + 1 + i);
    let section = &readme[start..end];
    let ident = regex::Regex::new(r"^[a-z][a-z_]*$").unwrap();
    let tick = regex::Regex::new(r"`([^`]+)`").unwrap();
    let quoted = regex::Regex::new(r#"`"([a-z_]+)": "#).unwrap();
    let mut fields = BTreeSet::new();
    for line in section.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if line.starts_with('|') && cells.len() >= 4 {
            // `| name | what | settings |` or `| setting | meaning |`.
            let settings = if cells.len() == 4 { cells[1] } else { cells[3] };
            for c in tick.captures_iter(settings) {
                for part in c[1].split(',').map(str::trim) {
                    if ident.is_match(part) {
                        fields.insert(part.to_string());
                    }
                }
            }
        }
        for c in quoted.captures_iter(line) {
            fields.insert(c[1].to_string());
        }
    }
    fields.remove("setting");
    fields
}

/// A value the field takes, and what it must read back as in providers.json.
fn sample(field: &str) -> (&'static str, Value) {
    match field {
        "native_tools" => ("true", json!(true)),
        "stream" => ("false", json!(false)),
        "timeout_s" => ("45", json!(45)),
        "max_tokens" => ("2048", json!(2048)),
        "mode" => ("api", json!("api")),
        "api_style" => ("chat", json!("chat")),
        "args" => ("--verbose,--x", json!(["--verbose", "--x"])),
        "api_version" => ("2024-01-01", json!("2024-01-01")),
        _ => ("some-value", json!("some-value")),
    }
}

#[test]
fn every_provider_field_the_readme_documents_can_be_set() {
    let fields = readme_provider_fields();
    for f in [
        "native_tools",
        "mode",
        "key_type",
        "home",
        "stream",
        "api_style",
        "max_tokens",
    ] {
        assert!(fields.contains(f), "README walk missed {f}: {fields:?}");
    }
    let d = tempfile::tempdir().unwrap();
    clk(d.path()).arg("init").assert().success();
    for field in &fields {
        let key = if field == "env" {
            "providers.codex.env.MY_FLAG".to_string()
        } else {
            format!("providers.codex.{field}")
        };
        let (raw, want) = sample(field);
        clk(d.path())
            .args(["configure", "--set", &format!("{key}={raw}")])
            .assert()
            .success();
        let got = providers_json(d.path());
        let got = if field == "env" {
            &got["providers"]["codex"]["env"]["MY_FLAG"]
        } else {
            &got["providers"]["codex"][field.as_str()]
        };
        assert_eq!(got, &want, "{key}");
    }
    // The running binary reads them back typed.
    clk(d.path())
        .args(["configure", "--show"])
        .assert()
        .success()
        .stdout(predicate::str::contains("\"native_tools\": true"))
        .stdout(predicate::str::contains("\"max_tokens\": 2048"));
}

#[test]
fn every_settable_field_is_documented_in_the_readme() {
    let d = tempfile::tempdir().unwrap();
    clk(d.path()).arg("init").assert().success();
    let out = clk(d.path())
        .args(["configure", "--set", "providers.claude.nope=1"])
        .assert()
        .code(2)
        .get_output()
        .stderr
        .clone();
    let err = String::from_utf8_lossy(&out).into_owned();
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let listed = err.split("fields: ").nth(1).unwrap_or_default();
    let documented = readme_provider_fields();
    for f in listed.trim().split(", ") {
        let name = f.split('.').next().unwrap_or_default();
        if ["type", "description", "price", "prices"].contains(&name) {
            continue; // shown by `clk providers` / documented under Cost
        }
        assert!(
            documented.contains(name),
            "{name} is settable but not in the README"
        );
    }
    for f in &documented {
        assert!(
            listed.contains(f.as_str()),
            "{f} documented but not listed: {err}"
        );
    }
    // Help lists the same fields.
    clk(d.path())
        .args(["configure", "--help"])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("native_tools").and(predicate::str::contains("api_version")),
        );
}

#[test]
fn each_bad_provider_value_is_refused_in_one_line_without_writing() {
    let d = tempfile::tempdir().unwrap();
    clk(d.path()).arg("init").assert().success();
    let before = providers_json(d.path());
    for (set, says) in [
        ("providers.claude.native_tools=maybe", "takes true or false"),
        ("providers.claude.stream=sometimes", "takes true or false"),
        ("providers.claude.max_tokens=lots", "takes a whole number"),
        ("providers.claude.max_tokens=-5", "takes a whole number"),
        (
            "providers.claude.max_tokens=0",
            "max_tokens must be at least 1",
        ),
        ("providers.ollama.timeout_s=soon", "takes a whole number"),
        (
            "providers.ollama.timeout_s=0",
            "timeout_s must be at least 1",
        ),
        ("providers.claude.mode=web", "use \"cli\" or \"api\""),
        (
            "providers.codex.api_style=soap",
            "use \"responses\" or \"chat\"",
        ),
        ("providers.claude.env=x", "unknown provider field \"env\""),
        (
            "providers.claude.colour=red",
            "fields: api_key, api_style, api_version",
        ),
        (
            "providers.claude.price.input_per_mtok=2.5",
            "providers.claude.price needs output_per_mtok too: add --set providers.claude.price.output_per_mtok=",
        ),
        (
            "providers.codex.prices.gpt-5.1.output_per_mtok=9",
            "providers.codex.prices.gpt-5.1 needs input_per_mtok too",
        ),
    ] {
        let out = clk(d.path())
            .args(["configure", "--set", set])
            .assert()
            .code(2)
            .stderr(predicate::str::contains(says))
            .get_output()
            .stderr
            .clone();
        let err = String::from_utf8_lossy(&out);
        assert_eq!(err.trim().lines().count(), 1, "{set}: {err}");
        assert_eq!(providers_json(d.path()), before, "{set} wrote the file");
    }
}

#[test]
fn a_new_provider_is_told_to_get_a_type_and_a_key_is_never_echoed() {
    let d = tempfile::tempdir().unwrap();
    clk(d.path()).arg("init").assert().success();
    let before = providers_json(d.path());
    // A new provider's first setting, without a type: say how to give it one.
    let out = clk(d.path())
        .args(["configure", "--set", "providers.mine.native_tools=true"])
        .assert()
        .code(2)
        .get_output()
        .stderr
        .clone();
    let err = String::from_utf8_lossy(&out);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("provider \"mine\" has no type; set providers.mine.type to one of: ")
            && err.contains("--set providers.mine.type=claude"),
        "{err}"
    );
    assert_eq!(providers_json(d.path()), before);
    // With the type in the same command, it is made.
    clk(d.path())
        .args(["configure", "--set", "providers.mine.type=claude"])
        .args(["--set", "providers.mine.native_tools=true"])
        .assert()
        .success();
    let got = providers_json(d.path());
    assert_eq!(got["providers"]["mine"]["type"], "claude", "{got}");
    assert_eq!(got["providers"]["mine"]["native_tools"], true, "{got}");
    // A wrong type names the types this build runs.
    clk(d.path())
        .args(["configure", "--set", "providers.mine.type=clod"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "provider \"mine\" has type \"clod\"; this build runs: ",
        ));
    // The key is stored, and the confirmation names the field without it.
    let key = "sk-test-never-echoed-31";
    clk(d.path())
        .args([
            "configure",
            "--set",
            &format!("providers.mine.api_key={key}"),
        ])
        .assert()
        .success()
        .stdout("set providers.mine.api_key=<hidden>\n");
    assert_eq!(
        providers_json(d.path())["providers"]["mine"]["api_key"],
        key
    );
}
