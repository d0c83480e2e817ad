//! `clk diag`: a `.tar.gz` bundle for a bug report. What it holds: clk's version and the
//! system's, the settings with every secret taken out and where each came from, the last
//! lines of the activity log, the doctor's findings, and the record of the last failed run.
//!
//! Secrets are taken out twice: the values clk knows (keys in either providers.json, a
//! provider's `env`, and environment variables whose names say KEY, TOKEN, SECRET, PASS or
//! AUTH) are registered with [`redact`], and every file of the bundle goes through
//! [`redact::redact_text`] on its way in, which also masks key-shaped strings.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::engine::ground::config::Env;
use crate::engine::ground::redact;
use crate::engine::store::bus::Bus;
use crate::engine::store::tail;
use crate::engine::store::user;
use crate::engine::store::workspace::{Workspace, read_json};

/// Most bytes kept of one run file (a long reply is cut in the middle).
const RUN_FILE_BYTES: usize = 64 * 1024;

/// What went into a bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    pub path: PathBuf,
    /// Names of the files inside, in order.
    pub files: Vec<String>,
}

/// Register every string under a secret-looking key of `v` (`api_key`, a provider's `env`
/// values with secret names, and so on) so the bundle masks it wherever it shows up.
fn register_secrets(v: &Value) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                match child {
                    Value::String(s) if redact::is_secret_name(k) => redact::register(s),
                    other => register_secrets(other),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(register_secrets),
        _ => {}
    }
}

fn os_text() -> String {
    let release = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|t| {
            t.lines().find_map(|l| {
                l.strip_prefix("PRETTY_NAME=")
                    .map(|v| v.trim_matches('"').to_string())
            })
        })
        .unwrap_or_else(|| std::env::consts::OS.to_string());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|k| k.trim().to_string())
        .unwrap_or_default();
    format!("{release} {kernel} ({})", std::env::consts::ARCH)
}

fn tool_version(program: &str) -> String {
    std::process::Command::new(program)
        .arg("--version")
        .stdin(std::process::Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .unwrap_or("")
                .trim()
                .to_string()
        })
        .unwrap_or_else(|| "not found".into())
}

/// The newest `n` lines of the activity log, oldest first.
fn activity_tail(ws: &Workspace, n: usize) -> String {
    let mut lines = Vec::new();
    if n > 0 {
        tail::newest_first(&ws.activity_log(), |v| {
            lines.push(v.to_string());
            lines.len() < n
        });
    }
    lines.reverse();
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

/// The newest failed dispatch's record: (run id, [(file name, text)]).
fn last_failed_run(ws: &Workspace) -> Option<(String, Vec<(String, String)>)> {
    let mut id = None;
    tail::newest_first(&ws.state_dir().join("agent_memory.jsonl"), |v| {
        if v["ok"] == false {
            id = v["run_id"].as_str().map(str::to_string);
        }
        id.is_none()
    });
    let id = id?;
    // A run id is clk's own (a time stamp and an agent's slug); refuse anything that could
    // leave the runs folder.
    if id.contains('/') || id.contains("..") {
        return None;
    }
    let dir = ws.runs_dir().join(&id);
    let mut files = Vec::new();
    for name in ["meta.json", "response.txt", "error.txt"] {
        if let Ok(text) = std::fs::read_to_string(dir.join(name)) {
            files.push((name.to_string(), cut_middle(&text, RUN_FILE_BYTES)));
        }
    }
    Some((id, files))
}

fn cut_middle(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let half = max / 2;
    let mut head = half;
    while !text.is_char_boundary(head) {
        head -= 1;
    }
    let mut tail = text.len() - half;
    while !text.is_char_boundary(tail) {
        tail += 1;
    }
    format!(
        "{}\n… {} bytes left out …\n{}",
        &text[..head],
        tail - head,
        &text[tail..]
    )
}

/// The settings as clk sees them, with keys masked, and where each value came from; or the
/// error that stops them from loading (a broken file is a common reason to send a bundle).
fn settings(ws: &Workspace, env: &Env) -> Value {
    match ws.load(env) {
        Ok(p) => {
            let mut providers = serde_json::to_value(&p.providers).unwrap_or_default();
            mask_keys(&mut providers);
            json!({"config": p.config, "providers": providers})
        }
        Err(e) => json!({"error": e.to_string()}),
    }
}

/// Replace the value of every secret-named key with `<set>`, whatever it holds.
fn mask_keys(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, child) in map.iter_mut() {
                if redact::is_secret_name(k) && child.as_str().is_some_and(|s| !s.is_empty()) {
                    *child = Value::String("<set>".into());
                } else {
                    mask_keys(child);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(mask_keys),
        _ => {}
    }
}

/// Gather everything and write the bundle to `out` (a new file; an existing one is refused).
pub async fn build(ws: &Workspace, env: &Env, out: &Path, lines: usize) -> Result<Bundle, String> {
    // Every key clk could know, whether or not the settings load.
    for path in [Some(ws.providers_file()), user::providers_file(env)]
        .into_iter()
        .flatten()
    {
        if let Ok(Some(v)) = read_json(&path) {
            register_secrets(&v);
        }
    }
    redact::register_env_secrets();

    let mut files: Vec<(String, String)> = Vec::new();
    let versions = format!(
        "clk {}\nos: {}\ngit: {}\nbwrap: {}\nclaude: {}\ncodex: {}\ngemini: {}\npi: {}\n",
        env!("CARGO_PKG_VERSION"),
        os_text(),
        tool_version("git"),
        tool_version("bwrap"),
        tool_version("claude"),
        tool_version("codex"),
        tool_version("gemini"),
        tool_version("pi"),
    );
    files.push(("versions.txt".into(), versions));
    let mut vars: Vec<String> = std::env::vars()
        .map(|(k, _)| k)
        .filter(|k| k.starts_with("CLK_") || redact::is_secret_name(k))
        .collect();
    vars.sort();
    files.push((
        "environment.txt".into(),
        format!(
            "variables set (names only):\n{}\n",
            vars.iter()
                .map(|v| format!("  {v}"))
                .collect::<Vec<_>>()
                .join("\n")
        ),
    ));
    files.push((
        "settings.json".into(),
        serde_json::to_string_pretty(&settings(ws, env)).unwrap_or_default(),
    ));
    files.push(("activity.jsonl".into(), activity_tail(ws, lines)));
    let checkup = super::doctor::run(ws, &Bus::new(None), false).await;
    files.push(("doctor.txt".into(), checkup.lines.join("\n") + "\n"));
    match last_failed_run(ws) {
        Some((id, run_files)) => {
            for (name, text) in run_files {
                files.push((format!("last-failed-run/{id}/{name}"), text));
            }
        }
        None => files.push((
            "last-failed-run/none.txt".into(),
            "no failed run on record\n".into(),
        )),
    }
    write_bundle(out, &files)?;
    Ok(Bundle {
        path: out.to_path_buf(),
        files: files.into_iter().map(|(n, _)| n).collect(),
    })
}

fn write_bundle(out: &Path, files: &[(String, String)]) -> Result<(), String> {
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(out)
        .map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let gz = flate2::write::GzEncoder::new(file, flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let top = out
        .file_name()
        .map(|n| n.to_string_lossy().trim_end_matches(".tar.gz").to_string())
        .unwrap_or_else(|| "clk-diag".into());
    for (name, text) in files {
        let clean = redact::redact_text(text);
        let mut header = tar::Header::new_gnu();
        header.set_size(clean.len() as u64);
        header.set_mode(0o600);
        header.set_mtime(now);
        header.set_cksum();
        tar.append_data(&mut header, format!("{top}/{name}"), clean.as_bytes())
            .map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    }
    let gz = tar
        .into_inner()
        .map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    let mut file = gz
        .finish()
        .map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    file.flush()
        .map_err(|e| format!("cannot write {}: {e}", out.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_named_keys_are_masked_at_any_depth() {
        let mut v = json!({"providers": {"a": {"api_key": "abc123456", "model": "m",
            "env": {"MY_TOKEN": "t0k3n-value", "PATH": "/bin"}}}});
        mask_keys(&mut v);
        assert_eq!(v["providers"]["a"]["api_key"], "<set>");
        assert_eq!(v["providers"]["a"]["env"]["MY_TOKEN"], "<set>");
        assert_eq!(v["providers"]["a"]["env"]["PATH"], "/bin");
        assert_eq!(v["providers"]["a"]["model"], "m");
    }

    #[test]
    fn a_long_file_is_cut_in_the_middle_on_char_boundaries() {
        let text = "é".repeat(100);
        let cut = cut_middle(&text, 51);
        assert!(cut.starts_with('é') && cut.ends_with('é') && cut.contains("left out"));
        assert_eq!(cut_middle("short", 10), "short");
    }
}
