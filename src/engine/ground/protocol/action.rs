//! `ACTION: <kind>` … `END_ACTION` blocks.
//!
//! Inside a block, `KEY:` lines open sections and every other line belongs to the open section.
//! A key line only opens a section when the key is one this kind uses and has not been opened yet
//! in this block; otherwise it is an ordinary line. That is what lets a file's CONTENT hold a
//! `PATH: x` or `CMD: y` line, which the reference parser cut off.

use super::lex::{ActionKind, Top, first_line, join_block, lookup, split_key, unquote};
use super::span::{clip, extent, report};
use super::types::{Action, ActionBlock, BlockKind, Parsed};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    Path,
    Content,
    Old,
    New,
    Cmd,
    Reason,
}

impl Key {
    const ALL: [(&'static str, Key); 6] = [
        ("PATH", Key::Path),
        ("CONTENT", Key::Content),
        ("OLD", Key::Old),
        ("NEW", Key::New),
        ("CMD", Key::Cmd),
        ("REASON", Key::Reason),
    ];
}

fn accepts(kind: ActionKind, key: Key) -> bool {
    match kind {
        ActionKind::Write | ActionKind::Append => matches!(key, Key::Path | Key::Content),
        ActionKind::Edit => matches!(key, Key::Path | Key::Old | Key::New),
        ActionKind::Delete => key == Key::Path,
        ActionKind::Run => key == Key::Cmd,
        ActionKind::Done => key == Key::Reason,
    }
}

/// The lines collected for each key; `None` until the key's section opens.
#[derive(Default)]
struct Sections<'a> {
    path: Option<Vec<&'a str>>,
    content: Option<Vec<&'a str>>,
    old: Option<Vec<&'a str>>,
    new: Option<Vec<&'a str>>,
    cmd: Option<Vec<&'a str>>,
    reason: Option<Vec<&'a str>>,
}

impl<'a> Sections<'a> {
    fn slot(&mut self, key: Key) -> &mut Option<Vec<&'a str>> {
        match key {
            Key::Path => &mut self.path,
            Key::Content => &mut self.content,
            Key::Old => &mut self.old,
            Key::New => &mut self.new,
            Key::Cmd => &mut self.cmd,
            Key::Reason => &mut self.reason,
        }
    }

    fn collect(kind: ActionKind, body: &[&'a str]) -> Sections<'a> {
        let mut sections = Sections::default();
        let mut open: Option<Key> = None;
        for &line in body {
            if let Some((key, inline)) = opening_key(kind, line, &mut sections) {
                let inline = inline.trim();
                *sections.slot(key) = Some(if inline.is_empty() {
                    Vec::new()
                } else {
                    vec![inline]
                });
                open = Some(key);
            } else if let Some(key) = open {
                if let Some(collected) = sections.slot(key) {
                    collected.push(line);
                }
            }
            // Lines before the first section are noise (fences, prose) and are dropped.
        }
        sections
    }
}

/// The key this line opens a section for, if it is a usable, not yet opened key of `kind`.
fn opening_key<'a>(
    kind: ActionKind,
    line: &'a str,
    sections: &mut Sections<'_>,
) -> Option<(Key, &'a str)> {
    let (word, inline) = split_key(line.trim())?;
    let key = lookup(&Key::ALL, word)?;
    (accepts(kind, key) && sections.slot(key).is_none()).then_some((key, inline))
}

/// Parses the block whose head is at `head`; returns where the top-level walk resumes.
pub(super) fn parse_action(
    lines: &[&str],
    head: usize,
    word: &str,
    kind: Option<ActionKind>,
    out: &mut Parsed,
) -> usize {
    out.counts.action_heads += 1;
    let line = head + 1;
    // A known kind ends at the next known head; an unknown one at any ACTION head, so a run of
    // `ACTION: <junk>` lines cannot make each of them scan to the end of the reply.
    let own_head: fn(&Top<'_>) -> bool = match kind {
        Some(_) => |top| matches!(top, Top::Action { kind: Some(_), .. }),
        None => |top| matches!(top, Top::Action { .. }),
    };
    let ext = extent(lines, head, "END_ACTION", own_head);
    if ext.terminated {
        out.counts.action_ends += 1;
    }
    let Some(kind) = kind else {
        let message = if word.is_empty() {
            format!(
                "ACTION header at line {line} has no kind (write, edit, append, delete, run or done)"
            )
        } else {
            format!(
                "ACTION at line {line} has unknown kind \"{}\" (use write, edit, append, delete, run or done)",
                clip(word)
            )
        };
        report(out, line, BlockKind::Action, message);
        // Without END_ACTION there is no telling where an unknown block ends, so only its head
        // is taken and the lines after it are read as if it were not there.
        return if ext.terminated { ext.next } else { line };
    };
    let name = kind.name();
    if !ext.terminated {
        let message = format!(
            "{name} block at line {line} {}",
            ext.unterminated("END_ACTION")
        );
        report(out, line, BlockKind::Action, message);
    }
    let sections = Sections::collect(kind, ext.lines(lines));
    match build(kind, &sections) {
        Ok(action) => out.actions.push(ActionBlock {
            line,
            action,
            terminated: ext.terminated,
        }),
        Err(missing) => report(
            out,
            line,
            BlockKind::Action,
            format!("{name} block at line {line} has no {missing}"),
        ),
    }
    ext.next
}

/// The action, or the name of the first required field that is missing or empty.
fn build(kind: ActionKind, s: &Sections<'_>) -> Result<Action, &'static str> {
    let path = || non_empty(s.path.as_deref().map(first_line)).ok_or("PATH");
    match kind {
        ActionKind::Write | ActionKind::Append => {
            let path = path()?;
            let content = block(s.content.as_deref());
            Ok(if kind == ActionKind::Write {
                Action::Write { path, content }
            } else {
                Action::Append { path, content }
            })
        }
        ActionKind::Edit => {
            let path = path()?;
            let old = non_empty(Some(block(s.old.as_deref()))).ok_or("OLD")?;
            Ok(Action::Edit {
                path,
                old,
                new: block(s.new.as_deref()),
            })
        }
        ActionKind::Delete => Ok(Action::Delete { path: path()? }),
        ActionKind::Run => {
            let cmd = command(&block(s.cmd.as_deref()));
            non_empty(Some(cmd))
                .map(|cmd| Action::Run { cmd })
                .ok_or("CMD")
        }
        ActionKind::Done => Ok(Action::Done {
            reason: block(s.reason.as_deref()).trim().to_string(),
        }),
    }
}

fn block(lines: Option<&[&str]>) -> String {
    lines.map(join_block).unwrap_or_default()
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

/// A command as the shell should get it: trimmed, and without a markdown fence or backticks
/// wrapped around the whole of it (a fence line is never a useful part of a command).
fn command(raw: &str) -> String {
    let trimmed = raw.trim();
    let unfenced = trimmed
        .strip_prefix("```")
        .and_then(|rest| rest.strip_suffix("```"))
        .and_then(|inner| inner.split_once('\n'))
        .map(|(_lang, code)| code)
        .unwrap_or(trimmed)
        .trim();
    if unfenced.contains('\n') {
        unfenced.to_string()
    } else {
        unquote(unfenced).to_string()
    }
}
