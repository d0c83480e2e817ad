//! Output kept for the event stream (and so the activity log) as a head and a tail: lines
//! pass as they come until the first half of the allowance is used; after that only the last
//! half is kept, sent at the end after one line that says how many bytes were left out. A
//! command printing 100 MB, or a model streaming a huge reply, costs the log a bounded amount.

use std::collections::VecDeque;

use crate::engine::ground::events::Stream;

/// Output lines kept for the event stream: a head sent as it comes, a tail sent at the end.
pub struct OutputCap {
    half: usize,
    head_used: usize,
    tail: VecDeque<(Stream, String)>,
    tail_bytes: usize,
    omitted: u64,
    total: u64,
}

impl OutputCap {
    pub fn new(keep: usize) -> OutputCap {
        OutputCap {
            half: keep / 2,
            head_used: 0,
            tail: VecDeque::new(),
            tail_bytes: 0,
            omitted: 0,
            total: 0,
        }
    }

    /// The line to send now, if it still fits in the head; otherwise it joins the tail.
    pub fn line(&mut self, stream: Stream, line: &str) -> Option<String> {
        let n = line.len() + 1;
        self.total += n as u64;
        if self.tail.is_empty() && self.head_used + n <= self.half {
            self.head_used += n;
            return Some(line.to_string());
        }
        self.tail.push_back((stream, line.to_string()));
        self.tail_bytes += n;
        while self.tail_bytes > self.half {
            let Some((_, gone)) = self.tail.pop_front() else {
                break;
            };
            self.tail_bytes -= gone.len() + 1;
            self.omitted += gone.len() as u64 + 1;
        }
        None
    }

    /// What is left to send when the command ends: the note on what was left out (if
    /// anything was), then the tail.
    pub fn finish(self) -> Vec<(Stream, String)> {
        let mut out = Vec::new();
        if self.omitted > 0 {
            out.push((
                Stream::Stderr,
                format!(
                    "[clk] {} bytes of output left out here ({} bytes in all; the first and \
                     last {} bytes are kept)",
                    self.omitted, self.total, self.half
                ),
            ));
        }
        out.extend(self.tail);
        out
    }

    /// For output that is not to be kept (a reply that was refused): only the head was sent,
    /// and this says how large the whole was. None when everything was sent already.
    pub fn finish_head_only(self) -> Option<String> {
        (self.omitted > 0 || !self.tail.is_empty()).then(|| {
            format!(
                "[clk] {} bytes in all; only the first {} bytes are logged",
                self.total, self.head_used
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_keeps_head_and_tail_with_a_count() {
        let mut cap = OutputCap::new(100);
        let mut sent = Vec::new();
        for i in 0..1000 {
            if let Some(l) = cap.line(Stream::Stdout, &format!("line {i:04}")) {
                sent.push(l);
            }
        }
        let rest = cap.finish();
        assert_eq!(sent.first().map(String::as_str), Some("line 0000"));
        assert!(sent.len() <= 5, "{sent:?}");
        assert!(rest[0].1.contains("bytes of output left out"), "{rest:?}");
        assert!(rest[0].1.contains("10000 bytes in all"), "{rest:?}");
        assert_eq!(rest.last().map(|l| l.1.as_str()), Some("line 0999"));
        let kept: usize = sent
            .iter()
            .chain(rest[1..].iter().map(|l| &l.1))
            .map(|l| l.len() + 1)
            .sum();
        assert!(kept <= 100, "{kept}");
    }

    #[test]
    fn short_output_passes_whole() {
        let mut cap = OutputCap::new(1000);
        assert_eq!(cap.line(Stream::Stdout, "hi").as_deref(), Some("hi"));
        assert!(cap.finish().is_empty());
        let mut cap = OutputCap::new(1000);
        assert!(cap.line(Stream::Model, "hi").is_some());
        assert_eq!(cap.finish_head_only(), None);
    }

    #[test]
    fn a_refused_reply_keeps_only_its_head_and_size() {
        let mut cap = OutputCap::new(100);
        for _ in 0..100 {
            cap.line(Stream::Model, "0123456789");
        }
        let note = cap.finish_head_only().unwrap();
        assert!(note.contains("1100 bytes in all"), "{note}");
    }
}
