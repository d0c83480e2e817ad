//! Secret redaction for everything clk writes: logs, run records, events, commit messages.
//!
//! Two nets: the exact values of secrets clk knows about (API keys from providers.json and
//! from environment variables whose names say KEY, TOKEN, SECRET or PASS), and patterns that
//! look like keys whoever owns them (`sk-…`, `Bearer …`). A redacted value reads
//! `<redacted: N chars>` so a person can still tell that something was there.

use std::sync::{OnceLock, RwLock};

use regex::Regex;

fn known() -> &'static RwLock<Vec<String>> {
    static KNOWN: OnceLock<RwLock<Vec<String>>> = OnceLock::new();
    KNOWN.get_or_init(|| RwLock::new(Vec::new()))
}

fn patterns() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        crate::engine::ground::fixed::regex(
            r"(?x)
            (?P<sk>\b(?:sk|pk|rk)-[A-Za-z0-9_\-]{12,})
            | (?P<bearer>(?i:bearer)\s+[A-Za-z0-9_\-\.=]{12,})
            | (?P<google>\bAIza[0-9A-Za-z_\-]{20,})
            | (?P<gh>\bgh[pousr]_[A-Za-z0-9]{20,})",
        )
    })
}

/// Whether `text` holds what every key shape of [`patterns`] starts with. Most text (a log
/// line, a prompt, a source file) holds none, and then the patterns need not be built or run.
fn may_hold_key_shape(text: &str) -> bool {
    let b = text.as_bytes();
    ["sk-", "pk-", "rk-", "AIza"]
        .iter()
        .any(|p| text.contains(p))
        || b.windows(4)
            .any(|w| w[0] == b'g' && w[1] == b'h' && b"pousr".contains(&w[2]) && w[3] == b'_')
        || b.windows(6).any(|w| w.eq_ignore_ascii_case(b"bearer"))
}

/// Shortest secret value worth remembering; shorter values would redact ordinary words.
const MIN_SECRET_CHARS: usize = 6;

/// Remember a secret value so that it is redacted wherever it appears.
pub fn register(secret: &str) {
    let secret = secret.trim();
    if secret.chars().count() < MIN_SECRET_CHARS {
        return;
    }
    let mut list = known().write().unwrap_or_else(|p| p.into_inner());
    if !list.iter().any(|s| s == secret) {
        list.push(secret.to_string());
        // Longest first so a secret that contains another is replaced whole.
        list.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }
}

/// True for environment variable names that hold secrets by convention.
pub fn is_secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    ["KEY", "TOKEN", "SECRET", "PASS", "AUTH"]
        .iter()
        .any(|w| upper.contains(w))
}

/// Register every secret-named environment variable's value. Called once at start-up.
pub fn register_env_secrets() {
    for (name, value) in std::env::vars() {
        if is_secret_name(&name) {
            register(&value);
        }
    }
}

/// How a redacted value is shown.
pub fn mask(secret: &str) -> String {
    format!("<redacted: {} chars>", secret.chars().count())
}

/// Replace every known secret and every key-shaped token in `text`.
pub fn redact_text(text: &str) -> String {
    let mut out = text.to_string();
    {
        let list = known().read().unwrap_or_else(|p| p.into_inner());
        for secret in list.iter() {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), &mask(secret));
            }
        }
    }
    if may_hold_key_shape(&out) && patterns().is_match(&out) {
        out = patterns()
            .replace_all(&out, |caps: &regex::Captures<'_>| {
                let m = caps.get(0).map(|m| m.as_str()).unwrap_or_default();
                if caps.name("bearer").is_some() {
                    let token = m.split_whitespace().nth(1).unwrap_or_default();
                    format!("Bearer {}", mask(token))
                } else {
                    mask(m)
                }
            })
            .into_owned();
    }
    out
}

/// The mask of the first secret clk knows (a registered value, not a mere key shape) that
/// `text` holds, if any. For refusing to write a key into a file that would be committed.
pub fn known_secret_in(text: &str) -> Option<String> {
    let list = known().read().unwrap_or_else(|p| p.into_inner());
    list.iter()
        .find(|s| text.contains(s.as_str()))
        .map(|s| mask(s))
}

/// The mask of the first key in `text`: a secret clk knows, or a token-shaped string
/// (`sk-…`, `Bearer …`, `AIza…`, `ghp_…`). For refusing to commit a file, or a file name,
/// that holds one. Placeholders in documentation (`Bearer YOUR_API_KEY`, `sk-XXXXXXXXXXXX`:
/// no digit and no lower-case letter after the prefix) are not keys.
pub fn secret_in(text: &str) -> Option<String> {
    known_secret_in(text).or_else(|| {
        if !may_hold_key_shape(text) {
            return None;
        }
        patterns()
            .find_iter(text)
            .find(|m| !is_placeholder(m.as_str()))
            .map(|m| mask(m.as_str()))
    })
}

fn is_placeholder(token: &str) -> bool {
    // The part after the prefix: the word after `Bearer`, what follows `sk-`/`ghp_`, `AIza`.
    let body = match token.split_whitespace().nth(1) {
        Some(word) => word,
        None => match token.strip_prefix("AIza") {
            Some(rest) => rest,
            None => token
                .split_once(['-', '_'])
                .map(|(_, rest)| rest)
                .unwrap_or(token),
        },
    };
    !body
        .chars()
        .any(|c| c.is_ascii_digit() || c.is_ascii_lowercase())
}

/// An `io::Write` that redacts what passes through it, for the tracing log file. Each write
/// is redacted on its own; tracing writes one whole line per call, so a secret is never split
/// across two writes.
pub struct RedactingWriter<W: std::io::Write> {
    inner: W,
}

impl<W: std::io::Write> RedactingWriter<W> {
    pub fn new(inner: W) -> Self {
        RedactingWriter { inner }
    }
}

impl<W: std::io::Write> std::io::Write for RedactingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        self.inner.write_all(redact_text(&text).as_bytes())?;
        // All of `buf` was consumed, whatever length its redacted form has.
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// A copy of `value` with every string in it redacted (through its JSON form).
pub fn redacted<T>(value: &T) -> T
where
    T: serde::Serialize + serde::de::DeserializeOwned + Clone,
{
    let Ok(mut v) = serde_json::to_value(value) else {
        return value.clone();
    };
    redact_json(&mut v);
    serde_json::from_value(v).unwrap_or_else(|_| value.clone())
}

/// Redact every string inside a JSON value, in place.
pub fn redact_json(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::String(s) => {
            let r = redact_text(s);
            if r != *s {
                *s = r;
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(redact_json),
        serde_json::Value::Object(map) => map.values_mut().for_each(redact_json),
        serde_json::Value::Null | serde_json::Value::Bool(_) | serde_json::Value::Number(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_values_are_masked_with_their_length() {
        register("hunter2-very-secret");
        let out = redact_text("key=hunter2-very-secret end");
        assert_eq!(out, "key=<redacted: 19 chars> end");
    }

    #[test]
    fn key_shapes_are_masked_without_registration() {
        let out = redact_text("auth: Bearer abcdefghijklmnop and sk-proj-ABCDEFGHIJKLMNOP");
        assert!(!out.contains("abcdefghijklmnop"), "{out}");
        assert!(!out.contains("ABCDEFGHIJKLMNOP"), "{out}");
        assert!(out.contains("Bearer <redacted: 16 chars>"), "{out}");
    }

    #[test]
    fn short_values_and_plain_words_survive() {
        register("abc");
        assert_eq!(
            redact_text("abc is fine, skipping"),
            "abc is fine, skipping"
        );
    }

    #[test]
    fn known_secrets_are_found_but_key_shapes_alone_are_not() {
        register("find-me-secret-42");
        assert_eq!(
            known_secret_in("x find-me-secret-42 y").as_deref(),
            Some("<redacted: 17 chars>")
        );
        assert_eq!(known_secret_in("sk-proj-ABCDEFGHIJKLMNOP"), None);
        assert_eq!(
            secret_in("k = 'sk-proj-ABCDEFGHIJKLMNOP'").as_deref(),
            Some("<redacted: 24 chars>")
        );
        assert!(secret_in("find-me-secret-42").is_some());
        assert_eq!(secret_in("skip-this, a plain sentence"), None);
        for doc in [
            "Authorization: Bearer YOUR_API_KEY_HERE",
            "OPENAI_API_KEY=sk-XXXXXXXXXXXXXXXXXXXX",
            "token: ghp_XXXXXXXXXXXXXXXXXXXXXXXX",
        ] {
            assert_eq!(secret_in(doc), None, "{doc}");
        }
        assert!(secret_in("Bearer YOUR_API_KEY then sk-live-abcDEF123456789").is_some());
    }

    #[test]
    fn the_log_writer_redacts_what_it_passes_on() {
        use std::io::Write;
        register("log-writer-secret-7");
        let mut out = Vec::new();
        let mut w = RedactingWriter::new(&mut out);
        let line = b"INFO token=log-writer-secret-7 done\n";
        assert_eq!(w.write(line).unwrap(), line.len());
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "INFO token=<redacted: 19 chars> done\n"
        );
    }

    #[test]
    fn the_quick_look_finds_every_key_shape() {
        // Whatever the patterns match, the quick look must let through.
        for text in [
            "key sk-abcdefghijkl0123",
            "pk-ABCDEFGHIJKL0123",
            "x rk-abcdefghijkl_01",
            "Authorization: BEARER abcdefghijkl0123",
            "AIzaSyA1234567890abcdefghij",
            "token ghs_abcdefghijklmnopqrst0123",
        ] {
            assert!(patterns().is_match(text), "{text}");
            assert!(may_hold_key_shape(text), "{text}");
            assert_ne!(redact_text(text), text);
        }
        assert!(!may_hold_key_shape("INFO clk started command=\"status\""));
    }

    #[test]
    fn json_strings_are_redacted_deeply() {
        register("zz-top-secret-value");
        let mut v = serde_json::json!({"a": ["zz-top-secret-value"], "b": {"c": 1}});
        redact_json(&mut v);
        assert_eq!(v["a"][0], "<redacted: 19 chars>");
    }
}
