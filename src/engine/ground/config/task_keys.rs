//! `clk configure --set` for the two settings of the `tasks` block that are not plain values:
//! `tasks.review_pairs`, an open map from an implementer's provider to its reviewer's, and
//! `tasks.checks`, a list of shell commands (which may hold commas, so a bare value is one
//! command, not a comma-separated list).
//!
//! - `tasks.review_pairs.claude=codex` pairs one; `tasks.review_pairs.claude=` (empty) leaves
//!   claude without a reviewer (single-agent); `tasks.review_pairs=claude=codex,codex=claude`
//!   or a JSON object sets several.
//! - `tasks.checks=cargo test` is one command; `tasks.checks=["cargo test", "cargo clippy"]`
//!   several; `tasks.checks=` none (the project's shape decides, as a run's done gate does).

use serde_json::{Map, Value};

/// The open map of reviewer pairs.
pub const REVIEW_PAIRS: &str = "tasks.review_pairs";
/// The proof's check commands.
pub const CHECKS: &str = "tasks.checks";

/// Whether `dotted` is a key under the reviewer pairs (`tasks.review_pairs.NAME`).
pub fn is_pair_key(dotted: &str) -> bool {
    dotted
        .strip_prefix(REVIEW_PAIRS)
        .and_then(|rest| rest.strip_prefix('.'))
        .is_some_and(|name| !name.is_empty() && !name.contains('.'))
}

/// The value `raw` gives `key`, checked, when `key` is one of these settings; None for any
/// other key. `providers` are the configured providers' names (a reviewer must be one).
pub fn parse(key: &str, raw: &str, providers: &[String]) -> Option<Result<Value, String>> {
    let raw = raw.trim();
    if key == CHECKS {
        return Some(checks(raw));
    }
    if key == REVIEW_PAIRS {
        return Some(pairs(raw, providers));
    }
    if is_pair_key(key) {
        return Some(reviewer(raw, providers).map(Value::String));
    }
    None
}

fn checks(raw: &str) -> Result<Value, String> {
    if raw.is_empty() {
        return Ok(Value::Array(Vec::new()));
    }
    if !raw.starts_with('[') {
        return Ok(Value::Array(vec![Value::String(raw.to_string())]));
    }
    let bad = || {
        "takes one command, a JSON list of commands ([\"cargo test\", \"cargo clippy\"]), or \
         nothing"
            .to_string()
    };
    let list: Vec<Value> = serde_json::from_str(raw).map_err(|_| bad())?;
    if list
        .iter()
        .any(|v| v.as_str().is_none_or(|s| s.trim().is_empty()))
    {
        return Err(bad());
    }
    Ok(Value::Array(list))
}

fn reviewer(raw: &str, providers: &[String]) -> Result<String, String> {
    if raw.is_empty() || providers.iter().any(|p| p == raw) {
        return Ok(raw.to_string());
    }
    Err(format!(
        "no provider called {raw:?}; use one of: {} (or nothing for no reviewer)",
        providers.join(", ")
    ))
}

fn pairs(raw: &str, providers: &[String]) -> Result<Value, String> {
    let bad = || {
        "takes implementer=reviewer pairs separated by commas (claude=codex,codex=claude) or a \
         JSON object"
            .to_string()
    };
    let mut map = Map::new();
    if raw.starts_with('{') {
        let v: Map<String, Value> = serde_json::from_str(raw).map_err(|_| bad())?;
        for (k, r) in v {
            let r = r.as_str().ok_or_else(bad)?;
            map.insert(k, Value::String(reviewer(r.trim(), providers)?));
        }
    } else {
        for pair in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, r) = pair.split_once('=').ok_or_else(bad)?;
            if k.trim().is_empty() {
                return Err(bad());
            }
            map.insert(
                k.trim().to_string(),
                Value::String(reviewer(r.trim(), providers)?),
            );
        }
    }
    if map.is_empty() {
        return Err(bad());
    }
    Ok(Value::Object(map))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn known() -> Vec<String> {
        vec!["claude".into(), "codex".into(), "gemini".into()]
    }

    fn p(key: &str, raw: &str) -> Result<Value, String> {
        parse(key, raw, &known()).unwrap()
    }

    #[test]
    fn checks_take_one_command_a_list_or_nothing() {
        assert_eq!(
            p(CHECKS, "cargo test --features a,b"),
            Ok(json!(["cargo test --features a,b"]))
        );
        assert_eq!(
            p(CHECKS, r#"["cargo test", "make lint"]"#),
            Ok(json!(["cargo test", "make lint"]))
        );
        assert_eq!(p(CHECKS, " "), Ok(json!([])));
        assert!(
            p(CHECKS, "[1]")
                .unwrap_err()
                .starts_with("takes one command")
        );
        assert!(p(CHECKS, r#"["ok", ""]"#).is_err());
        assert!(p(CHECKS, "[oops").is_err());
    }

    #[test]
    fn pairs_take_known_providers_one_or_many() {
        assert_eq!(
            p("tasks.review_pairs.gemini", "claude"),
            Ok(json!("claude"))
        );
        assert_eq!(p("tasks.review_pairs.claude", ""), Ok(json!("")));
        let e = p("tasks.review_pairs.claude", "nobody").unwrap_err();
        assert!(
            e.starts_with("no provider called \"nobody\"; use one of: claude"),
            "{e}"
        );
        assert_eq!(
            p(REVIEW_PAIRS, "claude=gemini, gemini=claude"),
            Ok(json!({"claude": "gemini", "gemini": "claude"}))
        );
        assert_eq!(
            p(REVIEW_PAIRS, r#"{"codex": "gemini"}"#),
            Ok(json!({"codex": "gemini"}))
        );
        assert!(
            p(REVIEW_PAIRS, "claude")
                .unwrap_err()
                .starts_with("takes implementer")
        );
        assert!(p(REVIEW_PAIRS, r#"{"codex": 1}"#).is_err());
        assert_eq!(parse("tasks.max_turns", "3", &known()), None);
        assert!(!is_pair_key("tasks.review_pairs") && !is_pair_key("tasks.review_pairs.a.b"));
    }
}
