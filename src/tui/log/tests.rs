use super::*;

fn log(n: usize) -> Log {
    let mut l = Log::default();
    for i in 0..n {
        l.push(Level::Info, 0, &format!("line {i}"));
    }
    l
}

#[test]
fn wrap_breaks_at_words_and_splits_long_ones() {
    assert_eq!(wrap("aa bb cc", 5, 5), vec!["aa bb", "cc"]);
    assert_eq!(wrap("abcdefgh", 3, 3), vec!["abc", "def", "gh"]);
    assert_eq!(wrap("", 3, 3), vec![""]);
    let e = Entry {
        seq: 0,
        tod_secs: 0,
        level: Level::Info,
        text: "one two three four five six seven".into(),
        detail: false,
        group: None,
    };
    let rows = wrap_entry(&e, 40);
    assert_eq!(rows[0], "00:00:00 one two three four five six");
    assert_eq!(rows[1], "         seven");
    assert_eq!(
        wrap_entry(&e, 20)[0],
        "one two three four",
        "narrow: no time"
    );
}

#[test]
fn the_tail_is_followed_until_the_user_scrolls() {
    let mut l = log(50);
    assert_eq!(l.visible(40, 3).last().unwrap().1, "00:00:00 line 49");
    l.scroll_up(10, 40);
    assert!(!l.following());
    assert_eq!(l.newer_hidden(), 10);
    let bottom = l.visible(40, 3).last().unwrap().1.clone();
    l.push(Level::Info, 0, "new");
    assert_eq!(l.visible(40, 3).last().unwrap().1, bottom, "view moved");
    assert_eq!(l.newer_hidden(), 11);
    l.scroll_down(100, 40);
    assert!(l.following());
    l.to_top(3, 40);
    assert_eq!(l.visible(40, 3)[0].1, "00:00:00 line 0");
}

#[test]
fn a_filter_keeps_matching_lines_and_levels() {
    let mut l = log(30);
    l.push(Level::Warn, 0, "engineer: retry 1/3");
    l.push(Level::Error, 0, "qa: failed");
    l.push(Level::Info, 0, "engineer: replied");
    l.set_filter(Some(Filter::parse("Engineer")));
    let rows: Vec<String> = l.visible(60, 5).into_iter().map(|r| r.1).collect();
    assert_eq!(
        rows,
        ["00:00:00 engineer: retry 1/3", "00:00:00 engineer: replied"]
    );
    l.set_filter(Some(Filter::parse("warn")));
    assert_eq!(l.visible(60, 5).len(), 2);
    l.set_filter(Some(Filter::parse("error")));
    assert_eq!(l.visible(60, 5)[0].1, "00:00:00 qa: failed");
    l.set_filter(Some(Filter::parse("line 1")));
    l.scroll_up(2, 60);
    assert!(l.visible(60, 3).iter().all(|r| r.1.contains("line 1")));
    l.set_filter(None);
    assert_eq!(l.visible(60, 40).len(), 33);
}

#[test]
fn details_are_folded_until_verbose() {
    let mut l = Log::default();
    l.push_detail(Level::Info, 0, "engineer: process 7 started", None);
    l.push(Level::Info, 0, "engineer · implement · ok");
    assert_eq!(l.visible(60, 5).len(), 1);
    l.set_verbose(true);
    assert_eq!(l.visible(60, 5).len(), 2);
    assert_eq!(l.since(0).count(), 2, "the session log gets both");
}

#[test]
fn memory_is_bounded() {
    let mut l = log(LOG_CAPACITY + 5);
    assert_eq!(l.len(), LOG_CAPACITY);
    assert_eq!(&*l.since(0).next().unwrap().text, "line 5");
    assert_eq!(l.since(l.next_seq() - 1).count(), 1);
    l.scroll_up(1_000_000, 40);
    assert_eq!(l.visible(40, 1)[0].1, "00:00:00 line 5");
}

#[test]
fn the_cursor_walks_dispatch_lines_and_enter_unfolds_only_that_one() {
    let mut l = Log::default();
    l.push_detail(Level::Info, 0, "qa: process 1 started", Some(0));
    l.push_detail(Level::Info, 0, "engineer: process 2 started", Some(1));
    l.push_summary(Level::Info, 0, "qa · check · ok", 0);
    l.push(Level::Info, 0, "committed greeter.py");
    l.push_detail(Level::Info, 0, "engineer: wrote greeter.py", Some(1));
    l.push_summary(Level::Info, 0, "engineer · build · ok", 1);
    let text = |l: &Log| -> Vec<String> { l.visible(60, 10).into_iter().map(|r| r.1).collect() };
    assert_eq!(text(&l).len(), 3, "steps folded: {:?}", text(&l));
    // First move: the newest dispatch line; k goes to the older one, and stays there.
    l.move_cursor(true, 60, 10);
    assert_eq!(l.cursor(), Some(5));
    l.move_cursor(true, 60, 10);
    assert_eq!(l.cursor(), Some(2));
    l.move_cursor(true, 60, 10);
    assert_eq!(l.cursor(), Some(2), "no older dispatch line");
    // Enter on qa's line shows qa's step only.
    assert!(l.toggle_under_cursor(60, 10));
    assert!(l.is_unfolded(2) && !l.is_unfolded(5));
    assert_eq!(
        text(&l),
        [
            "00:00:00 qa: process 1 started",
            "00:00:00 qa · check · ok",
            "00:00:00 committed greeter.py",
            "00:00:00 engineer · build · ok"
        ]
    );
    let marked: Vec<bool> = l.visible_marked(60, 10).into_iter().map(|r| r.2).collect();
    assert_eq!(marked, [false, true, false, false]);
    // j to engineer's line and Enter: both unfolded; Enter again folds engineer's.
    l.move_cursor(false, 60, 10);
    assert_eq!(l.cursor(), Some(5));
    l.toggle_under_cursor(60, 10);
    assert_eq!(text(&l).len(), 6);
    l.toggle_under_cursor(60, 10);
    assert_eq!(text(&l).len(), 4);
    assert!(!l.verbose(), "Enter is not the global switch");
}

#[test]
fn moving_the_cursor_scrolls_its_line_into_view() {
    let mut l = Log::default();
    l.push_summary(Level::Info, 0, "qa · check · ok", 0);
    for i in 0..20 {
        l.push(Level::Info, 0, &format!("line {i}"));
    }
    l.push_summary(Level::Info, 0, "engineer · build · ok", 21);
    l.move_cursor(true, 60, 3);
    assert!(l.following());
    l.move_cursor(true, 60, 3);
    assert_eq!(l.cursor(), Some(0));
    assert_eq!(
        l.visible(60, 3).last().unwrap().1,
        "00:00:00 qa · check · ok"
    );
    l.move_cursor(false, 60, 3);
    assert!(l.following(), "the newest line: the tail again");
}
