//! Pull requests for tasks (`tasks.pull_requests`): the task's branch is pushed to
//! `tasks.pr_remote` and a pull request opened through the GitHub REST API with `GITHUB_TOKEN`.
//! Off without a token. The token goes only into the request's header: never into a URL, a
//! log line, the store or an error.

use std::path::Path;

use serde_json::json;

use crate::engine::ground::redact::redact_text;
use crate::engine::store::tasks::Task;
use crate::engine::store::workspace::Project;

/// When a task's pull request is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrMode {
    AfterMerge,
    Instead,
}

/// The mode `tasks.pull_requests` asks for, and the token, when both are there.
pub fn wanted(project: &Project) -> Option<(PrMode, String)> {
    let mode = match project.config.tasks.pull_requests.as_str() {
        "after_merge" => PrMode::AfterMerge,
        "instead" => PrMode::Instead,
        _ => return None,
    };
    let token = std::env::var("GITHUB_TOKEN")
        .ok()
        .filter(|t| !t.is_empty())?;
    Some((mode, token))
}

/// `owner/name` from a GitHub remote URL (`git@github.com:o/n.git`, `https://github.com/o/n`).
fn repo_from_url(url: &str) -> Option<String> {
    let rest = url.trim_end_matches('/').trim_end_matches(".git");
    let mut parts = rest.rsplit(['/', ':']);
    let name = parts.next().filter(|s| !s.is_empty())?;
    let owner = parts.next().filter(|s| !s.is_empty())?;
    Some(format!("{owner}/{name}"))
}

/// The commit `branch` points at in the user's repository (empty when it cannot be read):
/// taken before a merge drops the branch.
pub fn branch_tip(project: &Project, branch: &str) -> String {
    git2::Repository::open(&project.ws.root)
        .ok()
        .and_then(|r| r.revparse_single(branch).ok().map(|o| o.id().to_string()))
        .unwrap_or_default()
}

/// Push commit `tip` to the remote as the task's branch.
fn push(root: &Path, remote: &str, tip: &str, branch: &str) -> Result<(), String> {
    crate::engine::store::git::scan::check_before_push(root, Some(tip))?;
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(root)
        .args(["push", "--quiet", "--force", remote])
        .arg(format!("{tip}:refs/heads/{branch}"))
        .output()
        .map_err(|e| format!("could not run git push: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    let why = String::from_utf8_lossy(&out.stderr);
    Err(format!(
        "git push to {remote} failed: {}",
        redact_text(why.lines().next().unwrap_or_default())
    ))
}

/// Push task `t`'s work (commit `tip`) and open its pull request against the user's branch.
/// Returns the pull request's URL.
pub async fn open(project: &Project, t: &Task, tip: &str, token: &str) -> Result<String, String> {
    let cfg = &project.config.tasks;
    let root = &project.ws.root;
    let repo = git2::Repository::open(root).map_err(|e| e.message().to_string())?;
    let base = repo
        .head()
        .ok()
        .and_then(|h| h.shorthand().ok().map(String::from))
        .ok_or("your checkout has no branch to open a pull request against")?;
    let slug = if cfg.github_repo.is_empty() {
        let remote = repo.find_remote(&cfg.pr_remote).map_err(|_| {
            format!(
                "there is no git remote {:?} (tasks.pr_remote)",
                cfg.pr_remote
            )
        })?;
        remote.url().ok().and_then(repo_from_url).ok_or_else(|| {
            format!(
                "the remote {:?} is not a GitHub URL; set tasks.github_repo to owner/name",
                cfg.pr_remote
            )
        })?
    } else {
        cfg.github_repo.clone()
    };
    drop(repo);
    push(root, &cfg.pr_remote, tip, &t.branch)?;
    let url = format!(
        "{}/repos/{slug}/pulls",
        cfg.github_api.trim_end_matches('/')
    );
    let first = t.prompt.lines().next().unwrap_or_default();
    let title: String = format!("clk task {}: {first}", t.id)
        .chars()
        .take(120)
        .collect();
    let body = format!(
        "{}\n\nMade by clk task {} ({} turns); its checks passed in a clean checkout.",
        t.prompt, t.id, t.turns
    );
    let (status, doc) = crate::engine::runs::remote::github_post(
        &url,
        token,
        &json!({ "title": title, "head": t.branch, "base": base, "body": body }),
    )
    .await?;
    if !status.is_success() {
        let msg = doc["message"].as_str().unwrap_or_default();
        return Err(format!(
            "GitHub refused the pull request ({status}): {}",
            redact_text(msg)
        ));
    }
    doc["html_url"]
        .as_str()
        .map(String::from)
        .ok_or_else(|| "GitHub's answer has no html_url".to_string())
}

#[cfg(test)]
mod tests {
    use super::repo_from_url;

    #[test]
    fn owner_and_name_from_remote_urls() {
        for url in [
            "git@github.com:acme/widgets.git",
            "https://github.com/acme/widgets",
            "https://github.com/acme/widgets.git/",
        ] {
            assert_eq!(repo_from_url(url).as_deref(), Some("acme/widgets"), "{url}");
        }
        assert_eq!(repo_from_url("widgets"), None);
    }
}
