//! Small, pure formatting helpers shared by the widgets: compact token counts, dollars from
//! micro-dollars, durations, and width-aware truncation.

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// 950, 12.3k, 4.5M.
pub fn tokens(n: u64) -> String {
    match n {
        0..=999 => n.to_string(),
        1_000..=999_999 => trim_point(format!("{:.1}", n as f64 / 1_000.0)) + "k",
        1_000_000..=999_999_999 => trim_point(format!("{:.1}", n as f64 / 1_000_000.0)) + "M",
        _ => trim_point(format!("{:.1}", n as f64 / 1_000_000_000.0)) + "G",
    }
}

fn trim_point(s: String) -> String {
    s.strip_suffix(".0").map(str::to_string).unwrap_or(s)
}

/// `$0.00` for nothing, three decimals under a cent (`$0.004`), two otherwise.
pub fn usd(micros: u64) -> String {
    let dollars = micros as f64 / 1_000_000.0;
    if micros == 0 {
        "$0.00".to_string()
    } else if dollars < 0.01 {
        format!("${:.3}", dollars.max(0.001))
    } else {
        format!("${dollars:.2}")
    }
}

/// 7s, 3m05s, 1h02m.
pub fn duration_ms(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// 0.4s, 12.3s, then as `duration_ms` from a minute on.
pub fn seconds_ms(ms: u64) -> String {
    if ms < 60_000 {
        format!("{:.1}s", ms as f64 / 1000.0)
    } else {
        duration_ms(ms)
    }
}

/// 512b, 3.4kb, 1.2mb.
pub fn bytes(n: u64) -> String {
    match n {
        0..=1023 => format!("{n}b"),
        1024..=1_048_575 => trim_point(format!("{:.1}", n as f64 / 1024.0)) + "kb",
        _ => trim_point(format!("{:.1}", n as f64 / 1_048_576.0)) + "mb",
    }
}

/// HH:MM:SS from seconds since local midnight.
pub fn clock(tod_secs: u32) -> String {
    format!(
        "{:02}:{:02}:{:02}",
        (tod_secs / 3600) % 24,
        (tod_secs / 60) % 60,
        tod_secs % 60
    )
}

/// Display width of `s` in terminal cells.
pub fn width(s: &str) -> usize {
    UnicodeWidthStr::width(s)
}

/// `s` cut to at most `max` cells, with `…` when cut.
pub fn fit(s: &str, max: usize) -> String {
    if width(s) <= max {
        return s.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let w = c.width().unwrap_or(0);
        if used + w > max - 1 {
            break;
        }
        used += w;
        out.push(c);
    }
    out.push('…');
    out
}

/// Control characters (tabs, escape sequences from a CLI) would move the cursor on a real
/// terminal: show them as spaces.
pub fn printable(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_numbers() {
        assert_eq!(tokens(950), "950");
        assert_eq!(tokens(12_345), "12.3k");
        assert_eq!(tokens(2_000_000), "2M");
        assert_eq!(usd(0), "$0.00");
        assert_eq!(usd(4_000), "$0.004");
        assert_eq!(usd(1_234_567), "$1.23");
        assert_eq!(duration_ms(65_000), "1m05s");
        assert_eq!(duration_ms(3_720_000), "1h02m");
        assert_eq!(bytes(2048), "2kb");
        assert_eq!(clock(3661), "01:01:01");
    }

    #[test]
    fn fit_counts_cells_not_bytes() {
        assert_eq!(fit("héllo wörld", 6), "héllo…");
        assert_eq!(fit("日本語", 4), "日…");
        assert_eq!(fit("abc", 3), "abc");
        assert_eq!(fit("abc", 0), "");
        assert_eq!(printable("a\tb\x1b[0m"), "a b [0m");
    }
}
