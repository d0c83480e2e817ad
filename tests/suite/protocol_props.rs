//! Property tests for the block protocol: the parser and the scorer never panic, and actions
//! rendered in the grammar (with the variations agents produce) parse back unchanged.
//!
//! 512 cases per property by default; set PROPTEST_CASES for a longer run.

use clk::engine::ground::protocol::{Action, Flag, ScoreOptions, parse, score};
use proptest::prelude::*;

fn config() -> ProptestConfig {
    let mut config = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = 512;
    }
    config
}

/// Pieces of replies: protocol keywords, near misses, whitespace, line endings and unicode.
const VOCABULARY: &[&str] = &[
    "ACTION: write",
    "ACTION: edit",
    "action : RUN",
    "ACTION: delete",
    "ACTION: append",
    "ACTION: done",
    "ACTION:",
    "ACTION: explode",
    "END_ACTION",
    "end_action",
    "PATH: a/b.txt",
    "PATH:",
    "CONTENT:",
    "CONTENT: x",
    "OLD:",
    "NEW:",
    "CMD: ls",
    "CMD:",
    "REASON: ok",
    "POST: note",
    "POST:",
    "POST: 9x",
    "BODY:",
    "BODY: b",
    "END_POST",
    "TITLE: t",
    "TO: @a",
    "URGENCY: sync",
    "PRODUCES: prd, risks",
    "PROPOSE_ROLE: r",
    "PROMPT:",
    "END_ROLE",
    "PROPOSE_WORKFLOW: w",
    "YAML:",
    "END_WORKFLOW",
    "PROPOSE_CONSENSUS: c",
    "COPIES: 0",
    "COPIES: x",
    "AGENTS: a b",
    "OBJECTIVE:",
    "END_CONSENSUS",
    "TODOS:",
    "- [ ] a",
    "- [~] b",
    "* [x] c",
    "- [",
    "END_TODOS",
    "CONFIDENCE: 85%",
    "CONFIDENCE:",
    "CONFIDENCE: -",
    "CONFIDENCE: 1e999",
    "SCORE: -1",
    "NEEDS_REVIEW: y",
    "PROGRESS: maybe",
    "ROUND_STATUS: done",
    "VERDICT: reject",
    "GATE: pass",
    "CHECKPOINT: abort",
    "```",
    "```rust",
    "\n",
    "\n",
    "\n",
    "\r\n",
    "\r",
    " ",
    "\t",
    "    ",
    ":",
    "[",
    "]",
    "%",
    ".",
    "é",
    "日本語",
    "🦀",
    "\u{feff}",
    "\u{0}",
    "\u{2028}",
    "I'm sorry, I can't do",
];

fn vocabulary_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        4 => proptest::sample::select(VOCABULARY).prop_map(str::to_string),
        1 => ".{0,8}",
    ];
    proptest::collection::vec((piece, proptest::bool::weighted(0.7)), 0..80).prop_map(|parts| {
        parts
            .into_iter()
            .map(|(p, newline)| if newline { p + "\n" } else { p })
            .collect()
    })
}

fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![any::<String>(), vocabulary_text()]
}

/// Value lines, including lines that look like headers but are content under the grammar
/// (keys already used in the block, keys of other kinds, other blocks' heads and footers).
fn value_line() -> impl Strategy<Value = String> {
    let tricky = proptest::sample::select(
        &[
            "PATH: not/this",
            "CONTENT:",
            "CONTENT: again",
            "OLD: o",
            "CMD: rm -rf /",
            "REASON: r",
            "POST: finding",
            "BODY:",
            "END_POST",
            "CONFIDENCE: 0.1",
            "VERDICT: reject",
            "TODOS:",
            "END_TODOS",
            "- [x] done",
            "ACTION: explode",
            "PROPOSE_ROLE: x",
            "END_ROLE",
            "```",
            "```python",
            "    indented: true",
            "\tTabbed",
            "",
            "  ",
            "é ✓ 日本",
        ][..],
    )
    .prop_map(str::to_string);
    prop_oneof![2 => "[ \ta-zA-Z0-9_(){}=:;.,#'\"-]{0,30}", 1 => tricky]
        .prop_filter("terminators and action heads cannot be content", |l| {
            !l.to_ascii_uppercase().contains("ACTION") || l == "ACTION: explode"
        })
}

/// True when `line` would open a `key` section.
fn opens(line: &str, key: &str) -> bool {
    let t = line.trim();
    t.get(..key.len())
        .is_some_and(|k| k.eq_ignore_ascii_case(key))
        && t.get(key.len()..)
            .is_some_and(|rest| rest.trim_start_matches([' ', '\t']).starts_with(':'))
}

/// A multi-line value; blank lines at its ends are not representable, so they are dropped.
fn value(forbidden_key: Option<&'static str>) -> impl Strategy<Value = String> {
    proptest::collection::vec(value_line(), 0..8).prop_map(move |lines| {
        let lines: Vec<String> = lines
            .into_iter()
            .filter(|l| forbidden_key.is_none_or(|k| !opens(l, k)))
            .collect();
        let first = lines.iter().position(|l| !l.trim().is_empty());
        let last = lines.iter().rposition(|l| !l.trim().is_empty());
        match (first, last) {
            (Some(f), Some(l)) => lines.get(f..=l).map(|k| k.join("\n")).unwrap_or_default(),
            _ => String::new(),
        }
    })
}

fn path() -> impl Strategy<Value = String> {
    "[a-z/._-]{1,24}"
}

fn one_line(pattern: &'static str) -> impl Strategy<Value = String> {
    pattern.prop_map(|s| s.trim().to_string())
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        (path(), value(None)).prop_map(|(path, content)| Action::Write { path, content }),
        (path(), value(None)).prop_map(|(path, content)| Action::Append { path, content }),
        (path(), value(Some("NEW")), value(None))
            .prop_filter("edit needs OLD text", |(_, old, _)| !old.is_empty())
            .prop_map(|(path, old, new)| Action::Edit { path, old, new }),
        path().prop_map(|path| Action::Delete { path }),
        proptest::collection::vec(one_line("[a-z0-9 ._&|-]{1,30}"), 1..3)
            .prop_map(|lines| lines.join("\n  ").trim().to_string())
            .prop_filter("run needs a command", |c| !c.is_empty())
            .prop_map(|cmd| Action::Run { cmd }),
        one_line("[a-zA-Z0-9 ,.]{0,40}").prop_map(|reason| Action::Done { reason }),
    ]
}

/// How one rendering varies: keyword case, indentation, `KEY :` spacing, inline values.
#[derive(Debug, Clone)]
struct Style {
    lower_keywords: bool,
    indent: &'static str,
    space_before_colon: bool,
    inline_first_line: bool,
}

fn style() -> impl Strategy<Value = Style> {
    (
        any::<bool>(),
        proptest::sample::select(&["", "  ", "\t"][..]),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(lower_keywords, indent, space_before_colon, inline_first_line)| Style {
                lower_keywords,
                indent,
                space_before_colon,
                inline_first_line,
            },
        )
}

fn render(action: &Action, s: &Style) -> String {
    let kw = |k: &str| {
        let k = if s.lower_keywords {
            k.to_lowercase()
        } else {
            k.to_string()
        };
        let gap = if s.space_before_colon { " " } else { "" };
        format!("{}{k}{gap}:", s.indent)
    };
    // A value normally starts below its key so its first line keeps its indentation; one whose
    // first line has no surrounding whitespace may also start on the key line.
    let section = |k: &str, v: &str| {
        let first = v.lines().next().unwrap_or("");
        if s.inline_first_line && !first.is_empty() && first.trim() == first {
            format!("{} {v}\n", kw(k))
        } else {
            format!("{}\n{v}\n", kw(k))
        }
    };
    let body = match action {
        Action::Write { path, content } | Action::Append { path, content } => {
            format!("{} {path}\n{}", kw("PATH"), section("CONTENT", content))
        }
        Action::Edit { path, old, new } => {
            format!(
                "{} {path}\n{}{}",
                kw("PATH"),
                section("OLD", old),
                section("NEW", new)
            )
        }
        Action::Delete { path } => format!("{} {path}\n", kw("PATH")),
        Action::Run { cmd } => format!("{} {cmd}\n", kw("CMD")),
        Action::Done { reason } => format!("{} {reason}\n", kw("REASON")),
    };
    let end = if s.lower_keywords {
        "end_action"
    } else {
        "END_ACTION"
    };
    format!(
        "{} {}\n{body}{}{end}\n",
        kw("ACTION"),
        action.kind(),
        s.indent
    )
}

/// Lines agents put between blocks that must not disturb them.
fn noise() -> impl Strategy<Value = String> {
    proptest::sample::select(
        &[
            "",
            "Here is the change:",
            "```",
            "```text",
            "Next, the tests.",
            "CONFIDENCE: 0.7",
            "END_POST",
            "- [ ] stray item",
            "Done with this part.",
        ][..],
    )
    .prop_map(|s| format!("{s}\n"))
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn parse_never_panics(text in any_text()) {
        let p = parse(&text);
        let lines = text.split('\n').count();
        prop_assert!(p.counts.action_ends <= p.counts.action_heads);
        prop_assert!(p.counts.post_ends <= p.counts.post_heads);
        prop_assert!(p.actions.len() <= p.counts.action_heads);
        prop_assert!(p.actions.iter().all(|a| a.line >= 1 && a.line <= lines));
        prop_assert!(p.problems.iter().all(|pr| pr.line >= 1 && pr.line <= lines && !pr.message.contains('\n')));
        prop_assert!(p.footer.confidence.is_none_or(|c| (0.0..=1.0).contains(&c)));
        prop_assert!(p.footer.score.is_none_or(|c| (0.0..=1.0).contains(&c)));
    }

    #[test]
    fn rendered_actions_parse_back(
        blocks in proptest::collection::vec((action(), style(), noise()), 1..6),
        crlf in any::<bool>(),
    ) {
        let mut text: String = blocks.iter().map(|(a, s, n)| format!("{n}{}", render(a, s))).collect();
        if crlf {
            text = text.replace('\n', "\r\n");
        }
        let p = parse(&text);
        let want: Vec<Action> = blocks.into_iter().map(|(a, _, _)| a).collect();
        let got: Vec<Action> = p.actions.iter().map(|b| b.action.clone()).collect();
        prop_assert_eq!(got, want, "text:\n{}", text);
        prop_assert!(p.problems.is_empty(), "{:?}", p.problems);
        prop_assert!(p.actions.iter().all(|b| b.terminated));
        prop_assert!(p.posts.is_empty() && p.todos.is_none());
    }

    #[test]
    fn canonical_render_round_trips(actions in proptest::collection::vec(action(), 0..6)) {
        let text: String = actions.iter().map(Action::render).collect();
        let got: Vec<Action> = parse(&text).actions.into_iter().map(|b| b.action).collect();
        prop_assert_eq!(got, actions);
    }

    #[test]
    fn score_never_panics_and_stays_in_range(
        text in any_text(),
        min_chars in 0usize..200,
        expected in proptest::collection::vec("[a-zA-Z]{1,6}", 0..3),
        require_confidence in any::<bool>(),
        expect_file_action in any::<bool>(),
        min_confidence in 0.0f64..1.0,
    ) {
        let opts = ScoreOptions {
            min_chars,
            expected_outputs: expected,
            require_confidence,
            expect_file_action,
            min_confidence,
        };
        let q = score(&text, &parse(&text), &opts);
        prop_assert!((0.0..=1.0).contains(&q.score), "{}", q.score);
        prop_assert_eq!(q.ok, q.flags.is_empty());
        prop_assert_eq!(q.recoverable, !q.flags.contains(&Flag::Refusal));
        prop_assert!(q.flags.iter().all(|f| !f.reason().contains('\n')));
    }
}
