use crate::engine::ground::protocol::{Flag, ScoreOptions, parse, score};

const GOOD: &str = "I updated the parser as asked.\nACTION: write\nPATH: src/a.rs\nCONTENT:\nfn main() {}\nEND_ACTION\nPOST: summary\nPRODUCES: prd, Risks\nBODY:\nDone.\nEND_POST\nCONFIDENCE: 0.9\n";

fn run(text: &str, opts: &ScoreOptions) -> crate::engine::ground::protocol::Quality {
    score(text, &parse(text), opts)
}

#[test]
fn a_good_reply_is_ok() {
    let opts = ScoreOptions {
        expected_outputs: vec!["PRD".into(), "risks".into()],
        require_confidence: true,
        expect_file_action: true,
        ..ScoreOptions::default()
    };
    let q = run(GOOD, &opts);
    assert!(q.ok && q.recoverable, "{q:?}");
    assert_eq!(q.score, 1.0);
}

#[test]
fn defaults() {
    let o = ScoreOptions::default();
    assert_eq!(
        (
            o.min_chars,
            o.min_confidence,
            o.require_confidence,
            o.expect_file_action
        ),
        (40, 0.5, false, false)
    );
}

#[test]
fn empty_reply() {
    let q = run("  ok  \n", &ScoreOptions::default());
    assert_eq!(q.flags, vec![Flag::Empty]);
    assert_eq!(q.score, 0.4);
    assert!(!q.ok && q.recoverable);
}

#[test]
fn refusals_are_not_recoverable() {
    for text in [
        "I'm sorry, but I can't help with that request because it is not allowed.",
        "I am sorry; I am unable to do this task for you right now, my friend.",
        "As an AI language model, I have no access to your files or repository.",
        "I do not have the ability to run commands on your machine, unfortunately.",
        "Unfortunately I cant comply with this request in the current context here.",
        "I cannot assist with that. Please consult someone else for this question.",
    ] {
        let q = run(text, &ScoreOptions::default());
        assert!(q.flags.contains(&Flag::Refusal), "{text}: {q:?}");
        assert!(!q.recoverable);
        assert_eq!(q.score, 0.5);
    }
}

#[test]
fn refusal_phrases_in_code_or_late_text_do_not_count() {
    let with_action =
        "ACTION: write\nPATH: msg.txt\nCONTENT:\nI'm sorry, I can't do that, Dave.\nEND_ACTION\n";
    assert!(run(with_action, &ScoreOptions::default()).ok);
    let late = format!(
        "{}\nI cannot help noticing the tests are slow.",
        "Looked through the module carefully. ".repeat(80)
    );
    assert!(
        !run(&late, &ScoreOptions::default())
            .flags
            .contains(&Flag::Refusal)
    );
    let benign =
        "I cannot find any problems with the parser; every case I tried behaves as specified.";
    assert!(run(benign, &ScoreOptions::default()).ok);
}

#[test]
fn malformed_actions() {
    let opts = ScoreOptions::default();
    let one_open =
        "Writing the file now, the last one is cut off:\nACTION: write\nPATH: a\nCONTENT:\nx\n";
    let q = run(one_open, &opts);
    assert!(
        !q.flags.contains(&Flag::MalformedAction),
        "one unclosed block is tolerated by the count"
    );
    let two_open = "Two blocks, both without an end line here:\nACTION: write\nPATH: a\nCONTENT:\nx\nACTION: write\nPATH: b\nCONTENT:\ny\n";
    assert!(run(two_open, &opts).flags.contains(&Flag::MalformedAction));
    let missing_path =
        "A block that lacks its path line entirely:\nACTION: write\nCONTENT:\nx\nEND_ACTION\n";
    let q = run(missing_path, &opts);
    assert_eq!(q.flags, vec![Flag::MalformedAction]);
    assert_eq!(q.score, 0.6);
    let unclosed_and_pathless =
        "One unclosed block that also lacks its path:\nACTION: write\nCONTENT:\nx\n";
    assert_eq!(
        run(unclosed_and_pathless, &opts).flags,
        vec![Flag::MalformedAction]
    );
}

#[test]
fn malformed_posts_and_missing_outputs() {
    let text =
        "Here is my post, though I forgot to close it:\nPOST: prd\nPRODUCES: prd\nBODY:\nthe prd\n";
    let opts = ScoreOptions {
        expected_outputs: vec!["prd".into(), "risks".into(), "api".into()],
        ..ScoreOptions::default()
    };
    let q = run(text, &opts);
    assert_eq!(
        q.flags,
        vec![
            Flag::MalformedPost,
            Flag::OutputsMissing(vec!["risks".into(), "api".into()])
        ]
    );
    assert_eq!(q.score, 0.3);
    assert_eq!(
        q.flags.get(1).map(Flag::reason).as_deref(),
        Some("declared outputs missing: risks, api")
    );
}

#[test]
fn no_op_confidence_and_review_flags() {
    let text = "Ran the tests and they pass; nothing to change in the code.\nACTION: run\nCMD: cargo test\nEND_ACTION\nCONFIDENCE: 40%\nNEEDS_REVIEW: yes\n";
    let opts = ScoreOptions {
        expect_file_action: true,
        ..ScoreOptions::default()
    };
    let q = run(text, &opts);
    assert_eq!(
        q.flags,
        vec![Flag::NoOp, Flag::LowConfidence(0.4), Flag::NeedsReviewSelf]
    );
    assert_eq!(q.score, 0.0);
    let no_conf = "A long enough reply that simply forgets to state any confidence at all.";
    let q = run(
        no_conf,
        &ScoreOptions {
            require_confidence: true,
            ..ScoreOptions::default()
        },
    );
    assert_eq!(q.flags, vec![Flag::ConfidenceMissing]);
    assert_eq!(q.score, 0.9);
    assert!(run(no_conf, &ScoreOptions::default()).ok);
}

#[test]
fn other_block_problems_are_reported() {
    let text = "Proposing a workflow but leaving its yaml out by mistake.\nPROPOSE_WORKFLOW: w\nEND_WORKFLOW\nCONFIDENCE: sure\n";
    let q = run(text, &ScoreOptions::default());
    assert_eq!(q.flags, vec![Flag::ProblemsReported(2)]);
    assert_eq!(q.score, 0.9);
}

#[test]
fn score_floors_at_zero_and_every_flag_has_a_reason() {
    let q = run(
        "I cannot help",
        &ScoreOptions {
            require_confidence: true,
            expect_file_action: true,
            ..ScoreOptions::default()
        },
    );
    assert_eq!(q.score, 0.0);
    for flag in [
        Flag::Empty,
        Flag::Refusal,
        Flag::MalformedAction,
        Flag::MalformedPost,
        Flag::OutputsMissing(vec!["a".into()]),
        Flag::NoOp,
        Flag::LowConfidence(0.2),
        Flag::NeedsReviewSelf,
        Flag::ConfidenceMissing,
        Flag::ProblemsReported(1),
    ] {
        let reason = flag.reason();
        assert!(!reason.is_empty() && !reason.contains('\n'), "{flag:?}");
    }
}
