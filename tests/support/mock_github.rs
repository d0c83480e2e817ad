//! A small stand-in for the GitHub REST API on loopback: every request is kept (method, path,
//! headers, JSON body) and `POST .../pulls` answers 201 with a pull request's `html_url`;
//! `POST /user/repos` and `/orgs/O/repos` answer 201 with a `clone_url` under the folder
//! given to [`MockGithub::set_clone_root`] (422 for the name `taken`).

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    /// Header names in lower case.
    pub headers: HashMap<String, String>,
    pub json: serde_json::Value,
}

pub struct MockGithub {
    url: String,
    seen: Arc<Mutex<Vec<Request>>>,
    clone_root: Arc<Mutex<String>>,
}

impl MockGithub {
    pub fn start() -> MockGithub {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let kept = seen.clone();
        let clone_root = Arc::new(Mutex::new(String::from("/nonexistent")));
        let roots = clone_root.clone();
        let base = url.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let Some(req) = read(&mut stream) else {
                    continue;
                };
                let n = {
                    let mut all = kept.lock().unwrap();
                    all.push(req.clone());
                    all.len()
                };
                let (status, body) = if req.method == "POST" && req.path.ends_with("/pulls") {
                    let slug = req.path.trim_start_matches("/repos/");
                    let slug = slug.trim_end_matches("/pulls");
                    let html = format!("{base}/{slug}/pull/{n}");
                    (
                        "201 Created",
                        serde_json::json!({"number": n, "html_url": html}),
                    )
                } else if req.method == "POST" && req.path.ends_with("/repos") {
                    let name = req.json["name"].as_str().unwrap_or_default().to_string();
                    if name == "taken" {
                        (
                            "422 Unprocessable Entity",
                            serde_json::json!({"message": "Repository creation failed.",
                                "errors": [{"message": "name already exists on this account"}]}),
                        )
                    } else {
                        let root = roots.lock().unwrap().clone();
                        (
                            "201 Created",
                            serde_json::json!({"name": name,
                                "html_url": format!("{base}/me/{name}"),
                                "clone_url": format!("{root}/{name}.git")}),
                        )
                    }
                } else {
                    ("404 Not Found", serde_json::json!({"message": "Not Found"}))
                };
                let body = body.to_string();
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: \
                     {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        MockGithub {
            url,
            seen,
            clone_root,
        }
    }

    /// Where the `clone_url` of a created repository points: `<root>/<name>.git`.
    pub fn set_clone_root(&self, root: &std::path::Path) {
        *self.clone_root.lock().unwrap() = root.display().to_string();
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn requests(&self) -> Vec<Request> {
        self.seen.lock().unwrap().clone()
    }
}

fn read(stream: &mut std::net::TcpStream) -> Option<Request> {
    let mut r = BufReader::new(stream);
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    let mut words = line.split_whitespace();
    let method = words.next()?.to_string();
    let path = words.next()?.to_string();
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_lowercase(), v.trim().to_string());
        }
    }
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    r.read_exact(&mut body).ok()?;
    let json = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    Some(Request {
        method,
        path,
        headers,
        json,
    })
}
