//! Reading a JSONL record from its end: what shows the newest few entries reads a few
//! kilobytes, not the whole history.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use serde_json::Value;

const CHUNK: u64 = 64 * 1024;

/// Hand every whole, parseable record of `path` to `take`, newest first, until it returns
/// false or the file's start is reached. Cut or garbled lines are skipped, as
/// [`super::workspace::read_jsonl`] does.
pub fn newest_first(path: &Path, mut take: impl FnMut(Value) -> bool) {
    let Ok(mut f) = File::open(path) else {
        return;
    };
    let Ok(mut end) = f.seek(SeekFrom::End(0)) else {
        return;
    };
    // Bytes before `end` not yet handed out: the start of a line whose beginning lies in an
    // earlier chunk.
    let mut carry: Vec<u8> = Vec::new();
    while end > 0 {
        let start = end.saturating_sub(CHUNK);
        let mut buf = vec![0u8; (end - start) as usize];
        if f.seek(SeekFrom::Start(start)).is_err() || f.read_exact(&mut buf).is_err() {
            return;
        }
        buf.extend_from_slice(&carry);
        // Every line but the first is whole; the first may go on in the chunk before.
        let first_nl = if start == 0 {
            None
        } else {
            match buf.iter().position(|b| *b == b'\n') {
                Some(i) => Some(i),
                None => {
                    carry = buf;
                    end = start;
                    continue;
                }
            }
        };
        let whole = match first_nl {
            Some(i) => &buf[i + 1..],
            None => &buf[..],
        };
        for line in whole.split(|b| *b == b'\n').rev() {
            if line.is_empty() {
                continue;
            }
            if let Ok(v) = serde_json::from_slice::<Value>(line)
                && !take(v)
            {
                return;
            }
        }
        carry = match first_nl {
            Some(i) => buf[..i].to_vec(),
            None => Vec::new(),
        };
        end = start;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_back_across_chunks_and_stops_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.jsonl");
        let mut text = String::new();
        // Lines of about 1 kB, so records straddle the 64 kB chunks; one garbled line.
        for i in 0..300 {
            text.push_str(&format!(
                "{{\"n\":{i},\"pad\":\"{}\"}}\n",
                "x".repeat(1000 + i)
            ));
            if i == 150 {
                text.push_str("{not json\n");
            }
        }
        std::fs::write(&p, &text).unwrap();
        let mut seen = Vec::new();
        newest_first(&p, |v| {
            seen.push(v["n"].as_u64().unwrap());
            true
        });
        assert_eq!(seen, (0..300).rev().collect::<Vec<u64>>());
        let mut few = Vec::new();
        newest_first(&p, |v| {
            few.push(v["n"].as_u64().unwrap());
            few.len() < 3
        });
        assert_eq!(few, vec![299, 298, 297]);
        // A missing file and an empty one hand out nothing.
        newest_first(&dir.path().join("none"), |_| panic!("nothing to read"));
        std::fs::write(&p, "").unwrap();
        newest_first(&p, |_| panic!("nothing to read"));
    }
}
