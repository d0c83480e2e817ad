//! Tool calls an agent CLI was not allowed to make.
//!
//! In native-tools mode a CLI runs its own file and shell tools. Each tool result that is a
//! refusal (the CLI's own permission guard, an approval it could not ask for headless, or the
//! sandbox saying no: a read-only file system, permission denied) is noted with what the
//! tool tried, shown as a live line (`the CLI was not allowed to: …`) and handed back with the
//! reply, so the card and the log say why an edit is missing. A turn whose every tool call
//! was refused did nothing it was asked to: it counts as failed with that reason.

use std::collections::BTreeMap;

use crate::engine::ground::events::Stream;

/// The words that open a refusal's line, on the card and in the log.
pub const NOT_ALLOWED: &str = "the CLI was not allowed to";

/// Text in a tool result that marks a refusal (compared in lower case).
const MARKS: &[&str] = &[
    "requested permissions",
    "require approval",
    "requires approval",
    "permission denied",
    "permission to use",
    "operation not permitted",
    "read-only file system",
    "erofs",
    "eacces",
    "eperm",
    "not allowed",
    "denied by policy",
    "was denied",
    "was declined",
    "rejected by user",
    "user rejected",
    "blocked by policy",
    "was blocked",
    "blocked:",
    "not in workspace",
    "outside the allowed",
];

/// The line of `result` that says it was refused, shortened, if it is a refusal.
pub fn refusal(result: &str) -> Option<String> {
    let line = result.lines().find(|l| {
        let low = l.to_ascii_lowercase();
        MARKS.iter().any(|m| low.contains(m))
    })?;
    let line = line
        .trim()
        .trim_start_matches("<tool_use_error>")
        .trim_end_matches("</tool_use_error>")
        .trim();
    Some(line.chars().take(160).collect())
}

/// The system's words for a write the sandbox refused, as a command prints them at the end of
/// its error line (`bash: line 1: x: Read-only file system`).
const SYSTEM_REFUSALS: &[&str] = &[
    ": Read-only file system",
    ": Permission denied",
    ": Operation not permitted",
];

/// The shell tools' names as the call lines start (codex's commands are `run …`).
const SHELL_TOOLS: &[&str] = &["Bash", "bash", "run_shell_command", "run"];

/// The line of a command's output that is the system refusing it, shortened. For results a
/// CLI reports as successful (gemini's shell tool, whatever the exit code): only a line that
/// ends in the system's own error counts, so output that merely mentions a refusal does not.
fn sandbox_refusal(output: &str) -> Option<String> {
    let line = output
        .lines()
        .map(str::trim_end)
        .find(|l| SYSTEM_REFUSALS.iter().any(|m| l.ends_with(m)))?;
    Some(line.trim().chars().take(160).collect())
}

/// A tool result's text: a string, or the text blocks of a list, joined.
pub fn result_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(serde_json::Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The tool calls of one run, by the id the CLI gave them, and which were refused.
#[derive(Debug, Default)]
pub struct Tools {
    /// What each call tried (`Write greeter.py`), by id.
    calls: BTreeMap<String, String>,
    /// (what, why) for each refused call, in the order the results came.
    refused: Vec<(String, String)>,
    /// How many of those are parts of commands that otherwise ran (see [`Tools::ran`]).
    partly: usize,
}

impl Tools {
    /// A call was made: `what` is its readable line without the `tool: ` prefix.
    pub fn call(&mut self, id: &str, what: &str) {
        let what = what.strip_prefix("tool: ").unwrap_or(what);
        self.calls.insert(id.to_string(), what.to_string());
    }

    /// A call that failed in a way that is always a refusal (codex's failed patch, whose
    /// reason it does not print): noted and shown with `why`.
    pub fn refused_call(&mut self, id: &str, why: &str, show: &mut dyn FnMut(Stream, &str)) {
        let what = self
            .calls
            .get(id)
            .cloned()
            .unwrap_or_else(|| "use a tool".into());
        show(Stream::Stdout, &format!("{NOT_ALLOWED}: {what} ({why})"));
        self.refused.push((what, why.to_string()));
    }

    /// A call's result came back; a refusal is noted and shown.
    pub fn result(&mut self, id: &str, text: &str, show: &mut dyn FnMut(Stream, &str)) {
        if let Some(why) = refusal(text) {
            self.refused_call(id, &why, show);
        }
    }

    /// A shell command the CLI reports as successful came back with `output`; other tools'
    /// results (a file read) are left alone. A part the sandbox refused is noted and shown all
    /// the same. `ran` says the CLI knows the command ran (its exit code was 0): then it does
    /// not make the turn one whose every call was refused. gemini reports every command as a
    /// success, exit code or not: its command counts as refused when the refusal is the last
    /// thing it printed (the part that set the exit code), and as having run otherwise.
    pub fn succeeded(
        &mut self,
        id: &str,
        output: &str,
        ran: bool,
        show: &mut dyn FnMut(Stream, &str),
    ) {
        let shell = self
            .calls
            .get(id)
            .and_then(|what| what.split_whitespace().next())
            .is_some_and(|tool| SHELL_TOOLS.contains(&tool));
        if !shell {
            return;
        }
        if let Some(why) = sandbox_refusal(output) {
            self.refused_call(id, &why, show);
            let last = output.lines().rev().map(str::trim).find(|l| !l.is_empty());
            if ran || last.is_none_or(|l| !l.starts_with(why.as_str())) {
                self.partly += 1;
            }
        }
    }

    /// A refusal the CLI reported apart from any result (claude's `permission_denials`), not
    /// already noted.
    pub fn denied(&mut self, what: &str, show: &mut dyn FnMut(Stream, &str)) {
        let what = what.strip_prefix("tool: ").unwrap_or(what);
        if self.refused.iter().any(|(w, _)| w == what) {
            return;
        }
        show(
            Stream::Stdout,
            &format!("{NOT_ALLOWED}: {what} (permission denied)"),
        );
        self.refused
            .push((what.to_string(), "permission denied".into()));
    }

    pub fn refused(&self) -> &[(String, String)] {
        &self.refused
    }

    /// How many calls were made (at least as many as were refused).
    pub fn count(&self) -> usize {
        self.calls.len().max(self.refused.len())
    }

    /// The failure for a turn whose every tool call was refused, if it was one.
    pub fn all_refused(&self) -> Option<String> {
        let calls = self.count();
        let whole = self.refused.len().saturating_sub(self.partly);
        let items: Vec<String> = self
            .refused
            .iter()
            .map(|(w, y)| format!("{w} ({y})"))
            .collect();
        (calls > 0 && whole >= calls).then(|| format!("{NOT_ALLOWED}: {}", items.join("; ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_told_from_other_errors() {
        for r in [
            "Claude requested permissions to edit /w/.git/hooks/x which is a sensitive file.",
            "This Bash command contains multiple operations. The following parts require \
             approval: mkdir -p notes, echo one",
            "EROFS: read-only file system, open '/w/.clk/config/agents.json'",
            "Exit code 1\n/bin/bash: line 1: .clk/config/x: Read-only file system",
            "Tool execution denied by policy.",
        ] {
            assert!(refusal(r).is_some(), "{r}");
        }
        for r in [
            "File created successfully at: greeter.py",
            "Exit code 1\nSyntaxError: invalid syntax",
            "(Bash completed with no output)",
        ] {
            assert_eq!(refusal(r), None, "{r}");
        }
        assert_eq!(
            refusal("Exit code 1\nbash: x: Permission denied").as_deref(),
            Some("bash: x: Permission denied")
        );
    }

    #[test]
    fn a_command_that_ran_with_a_refused_part_does_not_fail_the_turn() {
        let mut t = Tools::default();
        let mut shown = Vec::new();
        let mut show = |_: Stream, l: &str| shown.push(l.to_string());
        t.call("1", "tool: Bash echo x > .clk/config/x; echo ok");
        t.call("2", "tool: Read notes.md");
        let refused = "bash: line 1: .clk/config/x: Read-only file system\nok";
        t.succeeded("1", refused, true, &mut show);
        t.succeeded("1", "ok", true, &mut show);
        // A file that merely reads like a refusal is not one.
        t.succeeded("2", "x: Permission denied", true, &mut show);
        assert_eq!(
            shown,
            vec![
                "the CLI was not allowed to: Bash echo x > .clk/config/x; echo ok (bash: line \
                 1: .clk/config/x: Read-only file system)"
            ]
        );
        assert_eq!(t.refused().len(), 1);
        assert_eq!(t.all_refused(), None);
        // gemini cannot say the command ran: its only call refused fails the turn.
        let mut g = Tools::default();
        g.call("1", "tool: run_shell_command echo x > /p/notes.md");
        g.succeeded(
            "1",
            "bash: /p/notes.md: Read-only file system",
            false,
            &mut |_, _| {},
        );
        assert!(g.all_refused().is_some());
        // ... but not when more came after it: the command went on.
        let mut g = Tools::default();
        g.call("1", "tool: run_shell_command find / -name x");
        let out = "find: '/root/a': Permission denied\n/usr/x\n/var/x";
        g.succeeded("1", out, false, &mut |_, _| {});
        assert_eq!(g.refused().len(), 1);
        assert_eq!(g.all_refused(), None);
    }

    #[test]
    fn a_successful_results_refusal_is_the_systems_own_error_line() {
        for (out, line) in [
            (
                "/usr/bin/bash: line 4: /p/notes.md: Read-only file system",
                "/usr/bin/bash: line 4: /p/notes.md: Read-only file system",
            ),
            (
                "made a\nmkdir: cannot create directory '/p/x': Permission denied\n",
                "mkdir: cannot create directory '/p/x': Permission denied",
            ),
            (
                "touch: cannot touch '/p/y': Operation not permitted",
                "touch: cannot touch '/p/y': Operation not permitted",
            ),
        ] {
            assert_eq!(sandbox_refusal(out).as_deref(), Some(line), "{out}");
        }
        for out in [
            "",
            "wrote notes/a.txt",
            "grep found: permission denied errors in the log",
            "Read-only file system handling is covered by test_ro.py",
        ] {
            assert_eq!(sandbox_refusal(out), None, "{out}");
        }
    }

    #[test]
    fn a_turn_fails_only_when_every_call_was_refused() {
        let mut t = Tools::default();
        let mut shown = Vec::new();
        let mut show = |_: Stream, l: &str| shown.push(l.to_string());
        t.call("1", "tool: Write greeter.py");
        t.call("2", "tool: Write .clk/config/agents.json");
        t.result("1", "File created successfully", &mut show);
        t.result("2", "EROFS: read-only file system, open 'x'", &mut show);
        assert_eq!(
            shown,
            vec![
                "the CLI was not allowed to: Write .clk/config/agents.json (EROFS: read-only \
                 file system, open 'x')"
            ]
        );
        assert_eq!(t.all_refused(), None);
        t.result("1", "Permission denied", &mut |_, _| {});
        assert_eq!(
            t.all_refused().as_deref(),
            Some(
                "the CLI was not allowed to: Write .clk/config/agents.json (EROFS: read-only \
                 file system, open 'x'); Write greeter.py (Permission denied)"
            )
        );
        assert_eq!(Tools::default().all_refused(), None);
    }
}
