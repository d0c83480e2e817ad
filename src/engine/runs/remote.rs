//! `clk remote`: link the project to a git remote, or make a new GitHub repository for it
//! (the REST API with `GITHUB_TOKEN`, or the `gh` program when there is no token). Either way
//! the pre-push secret scan is installed, so the first push is already checked.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use crate::engine::ground::redact::redact_text;

/// A remote URL clk accepts: a URL git knows (https, ssh, git, file), `user@host:path`, or a
/// local path to a repository.
fn check_url(url: &str) -> Result<(), String> {
    let u = url.trim();
    let ok = !u.is_empty()
        && !u.starts_with('-')
        && !u.chars().any(|c| c.is_whitespace() || c.is_control())
        && (["https://", "http://", "ssh://", "git://", "file://"]
            .iter()
            .any(|p| u.starts_with(p))
            || u.contains('@') && u.contains(':')
            || Path::new(u).exists());
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{url:?} is not a remote git knows: give an https://, ssh:// or git@host:path URL, \
             or the path of a repository"
        ))
    }
}

/// Point remote `name` of the repository at `root` to `url`. An existing remote of that name
/// with another URL is replaced only with `replace`.
pub fn link(root: &Path, name: &str, url: &str, replace: bool) -> Result<String, String> {
    check_url(url)?;
    if name.is_empty() || name.starts_with('-') || name.contains(char::is_whitespace) {
        return Err(format!("{name:?} is not a remote name; e.g. origin"));
    }
    let repo = git2::Repository::open(root)
        .map_err(|_| "this project has no git repository; run `clk init` first".to_string())?;
    let said = match repo.find_remote(name) {
        Ok(existing) if existing.url().ok() == Some(url) => {
            format!("{name} already points at {url}")
        }
        Ok(existing) if !replace => {
            return Err(format!(
                "the remote {name} points at {}; add --replace to point it at {url}",
                existing.url().unwrap_or("?")
            ));
        }
        Ok(_) => {
            repo.remote_set_url(name, url)
                .map_err(|e| e.message().to_string())?;
            format!("{name} now points at {url}")
        }
        Err(_) => {
            repo.remote(name, url)
                .map_err(|e| e.message().to_string())?;
            format!("added the remote {name}: {url}")
        }
    };
    Ok(said)
}

/// Make a GitHub repository `name` (under `owner`, an organisation, or the token's user) and
/// link it as remote `remote`. Returns what was done, one line each.
pub async fn create(
    root: &Path,
    api: &str,
    name: &str,
    owner: Option<&str>,
    public: bool,
    remote: &str,
    token: Option<&str>,
) -> Result<Vec<String>, String> {
    let valid = !name.is_empty()
        && name.len() <= 100
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if !valid {
        return Err(format!(
            "{name:?} is not a GitHub repository name: letters, digits, - _ . only"
        ));
    }
    let Some(token) = token.filter(|t| !t.trim().is_empty()) else {
        return create_with_gh(root, name, owner, public, remote);
    };
    let url = match owner {
        Some(o) => format!("{}/orgs/{o}/repos", api.trim_end_matches('/')),
        None => format!("{}/user/repos", api.trim_end_matches('/')),
    };
    let (status, doc) =
        github_post(&url, token, &json!({ "name": name, "private": !public })).await?;
    if !status.is_success() {
        let msg = doc["message"].as_str().unwrap_or_default();
        let extra = doc["errors"][0]["message"].as_str().unwrap_or_default();
        return Err(format!(
            "GitHub did not create {name} ({status}): {} {}",
            redact_text(msg),
            redact_text(extra)
        )
        .trim()
        .to_string());
    }
    let clone = doc["clone_url"]
        .as_str()
        .ok_or("GitHub's answer has no clone_url")?;
    let mut said = vec![format!(
        "created {} ({})",
        doc["html_url"].as_str().unwrap_or(clone),
        if public { "public" } else { "private" }
    )];
    said.push(link(root, remote, clone, false)?);
    Ok(said)
}

/// POST `body` to a GitHub REST `url` with the token in the header only: the answer's status
/// and JSON (null when it has none). Shared by repository creation and task pull requests.
pub async fn github_post(
    url: &str,
    token: &str,
    body: &Value,
) -> Result<(reqwest::StatusCode, Value), String> {
    let reply = reqwest::Client::new()
        .post(url)
        .timeout(Duration::from_secs(30))
        .header("Authorization", format!("Bearer {token}"))
        .header("Accept", "application/vnd.github+json")
        .header("User-Agent", "clk")
        .json(body)
        .send()
        .await
        .map_err(|e| format!("could not reach {url}: {}", redact_text(&e.to_string())))?;
    let status = reply.status();
    let doc: Value = reply.json().await.unwrap_or(Value::Null);
    Ok((status, doc))
}

fn create_with_gh(
    root: &Path,
    name: &str,
    owner: Option<&str>,
    public: bool,
    remote: &str,
) -> Result<Vec<String>, String> {
    let full = match owner {
        Some(o) => format!("{o}/{name}"),
        None => name.to_string(),
    };
    let out = std::process::Command::new("gh")
        .args(["repo", "create", &full])
        .arg(if public { "--public" } else { "--private" })
        .arg("--source")
        .arg(root)
        .args(["--remote", remote])
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|_| {
            "no GITHUB_TOKEN and no gh program: set GITHUB_TOKEN (a token that may create \
             repositories) or install gh (`clk install gh`), or make the repository yourself \
             and run `clk remote link URL`"
                .to_string()
        })?;
    if !out.status.success() {
        return Err(format!(
            "gh repo create failed: {}",
            redact_text(
                String::from_utf8_lossy(&out.stderr)
                    .lines()
                    .next()
                    .unwrap_or("")
            )
        ));
    }
    Ok(vec![format!(
        "created {full} with gh and linked it as {remote}"
    )])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_git_knows_are_taken_and_others_refused() {
        for u in [
            "https://github.com/a/b.git",
            "git@github.com:a/b.git",
            "ssh://git@host/x",
        ] {
            assert!(check_url(u).is_ok(), "{u}");
        }
        for u in ["", "--upload-pack=evil", "not a url", "nothing-here"] {
            assert!(check_url(u).is_err(), "{u}");
        }
    }
}
