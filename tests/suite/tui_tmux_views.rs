//! The real binary in tmux: focus a card, read the agent's whole reply in its transcript,
//! see the diff of what it wrote, and edit the input like a shell.

use std::path::{Path, PathBuf};

use super::tui_tmux::{Tmux, launch, need_tmux, project};

/// The end of the scripted reply: far past what a card or a log line shows.
const TAIL: &str = "and-this-is-the-very-end-of-the-reply";

/// A shell-provider agent whose reply ends in a long line that only the transcript shows.
fn talkative_agent(dir: &Path) -> PathBuf {
    let p = dir.join("agent.sh");
    let long = "word ".repeat(40);
    std::fs::write(
        &p,
        format!(
            "#!/bin/sh\ncat > /dev/null\necho 'reading the project'\n\
             printf 'ACTION: write\\nPATH: greeter.py\\nCONTENT:\\ndef hello():\\n    return \"hello\"\\nEND_ACTION\\n\\n{long}{TAIL}\\nCONFIDENCE: 0.7\\nPROGRESS: yes\\n'\n"
        ),
    )
    .unwrap();
    let mut perm = std::fs::metadata(&p).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
    std::fs::set_permissions(&p, perm).unwrap();
    p
}

/// The dashboard in tmux after one idea ran to the end with the talkative agent.
fn after_a_run(name: &str) -> (tempfile::TempDir, Tmux) {
    let dir = project();
    let script = talkative_agent(dir.path());
    let t = Tmux::start(name);
    launch(&t, dir.path(), script.to_str().unwrap());
    t.wait_for("type your idea", 20);
    t.line("Add a hello() function to greeter.py");
    t.wait("the run to finish", 120, |s| {
        s.contains("next: /loop ralph 5") && s.contains("done")
    });
    (dir, t)
}

#[test]
fn focus_a_card_read_its_transcript_and_diff_and_edit_the_input() {
    need_tmux!();
    let (_dir, t) = after_a_run("views");
    assert!(
        !t.screen().contains(TAIL),
        "the reply's end is not on a card"
    );
    // Tab to the first card (chief), j to the engineer, Enter for its transcript.
    t.key("Tab");
    t.wait_for("▸ *chief", 10);
    t.key("j");
    t.wait_for("▸ *engineer", 10);
    t.wait_for("Enter transcript", 10);
    t.key("Enter");
    t.wait_for("transcript · engineer · run 1/", 10);
    t.wait_for("── prompt ──", 10);
    t.key("G");
    t.wait_for(TAIL, 10);
    t.key("Escape");
    t.wait("the cards again", 10, |s| s.contains("▸ *engineer"));
    // The same file from every agent: only the first writer (chief, while casting) changed it.
    t.key("d");
    t.wait_for("engineer has not committed anything yet", 10);
    t.key("Escape");
    // A key sent right after Esc would read as Alt+key: wait for the cards first.
    t.wait("the cards again", 10, |s| s.contains("▸ *engineer"));
    t.key("k");
    t.wait_for("▸ *chief", 10);
    t.key("d");
    t.wait_for("diff · chief · commit", 10);
    t.wait_for("+def hello():", 10);
    t.wait_for("+    return \"hello\"", 10);
    t.key("Escape");
    t.wait("the cards again", 10, |s| s.contains("▸ *chief"));
    t.key("Escape");
    // A key sent right after Esc would read as Alt+key: wait for the input to have focus.
    t.wait("focus on the input", 10, |s| !s.contains("▸ *chief"));
    // Ctrl-W takes a word, Ctrl-U the line, Esc clears.
    t.tmux_literal("one two three");
    t.wait_for("> one two three", 10);
    t.key("C-w");
    t.wait("a word deleted", 10, |s| {
        !s.contains("> one two three") && s.contains("> one two")
    });
    t.key("C-u");
    t.wait_for("message the team", 10);
    t.tmux_literal("scratch");
    t.wait_for("> scratch", 10);
    t.key("Escape");
    t.wait("Esc to clear the input", 10, |s| !s.contains("> scratch"));
    t.line("/quit");
    t.wait_prompt(10);
    t.assert_cooked();
}

#[test]
fn a_restart_shows_the_previous_sessions_tail_and_keeps_the_input_history() {
    need_tmux!();
    let dir = project();
    let t = Tmux::start("restart");
    launch(&t, dir.path(), "true");
    t.wait_for("type your idea", 20);
    t.line("/status");
    t.wait_for("Last commit:", 20);
    t.line("/quit");
    t.wait_prompt(10);
    t.line("clear");
    t.wait_prompt(10);
    launch(&t, dir.path(), "true");
    t.wait_for("──── previous session ────", 20);
    let s = t.wait_for("──── this session ────", 10);
    assert!(
        s.contains("Last commit:") && s.contains("> /quit"),
        "the last session's lines:\n{s}"
    );
    t.key("Up");
    t.key("Up");
    t.wait("the history to come back", 10, |s| {
        s.lines().any(|l| l.trim_end() == "> /status")
    });
    t.key("C-u");
    t.line("/quit");
    t.wait_prompt(10);
    let log = std::fs::read_to_string(dir.path().join(".clk/logs/session.log")).unwrap();
    assert_eq!(
        log.matches("[USER] > /status").count(),
        1,
        "the tail shown at start is not written again:\n{log}"
    );
}

#[test]
fn clk_in_an_empty_folder_welcomes_sets_up_and_takes_the_idea() {
    need_tmux!();
    let dir = tempfile::tempdir().unwrap();
    let t = Tmux::start("empty");
    launch(&t, dir.path(), "true");
    t.wait_for("Set clk up in", 20);
    t.wait_for("t = set up and run the tutorial", 10);
    assert!(
        !dir.path().join(".clk").exists(),
        "nothing is written before the answer"
    );
    t.key("y");
    t.wait("the dashboard on the new project", 30, |s| {
        s.contains("type your idea") && !s.contains("not set up")
    });
    assert!(dir.path().join(".clk/config/clk.config.json").is_file());
    t.line("Add a hello() function to greeter.py");
    t.wait_for("idea captured: ", 30);
    assert!(dir.path().join(".clk/state/idea.json").is_file());
    t.line("/quit");
    // While the team still works on the idea, quitting asks first.
    let s = t.wait("the quit", 10, |s| {
        s.contains("Quit clk?") || s.lines().rev().find(|l| !l.trim().is_empty()) == Some("$")
    });
    if s.contains("Quit clk?") {
        t.key("y");
    }
    t.wait_prompt(10);
    t.assert_cooked();
    // Declining leaves the folder untouched.
    let other = tempfile::tempdir().unwrap();
    launch(&t, other.path(), "true");
    t.wait_for("Set clk up in", 20);
    t.key("n");
    t.wait_for("Nothing was set up", 10);
    t.wait_prompt(10);
    assert!(!other.path().join(".clk").exists());
}

/// Where `text` starts on the screen, as (column, row) from 0.
fn find(screen: &str, text: &str) -> Option<(usize, usize)> {
    screen.lines().enumerate().find_map(|(row, line)| {
        line.find(text)
            .map(|byte| (line[..byte].chars().count(), row))
    })
}

#[test]
fn a_mouse_click_focuses_the_card_under_it() {
    need_tmux!();
    let (_dir, t) = after_a_run("click");
    let screen = t.screen();
    let (col, row) = find(&screen, "*qa").unwrap_or_else(|| panic!("no qa card:\n{screen}"));
    // A left press and release one row below the card's name, as an xterm sends it (SGR,
    // 1-based): the terminal's own bytes, read by the dashboard like a real click.
    let (x, y) = (col + 2, row + 2);
    t.tmux_literal(&format!("\x1b[<0;{x};{y}M\x1b[<0;{x};{y}m"));
    t.wait("the clicked card to have focus", 10, |s| {
        s.contains("▸ *qa")
    });
    // The hint bar offers the card's keys: focus really is on it.
    t.wait_for("Enter transcript", 10);
}

/// The status log's stamped rows on screen (each starts with its time of day).
fn log_rows(screen: &str) -> Vec<String> {
    screen
        .lines()
        .skip_while(|l| !l.contains("status log"))
        .filter(|l| l.starts_with(|c: char| c.is_ascii_digit()))
        .map(str::to_string)
        .collect()
}

#[test]
fn filter_narrows_the_log_and_says_so_in_its_title() {
    need_tmux!();
    let (_dir, t) = after_a_run("filter");
    t.line("/filter engineer");
    let s = t.wait_for("status log · only agent engineer · /filter shows all", 10);
    let rows = log_rows(&s);
    assert!(
        rows.iter()
            .any(|r| r.contains("engineer · implement · shell")),
        "engineer's dispatch line:\n{s}"
    );
    assert!(
        !s.contains("started (ralph)") && !s.contains("[chief]"),
        "only engineer's lines:\n{s}"
    );
    t.line("/filter warn");
    let s = t.wait_for("status log · only warnings and errors", 10);
    assert!(!s.contains("· ok"), "no line of a good dispatch:\n{s}");
    t.line("/filter");
    t.wait("the whole log again", 10, |s| {
        s.contains("status log · PgUp/PgDn") && s.contains("supervise started (chief)")
    });
    t.line("/quit");
    t.wait_prompt(10);
}
