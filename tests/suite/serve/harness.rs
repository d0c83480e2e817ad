//! A `clk serve` started for a test in a fresh project, and an `/events` client.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command as Std, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::support::{clk, clk_env_vars};

/// A running `clk serve` on a free loopback port, killed when dropped.
pub struct Served {
    child: Child,
    pub url: String,
    pub token: String,
    pub dir: PathBuf,
    pub out: Arc<Mutex<Vec<String>>>,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Served {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn output(&self) -> String {
        self.out.lock().unwrap().join("\n")
    }

    pub fn client(&self) -> reqwest::Client {
        let _ = rustls::crypto::ring::default_provider().install_default();
        reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .unwrap()
    }

    /// A request with the token.
    pub fn req(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client()
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(&self.token)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        let r = self.req(Method::GET, path).send().await.unwrap();
        (r.status(), r.json().await.unwrap_or(Value::Null))
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let r = self
            .req(Method::POST, path)
            .json(&body)
            .send()
            .await
            .unwrap();
        (r.status(), r.json().await.unwrap_or(Value::Null))
    }

    /// Wait for the `task_finished` of task `id` on `sse`; the events up to it.
    pub async fn until_finished(sse: &mut Sse, id: u64) -> Vec<(u64, Value)> {
        let mut seen = Vec::new();
        loop {
            let (eid, ev) = tokio::time::timeout(Duration::from_secs(60), sse.next())
                .await
                .expect("no event within 60 s")
                .expect("the stream ended");
            let done = ev["event"] == "task_finished" && ev["task_id"] == id;
            seen.push((eid, ev));
            if done {
                return seen;
            }
        }
    }
}

/// A fresh project (`clk init`, the built-in shell provider) in a temp folder.
pub fn new_project() -> (tempfile::TempDir, PathBuf) {
    let top = tempfile::tempdir().unwrap();
    let dir = top.path().join("p");
    std::fs::create_dir(&dir).unwrap();
    clk().current_dir(&dir).arg("init").assert().success();
    (top, dir.canonicalize().unwrap())
}

/// `clk serve --port 0` in a fresh project, its token kept under the temp folder.
pub fn start() -> (tempfile::TempDir, Served) {
    let (top, dir) = new_project();
    let cfg = top.path().join("config");
    let s = start_in(&dir, &cfg, &[]);
    (top, s)
}

/// `clk serve --port 0 ARGS` in `dir` with `cfg` as the user's config folder.
pub fn start_in(dir: &Path, cfg: &Path, args: &[&str]) -> Served {
    start_with(dir, cfg, args, &[])
}

/// `clk serve --port 0 ARGS` in `dir` with `cfg` as the user's config folder and `envs` set.
pub fn start_with(dir: &Path, cfg: &Path, args: &[&str], envs: &[(&str, &str)]) -> Served {
    let mut cmd = Std::new(env!("CARGO_BIN_EXE_clk"));
    for name in clk_env_vars() {
        cmd.env_remove(name);
    }
    for name in [
        "TELEGRAM_BOT_TOKEN",
        "DISCORD_TOKEN",
        "DISCORD_PUBLIC_KEY",
        "DISCORD_APPLICATION_ID",
    ] {
        cmd.env_remove(name);
    }
    cmd.envs(envs.iter().copied());
    let mut child = cmd
        .current_dir(dir)
        .env("XDG_CONFIG_HOME", cfg)
        .args(["serve", "--port", "0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let out = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = std::sync::mpsc::channel();
    let lines = out.clone();
    std::thread::spawn(move || {
        let mut url = String::new();
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("listening on ").nth(1) {
                let u = rest.split_whitespace().next().unwrap_or("");
                url = u.trim_end_matches('/').to_string();
            }
            let last = line.starts_with("Stop with Ctrl-C");
            lines.lock().unwrap().push(line);
            if last {
                let _ = tx.send(url.clone());
            }
        }
    });
    let url = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("clk serve did not say where it listens");
    let token = std::fs::read_to_string(cfg.join("clk/serve-token"))
        .unwrap()
        .trim()
        .to_string();
    Served {
        child,
        url,
        token,
        dir: dir.to_path_buf(),
        out,
    }
}

/// `clk serve --port 0 ARGS` in `dir` with `envs` set (or, for `None`, unset) refuses to start:
/// exit 2 and one line that says `says`.
pub fn refused_to_start(dir: &Path, args: &[&str], envs: &[(&str, Option<&str>)], says: &str) {
    let mut c = clk();
    c.current_dir(dir).args(["serve", "--port", "0"]).args(args);
    for (name, v) in envs {
        match v {
            Some(v) => c.env(name, v),
            None => c.env_remove(name),
        };
    }
    let out = c.assert().code(2).get_output().clone();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(says), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

/// A mock model server that answers `reply` every time, and the settings that put the team on
/// it (with `extra` after them).
pub fn on_mock_model(
    reply: crate::support::mock_server::Reply,
    extra: &[&str],
) -> (crate::support::mock_server::MockServer, Vec<String>) {
    use crate::support::mock_server::{Fallback, MockServer, Script};
    let model = MockServer::start(Script::new(vec![reply]).fallback(Fallback::RepeatLast));
    let mut all = vec![
        "default_provider=ollama".to_string(),
        format!("providers.ollama.endpoint={}", model.url()),
        "providers.ollama.model=test-model".to_string(),
    ];
    all.extend(extra.iter().map(|s| s.to_string()));
    (model, all)
}

/// A `/events` client: the id and JSON of each event.
pub struct Sse {
    resp: reqwest::Response,
    buf: String,
}

impl Sse {
    pub async fn connect(s: &Served, last: Option<u64>) -> Sse {
        let mut r = s.req(Method::GET, "/events");
        if let Some(id) = last {
            r = r.header("Last-Event-ID", id.to_string());
        }
        let resp = r.send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        Sse {
            resp,
            buf: String::new(),
        }
    }

    pub async fn next(&mut self) -> Option<(u64, Value)> {
        let (id, data) = self.next_raw().await?;
        Some((id, serde_json::from_str(&data).unwrap()))
    }

    /// The next event's id and its data unparsed.
    pub async fn next_raw(&mut self) -> Option<(u64, String)> {
        loop {
            if let Some(cut) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..cut + 2).collect();
                let mut id = None;
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id:") {
                        id = v.trim().parse::<u64>().ok();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim_start());
                    }
                }
                if let Some(id) = id {
                    return Some((id, data));
                }
                continue; // a keep-alive comment
            }
            let chunk = self.resp.chunk().await.ok()??;
            self.buf.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}
