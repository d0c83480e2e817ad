//! What the driver reads for an open view, off the draw path (a blocking task): an agent's
//! dispatch records from `.clk/runs/<id>/`, a commit's diff, and a task's timeline (through
//! the session layer's read-only task queries). Read-only; a missing record or
//! commit becomes a line that says so, never an error.

use std::path::Path;

use super::fmt;
use super::view::{LineKind, Loaded, Request, ViewKind};
use crate::engine::ground::task::TaskState;
use crate::engine::store::git::{self, show};
use crate::engine::store::records;
use crate::engine::store::workspace::Workspace;

/// Dispatches listed for Up/Down in the transcript view.
const RUNS_KEPT: usize = 200;

/// Read the text for `req` in the project at `root` (None: no project, nothing to read).
pub fn read(root: Option<&Path>, req: Request) -> Loaded {
    let Some(root) = root else {
        return note(req, "no project to read from");
    };
    match req.kind {
        ViewKind::Transcript => transcript(&Workspace::new(root), req),
        ViewKind::Diff => diff(root, req),
        ViewKind::RunDiff => run_diff(root, req),
        ViewKind::Timeline => timeline(&Workspace::new(root), req),
    }
}

/// A task in full: what it is, where it stands, every line of its timeline, its turns.
fn timeline(ws: &Workspace, req: Request) -> Loaded {
    let id = i64::try_from(req.index).unwrap_or(0);
    let d = match crate::engine::session::tasks::detail(ws, id) {
        Ok(d) => d,
        Err(e) => return note(req, &e),
    };
    let t = &d.task;
    let mut lines = vec![(
        LineKind::Meta,
        format!(
            "{} · {} · flow {} · autonomy {} · {} turns · {}",
            t.state.name(),
            t.agent,
            t.flow,
            t.autonomy,
            t.turns,
            fmt::usd(t.cost_micros)
        ),
    )];
    if !t.reason.is_empty() {
        let failed = matches!(t.state, TaskState::Failed | TaskState::Interrupted);
        let kind = if failed {
            LineKind::Error
        } else {
            LineKind::Meta
        };
        push_text(&mut lines, kind, &format!("why: {}", t.reason));
    }
    let files = t.files();
    if !files.is_empty() {
        lines.push((LineKind::Meta, format!("files: {}", files.join(", "))));
    }
    if !t.branch.is_empty() {
        lines.push((LineKind::Meta, format!("branch: {}", t.branch)));
    }
    lines.push((LineKind::Heading, "── prompt ──".into()));
    push_text(&mut lines, LineKind::Quiet, &t.prompt);
    lines.push((LineKind::Heading, "── timeline ──".into()));
    if d.timeline.is_empty() {
        lines.push((LineKind::Meta, "(nothing happened yet)".into()));
    }
    for e in &d.timeline {
        // Stored as RFC 3339 in UTC: shown in local time, like the log, to the second.
        let at = chrono::DateTime::parse_from_rfc3339(&e.at)
            .map(|d| {
                d.with_timezone(&chrono::Local)
                    .format("%Y-%m-%d %H:%M:%S")
                    .to_string()
            })
            .unwrap_or_else(|_| e.at.clone());
        push_text(
            &mut lines,
            LineKind::Plain,
            &format!("{at}  {:<8} {}", e.kind, e.text),
        );
    }
    if !d.turns.is_empty() {
        lines.push((LineKind::Heading, "── turns ──".into()));
    }
    for u in &d.turns {
        let kind = if u.ok {
            LineKind::Plain
        } else {
            LineKind::Error
        };
        let tokens = u.input_tokens + u.output_tokens;
        push_text(
            &mut lines,
            kind,
            &format!(
                "{:>3}. {} {} on {} · {} tokens · {} · {}",
                u.n,
                u.role,
                u.agent,
                u.provider,
                fmt::tokens(tokens),
                fmt::usd(u.cost_micros),
                if u.summary.is_empty() {
                    "-"
                } else {
                    &u.summary
                }
            ),
        );
    }
    let label = super::fmt::fit(t.prompt.lines().next().unwrap_or_default(), 40);
    Loaded {
        request: req,
        runs: 0,
        label,
        lines,
    }
}

fn note(request: Request, text: &str) -> Loaded {
    Loaded {
        request,
        runs: 0,
        label: String::new(),
        lines: vec![(LineKind::Meta, text.to_string())],
    }
}

/// A line safe to draw: tabs as four spaces, other control characters as one.
fn clean(line: &str) -> String {
    fmt::printable(&line.replace('\t', "    "))
}

fn push_text(lines: &mut Vec<(LineKind, String)>, kind: LineKind, text: &str) {
    for l in text.lines() {
        lines.push((kind, clean(l)));
    }
}

fn transcript(ws: &Workspace, req: Request) -> Loaded {
    let runs = records::agent_runs(ws, &req.agent, RUNS_KEPT);
    let Some(meta) = runs.get(req.index) else {
        let agent = req.agent.clone();
        return note(req, &format!("{agent} has no recorded dispatches yet"));
    };
    let dir = ws.runs_dir().join(&meta.run_id);
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).ok();
    let tokens = meta.usage.input_tokens + meta.usage.output_tokens;
    let mut lines = vec![(
        LineKind::Meta,
        format!(
            "{} · {} · {} · {} tokens · {} · {}",
            meta.started_at,
            meta.stage.as_deref().unwrap_or("no stage"),
            meta.provider,
            fmt::tokens(tokens),
            fmt::usd(meta.cost_micros),
            fmt::seconds_ms(meta.elapsed_ms),
        ),
    )];
    if let Some(e) = meta.error.as_deref().filter(|_| !meta.ok) {
        push_text(&mut lines, LineKind::Error, &format!("failed: {e}"));
    }
    if !meta.files_written.is_empty() {
        lines.push((
            LineKind::Meta,
            format!("files: {}", meta.files_written.join(", ")),
        ));
    }
    lines.push((LineKind::Heading, "── prompt ──".into()));
    match read("prompt.txt") {
        Some(p) => push_text(&mut lines, LineKind::Quiet, &p),
        None => lines.push((LineKind::Meta, "(no prompt recorded)".into())),
    }
    lines.push((LineKind::Heading, "── reply ──".into()));
    match read("response.txt") {
        Some(r) if !r.trim().is_empty() => push_text(&mut lines, LineKind::Plain, &r),
        _ => lines.push((LineKind::Meta, "(no reply recorded)".into())),
    }
    let label = format!("run {}/{} · {}", req.index + 1, runs.len(), meta.run_id);
    Loaded {
        request: req,
        runs: runs.len(),
        label,
        lines,
    }
}

fn diff(root: &Path, req: Request) -> Loaded {
    let Some(repo) = git::open(root) else {
        return note(req, "this project has no git repository");
    };
    if req.agent == super::nav::UNDO_MERGE {
        return match show::last_move_diff(&repo) {
            Ok(d) => diff_lines(req, "the merge /undo takes back".into(), d),
            Err(e) => note(req, &format!("cannot show the merge: {e}")),
        };
    }
    let sha = req
        .sha
        .clone()
        .or_else(|| show::last_commit_by(&repo, &req.agent));
    let Some(sha) = sha else {
        let agent = req.agent.clone();
        return note(req, &format!("{agent} has not committed anything yet"));
    };
    match show::commit_diff(&repo, &sha) {
        Ok(d) => diff_lines(req, format!("commit {}", &sha[..sha.len().min(10)]), d),
        Err(e) => note(req, &format!("cannot show commit {sha}: {e}")),
    }
}

/// The run so far: the run's branch against where it started.
fn run_diff(root: &Path, req: Request) -> Loaded {
    let Some(repo) = git::open(root) else {
        return note(req, "this project has no git repository");
    };
    let Some(branch) = req.sha.clone().or_else(|| show::newest_run_branch(&repo)) else {
        return note(
            req,
            "no run is going and no run branch waits; d shows the last commit",
        );
    };
    match show::branch_diff(&repo, &branch) {
        Ok(d) => diff_lines(req, branch, d),
        Err(e) => note(req, &format!("cannot show {branch}: {e}")),
    }
}

fn diff_lines(request: Request, label: String, d: Vec<(show::DiffLine, String)>) -> Loaded {
    Loaded {
        label,
        request,
        runs: 0,
        lines: d
            .into_iter()
            .map(|(k, t)| {
                let kind = match k {
                    show::DiffLine::Added => LineKind::Added,
                    show::DiffLine::Removed => LineKind::Removed,
                    show::DiffLine::Hunk => LineKind::Hunk,
                    show::DiffLine::Meta => LineKind::Meta,
                    show::DiffLine::Context => LineKind::Plain,
                };
                (kind, clean(&t))
            })
            .collect(),
    }
}

/// Each agent's last recorded dispatch, as (ok, what came of it), for the cards of a new
/// session: `last run ok in 2.1s · 12-07 09:14` or `last run failed: <why>`.
pub fn last_runs(ws: &Workspace) -> std::collections::BTreeMap<String, (bool, String)> {
    let mut out = std::collections::BTreeMap::new();
    let path = ws.state_dir().join("agent_memory.jsonl");
    for v in crate::engine::store::workspace::read_jsonl(&path) {
        let Ok(m) = serde_json::from_value::<records::RunMeta>(v) else {
            continue;
        };
        if m.dry_run {
            continue;
        }
        // started_at is RFC 3339: keep month, day and minute.
        let when = m.started_at.get(5..16).unwrap_or("").replace('T', " ");
        let text = if m.ok {
            format!("last run ok in {} · {when}", fmt::seconds_ms(m.elapsed_ms))
        } else {
            format!(
                "last run failed: {}",
                m.error.as_deref().unwrap_or("no reason recorded")
            )
        };
        out.insert(m.agent, (m.ok, text));
    }
    out
}
