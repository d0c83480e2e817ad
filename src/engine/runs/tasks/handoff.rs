//! The structured notes of the duo loop: the implementer's handoff after each turn and the
//! reviewer's verdict, both JSON after a marker line, both checked before they count. A
//! broken one comes back as the reason, which the next prompt quotes.

use serde::{Deserialize, Serialize};

/// Marker before the implementer's JSON.
pub const HANDOFF: &str = "HANDOFF:";
/// Marker before the reviewer's JSON.
pub const VERDICT: &str = "VERDICT:";

/// One checklist item of a handoff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Item {
    pub item: String,
    /// done, todo or blocked.
    pub status: String,
}

/// What the implementer hands over after a turn.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Handoff {
    pub summary: String,
    pub changed_files: Vec<String>,
    pub checklist: Vec<Item>,
    #[serde(default)]
    pub open_questions: Vec<String>,
    pub next_action: String,
}

impl Handoff {
    /// Every item done.
    pub fn complete(&self) -> bool {
        self.checklist.iter().all(|i| i.status == "done")
    }
}

/// The reviewer's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// approve or revise.
    pub verdict: String,
    #[serde(default)]
    pub reasons: Vec<String>,
    /// What to change, when it says revise.
    #[serde(default)]
    pub requests: Vec<String>,
}

impl Verdict {
    pub fn approves(&self) -> bool {
        self.verdict == "approve"
    }
}

/// The JSON after the last `marker` line of `reply` (fences around it are allowed).
fn json_after<'a>(reply: &'a str, marker: &str) -> Result<&'a str, String> {
    let Some(at) = reply.rfind(marker) else {
        return Err(format!("the reply has no {marker} line"));
    };
    let rest = reply[at + marker.len()..].trim_start();
    let rest = rest
        .strip_prefix("```json")
        .or_else(|| rest.strip_prefix("```"))
        .unwrap_or(rest)
        .trim_start();
    if !rest.starts_with('{') {
        return Err(format!("{marker} is not followed by a JSON object"));
    }
    Ok(rest)
}

fn first_value<T: serde::de::DeserializeOwned>(text: &str, marker: &str) -> Result<T, String> {
    let mut it = serde_json::Deserializer::from_str(text).into_iter::<T>();
    match it.next() {
        Some(Ok(v)) => Ok(v),
        Some(Err(e)) => Err(format!("the {marker} JSON does not fit the schema: {e}")),
        None => Err(format!("{marker} is not followed by a JSON object")),
    }
}

/// The handoff in `reply`, checked; `Err` says what is wrong with it.
pub fn parse_handoff(reply: &str) -> Result<Handoff, String> {
    let h: Handoff = first_value(json_after(reply, HANDOFF)?, HANDOFF)?;
    if h.summary.trim().is_empty() {
        return Err("the handoff's summary is empty".into());
    }
    if h.checklist.is_empty() {
        return Err("the handoff's checklist is empty; list the task's items".into());
    }
    if let Some(bad) = h
        .checklist
        .iter()
        .find(|i| !matches!(i.status.as_str(), "done" | "todo" | "blocked"))
    {
        return Err(format!(
            "checklist item {:?} has status {:?}; use done, todo or blocked",
            bad.item, bad.status
        ));
    }
    Ok(h)
}

/// The verdict in `reply`, checked.
pub fn parse_verdict(reply: &str) -> Result<Verdict, String> {
    let v: Verdict = first_value(json_after(reply, VERDICT)?, VERDICT)?;
    match v.verdict.as_str() {
        "approve" => Ok(v),
        "revise" if v.requests.is_empty() => Err("a revise verdict must list its requests".into()),
        "revise" => Ok(v),
        other => Err(format!("verdict {other:?} is not approve or revise")),
    }
}

/// What the implementer is told about the handoff it must end each reply with.
pub fn handoff_instructions() -> String {
    format!(
        "End your reply with a line `{HANDOFF}` followed by one JSON object: \
         {{\"summary\": \"what you did\", \"changed_files\": [\"path\"], \"checklist\": \
         [{{\"item\": \"a step of the task\", \"status\": \"done|todo|blocked\"}}], \
         \"open_questions\": [], \"next_action\": \"what comes next\"}}. The task is finished \
         when every checklist item is done."
    )
}

/// What the reviewer is told about its verdict.
pub fn verdict_instructions() -> String {
    format!(
        "Do not change any file. End your reply with a line `{VERDICT}` followed by one JSON \
         object: {{\"verdict\": \"approve|revise\", \"reasons\": [\"why\"], \"requests\": \
         [\"what to change, when you say revise\"]}}."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"I did it.
HANDOFF: {"summary": "added /health", "changed_files": ["src/server.rs"],
 "checklist": [{"item": "endpoint", "status": "done"}, {"item": "test", "status": "todo"}],
 "open_questions": [], "next_action": "write the test"}
"#;

    #[test]
    fn a_good_handoff_parses_and_says_whether_it_is_complete() {
        let h = parse_handoff(GOOD).unwrap();
        assert_eq!(h.changed_files, vec!["src/server.rs"]);
        assert!(!h.complete());
        let fenced = GOOD
            .replace("HANDOFF: {", "HANDOFF:\n```json\n{")
            .replace("\"todo\"", "\"done\"")
            + "```\n";
        assert!(parse_handoff(&fenced).unwrap().complete());
    }

    #[test]
    fn a_broken_handoff_says_why() {
        let e = |s: &str| parse_handoff(s).unwrap_err();
        assert_eq!(e("no marker"), "the reply has no HANDOFF: line");
        assert!(e("HANDOFF: not json").contains("not followed by a JSON object"));
        assert!(e("HANDOFF: {\"summary\": \"x\"}").contains("does not fit the schema"));
        assert!(e(&GOOD.replace("\"todo\"", "\"maybe\"")).contains("use done, todo or blocked"));
        assert!(
            e(r#"HANDOFF: {"summary": "x", "changed_files": [], "checklist": [], "next_action": ""}"#)
                .contains("checklist is empty")
        );
    }

    #[test]
    fn verdicts() {
        let v = parse_verdict("ok\nVERDICT: {\"verdict\": \"approve\", \"reasons\": [\"fine\"]}")
            .unwrap();
        assert!(v.approves());
        let v =
            parse_verdict(r#"VERDICT: {"verdict": "revise", "requests": ["add a test"]}"#).unwrap();
        assert_eq!(v.requests, vec!["add a test"]);
        assert!(parse_verdict(r#"VERDICT: {"verdict": "revise"}"#).is_err());
        assert!(parse_verdict(r#"VERDICT: {"verdict": "meh"}"#).is_err());
    }
}
