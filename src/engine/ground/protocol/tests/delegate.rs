//! DELEGATE blocks: the target from the head or `TO:`, the task body, and what is dropped.

use super::{messages, parse};
use crate::engine::ground::protocol::{BlockKind, Delegation};

#[test]
fn head_names_the_agent_and_task_keeps_its_lines() {
    let p = parse(
        "intro\nDELEGATE: qa\nCONTEXT: the parser landed\nTASK:\nwrite tests for lex.rs\n  \
         cover CRLF\nEND_DELEGATE\nCONFIDENCE: 0.7\n",
    );
    assert_eq!(
        p.delegations,
        vec![Delegation {
            line: 2,
            to: "qa".into(),
            context: Some("the parser landed".into()),
            task: "write tests for lex.rs\n  cover CRLF".into(),
        }]
    );
    assert_eq!(p.footer.confidence, Some(0.7));
    assert!(p.problems.is_empty(), "{:?}", p.problems);
}

#[test]
fn to_line_wins_and_inline_task_is_read() {
    let p = parse("DELEGATE:\nTO: **engineer**\nTASK: add a --json flag\nEND_DELEGATE\n");
    assert_eq!(p.delegations.len(), 1);
    assert_eq!(p.delegations[0].to, "engineer");
    assert_eq!(p.delegations[0].task, "add a --json flag");
    assert_eq!(p.delegations[0].context, None);
}

#[test]
fn no_agent_or_no_task_is_dropped_and_reported() {
    let p = parse("DELEGATE:\nTASK: x\nEND_DELEGATE\nDELEGATE: qa\nCONTEXT: y\nEND_DELEGATE\n");
    assert!(p.delegations.is_empty());
    let m = messages(&p);
    assert_eq!(m.len(), 2, "{m:?}");
    assert!(m[0].contains("names no agent"), "{m:?}");
    assert!(m[1].contains("no TASK"), "{m:?}");
    assert!(p.problems.iter().all(|pr| pr.block == BlockKind::Delegate));
}

#[test]
fn unterminated_delegate_stops_at_the_next_block() {
    let p = parse("DELEGATE: qa\nTASK:\ncheck it\nACTION: done\nREASON: ok\nEND_ACTION\n");
    assert_eq!(p.delegations.len(), 1);
    assert_eq!(p.delegations[0].task, "check it");
    assert_eq!(p.actions.len(), 1);
    assert!(messages(&p)[0].contains("no END_DELEGATE"));
}

#[test]
fn a_delegate_inside_a_file_body_is_content() {
    let p = parse(
        "ACTION: write\nPATH: a.md\nCONTENT:\nDELEGATE: qa\nTASK: x\nEND_DELEGATE\nEND_ACTION\n",
    );
    assert!(p.delegations.is_empty());
    assert_eq!(p.actions.len(), 1);
}
