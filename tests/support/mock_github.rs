//! A small stand-in for the GitHub REST API on loopback: every request is kept (method, path,
//! headers, JSON body) and `POST .../pulls` answers 201 with a pull request's `html_url`.

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
}

impl MockGithub {
    pub fn start() -> MockGithub {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let kept = seen.clone();
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
        MockGithub { url, seen }
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
