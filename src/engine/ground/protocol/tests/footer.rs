use crate::engine::ground::protocol::{
    BlockKind, Checkpoint, Gate, RoundStatus, TodoItem, TodoState, Verdict, parse,
};

#[test]
fn all_signals() {
    let text = "done.\nCONFIDENCE: 0.85\nNEEDS_REVIEW: yes\nPROGRESS: no\nROUND_STATUS: finished\nVERDICT: reject\nSCORE: 0.7\nCHECKPOINT: redirect\nGATE: repeat\n";
    let p = parse(text);
    let f = &p.footer;
    assert_eq!(f.confidence, Some(0.85));
    assert_eq!(f.needs_review, Some(true));
    assert_eq!(f.progress, Some(false));
    assert_eq!(f.round_status, Some(RoundStatus::Done));
    assert_eq!(f.verdict, Some(Verdict::Revise));
    assert_eq!(f.score, Some(0.7));
    assert_eq!(f.checkpoint, Some(Checkpoint::Redirect));
    assert_eq!(f.gate, Some(Gate::Repeat));
    assert!(p.problems.is_empty());
}

#[test]
fn confidence_percent_and_clamping() {
    let conf = |v: &str| parse(&format!("CONFIDENCE: {v}")).footer.confidence;
    assert_eq!(conf("85%"), Some(0.85));
    assert_eq!(conf("85 %"), Some(0.85));
    assert_eq!(conf("85"), Some(0.85));
    assert_eq!(conf("1"), Some(1.0));
    assert_eq!(conf("0.9."), Some(0.9));
    assert_eq!(conf("0.6 (fairly sure)"), Some(0.6));
    assert_eq!(conf("-3"), Some(0.0));
    assert_eq!(conf("250"), Some(1.0));
    assert_eq!(conf("high"), None);
    assert_eq!(conf("NaN"), None);
    assert_eq!(conf("inf"), None);
}

#[test]
fn score_clamps_and_accepts_percent() {
    let score = |v: &str| parse(&format!("score: {v}")).footer.score;
    assert_eq!(score("0.4"), Some(0.4));
    assert_eq!(score("7"), Some(1.0));
    assert_eq!(score("-1"), Some(0.0));
    assert_eq!(score("70%"), Some(0.7));
}

#[test]
fn boolean_words() {
    for (word, want) in [
        ("true", true),
        ("Y", true),
        ("1", true),
        ("no", false),
        ("n", false),
        ("0", false),
        ("FALSE", false),
    ] {
        assert_eq!(
            parse(&format!("NEEDS_REVIEW: {word}")).footer.needs_review,
            Some(want),
            "{word}"
        );
    }
    assert_eq!(parse("PROGRESS: yes").footer.progress, Some(true));
}

#[test]
fn last_readable_occurrence_wins() {
    let p = parse(
        "VERDICT: revise\nGATE: pass\nVERDICT: accept\nGATE: maybe\nround_status: continue\n",
    );
    assert_eq!(p.footer.verdict, Some(Verdict::Accept));
    assert_eq!(p.footer.gate, Some(Gate::Pass));
    assert_eq!(p.footer.round_status, Some(RoundStatus::Continue));
    assert_eq!(p.problems.len(), 1);
    assert_eq!(
        p.problems.first().map(|pr| (pr.line, pr.block)),
        Some((4, BlockKind::Footer))
    );
    assert_eq!(
        p.problems.first().map(|pr| pr.message.as_str()),
        Some("GATE at line 4 has an unreadable value \"maybe\"")
    );
}

#[test]
fn markdown_punctuation_around_values_is_tolerated() {
    let p = parse("VERDICT: **accept**\nCHECKPOINT: abort.\nGATE: done!");
    assert_eq!(
        (p.footer.verdict, p.footer.checkpoint, p.footer.gate),
        (
            Some(Verdict::Accept),
            Some(Checkpoint::Abort),
            Some(Gate::Done)
        )
    );
}

#[test]
fn signals_must_start_the_line() {
    let p = parse("my CONFIDENCE: 0.1 is low\nSCORE_CARD: 3");
    assert_eq!(p.footer, Default::default());
}

#[test]
fn todos_block() {
    let text = "TODOS:\n- [ ] write tests\n- [~] parser\n- [x] types\n* [X] fmt\nnot an item\n- [?] odd\nEND_TODOS";
    let p = parse(text);
    let todo = |text: &str, state| TodoItem {
        text: text.into(),
        state,
        required: false,
    };
    assert_eq!(
        p.todos,
        Some(vec![
            todo("write tests", TodoState::Todo),
            todo("parser", TodoState::Doing),
            todo("types", TodoState::Done),
            todo("fmt", TodoState::Done),
        ])
    );
}

#[test]
fn todos_last_complete_block_wins_and_empty_is_some() {
    let p = parse("TODOS:\n- [ ] a\nEND_TODOS\nTODOS:\nEND_TODOS\n");
    assert_eq!(p.todos, Some(vec![]));
    let p = parse("TODOS:\n- [ ] a\nEND_TODOS\nTODOS:\n- [ ] b\n");
    assert_eq!(p.todos.map(|t| t.len()), Some(1));
    assert_eq!(
        p.problems.first().map(|pr| pr.block),
        Some(BlockKind::Todos)
    );
    assert_eq!(parse("no list here").todos, None);
}

#[test]
fn unterminated_todos_does_not_hide_the_footer() {
    let p = parse("TODOS:\n- [ ] a\nCONFIDENCE: 0.3\n");
    assert_eq!(p.todos, None);
    assert_eq!(p.footer.confidence, Some(0.3));
}

#[test]
fn todos_trailing_an_unterminated_action_are_read() {
    let p =
        parse("ACTION: write\nPATH: a\nCONTENT:\nx\n\nTODOS:\n- [x] a\nEND_TODOS\nPROGRESS: yes\n");
    assert_eq!(
        p.actions.first().map(|b| b.action.clone()),
        Some(super::write("a", "x"))
    );
    assert_eq!(p.todos.map(|t| t.len()), Some(1));
    assert_eq!(p.footer.progress, Some(true));
}

#[test]
fn todos_required_tag() {
    let text = "TODOS:\n- [ ] [required] README\n- [required] tests\n- [x] [REQUIRED] parser\n\
                - [~] [required]\n- [ ] [optional] x\nEND_TODOS";
    let p = parse(text);
    let got: Vec<(String, TodoState, bool)> = p
        .todos
        .unwrap_or_default()
        .into_iter()
        .map(|t| (t.text, t.state, t.required))
        .collect();
    assert_eq!(
        got,
        vec![
            ("README".into(), TodoState::Todo, true),
            ("tests".into(), TodoState::Todo, true),
            ("parser".into(), TodoState::Done, true),
            // An unknown tag is part of the text, not a marker.
            ("[optional] x".into(), TodoState::Todo, false),
        ]
    );
}
