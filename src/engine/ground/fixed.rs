//! Values written into the source that cannot fail at run time but whose constructors return
//! a `Result`: regular expressions and the serialized defaults of our own config types.
//!
//! They are the one place shipped code may `expect`: a fixed pattern or a derived `Serialize`
//! either always works or never does, and every caller's unit tests build them, so a mistake
//! fails the tests, never a user's run.

use regex::Regex;
use serde::Serialize;

/// Compiles a regular expression written into the source.
#[allow(clippy::expect_used)]
pub fn regex(pattern: &str) -> Regex {
    Regex::new(pattern).expect("a pattern written into the source compiles")
}

/// Serializes one of our own types (derived `Serialize`, string keys only) to JSON.
#[allow(clippy::expect_used)]
pub fn json<T: Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).expect("our own config types serialize to JSON")
}

#[cfg(test)]
mod tests {
    #[test]
    fn fixed_values_build() {
        assert!(super::regex(r"\bPASS\b").is_match("a PASS b"));
        assert_eq!(super::json(&[1, 2]), serde_json::json!([1, 2]));
    }
}
