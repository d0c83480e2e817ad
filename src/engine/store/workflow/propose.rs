//! Turning the chief's `PROPOSE_WORKFLOW` into a workflow file, safely.
//!
//! Invariant: [`prepare`] touches no file. It returns the exact text to write only when that
//! text loads and validates; the caller then calls [`write`]. So a malformed proposal leaves the
//! project's workflow byte-identical, and the error line goes back to the chief. The
//! normalisation follows the reference tool: the name becomes `[a-z0-9_]`, `name:` is prepended
//! when absent, a quoted `description:` is added from DESCRIPTION when the YAML has none.
//! Beyond the reference, a Markdown code fence around the YAML and an indentation shared by
//! every line are removed, since models often wrap or indent the block; line numbers in errors
//! still match the lines the chief wrote.

use std::io;

use super::error::WorkflowError;
use super::spec::Workflow;
use super::validate::{Roster, load_parsed};
use crate::engine::ground::protocol::WorkflowProposal;
use crate::engine::store::workspace::{Workspace, write_atomic};

/// Longest file name stem kept; a longer name is cut, not rejected.
const MAX_NAME: usize = 64;

/// `name` lower-cased with every run of characters outside `[a-z0-9_]` turned into one `_`,
/// and `_` trimmed from both ends; None when nothing is left.
pub fn normalize_name(name: &str) -> Option<String> {
    let mut out = String::new();
    let mut in_run = false;
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' {
            out.push(c);
            in_run = false;
        } else if !in_run {
            out.push('_');
            in_run = true;
        }
    }
    let out: String = out.trim_matches('_').chars().take(MAX_NAME).collect();
    let out = out.trim_end_matches('_').to_string();
    (!out.is_empty()).then_some(out)
}

/// Check a proposal and build the file it would become: (file name `<name>.yaml`, the final
/// YAML text, the loaded workflow). Writes nothing.
pub fn prepare(
    proposal: &WorkflowProposal,
    roster: &dyn Roster,
) -> Result<(String, String, Workflow), WorkflowError> {
    let name = normalize_name(&proposal.name).ok_or_else(|| WorkflowError::BadName {
        name: proposal.name.clone(),
    })?;
    let label = format!("proposed {name}.yaml");
    let body = unwrap_block(&proposal.yaml);
    // Validate what the chief wrote first, so any line number in the error is one of its lines.
    let parsed = load_parsed(&label, &name, &body, roster)?;

    let mut lines: Vec<String> = body.lines().map(str::to_string).collect();
    while lines.last().is_some_and(|l| l.trim().is_empty()) {
        lines.pop();
    }
    let lead = lines.iter().take_while(|l| l.trim().is_empty()).count();
    lines.drain(..lead);
    let mut at = header_end(&lines);
    if !parsed.has_name {
        lines.insert(at, format!("name: {name}"));
        at += 1;
    } else if let Some(i) = top_name_line(&lines) {
        at = i + 1;
    }
    let description = proposal
        .description
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty());
    if let Some(d) = description
        && !parsed.has_description
    {
        // JSON string syntax is valid YAML double-quoted syntax, and escapes anything awkward.
        let quoted = serde_json::to_string(d).unwrap_or_else(|_| "\"\"".into());
        lines.insert(at, format!("description: {quoted}"));
    }
    let mut text = lines.join("\n");
    text.push('\n');
    // The additions can in principle clash with unusual YAML (a flow-style root), so the text
    // that would be written is itself loaded; only a text that loads is ever returned.
    let workflow = load_parsed(&label, &name, &text, roster)?.workflow;
    Ok((format!("{name}.yaml"), text, workflow))
}

/// Write a prepared workflow to `.clk/config/workflows/<name>.yaml` atomically (the old file
/// is kept as `.bak`). Call only with the output of a successful [`prepare`]. `name` must
/// already be normalised (a `.yaml` suffix is accepted).
pub fn write(ws: &Workspace, name: &str, yaml: &str) -> io::Result<()> {
    let name = name.strip_suffix(".yaml").unwrap_or(name);
    if normalize_name(name).as_deref() != Some(name) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("workflow name \"{name}\" is not normalised; pass the name prepare returned"),
        ));
    }
    write_atomic(
        &ws.workflows_dir().join(format!("{name}.yaml")),
        yaml.as_bytes(),
    )
}

/// The YAML without a surrounding code fence or shared indentation, line for line: fence lines
/// become blank rather than disappearing, so line numbers do not move.
fn unwrap_block(yaml: &str) -> String {
    let mut lines: Vec<&str> = yaml.lines().collect();
    let first = lines.iter().position(|l| !l.trim().is_empty());
    let last = lines.iter().rposition(|l| !l.trim().is_empty());
    if let (Some(f), Some(l)) = (first, last)
        && f < l
        && lines[f].trim_start().starts_with("```")
        && lines[l].trim() == "```"
    {
        lines[f] = "";
        lines[l] = "";
    }
    let indent = lines
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start_matches(' ').len())
        .min()
        .unwrap_or(0);
    let mut out = String::with_capacity(yaml.len());
    for l in lines {
        if l.trim().is_empty() {
            out.push('\n');
        } else {
            // Every non-blank line starts with at least `indent` spaces (ASCII, so byte-safe).
            out.push_str(&l[indent..]);
            out.push('\n');
        }
    }
    out
}

/// Where top-level keys may be inserted: after leading comments, directives and `---`.
fn header_end(lines: &[String]) -> usize {
    let mut at = 0;
    for (i, l) in lines.iter().enumerate() {
        let t = l.trim();
        if t.is_empty() || t.starts_with('#') || t.starts_with('%') {
            continue;
        }
        if t.starts_with("---") {
            at = i + 1;
        }
        break;
    }
    at
}

/// The line of a one-line top-level `name: value`, to put the description right after it.
fn top_name_line(lines: &[String]) -> Option<usize> {
    lines.iter().position(|l| {
        l.strip_prefix("name:").is_some_and(|rest| {
            let rest = rest.trim();
            !rest.is_empty() && !rest.starts_with(['|', '>', '#'])
        })
    })
}
