//! The done gate: `ACTION: done` ends a run only when the project's completion criteria hold.
//!
//! The chief's `ACTION: done` only writes a request, `.clk/state/done.md`. Before the loop stops,
//! the engine gathers [`Facts`] from disk ([`gather`] / [`gather_for`], in `facts.rs`), the pure
//! [`decide`] compares them with the [`GateConfig`], and [`evaluate_request`] settles the request:
//! granted, it writes `.clk/state/done_granted.md` with the evidence and keeps `done.md`;
//! rejected, it renames `done.md` to `done_requested.md` so the loop keeps going, and the unmet
//! criteria go into the chief's next prompt through [`rejection_hint`].
//!
//! Invariants: a bare claim is never enough when any criterion is on; no test result is not a
//! pass; `decide` reports every unmet criterion at once (in a fixed order), so the chief can fix
//! them all in one cycle rather than discovering them one rejection at a time.

mod facts;
#[cfg(test)]
mod tests;

use std::sync::LazyLock;

use regex::Regex;

use crate::engine::store::workspace::{Workspace, write_atomic};

pub use crate::engine::ground::config::GateConfig;
pub use facts::{
    Facts, RALPH_COUNT_CAP, TestsStatus, deliverable_files, gather, gather_for, ralph_passes,
    todo_markers,
};

/// A criterion that does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unmet {
    TestsRed(String),
    TestsNotRun,
    NoDeliverables {
        found: usize,
        needed: u32,
    },
    NoQaPass,
    QaFailed,
    NoRalphPass,
    TodoMarkers(Vec<String>),
    /// Required TODOS items still open, as `agent: text`.
    OpenTodos(Vec<String>),
}

impl Unmet {
    /// Stable id for logs and events.
    pub fn id(&self) -> &'static str {
        match self {
            Unmet::TestsRed(_) => "tests_red",
            Unmet::TestsNotRun => "tests_not_run",
            Unmet::NoDeliverables { .. } => "no_deliverables",
            Unmet::NoQaPass => "no_qa_pass",
            Unmet::QaFailed => "qa_failed",
            Unmet::NoRalphPass => "no_ralph_pass",
            Unmet::TodoMarkers(_) => "todo_markers",
            Unmet::OpenTodos(_) => "open_todos",
        }
    }

    /// One line telling the chief what to do about it.
    pub fn message(&self) -> String {
        match self {
            Unmet::TestsRed(detail) => format!(
                "the tests fail ({}): have the engineer fix them and rerun the suite",
                one_line(detail, 200)
            ),
            Unmet::TestsNotRun => "no test result yet: make sure the project has a test command \
                 (tests/, npm test, pytest) and that it runs and passes"
                .into(),
            Unmet::NoDeliverables { found, needed } => format!(
                "{found} product file(s) outside .clk and the bookkeeping files, {needed} needed: \
                 have the engineer build the product itself"
            ),
            Unmet::NoQaPass => {
                "no qa post says PASS yet: ask qa to audit and post a verdict".into()
            }
            Unmet::QaFailed => "the latest qa post reports a FAIL: fix what it lists, then ask \
                 qa to audit again"
                .into(),
            Unmet::NoRalphPass => "ralph has not made an improvement pass yet: dispatch ralph \
                 (or run the ralph loop) at least once"
                .into(),
            Unmet::TodoMarkers(at) => {
                let shown: Vec<&str> = at.iter().take(5).map(String::as_str).collect();
                let more = if at.len() > shown.len() { ", …" } else { "" };
                format!(
                    "{} TODO/FIXME/XXX/HACK/PLACEHOLDER marker(s) left ({}{more}): finish or \
                     remove them",
                    at.len(),
                    shown.join(", ")
                )
            }
            Unmet::OpenTodos(items) => {
                let shown: Vec<&str> = items.iter().take(5).map(String::as_str).collect();
                let more = if items.len() > shown.len() {
                    "; …"
                } else {
                    ""
                };
                format!(
                    "{} required todo item(s) open ({}{more}): have their owners finish them \
                     and send their TODOS list with the items marked [x]",
                    items.len(),
                    shown.join("; ")
                )
            }
        }
    }
}

/// What a qa post's body says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QaVerdict {
    Pass,
    Fail,
    /// Neither word: qa did not give a verdict.
    Unclear,
}

static PASS_WORD: LazyLock<Regex> =
    LazyLock::new(|| crate::engine::ground::fixed::regex(r"\bPASS(?:ED)?\b"));
static FAIL_WORD: LazyLock<Regex> =
    LazyLock::new(|| crate::engine::ground::fixed::regex(r"\bFAIL(?:ED|URE)?\b"));

/// The verdict in a qa post. Case-sensitive, as qa is told to write it: prose such as
/// "the passport check passed" is not a verdict. Any FAIL word wins over PASS, so
/// "PASS but 1 test FAILED" is a failure.
pub fn qa_verdict(body: &str) -> QaVerdict {
    if FAIL_WORD.is_match(body) {
        QaVerdict::Fail
    } else if PASS_WORD.is_match(body) {
        QaVerdict::Pass
    } else {
        QaVerdict::Unclear
    }
}

/// Compare the facts with the criteria: Ok when every enabled criterion holds, otherwise every
/// unmet one, in the order tests, deliverables, qa, ralph, markers, required todos.
pub fn decide(cfg: &GateConfig, facts: &Facts) -> Result<(), Vec<Unmet>> {
    let mut unmet = Vec::new();
    if cfg.require_tests_green {
        match &facts.tests {
            // The reference relaxes weak evaluations: a project with nothing stronger to run
            // than a compile check can still finish.
            TestsStatus::Green | TestsStatus::GreenWeak => {}
            TestsStatus::Red(detail) => unmet.push(Unmet::TestsRed(detail.clone())),
            TestsStatus::NotRun => unmet.push(Unmet::TestsNotRun),
        }
    }
    if cfg.require_deliverables {
        let found = facts.deliverable_files.len();
        if found < cfg.min_deliverable_files as usize {
            unmet.push(Unmet::NoDeliverables {
                found,
                needed: cfg.min_deliverable_files,
            });
        }
    }
    if cfg.require_qa_pass {
        match facts.latest_qa_post.as_deref().map(qa_verdict) {
            Some(QaVerdict::Pass) => {}
            Some(QaVerdict::Fail) => unmet.push(Unmet::QaFailed),
            Some(QaVerdict::Unclear) | None => unmet.push(Unmet::NoQaPass),
        }
    }
    if cfg.require_ralph_pass && facts.ralph_passes == 0 {
        unmet.push(Unmet::NoRalphPass);
    }
    if cfg.forbid_todo_markers && !facts.todo_markers.is_empty() {
        unmet.push(Unmet::TodoMarkers(facts.todo_markers.clone()));
    }
    // Always on: an agent marked these required itself, and a list is easy to update.
    if !facts.open_todos.is_empty() {
        unmet.push(Unmet::OpenTodos(facts.open_todos.clone()));
    }
    if unmet.is_empty() { Ok(()) } else { Err(unmet) }
}

/// How a done request was settled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GateVerdict {
    /// No `.clk/state/done.md`: nobody asked.
    NoRequest,
    Granted {
        reason: String,
    },
    Rejected {
        unmet: Vec<Unmet>,
    },
}

/// The request file `ACTION: done` writes.
pub fn request_path(ws: &Workspace) -> std::path::PathBuf {
    ws.state_dir().join("done.md")
}

/// Written when the gate grants a request; its presence means the run is over.
pub fn granted_path(ws: &Workspace) -> std::path::PathBuf {
    ws.state_dir().join("done_granted.md")
}

/// Where a rejected request is moved, so the loop no longer sees a request.
pub fn rejected_path(ws: &Workspace) -> std::path::PathBuf {
    ws.state_dir().join("done_requested.md")
}

/// Settle a pending done request against the facts (see the module doc for the files).
pub fn evaluate_request(
    ws: &Workspace,
    cfg: &GateConfig,
    facts: &Facts,
) -> std::io::Result<GateVerdict> {
    let request = request_path(ws);
    let text = match std::fs::read_to_string(&request) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(GateVerdict::NoRequest),
        Err(e) => return Err(e),
    };
    let reason = field(&text, "Reason:").unwrap_or_else(|| "(no reason given)".into());
    match decide(cfg, facts) {
        Ok(()) => {
            let by = field(&text, "By:");
            write_atomic(
                &granted_path(ws),
                granted_text(&reason, by.as_deref(), facts).as_bytes(),
            )?;
            Ok(GateVerdict::Granted { reason })
        }
        Err(unmet) => {
            // A rename, not a copy: the loop's "is there a request?" check must see none,
            // and an older rejected request is simply replaced by the newer one.
            std::fs::rename(&request, rejected_path(ws))?;
            Ok(GateVerdict::Rejected { unmet })
        }
    }
}

/// The block for the chief's next prompt after a rejection.
pub fn rejection_hint(unmet: &[Unmet]) -> String {
    let mut out = String::from(
        "DONE GATE: your ACTION: done was rejected; these completion criteria are not met:",
    );
    for u in unmet {
        out.push_str(&format!("\n- [{}] {}", u.id(), u.message()));
    }
    out.push_str(
        "\nDo not emit ACTION: done again until every item above is fixed; dispatch or \
         instruct the agents who can fix them instead.",
    );
    out
}

impl Facts {
    /// The evidence, one `- name: value` line per fact.
    pub fn summary(&self) -> String {
        let tests = match &self.tests {
            TestsStatus::Green => "green".to_string(),
            TestsStatus::GreenWeak => "green (weak checks only)".to_string(),
            TestsStatus::Red(d) => format!("red ({})", one_line(d, 200)),
            TestsStatus::NotRun => "not run".to_string(),
        };
        let files = &self.deliverable_files;
        let mut deliverables = format!("{} product file(s)", files.len());
        if !files.is_empty() {
            let shown: Vec<&str> = files.iter().take(10).map(String::as_str).collect();
            let more = if files.len() > shown.len() {
                ", …"
            } else {
                ""
            };
            deliverables.push_str(&format!(": {}{more}", shown.join(", ")));
        }
        let qa = match &self.latest_qa_post {
            None => "no qa post".to_string(),
            Some(body) => {
                let verdict = match qa_verdict(body) {
                    QaVerdict::Pass => "PASS",
                    QaVerdict::Fail => "FAIL",
                    QaVerdict::Unclear => "no verdict",
                };
                format!("{verdict}: {}", one_line(body, 200))
            }
        };
        let markers = if self.todo_markers.is_empty() {
            "none found".to_string()
        } else {
            format!(
                "{} ({})",
                self.todo_markers.len(),
                self.todo_markers.join(", ")
            )
        };
        let ralph = if self.ralph_passes >= RALPH_COUNT_CAP {
            format!("{RALPH_COUNT_CAP}+")
        } else {
            self.ralph_passes.to_string()
        };
        let todos = if self.open_todos.is_empty() {
            "none open".to_string()
        } else {
            self.open_todos.join("; ")
        };
        format!(
            "- tests: {tests}\n- deliverables: {deliverables}\n- latest qa post: {qa}\n\
             - ralph passes: {ralph}\n- todo markers: {markers}\n- required todos: {todos}",
        )
    }
}

fn granted_text(reason: &str, by: Option<&str>, facts: &Facts) -> String {
    let mut out = format!("# Done\n\nReason: {reason}\n");
    if let Some(by) = by {
        out.push_str(&format!("Requested by: {by}\n"));
    }
    out.push_str(&format!(
        "Granted: {}\n\n## Evidence\n\n{}\n",
        chrono::Local::now().to_rfc3339(),
        facts.summary()
    ));
    out
}

/// The value of the first `Name: value` line, trimmed; None when absent or empty.
fn field(text: &str, name: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.trim_start().strip_prefix(name))
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// Whitespace runs collapsed so the text fits on one line, cut at `max` characters.
fn one_line(text: &str, max: usize) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max {
        flat
    } else {
        let mut cut: String = flat.chars().take(max).collect();
        cut.push('…');
        cut
    }
}
