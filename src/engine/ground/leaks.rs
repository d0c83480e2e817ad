//! What a secret looks like in a commit: key-shaped strings in a line of text, and files whose
//! names say they hold keys. Used by the pre-push scan (`store/git/scan.rs`).
//!
//! The shapes are the well-known token formats (OpenAI/Anthropic-style `sk-…`, GitHub, Google,
//! AWS, Slack, Stripe, private key blocks), plus any value clk knows to be secret (registered
//! with [`crate::engine::ground::redact`]).

use std::sync::OnceLock;

use regex::Regex;

fn shapes() -> &'static [(Regex, &'static str)] {
    static SHAPES: OnceLock<Vec<(Regex, &'static str)>> = OnceLock::new();
    SHAPES.get_or_init(|| {
        let re = crate::engine::ground::fixed::regex;
        vec![
            (
                re(r"-----BEGIN [A-Z ]*PRIVATE KEY( BLOCK)?-----"),
                "a private key",
            ),
            (re(r"\b(?:sk|rk)_live_[0-9A-Za-z]{20,}"), "a Stripe key"),
            (
                re(r"\b(?:sk|pk|rk)-[A-Za-z0-9_\-]{20,}"),
                "an API key (sk-…)",
            ),
            (re(r"\bgh[pousr]_[A-Za-z0-9]{30,}"), "a GitHub token"),
            (re(r"\bgithub_pat_[A-Za-z0-9_]{40,}"), "a GitHub token"),
            (re(r"\bAIza[0-9A-Za-z_\-]{35}"), "a Google API key"),
            (re(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), "an AWS access key"),
            (re(r"\bxox[abposr]-[A-Za-z0-9\-]{10,}"), "a Slack token"),
        ]
    })
}

/// What kind of secret `line` holds, if it holds one.
pub fn in_line(line: &str) -> Option<&'static str> {
    if let Some((_, kind)) = shapes().iter().find(|(re, _)| re.is_match(line)) {
        return Some(kind);
    }
    crate::engine::ground::redact::known_secret_in(line)
        .map(|_| "the value of one of your secret environment variables or provider keys")
}

/// What kind of secret-holding file `path` (`/`-separated) is, if it is one.
pub fn in_file_name(path: &str) -> Option<&'static str> {
    let name = path.rsplit('/').next().unwrap_or(path);
    let lower = name.to_ascii_lowercase();
    let example = ["example", "sample", "template", "dist"]
        .iter()
        .any(|w| lower.ends_with(w));
    if (lower == ".env" || lower.starts_with(".env.")) && !example {
        return Some("an environment file (.env)");
    }
    if ["id_rsa", "id_dsa", "id_ecdsa", "id_ed25519"].contains(&lower.as_str()) {
        return Some("an SSH private key");
    }
    if [".pem", ".key", ".p12", ".pfx"]
        .iter()
        .any(|ext| lower.ends_with(ext))
    {
        return Some("a key or certificate file");
    }
    if [".netrc", ".git-credentials", ".pgpass"].contains(&lower.as_str())
        || path.ends_with(".aws/credentials")
    {
        return Some("a credentials file");
    }
    None
}

/// The first few characters of what was found, for a report that must not repeat the secret.
pub fn hint(line: &str) -> String {
    let t = line.trim();
    let shown: String = t.chars().take(40).collect();
    for (re, _) in shapes() {
        if let Some(m) = re.find(t) {
            let keep: String = m.as_str().chars().take(6).collect();
            return format!("{keep}…");
        }
    }
    if crate::engine::ground::redact::known_secret_in(t).is_some() {
        return crate::engine::ground::redact::redact_text(&shown);
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_shapes_are_found_and_ordinary_text_is_not() {
        let found = [
            "OPENAI_API_KEY=sk-proj-abcdefghijklmnopqrstuvwx",
            "token = 'ghp_abcdefghijklmnopqrstuvwxyz0123456789'",
            "key: AIzaSyA1234567890abcdefghijklmnopqrstuv",
            "aws_access_key_id = AKIAABCDEFGHIJKLMNOP",
            "-----BEGIN OPENSSH PRIVATE KEY-----",
            "slack: xoxb-123456789012-abcdef",
        ];
        for l in found {
            assert!(in_line(l).is_some(), "{l}");
        }
        for l in [
            "fn main() { println!(\"hello\"); }",
            "let task-key = 1;",
            "sk-short",
            "# set OPENAI_API_KEY in your environment",
        ] {
            assert_eq!(in_line(l), None, "{l}");
        }
        assert_eq!(hint("x = sk-proj-abcdefghijklmnopqrstuvwx"), "sk-pro…");
    }

    #[test]
    fn secret_files_are_named_and_examples_are_not() {
        for p in [
            ".env",
            "app/.env.local",
            "id_rsa",
            "certs/server.pem",
            "deploy.key",
        ] {
            assert!(in_file_name(p).is_some(), "{p}");
        }
        for p in [
            ".env.example",
            ".env.sample",
            "id_rsa.pub",
            "src/env.rs",
            "keys.md",
        ] {
            assert_eq!(in_file_name(p), None, "{p}");
        }
    }
}
