//! Small text helpers for the log lines of `describe.rs`.

pub(super) fn sha7(sha: &str) -> &str {
    sha.get(..7).unwrap_or(sha)
}

/// `1m05s`-style durations for log lines.
pub(super) fn clock(ms: u64) -> String {
    let s = ms / 1000;
    if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

pub(super) fn short(s: &str, n: usize) -> String {
    let first = s.lines().next().unwrap_or_default();
    if first.chars().count() > n {
        format!("{}…", first.chars().take(n).collect::<String>())
    } else {
        first.to_string()
    }
}
