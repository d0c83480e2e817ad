//! POST, PROPOSE_ROLE, PROPOSE_WORKFLOW, PROPOSE_CONSENSUS and DELEGATE blocks.
//!
//! All share one shape: a named head, single-line `KEY: value` fields, then a body key
//! (BODY, PROMPT, YAML, OBJECTIVE, TASK) after which every line up to the terminator is body
//! text.

use super::lex::{Top, join_block, lookup, split_key, split_list};
use super::span::{Extent, clip, extent, report};
use super::types::{
    BlockKind, ConsensusProposal, Delegation, Parsed, PostBlock, RoleProposal, Urgency,
    WorkflowProposal,
};

/// A block's fields before its body key, and its body if the key was there.
struct Fields<'a> {
    fields: Vec<(&'a str, &'a str)>,
    body: Option<String>,
}

impl<'a> Fields<'a> {
    fn split(body_lines: &[&'a str], body_key: &str) -> Fields<'a> {
        let mut fields = Vec::new();
        for (n, &line) in body_lines.iter().enumerate() {
            // Lines that are not `KEY: value` are ignored: agents put prose and fences here.
            let Some((key, value)) = split_key(line.trim()) else {
                continue;
            };
            if key.eq_ignore_ascii_case(body_key) {
                let inline = value.trim();
                let mut text: Vec<&str> = Vec::new();
                if !inline.is_empty() {
                    text.push(inline);
                }
                text.extend(body_lines.get(n + 1..).unwrap_or_default());
                return Fields {
                    fields,
                    body: Some(join_block(&text)),
                };
            }
            fields.push((key, value.trim()));
        }
        Fields { fields, body: None }
    }

    /// The last value given for any of `keys`, if it is not empty.
    fn last(&self, keys: &[&str]) -> Option<String> {
        self.fields
            .iter()
            .rev()
            .find(|(k, _)| keys.iter().any(|want| k.eq_ignore_ascii_case(want)))
            .map(|(_, v)| v.to_string())
            .filter(|v| !v.is_empty())
    }

    /// Every item of every list line for any of `keys`, so a list may span several lines.
    fn list(&self, keys: &[&str]) -> Vec<String> {
        self.fields
            .iter()
            .filter(|(k, _)| keys.iter().any(|want| k.eq_ignore_ascii_case(want)))
            .flat_map(|(_, v)| split_list(v))
            .collect()
    }

    /// The body if it has text, else a problem naming what is missing.
    fn require_body(&self, what: &str, key: &str) -> Result<String, String> {
        match self.body.as_deref() {
            Some(body) if !body.trim().is_empty() => Ok(body.to_string()),
            Some(_) => Err(format!("{what} has an empty {key}")),
            None => Err(format!("{what} has no {key}: section")),
        }
    }
}

/// Shared start of every block here: find the extent and report a missing terminator.
fn open(
    lines: &[&str],
    head: usize,
    terminator: &str,
    own_head: fn(&Top<'_>) -> bool,
    what: &str,
    block: BlockKind,
    out: &mut Parsed,
) -> Extent {
    let ext = extent(lines, head, terminator, own_head);
    if !ext.terminated {
        report(
            out,
            head + 1,
            block,
            format!("{what} {}", ext.unterminated(terminator)),
        );
    }
    ext
}

pub(super) fn parse_post(lines: &[&str], head: usize, post_type: &str, out: &mut Parsed) -> usize {
    let line = head + 1;
    let what = format!("POST {} at line {line}", clip(post_type));
    out.counts.post_heads += 1;
    let own = |top: &Top<'_>| matches!(top, Top::Post(Ok(_)));
    let ext = open(lines, head, "END_POST", own, &what, BlockKind::Post, out);
    if ext.terminated {
        out.counts.post_ends += 1;
    }
    let f = Fields::split(ext.lines(lines), "BODY");
    match f.require_body(&what, "BODY") {
        Ok(body) => out.posts.push(PostBlock {
            line,
            post_type: post_type.to_string(),
            title: f.last(&["TITLE"]),
            slug: f.last(&["SLUG"]),
            to: f.last(&["TO"]).and_then(|to| addressee(&to)),
            urgency: f.last(&["URGENCY"]).map_or(Urgency::None, |u| urgency(&u)),
            produces: f.list(&["PRODUCES"]),
            consumes: f.list(&["CONSUMES"]),
            body,
        }),
        Err(message) => report(
            out,
            line,
            BlockKind::Post,
            format!("{message}; the post was dropped"),
        ),
    }
    ext.next
}

/// The one agent a post is for, as `[A-Za-z0-9_-]`. Only the first name of a list counts: the
/// board delivers to one addressee, and gluing `a, b` into `ab` would name nobody.
fn addressee(value: &str) -> Option<String> {
    let first = split_list(value).into_iter().next()?;
    let name: String = first
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect();
    (!name.is_empty()).then_some(name)
}

fn urgency(value: &str) -> Urgency {
    const WORDS: [(&str, Urgency); 6] = [
        ("blocking", Urgency::Blocking),
        ("block", Urgency::Blocking),
        ("sync", Urgency::Blocking),
        ("async", Urgency::Async),
        ("background", Urgency::Async),
        ("deferred", Urgency::Async),
    ];
    lookup(&WORDS, &super::lex::keyword(value)).unwrap_or(Urgency::None)
}

pub(super) fn parse_role(lines: &[&str], head: usize, name: &str, out: &mut Parsed) -> usize {
    let line = head + 1;
    let what = format!("PROPOSE_ROLE {} at line {line}", clip(name));
    let own = |top: &Top<'_>| matches!(top, Top::Role(Ok(_)));
    let ext = open(lines, head, "END_ROLE", own, &what, BlockKind::Role, out);
    let f = Fields::split(ext.lines(lines), "PROMPT");
    // The prompt is optional: casting scaffolds one, or `ROLE: remove` retires the role.
    let prompt = f.body.clone().unwrap_or_default();
    let role = f.last(&["ROLE"]).unwrap_or_default();
    if prompt.trim().is_empty() && role.trim().is_empty() {
        report(
            out,
            line,
            BlockKind::Role,
            format!("{what} has neither ROLE nor PROMPT; the role was dropped"),
        );
    } else {
        out.roles.push(RoleProposal {
            line,
            name: name.to_string(),
            role,
            provider: f.last(&["PROVIDER"]),
            capabilities: f.list(&["CAPABILITIES"]),
            prompt,
        });
    }
    ext.next
}

pub(super) fn parse_workflow(lines: &[&str], head: usize, name: &str, out: &mut Parsed) -> usize {
    let line = head + 1;
    let what = format!("PROPOSE_WORKFLOW {} at line {line}", clip(name));
    let own = |top: &Top<'_>| matches!(top, Top::Workflow(Ok(_)));
    let ext = open(
        lines,
        head,
        "END_WORKFLOW",
        own,
        &what,
        BlockKind::Workflow,
        out,
    );
    let f = Fields::split(ext.lines(lines), "YAML");
    match f.require_body(&what, "YAML") {
        Ok(yaml) => out.workflows.push(WorkflowProposal {
            line,
            name: name.to_string(),
            description: f.last(&["DESCRIPTION"]),
            yaml,
        }),
        Err(message) => report(
            out,
            line,
            BlockKind::Workflow,
            format!("{message}; the workflow was dropped"),
        ),
    }
    ext.next
}

/// Copies used when a consensus block gives none or an unreadable number.
const DEFAULT_COPIES: u32 = 3;

pub(super) fn parse_consensus(lines: &[&str], head: usize, name: &str, out: &mut Parsed) -> usize {
    let line = head + 1;
    let what = format!("PROPOSE_CONSENSUS {} at line {line}", clip(name));
    let own = |top: &Top<'_>| matches!(top, Top::Consensus(Ok(_)));
    let ext = open(
        lines,
        head,
        "END_CONSENSUS",
        own,
        &what,
        BlockKind::Consensus,
        out,
    );
    let f = Fields::split(ext.lines(lines), "OBJECTIVE");
    let copies = match f.last(&["COPIES"]) {
        None => DEFAULT_COPIES,
        Some(raw) => match raw
            .split_whitespace()
            .next()
            .and_then(|n| n.parse::<u32>().ok())
        {
            Some(n) if n >= 1 => n,
            Some(_) | None => {
                let message = format!(
                    "{what} has COPIES \"{}\", not a whole number of at least 1; using {DEFAULT_COPIES}",
                    clip(&raw)
                );
                report(out, line, BlockKind::Consensus, message);
                DEFAULT_COPIES
            }
        },
    };
    match f.require_body(&what, "OBJECTIVE") {
        Ok(objective) => out.consensus.push(ConsensusProposal {
            line,
            name: name.to_string(),
            agents: f.list(&["AGENT", "AGENTS"]),
            copies,
            objective,
        }),
        Err(message) => report(
            out,
            line,
            BlockKind::Consensus,
            format!("{message}; the proposal was dropped"),
        ),
    }
    ext.next
}

/// `DELEGATE: <agent>` (or `TO: <agent>`), optional `CONTEXT:`, then `TASK:` and its lines up
/// to `END_DELEGATE`.
pub(super) fn parse_delegate(lines: &[&str], head: usize, rest: &str, out: &mut Parsed) -> usize {
    let line = head + 1;
    let what = format!("DELEGATE at line {line}");
    let own = |top: &Top<'_>| matches!(top, Top::Delegate(_));
    let ext = open(
        lines,
        head,
        "END_DELEGATE",
        own,
        &what,
        BlockKind::Delegate,
        out,
    );
    let f = Fields::split(ext.lines(lines), "TASK");
    let to = f
        .last(&["TO"])
        .or_else(|| (!rest.is_empty()).then(|| rest.to_string()))
        .and_then(|t| addressee(&t));
    let problem = match (to, f.require_body(&what, "TASK")) {
        (Some(to), Ok(task)) => {
            out.delegations.push(Delegation {
                line,
                to,
                context: f.last(&["CONTEXT"]),
                task,
            });
            None
        }
        (None, _) => Some(format!(
            "{what} names no agent (write DELEGATE: <agent> or TO: <agent>)"
        )),
        (_, Err(message)) => Some(message),
    };
    if let Some(message) = problem {
        let message = format!("{message}; the delegation was dropped");
        report(out, line, BlockKind::Delegate, message);
    }
    ext.next
}
