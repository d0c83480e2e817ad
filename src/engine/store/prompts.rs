//! Prompt templates: loading, `$variable` rendering, the protocol section, the trace line.
//!
//! Templates use `$name` / `${name}` placeholders; `$$` is a literal dollar; unknown names are
//! left as written, so a prompt that shows shell code survives. A template without the
//! protocol section (custom prompts written by the chief or the user) gets the bundled one
//! appended, so every agent is told how to answer. Every prompt starts with the trace line
//! `[clk] agent=<name> stage=<stage-or-none> run=<run_id>`.

use std::collections::BTreeMap;
use std::fs;

use crate::engine::ground::bundled;
use crate::engine::store::workspace::Workspace;

/// The heading every complete prompt contains.
pub const PROTOCOL_MARKER: &str = "## Action protocol (executed by the harness)";

/// The shared protocol section, taken from the bundled engineer prompt.
pub fn protocol_section() -> &'static str {
    bundled::prompt("engineer.md")
        .and_then(|t| t.find(PROTOCOL_MARKER).map(|i| &t[i..]))
        .unwrap_or("")
}

/// The trace line that opens every prompt.
pub fn trace_line(agent: &str, stage: Option<&str>, run_id: &str) -> String {
    // One line, one token per field, whatever a caller passed in.
    let token = |s: &str| -> String {
        let t: String = s
            .chars()
            .map(|c| {
                if c.is_whitespace() || c.is_control() {
                    '_'
                } else {
                    c
                }
            })
            .collect();
        if t.is_empty() { "none".into() } else { t }
    };
    format!(
        "[clk] agent={} stage={} run={}",
        token(agent),
        token(stage.unwrap_or("none")),
        token(run_id)
    )
}

/// Replace `$name` and `${name}` from `vars`; leave unknown names; `$$` becomes `$`.
pub fn render(template: &str, vars: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(template.len() + 256);
    let mut rest = template;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
            continue;
        }
        let (name, consumed) = if let Some(inner) = after.strip_prefix('{') {
            match inner.find('}') {
                Some(end) if is_ident(&inner[..end]) => (&inner[..end], end + 2),
                _ => ("", 0),
            }
        } else {
            let end = after
                .char_indices()
                .find(|(i, c)| {
                    !(c.is_ascii_alphanumeric() || *c == '_') || (*i == 0 && c.is_ascii_digit())
                })
                .map(|(i, _)| i)
                .unwrap_or(after.len());
            (&after[..end], end)
        };
        match vars.get(name) {
            Some(value) if !name.is_empty() => {
                out.push_str(value);
                rest = &after[consumed..];
            }
            _ => {
                out.push('$');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The names `template` asks for (`$name`, `${name}`), so a caller can build only those.
pub fn names_used(template: &str) -> std::collections::BTreeSet<String> {
    let mut names = std::collections::BTreeSet::new();
    let mut rest = template;
    while let Some(pos) = rest.find('$') {
        let after = &rest[pos + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            rest = tail;
            continue;
        }
        let name = if let Some(inner) = after.strip_prefix('{') {
            inner.find('}').map_or("", |end| &inner[..end])
        } else {
            let end = after
                .char_indices()
                .find(|(i, c)| {
                    !(c.is_ascii_alphanumeric() || *c == '_') || (*i == 0 && c.is_ascii_digit())
                })
                .map_or(after.len(), |(i, _)| i);
            &after[..end]
        };
        if is_ident(name) {
            names.insert(name.to_string());
        }
        rest = after;
    }
    names
}

fn is_ident(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !s.starts_with(|c: char| c.is_ascii_digit())
}

/// The template for an agent: `.clk/prompts/<file>`, else the bundled one, else a plain one.
pub fn load_template(ws: &Workspace, agent: &str, file: &str) -> String {
    if let Ok(t) = fs::read_to_string(ws.prompts_dir().join(file)) {
        return t;
    }
    if let Some(t) = bundled::prompt(file) {
        return t.to_string();
    }
    format!(
        "# {agent}\n\nYou are the `{agent}` agent of project $project_name.\n\n\
         ## Context\n\n$state_summary\n\n$blackboard_digest\n\n## Objective\n\n$objective\n"
    )
}

/// The full prompt: trace line, rendered template, and the protocol when the template lacks it.
pub fn build(
    template: &str,
    vars: &BTreeMap<String, String>,
    agent: &str,
    stage: Option<&str>,
    run_id: &str,
) -> String {
    let mut body = render(template, vars);
    if !body.contains(PROTOCOL_MARKER) {
        body.push_str("\n\n");
        body.push_str(&render(protocol_section(), vars));
    }
    format!("{}\n{}", trace_line(agent, stage, run_id), body.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_used_are_the_ones_render_fills() {
        let t = "Hi $agent, ${objective}! $$notes $9x ${bad name} $state_summary.";
        let names: Vec<String> = names_used(t).into_iter().collect();
        assert_eq!(names, ["agent", "objective", "state_summary"]);
        // Every name render would fill is listed: nothing else in the map changes the output.
        let all = vars(&[
            ("agent", "a"),
            ("objective", "o"),
            ("notes", "n"),
            ("state_summary", "s"),
        ]);
        let only: BTreeMap<String, String> = all
            .iter()
            .filter(|(k, _)| names_used(t).contains(*k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        assert_eq!(render(t, &all), render(t, &only));
    }

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn renders_like_safe_substitute() {
        let v = vars(&[("objective", "ship it"), ("a", "A")]);
        assert_eq!(render("do $objective now", &v), "do ship it now");
        assert_eq!(render("${a}b $ab", &v), "Ab $ab");
        assert_eq!(
            render("cost $$5 and $HOME and $", &v),
            "cost $5 and $HOME and $"
        );
        assert_eq!(render("$1 ${unclosed", &v), "$1 ${unclosed");
        assert_eq!(render("ünï $a ✓", &v), "ünï A ✓");
    }

    #[test]
    fn the_trace_line_stays_one_line() {
        assert_eq!(
            trace_line("qa", Some("a b\nc"), "r1"),
            "[clk] agent=qa stage=a_b_c run=r1"
        );
    }

    #[test]
    fn the_prompt_opens_with_the_trace_line() {
        let p = build(
            "Do $objective",
            &vars(&[("objective", "x")]),
            "qa",
            None,
            "r1",
        );
        assert!(
            p.starts_with("[clk] agent=qa stage=none run=r1\nDo x"),
            "{p}"
        );
    }

    #[test]
    fn every_bundled_prompt_has_the_protocol() {
        assert!(!bundled::PROMPTS.is_empty());
        for (name, text) in bundled::PROMPTS {
            assert!(text.contains(PROTOCOL_MARKER), "{name} lacks the protocol");
        }
        assert!(protocol_section().contains("END_ACTION"));
    }
}
