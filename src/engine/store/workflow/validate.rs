//! Loading a workflow file: parse it, then check everything the runner relies on.
//!
//! After [`load`] succeeds: there is at least one stage; ids are unique and match
//! `[a-z0-9][a-z0-9_-]*`; every `agent` and refine `critic` is on the roster; every
//! `depends_on` names a stage of this workflow; the dependencies have no cycle; every `inputs`
//! selector parses. The first problem found is returned as one line naming file, stage and
//! field, in this order: YAML syntax, each stage's own fields in file order, duplicate ids,
//! unknown dependencies, cycles.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::error::{Problem, StageRef, WorkflowError};
use super::inputs::Selector;
use super::parse::{Parsed, parse};
use super::spec::Workflow;
use crate::engine::store::workspace::Workspace;

/// Who may run a stage. The engine passes agents.json plus agents that have a prompt file.
/// A closure `|name: &str| -> bool` works too; it just cannot list the names in messages.
pub trait Roster {
    fn knows(&self, agent: &str) -> bool;
    /// The known names, sorted, for error messages; empty when unknown.
    fn names(&self) -> Vec<String> {
        Vec::new()
    }
}

impl<F: Fn(&str) -> bool> Roster for F {
    fn knows(&self, agent: &str) -> bool {
        self(agent)
    }
}

impl Roster for BTreeSet<String> {
    fn knows(&self, agent: &str) -> bool {
        self.contains(agent)
    }
    fn names(&self) -> Vec<String> {
        self.iter().cloned().collect()
    }
}

impl<S: AsRef<str>> Roster for Vec<S> {
    fn knows(&self, agent: &str) -> bool {
        self.iter().any(|s| s.as_ref() == agent)
    }
    fn names(&self) -> Vec<String> {
        sorted(self.iter().map(|s| s.as_ref().to_string()))
    }
}

impl<S: AsRef<str>, const N: usize> Roster for [S; N] {
    fn knows(&self, agent: &str) -> bool {
        self.iter().any(|s| s.as_ref() == agent)
    }
    fn names(&self) -> Vec<String> {
        sorted(self.iter().map(|s| s.as_ref().to_string()))
    }
}

fn sorted(names: impl Iterator<Item = String>) -> Vec<String> {
    names.collect::<BTreeSet<_>>().into_iter().collect()
}

/// Parse and validate `yaml`; `file_label` names it in errors and, minus its folders and
/// `.yaml`/`.yml` extension, is the name used when the text has no `name:`.
pub fn load(file_label: &str, yaml: &str, roster: &dyn Roster) -> Result<Workflow, WorkflowError> {
    load_parsed(file_label, &stem(file_label), yaml, roster).map(|p| p.workflow)
}

/// Read and load one file; errors name it as given.
pub fn load_file(path: &Path, roster: &dyn Roster) -> Result<Workflow, WorkflowError> {
    load_labelled(path, &path.display().to_string(), roster)
}

/// Load `.clk/config/workflows/<name>.yaml` (a trailing `.yaml` in `name` is accepted).
pub fn load_named(
    ws: &Workspace,
    name: &str,
    roster: &dyn Roster,
) -> Result<Workflow, WorkflowError> {
    let name = name.trim();
    let name = name.strip_suffix(".yaml").unwrap_or(name);
    // The name becomes a path: refuse anything that could leave the folder.
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !ok {
        return Err(WorkflowError::BadName { name: name.into() });
    }
    let path = ws.workflows_dir().join(format!("{name}.yaml"));
    if !path.is_file() {
        return Err(WorkflowError::NotFound {
            name: name.into(),
            available: available(ws),
        });
    }
    // Relative to the project root: short, and a person can open it from there.
    let label = path
        .strip_prefix(&ws.root)
        .unwrap_or(&path)
        .display()
        .to_string();
    load_labelled(&path, &label, roster)
}

/// The workflow names in `.clk/config/workflows/` (its `*.yaml` files), sorted.
pub fn available(ws: &Workspace) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(ws.workflows_dir()) else {
        return Vec::new();
    };
    sorted(entries.filter_map(Result::ok).filter_map(|e| {
        let name = e.file_name().to_string_lossy().into_owned();
        // Skips backups (`x.yaml.bak`) and half-written temp files (`.x.yaml.tmp-1`).
        let stem = name.strip_suffix(".yaml")?;
        (!stem.is_empty() && !stem.starts_with('.') && e.path().is_file()).then(|| stem.to_string())
    }))
}

/// The last version of each workflow file that loaded in this process, by path: an edit that
/// breaks the file leaves this one in force (see [`last_good`]).
static GOOD: Mutex<BTreeMap<PathBuf, Workflow>> = Mutex::new(BTreeMap::new());

fn load_labelled(path: &Path, label: &str, roster: &dyn Roster) -> Result<Workflow, WorkflowError> {
    let text = std::fs::read_to_string(path).map_err(|e| WorkflowError::Read {
        file: label.to_string(),
        reason: e.to_string(),
    })?;
    let wf = load(label, &text, roster)?;
    GOOD.lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(path.to_path_buf(), wf.clone());
    Ok(wf)
}

/// The workflow `name` as it last loaded in this process, for a run that finds the file
/// broken by an edit made since (the dashboard reported it and said the old one stays).
pub fn last_good(ws: &Workspace, name: &str) -> Option<Workflow> {
    let name = name.trim();
    let name = name.strip_suffix(".yaml").unwrap_or(name);
    let path = ws.workflows_dir().join(format!("{name}.yaml"));
    GOOD.lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&path)
        .cloned()
}

/// Parse and check, keeping what the text spelled out (for proposals).
pub(crate) fn load_parsed(
    file: &str,
    default_name: &str,
    yaml: &str,
    roster: &dyn Roster,
) -> Result<Parsed, WorkflowError> {
    let parsed = parse(file, default_name, yaml)?;
    check(&parsed.workflow, roster).map_err(|p| WorkflowError::invalid(file, p))?;
    Ok(parsed)
}

fn stem(label: &str) -> String {
    let base = label.rsplit(['/', '\\']).next().unwrap_or(label);
    let base = base
        .strip_suffix(".yaml")
        .or_else(|| base.strip_suffix(".yml"))
        .unwrap_or(base);
    base.to_string()
}

/// Everything beyond the shape of each stage.
fn check(wf: &Workflow, roster: &dyn Roster) -> Result<(), Problem> {
    let at = |id: &str, message: String| Problem::Stage {
        stage: StageRef::Id(id.to_string()),
        message,
    };
    for s in &wf.stages {
        if !roster.knows(&s.agent) {
            return Err(at(&s.id, unknown_agent("", &s.agent, roster)));
        }
        if let Some(critic) = s.refine.as_ref().and_then(|r| r.critic.as_deref())
            && !roster.knows(critic)
        {
            return Err(at(
                &s.id,
                unknown_agent("refine: critic names an ", critic, roster),
            ));
        }
        for input in &s.inputs {
            Selector::parse(input).map_err(|e| at(&s.id, format!("inputs: {e}")))?;
        }
    }
    let mut seen: HashSet<&str> = HashSet::new();
    for s in &wf.stages {
        if !seen.insert(&s.id) {
            return Err(Problem::DuplicateId { id: s.id.clone() });
        }
    }
    for s in &wf.stages {
        if let Some(dep) = s.depends_on.iter().find(|d| !seen.contains(d.as_str())) {
            return Err(at(
                &s.id,
                format!("depends_on names unknown stage \"{dep}\""),
            ));
        }
    }
    match find_cycle(wf) {
        Some(path) => Err(Problem::Cycle { path }),
        None => Ok(()),
    }
}

fn unknown_agent(lead: &str, name: &str, roster: &dyn Roster) -> String {
    let known = roster.names();
    if known.is_empty() {
        format!("{lead}unknown agent \"{name}\"")
    } else {
        format!(
            "{lead}unknown agent \"{name}\" (known: {})",
            known.join(", ")
        )
    }
}

/// The first dependency cycle, as ids with the first repeated at the end. Depth-first over
/// stages in file order, with an explicit stack so a long chain cannot overflow the real one.
fn find_cycle(wf: &Workflow) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnPath,
        Done,
    }
    let index: HashMap<&str, usize> = wf
        .stages
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.as_str(), i))
        .collect();
    let mut mark = vec![Mark::New; wf.stages.len()];
    for start in 0..wf.stages.len() {
        if mark[start] != Mark::New {
            continue;
        }
        mark[start] = Mark::OnPath;
        // (stage, how many of its dependencies were already followed)
        let mut path: Vec<(usize, usize)> = vec![(start, 0)];
        while let Some(top) = path.last_mut() {
            let (node, next) = *top;
            let Some(dep) = wf.stages[node].depends_on.get(next) else {
                mark[node] = Mark::Done;
                path.pop();
                continue;
            };
            top.1 += 1;
            let Some(&j) = index.get(dep.as_str()) else {
                continue;
            };
            match mark[j] {
                Mark::New => {
                    mark[j] = Mark::OnPath;
                    path.push((j, 0));
                }
                Mark::OnPath => {
                    let from = path.iter().position(|(k, _)| *k == j).unwrap_or(0);
                    let mut ids: Vec<String> = path[from..]
                        .iter()
                        .map(|(k, _)| wf.stages[*k].id.clone())
                        .collect();
                    ids.push(wf.stages[j].id.clone());
                    return Some(ids);
                }
                Mark::Done => {}
            }
        }
    }
    None
}
