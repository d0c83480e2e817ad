use super::{actions, messages, write};
use crate::engine::ground::protocol::{Action, ActionBlock, BlockKind, parse};

#[test]
fn the_four_reference_examples_parse() {
    let text = "\
ACTION: write
PATH: src/app.py
CONTENT:
print(\"hi\")
END_ACTION

ACTION: edit
PATH: README.md
OLD:
old line
NEW:
new line
END_ACTION

ACTION: run
CMD: pytest -q
END_ACTION

ACTION: done
REASON: all criteria met
END_ACTION
";
    let p = parse(text);
    assert!(p.problems.is_empty(), "{:?}", p.problems);
    let got: Vec<_> = p.actions.iter().map(|b| (b.line, b.terminated)).collect();
    assert_eq!(got, vec![(1, true), (7, true), (15, true), (19, true)]);
    assert_eq!(
        p.actions.into_iter().map(|b| b.action).collect::<Vec<_>>(),
        vec![
            write("src/app.py", "print(\"hi\")"),
            Action::Edit {
                path: "README.md".into(),
                old: "old line".into(),
                new: "new line".into()
            },
            Action::Run {
                cmd: "pytest -q".into()
            },
            Action::Done {
                reason: "all criteria met".into()
            },
        ]
    );
    assert_eq!((p.counts.action_heads, p.counts.action_ends), (4, 4));
}

#[test]
fn append_and_delete() {
    let text = "ACTION: append\nPATH: log.txt\nCONTENT:\nmore\nEND_ACTION\nACTION: delete\nPATH: old.txt\nEND_ACTION";
    assert_eq!(
        actions(text),
        vec![
            Action::Append {
                path: "log.txt".into(),
                content: "more".into()
            },
            Action::Delete {
                path: "old.txt".into()
            },
        ]
    );
}

#[test]
fn keywords_are_case_insensitive_and_lines_may_be_indented() {
    let text = "  action : Write  \n   path: a.txt\n content:\nbody\n   end_action  \n";
    let p = parse(text);
    assert_eq!(
        p.actions.first().map(|b| &b.action),
        Some(&write("a.txt", "body"))
    );
    assert!(p.actions.iter().all(|b| b.terminated));
}

#[test]
fn noise_around_and_between_blocks_is_ignored() {
    let text = "Sure! Here is the plan.\n\nACTION: write\nsome chatter\nPATH: a\nCONTENT:\nx\nEND_ACTION\nand then\nACTION: run\nCMD: ls\nEND_ACTION\nThanks.";
    assert_eq!(
        actions(text),
        vec![write("a", "x"), Action::Run { cmd: "ls".into() }]
    );
}

#[test]
fn inline_values_count_and_multi_line_values_are_stripped_of_blank_ends() {
    let text = "ACTION: write\nPATH:\n\n  notes.md  \nCONTENT: first\nsecond\n\n\nEND_ACTION";
    assert_eq!(actions(text), vec![write("notes.md", "first\nsecond")]);
}

#[test]
fn edit_keeps_inner_indentation_of_multi_line_old_and_new() {
    let text = "ACTION: edit\nPATH: m.py\nOLD:\n\ndef f():\n    return 1\n\n        # deep\nNEW:\ndef f():\n    return 2\n\tEND\nEND_ACTION";
    assert_eq!(
        actions(text),
        vec![Action::Edit {
            path: "m.py".into(),
            old: "def f():\n    return 1\n\n        # deep".into(),
            new: "def f():\n    return 2\n\tEND".into(),
        }]
    );
}

#[test]
fn indentation_of_the_first_content_line_survives() {
    let text = "ACTION: write\nPATH: a.yml\nCONTENT:\n    indented: true\n  less: 1\nEND_ACTION";
    assert_eq!(
        actions(text),
        vec![write("a.yml", "    indented: true\n  less: 1")]
    );
}

#[test]
fn content_may_hold_header_like_lines_of_other_keys_and_blocks() {
    let content = "PATH: not/a/path\nCMD: rm -rf /\nOLD: x\nREASON: none\nCONTENT: again\nPOST: finding\nCONFIDENCE: 0.1\nTODOS:\nEND_POST\nACTION: explode\nVERDICT: reject";
    let text =
        format!("ACTION: write\nPATH: doc.md\nCONTENT:\n{content}\nEND_ACTION\nCONFIDENCE: 0.9\n");
    let p = parse(&text);
    assert_eq!(
        p.actions
            .iter()
            .map(|b| b.action.clone())
            .collect::<Vec<_>>(),
        vec![write("doc.md", content)]
    );
    assert!(
        p.posts.is_empty() && p.todos.is_none() && p.problems.is_empty(),
        "{p:?}"
    );
    assert_eq!(p.footer.confidence, Some(0.9));
    assert_eq!(p.footer.verdict, None);
}

#[test]
fn new_text_of_an_edit_may_hold_path_old_and_new_lines() {
    let text =
        "ACTION: edit\nPATH: cfg.yml\nOLD:\nold: 1\nNEW:\nnew: 2\npath: /tmp\nold: 3\nEND_ACTION";
    assert_eq!(
        actions(text),
        vec![Action::Edit {
            path: "cfg.yml".into(),
            old: "old: 1".into(),
            new: "new: 2\npath: /tmp\nold: 3".into()
        }]
    );
}

#[test]
fn fences_inside_content_are_content() {
    let text =
        "```\nACTION: write\nPATH: README.md\nCONTENT:\n# Title\n```sh\nmake\n```\nEND_ACTION\n```";
    assert_eq!(
        actions(text),
        vec![write("README.md", "# Title\n```sh\nmake\n```")]
    );
}

#[test]
fn empty_content_and_empty_new_and_missing_reason_are_valid() {
    let text = "ACTION: write\nPATH: empty.txt\nCONTENT:\nEND_ACTION\nACTION: edit\nPATH: a\nOLD:\ngone\nNEW:\nEND_ACTION\nACTION: done\nEND_ACTION";
    let p = parse(text);
    assert!(p.problems.is_empty(), "{:?}", p.problems);
    assert_eq!(
        p.actions.into_iter().map(|b| b.action).collect::<Vec<_>>(),
        vec![
            write("empty.txt", ""),
            Action::Edit {
                path: "a".into(),
                old: "gone".into(),
                new: "".into()
            },
            Action::Done { reason: "".into() },
        ]
    );
}

#[test]
fn missing_required_fields_become_problems() {
    let text = "ACTION: write\nCONTENT:\nx\nEND_ACTION\nACTION: edit\nPATH: a\nNEW:\ny\nEND_ACTION\nACTION: delete\nEND_ACTION\nACTION: run\nCMD:   \nEND_ACTION\nACTION: append\nPATH:\nEND_ACTION";
    let p = parse(text);
    assert!(p.actions.is_empty(), "{:?}", p.actions);
    assert_eq!(
        messages(&p),
        vec![
            "write block at line 1 has no PATH",
            "edit block at line 5 has no OLD",
            "delete block at line 10 has no PATH",
            "run block at line 12 has no CMD",
            "append block at line 15 has no PATH",
        ]
    );
    assert!(p.problems.iter().all(|pr| pr.block == BlockKind::Action));
}

#[test]
fn unknown_kind_is_a_problem_and_a_terminated_one_is_skipped_whole() {
    let p =
        parse("ACTION: explode\nPATH: a\nCONTENT:\nCONFIDENCE: 0.2\nEND_ACTION\nCONFIDENCE: 0.7");
    assert!(p.actions.is_empty());
    assert_eq!(
        messages(&p),
        vec![
            "ACTION at line 1 has unknown kind \"explode\" (use write, edit, append, delete, run or done)"
        ]
    );
    assert_eq!(p.footer.confidence, Some(0.7));
    assert_eq!((p.counts.action_heads, p.counts.action_ends), (1, 1));
}

#[test]
fn an_unknown_kind_without_end_swallows_nothing() {
    let p = parse("ACTION: none needed\nCONFIDENCE: 0.4\nACTION: run\nCMD: ls\nEND_ACTION");
    assert_eq!(p.footer.confidence, Some(0.4));
    assert_eq!(p.actions.len(), 1);
    assert_eq!(p.problems.len(), 1);
    let p = parse("ACTION:\n");
    assert_eq!(
        messages(&p),
        vec!["ACTION header at line 1 has no kind (write, edit, append, delete, run or done)"]
    );
}

#[test]
fn unterminated_final_block_still_applies_with_a_problem() {
    let p = parse("ACTION: write\nPATH: a.txt\nCONTENT:\nline 1\nline 2\n");
    assert_eq!(
        p.actions,
        vec![ActionBlock {
            line: 1,
            action: write("a.txt", "line 1\nline 2"),
            terminated: false
        }]
    );
    assert_eq!(
        messages(&p),
        vec!["write block at line 1 has no END_ACTION (read up to line 5)"]
    );
    assert_eq!((p.counts.action_heads, p.counts.action_ends), (1, 0));
}

#[test]
fn a_new_action_head_closes_an_unterminated_block() {
    let text = "ACTION: write\nPATH: a\nCONTENT:\nx\nACTION: run\nCMD: make\nEND_ACTION";
    let p = parse(text);
    assert_eq!(
        p.actions.iter().map(|b| b.terminated).collect::<Vec<_>>(),
        vec![false, true]
    );
    assert_eq!(
        p.actions.into_iter().map(|b| b.action).collect::<Vec<_>>(),
        vec![write("a", "x"), Action::Run { cmd: "make".into() }]
    );
}

#[test]
fn paths_and_commands_lose_wrapping_quotes_and_fences() {
    let text = "ACTION: delete\nPATH: `src/x.rs`\nEND_ACTION\nACTION: run\nCMD:\n```bash\ncargo test\n```\nEND_ACTION\nACTION: run\nCMD: `ls -la`\nEND_ACTION";
    assert_eq!(
        actions(text),
        vec![
            Action::Delete {
                path: "src/x.rs".into()
            },
            Action::Run {
                cmd: "cargo test".into()
            },
            Action::Run {
                cmd: "ls -la".into()
            },
        ]
    );
}

#[test]
fn multi_line_commands_and_reasons_are_kept_whole() {
    let text = "ACTION: run\nCMD: cd web &&\n  npm test\nEND_ACTION\nACTION: done\nREASON:\nall green\nshipped\nEND_ACTION";
    assert_eq!(
        actions(text),
        vec![
            Action::Run {
                cmd: "cd web &&\n  npm test".into()
            },
            Action::Done {
                reason: "all green\nshipped".into()
            }
        ]
    );
}

#[test]
fn keys_of_other_kinds_before_the_first_section_are_noise() {
    assert_eq!(
        actions("ACTION: run\nPATH: x\nCMD: ls\nEND_ACTION"),
        vec![Action::Run { cmd: "ls".into() }]
    );
}

#[test]
fn action_helpers() {
    let a = write("p", "c");
    assert_eq!(
        (a.kind(), a.target(), a.is_file_change()),
        ("write", "p", true)
    );
    let r = Action::Run { cmd: "ls".into() };
    assert_eq!(
        (r.kind(), r.target(), r.is_file_change()),
        ("run", "ls", false)
    );
    let d = Action::Done {
        reason: "ok".into(),
    };
    assert_eq!(
        (d.kind(), d.target(), d.is_file_change()),
        ("done", "ok", false)
    );
    let json = serde_json::to_value(&r).unwrap_or_default();
    assert_eq!(json, serde_json::json!({"kind": "run", "cmd": "ls"}));
}

#[test]
fn render_round_trips() {
    let all = vec![
        write("a/b.txt", "  x\nPATH: y"),
        Action::Edit {
            path: "e".into(),
            old: "o\n  o2".into(),
            new: "".into(),
        },
        Action::Append {
            path: "l".into(),
            content: "z".into(),
        },
        Action::Delete { path: "d".into() },
        Action::Run {
            cmd: "echo hi".into(),
        },
        Action::Done { reason: "".into() },
    ];
    let text: String = all.iter().map(Action::render).collect();
    assert_eq!(actions(&text), all);
}
