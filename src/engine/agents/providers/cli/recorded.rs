//! Every CLI's parser against the replies recorded from the real program, as one table: each
//! folds its good reply to the same text and usage, and classifies its refused key and its
//! dead endpoint; output that is not JSON is a bad reply for all of them.

use super::common::{Folded, Folder};
use super::{Cli, parser};
use crate::engine::agents::providers::{ErrorKind, ProviderError};

/// The recorded replies: `<program>-<case>.jsonl`, each line as the program printed it.
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/cli");

/// Each CLI, the exit code it failed with in its recordings, and the cost its good reply
/// reports in micro-dollars.
const CLIS: [(Cli, i32, Option<u64>); 4] = [
    (Cli::Claude, 1, Some(188)),
    (Cli::Codex, 1, None),
    (Cli::Gemini, 1, None),
    // pi exits 0 even when the model call failed, and its cost of 0 means no price known.
    (Cli::Pi, 0, None),
];

/// Feed `text` line by line to `parser`, then finish with exit `code`.
pub(crate) fn fold(
    mut parser: Folder,
    text: &str,
    code: i32,
) -> (Result<Folded, ProviderError>, Vec<String>) {
    let mut shown = Vec::new();
    for line in text.lines() {
        parser.feed(line, &mut |_, l| shown.push(l.to_string()));
    }
    (parser.finish(Some(code), ""), shown)
}

fn recorded(cli: Cli, case: &str) -> String {
    let path = format!("{FIXTURES}/{}-{case}.jsonl", cli.program());
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn every_cli_folds_its_recorded_reply() {
    for (cli, _, cost_micros) in CLIS {
        let (r, shown) = fold(parser(cli), &recorded(cli, "ok"), 0);
        let r = r.unwrap_or_else(|e| panic!("{cli:?}: {e}"));
        assert_eq!(r.text, "Hello from the mock.\nSecond line.", "{cli:?}");
        let u = &r.usage;
        assert_eq!((u.input_tokens, u.output_tokens), (12, 7), "{cli:?}");
        assert!(!u.estimated, "{cli:?}");
        assert_eq!(u.reported_cost_micros, cost_micros, "{cli:?}");
        for line in ["Hello from the mock.", "Second line."] {
            assert!(shown.iter().any(|l| l == line), "{cli:?}: {shown:?}");
        }
    }
}

#[test]
fn every_cli_classifies_its_recorded_failures() {
    for (cli, exit, _) in CLIS {
        for (case, kind) in [("401", ErrorKind::Auth), ("down", ErrorKind::Retryable)] {
            let (r, _) = fold(parser(cli), &recorded(cli, case), exit);
            let e = r
                .err()
                .unwrap_or_else(|| panic!("{cli:?} {case}: no error"));
            assert_eq!(e.kind, kind, "{cli:?} {case}: {e}");
        }
    }
}

#[test]
fn text_that_is_not_json_is_a_bad_reply() {
    for (cli, _, _) in CLIS {
        let (r, shown) = fold(parser(cli), "just text\n", 0);
        assert_eq!(
            r.err().map(|e| e.kind),
            Some(ErrorKind::BadReply),
            "{cli:?}"
        );
        assert_eq!(shown, vec!["just text"], "{cli:?}");
    }
}
