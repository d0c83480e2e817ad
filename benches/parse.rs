//! Parse and score a ~100 KB reply holding 50 blocks (multi-line writes, edits, posts, a run,
//! a TODOS list and a footer). Goal: each well under 1 ms.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed step is a failed test

use std::fmt::Write as _;
use std::hint::black_box;

use clk::engine::ground::protocol::{ScoreOptions, parse, score};
use criterion::{Criterion, criterion_group, criterion_main};

/// A reply shaped like a busy agent's: prose, then 50 blocks, then TODOS and the footer.
fn big_reply() -> String {
    let mut text = String::from("I went through the failing tests and fixed the parser.\n\n");
    for block in 0..50 {
        match block % 5 {
            0 | 1 => {
                let _ = writeln!(text, "ACTION: write\nPATH: src/module_{block}.py\nCONTENT:");
                for line in 0..72 {
                    let _ = writeln!(
                        text,
                        "    value_{line} = compute({line}, \"block {block}\")  # keep"
                    );
                }
                text.push_str("END_ACTION\n\n");
            }
            2 => {
                let _ = writeln!(text, "ACTION: edit\nPATH: src/module_{block}.py\nOLD:");
                for line in 0..20 {
                    let _ = writeln!(text, "def old_{line}(x):\n    return x + {line}");
                }
                text.push_str("NEW:\n");
                for line in 0..20 {
                    let _ = writeln!(text, "def new_{line}(x):\n    return x * {line}");
                }
                text.push_str("END_ACTION\n\n");
            }
            3 => {
                let _ = writeln!(
                    text,
                    "POST: finding\nTITLE: Finding {block}\nTO: architect\nURGENCY: async\nPRODUCES: prd, risks\nBODY:"
                );
                for line in 0..30 {
                    let _ = writeln!(
                        text,
                        "Observation {line}: the cache is invalidated twice per request."
                    );
                }
                text.push_str("END_POST\n\n");
            }
            _ => {
                let _ = writeln!(
                    text,
                    "ACTION: run\nCMD: pytest -q tests/test_{block}.py\nEND_ACTION\n"
                );
            }
        }
    }
    text.push_str("TODOS:\n- [x] parser\n- [~] scorer\n- [ ] docs\nEND_TODOS\n");
    text.push_str("CONFIDENCE: 0.85\nNEEDS_REVIEW: no\nPROGRESS: yes\n");
    text
}

fn benches(c: &mut Criterion) {
    let text = big_reply();
    let parsed = parse(&text);
    assert_eq!(parsed.actions.len() + parsed.posts.len(), 50);
    assert!(parsed.problems.is_empty());
    let opts = ScoreOptions {
        expected_outputs: vec!["prd".into(), "risks".into()],
        require_confidence: true,
        expect_file_action: true,
        ..ScoreOptions::default()
    };
    let name = format!("{} KB, 50 blocks", text.len() / 1024);
    c.bench_function(&format!("parse {name}"), |b| {
        b.iter(|| parse(black_box(&text)))
    });
    c.bench_function(&format!("score {name}"), |b| {
        b.iter(|| score(black_box(&text), black_box(&parsed), black_box(&opts)))
    });

    // Without ACTION blocks the scorer also runs its refusal patterns; this is its slowest path.
    let posts_only: String = text
        .split("\n\n")
        .filter(|block| !block.contains("ACTION:"))
        .collect::<Vec<_>>()
        .join("\n\n");
    let parsed = parse(&posts_only);
    assert_eq!(parsed.counts.action_heads, 0);
    c.bench_function("score, refusal scan included", |b| {
        b.iter(|| score(black_box(&posts_only), black_box(&parsed), black_box(&opts)))
    });
}

criterion_group!(parse_benches, benches);
criterion_main!(parse_benches);
