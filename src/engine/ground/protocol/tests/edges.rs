use super::{actions, write};
use crate::engine::ground::protocol::{Action, Parsed, parse};

#[test]
fn crlf_line_endings_read_as_lf() {
    let text = "ACTION: write\r\nPATH: a.txt\r\nCONTENT:\r\n  one\r\ntwo\r\nEND_ACTION\r\nCONFIDENCE: 0.9\r\n";
    let p = parse(text);
    assert_eq!(
        p.actions.first().map(|b| b.action.clone()),
        Some(write("a.txt", "  one\ntwo"))
    );
    assert_eq!(p.footer.confidence, Some(0.9));
}

#[test]
fn reply_wrapped_in_a_code_fence() {
    let text = "```text\nACTION: run\nCMD: ls\nEND_ACTION\nPOST: note\nBODY:\nhi\nEND_POST\nCONFIDENCE: 0.8\n```";
    let p = parse(text);
    assert_eq!(p.actions.len(), 1);
    assert_eq!(p.posts.len(), 1);
    assert_eq!(p.footer.confidence, Some(0.8));
    assert!(p.problems.is_empty());
}

#[test]
fn byte_order_mark_and_unicode() {
    let text = "\u{feff}ACTION: write\nPATH: docs/ünï.md\nCONTENT:\n  日本語 ✓\nEND_ACTION";
    assert_eq!(actions(text), vec![write("docs/ünï.md", "  日本語 ✓")]);
}

#[test]
fn unterminated_action_gives_back_a_trailing_footer() {
    let p = parse("ACTION: write\nPATH: a\nCONTENT:\nbody\n\nCONFIDENCE: 0.4\nVERDICT: accept\n\n");
    assert_eq!(
        p.actions.first().map(|b| b.action.clone()),
        Some(write("a", "body"))
    );
    assert_eq!(p.footer.confidence, Some(0.4));
    assert!(p.footer.verdict.is_some());
}

#[test]
fn signals_in_the_middle_of_unterminated_content_stay_content() {
    let p = parse("ACTION: write\nPATH: c.yml\nCONTENT:\nprogress: yes\nname: x\n");
    assert_eq!(
        p.actions.first().map(|b| b.action.clone()),
        Some(write("c.yml", "progress: yes\nname: x"))
    );
    assert_eq!(p.footer.progress, None);
}

#[test]
fn unterminated_action_is_cut_at_a_post() {
    let p = parse("ACTION: write\nPATH: a\nCONTENT:\nx\nPOST: note\nBODY:\ny\nEND_POST\n");
    assert_eq!(
        actions("ACTION: write\nPATH: a\nCONTENT:\nx\nPOST: note\nBODY:\ny\nEND_POST\n"),
        vec![write("a", "x")]
    );
    assert_eq!(p.posts.len(), 1);
}

#[test]
fn terminated_action_keeps_a_post_line_in_content() {
    let p = parse("ACTION: write\nPATH: a\nCONTENT:\nPOST: note\nBODY:\ny\nEND_POST\nEND_ACTION\n");
    assert_eq!(p.posts.len(), 0);
    assert_eq!(
        p.actions.first().map(|b| b.action.clone()),
        Some(write("a", "POST: note\nBODY:\ny\nEND_POST"))
    );
}

#[test]
fn stray_terminators_are_noise_and_not_counted() {
    let p = parse("END_ACTION\nEND_POST\nEND_TODOS\nEND_ROLE\n");
    assert_eq!(p, Parsed::default());
}

#[test]
fn empty_and_whitespace_input() {
    for text in ["", "\n", "   \n\t\n", "\r\n\r\n", "\u{feff}"] {
        assert_eq!(parse(text), Parsed::default(), "{text:?}");
    }
}

#[test]
fn many_blocks_of_every_kind_in_one_reply() {
    let text = "\
Plan: two files.
ACTION: write
PATH: a
CONTENT:
1
END_ACTION
POST: finding
PRODUCES: prd
BODY:
found
END_POST
PROPOSE_ROLE: qa
PROMPT: p
END_ROLE
PROPOSE_WORKFLOW: w
YAML:
name: w
END_WORKFLOW
PROPOSE_CONSENSUS: c
OBJECTIVE: o
END_CONSENSUS
ACTION: done
REASON: ok
END_ACTION
TODOS:
- [x] a
END_TODOS
CONFIDENCE: 0.9";
    let p = parse(text);
    assert!(p.problems.is_empty(), "{:?}", p.problems);
    assert_eq!(
        (
            p.actions.len(),
            p.posts.len(),
            p.roles.len(),
            p.workflows.len(),
            p.consensus.len()
        ),
        (2, 1, 1, 1, 1)
    );
    assert_eq!(
        p.actions.get(1).map(|b| (b.line, &b.action)),
        Some((
            22,
            &Action::Done {
                reason: "ok".into()
            }
        ))
    );
    assert_eq!(p.posts.first().map(|p| p.line), Some(7));
}

#[test]
fn parsed_survives_a_json_round_trip() {
    let p = parse(
        "ACTION: run\nCMD: ls\nEND_ACTION\nPOST: n\nURGENCY: async\nBODY: b\nEND_POST\nTODOS:\n- [~] t\nEND_TODOS\nGATE: pass\nCONFIDENCE: 0.5\nVERDICT: nope",
    );
    let json = serde_json::to_string(&p).unwrap_or_default();
    assert!(
        json.contains("\"kind\":\"run\"")
            && json.contains("\"urgency\":\"async\"")
            && json.contains("\"block\":\"footer\""),
        "{json}"
    );
    let back: Parsed = serde_json::from_str(&json).unwrap_or_default();
    assert_eq!(back, p);
}

#[test]
fn pathological_repetition_stays_fast() {
    const N: usize = 20_000;
    let patterns = [
        "ACTION: foo\n".repeat(N),
        "POST: a\nACTION: write\n".repeat(N),
        "TODOS:\n- [ ] x\n".repeat(N),
        "PROPOSE_ROLE: a\nPROPOSE_WORKFLOW: b\nPROPOSE_CONSENSUS: c\n".repeat(N),
        format!(
            "ACTION: write\nPATH: a\nCONTENT:\n{}",
            "CONFIDENCE: 1\nTODOS:\n- [x] y\nEND_TODOS\n".repeat(N)
        ),
        format!("POST: a\nBODY:\n{}", "x\n".repeat(N * 4)),
    ];
    let started = std::time::Instant::now();
    for text in &patterns {
        let p = parse(text);
        assert!(p.problems.len() <= 2 * text.lines().count());
    }
    // Linear work is a few milliseconds even unoptimised; quadratic work would be many
    // minutes. The bound is loose so a busy machine cannot fail it; benches/parse.rs measures.
    assert!(
        started.elapsed() < std::time::Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
}
