//! `clk serve` through the real binary: the token on every route (missing, wrong, or in the
//! URL: 401), loopback by default, the token shown once, a 1 MB body refused, bad input a 400
//! with what to fix, no CORS, the OpenAPI document against the routes, the engine driven over
//! REST, and `/events` resumed after a dropped connection without losing an event. The 200
//! client load test and the browser test are in `serve/`.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::clk;

mod api;
mod browser;
mod harness;
mod load;
mod notices;

pub use browser::wait_for_approval;
pub use harness::{
    Served, Sse, new_project, on_mock_model, refused_to_start, start, start_in, start_with,
};

/// Every route the token guards, with `{id}` filled in.
fn guarded() -> Vec<(Method, String)> {
    clk::serve::api_routes()
        .into_iter()
        .map(|(m, p, _)| {
            (
                Method::from_bytes(m.to_uppercase().as_bytes()).unwrap(),
                p.replace("{id}", "1"),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_but_health_refuses_a_missing_a_wrong_or_a_url_token() {
    let (_top, s) = start();
    let c = s.client();
    assert_eq!(
        c.get(format!("{}/health", s.url))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    // A token in the URL is refused on the open routes too.
    for path in ["/health", "/", "/app.js"] {
        let r = c
            .get(format!("{}{path}?token={}", s.url, s.token))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{path}");
    }
    let page = c.get(format!("{}/", s.url)).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(!page.text().await.unwrap().contains(&s.token));
    let routes = guarded();
    assert!(routes.len() >= 25, "{routes:?}");
    for (method, path) in routes {
        let url = format!("{}{path}", s.url);
        let none = c.request(method.clone(), &url).send().await.unwrap();
        assert_eq!(none.status(), StatusCode::UNAUTHORIZED, "{method} {path}");
        let body: Value = none.json().await.unwrap();
        assert_eq!(body["code"], "unauthorized", "{method} {path}");
        assert!(body["message"].as_str().unwrap().contains("Bearer"));
        let wrong = c
            .request(method.clone(), &url)
            .bearer_auth(format!("{}x", &s.token[..s.token.len() - 1]))
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED, "{method} {path}");
        for query in [format!("token={}", s.token), format!("x={}", s.token)] {
            let in_url = c
                .request(method.clone(), format!("{url}?{query}"))
                .send()
                .await
                .unwrap();
            assert_eq!(in_url.status(), StatusCode::UNAUTHORIZED, "{method} {path}");
            let body: Value = in_url.json().await.unwrap();
            assert_eq!(body["code"], "token_in_query");
        }
        // Even with the right header, a token in the URL is refused.
        let both = c
            .request(method.clone(), format!("{url}?access_token=abc"))
            .bearer_auth(&s.token)
            .send()
            .await
            .unwrap();
        assert_eq!(both.status(), StatusCode::UNAUTHORIZED, "{method} {path}");
    }
}

#[test]
fn the_openapi_document_names_every_route_and_only_those() {
    let doc: Value = serde_json::from_str(clk::serve::web::OPENAPI).unwrap();
    let mut documented: Vec<(String, String)> = Vec::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            documented.push((method.clone(), path.clone()));
        }
    }
    documented.sort();
    let mut served: Vec<(String, String)> = clk::serve::api_routes()
        .into_iter()
        .map(|(m, p, _)| (m.to_string(), p.to_string()))
        .collect();
    served.push(("get".into(), "/health".into()));
    served.push(("post".into(), clk::serve::DISCORD_PATH.into()));
    served.sort();
    assert_eq!(documented, served);
    // Every guarded operation says it can answer 401; every body-taking one, 400.
    for (m, p) in &documented {
        let op = &doc["paths"][p][m];
        if p != "/health" {
            assert!(op["responses"]["401"].is_object(), "{m} {p}");
        }
        assert!(op["responses"]["400"].is_object(), "{m} {p}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_serves_its_openapi_document_and_no_cors_headers() {
    let (_top, s) = start();
    let (status, doc) = s.get("/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["info"]["title"], "clk serve");
    let c = s.client();
    let pre = c
        .request(Method::OPTIONS, format!("{}/api/status", s.url))
        .header("Origin", "https://evil.example")
        .header("Access-Control-Request-Method", "GET")
        .header("Access-Control-Request-Headers", "authorization")
        .send()
        .await
        .unwrap();
    assert!(!pre.status().is_success(), "{}", pre.status());
    assert!(pre.headers().get("access-control-allow-origin").is_none());
    let get = s
        .req(Method::GET, "/api/status")
        .header("Origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), StatusCode::OK);
    assert!(get.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn it_binds_loopback_by_default_shows_the_token_once_and_refuses_a_remote_bind() {
    let (top, dir) = new_project();
    let cfg = top.path().join("config");
    let first = start_in(&dir, &cfg, &[]);
    assert!(first.url.starts_with("http://127.0.0.1:"), "{}", first.url);
    let out = first.output();
    assert!(out.contains(&first.token), "{out}");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(cfg.join("clk/serve-token"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    // The project is held while it serves: a second server is refused.
    let again = clk()
        .current_dir(&dir)
        .env("XDG_CONFIG_HOME", &cfg)
        .args(["serve", "--port", "0"])
        .timeout(Duration::from_secs(20))
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("clk serve"));
    let token = first.token.clone();
    drop(first);
    let second = start_in(&dir, &cfg, &[]);
    assert_eq!(second.token, token, "the token is kept");
    let out = second.output();
    assert!(!out.contains(&token), "shown once only: {out}");
    assert!(out.contains("serve-token"), "{out}");
    drop(second);
    let remote = clk()
        .current_dir(&dir)
        .env("XDG_CONFIG_HOME", &cfg)
        .args(["serve", "--bind", "0.0.0.0", "--port", "0"])
        .timeout(Duration::from_secs(20))
        .output()
        .unwrap();
    assert_eq!(remote.status.code(), Some(2));
    let err = String::from_utf8_lossy(&remote.stderr);
    assert!(err.contains("--allow-remote"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let allowed = start_in(&dir, &cfg, &["--bind", "0.0.0.0", "--allow-remote"]);
    assert!(
        allowed.url.starts_with("http://0.0.0.0:"),
        "{}",
        allowed.url
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_megabyte_body_is_refused_with_413_declared_or_streamed() {
    let (_top, s) = start();
    let big = format!("{{\"prompt\": \"{}\"}}", "a".repeat(1024 * 1024));
    let r = s
        .req(Method::POST, "/api/tasks")
        .header("content-type", "application/json")
        .body(big.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], "too_large");
    let chunks: Vec<Result<String, std::io::Error>> = big
        .as_bytes()
        .chunks(64 * 1024)
        .map(|c| Ok(String::from_utf8_lossy(c).into_owned()))
        .collect();
    // Streamed without a length: refused once 64 KB have arrived. The server may close the
    // connection before the client has written it all; either way nothing is taken.
    let r = s
        .req(Method::POST, "/api/tasks")
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await;
    match r {
        Ok(r) => assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE),
        Err(e) => assert!(e.is_request(), "{e}"),
    }
    let (status, tasks) = s.get("/api/tasks").await;
    assert_eq!(
        (status, tasks),
        (StatusCode::OK, json!([])),
        "nothing was queued"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_a_400_that_says_what_to_fix_never_a_500() {
    let (_top, s) = start();
    let posts: Vec<String> = guarded()
        .into_iter()
        .filter(|(m, _)| *m == Method::POST)
        .map(|(_, p)| p)
        .collect();
    for path in &posts {
        for body in ["{not json", "[1, 2]", "{\"no_such_field\": 1}"] {
            let r = s
                .req(Method::POST, path)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            // These take no body; everything else names what is wrong with it.
            if [
                "/api/stop",
                "/api/abort",
                "/api/tasks/1/pause",
                "/api/tasks/1/cancel",
            ]
            .contains(&path.as_str())
            {
                assert_ne!(r.status(), StatusCode::INTERNAL_SERVER_ERROR, "{path}");
                continue;
            }
            assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{path} {body}");
            let e: Value = r.json().await.unwrap();
            assert_eq!(e["code"], "bad_request", "{path}");
            assert!(!e["message"].as_str().unwrap().is_empty());
        }
    }
    let cases = [
        ("/api/run", json!({"max_cycles": 0}), "at least 1"),
        ("/api/run", json!({"workflow": "nope"}), "nope"),
        ("/api/loop", json!({"mode": "sideways"}), "sideways"),
        ("/api/input", json!({"text": "/nonsense"}), "nonsense"),
        ("/api/input", json!({"text": "  "}), "empty"),
        ("/api/undo", json!({}), "confirm"),
        ("/api/tasks", json!({"prompt": ""}), "prompt"),
        ("/api/tasks/1/approve", json!({}), "no task 1"),
        (
            "/api/budget",
            json!({"key": "budget.session_usd_cap", "usd": -1}),
            "not a cap",
        ),
        (
            "/api/budget",
            json!({"key": "budget.nope", "usd": 1}),
            "no cap called",
        ),
        ("/api/cast", json!({}), "no idea"),
    ];
    for (path, body, says) in cases {
        let (status, e) = s.post(path, body.clone()).await;
        assert!(
            status == StatusCode::BAD_REQUEST || status == StatusCode::NOT_FOUND,
            "{path} {body}: {status} {e}"
        );
        let m = e["message"].as_str().unwrap();
        assert!(m.contains(says), "{path} {body}: {m}");
    }
    let (status, e) = s.get("/api/tasks/abc").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{e}");
    let (status, _) = s.get("/api/tasks/0").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, e) = s.get("/api/nope").await;
    assert_eq!(
        (status, e["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let r = s
        .req(Method::GET, "/events")
        .header("Last-Event-ID", "yesterday")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_reconnects_with_last_event_id_loses_no_event() {
    let (_top, s) = start();
    // A witness that never drops, and a client that drops halfway.
    let mut witness = Sse::connect(&s, None).await;
    let mut client = Sse::connect(&s, None).await;
    let mut ids = Vec::new();
    for _ in 0..4 {
        let (_, r) = s.post("/api/input", json!({"text": "/status"})).await;
        ids.push(r["task_id"].as_u64().unwrap());
    }
    let before = Served::until_finished(&mut client, ids[1]).await;
    drop(client);
    let last = before.last().unwrap().0;
    // Events while it is away.
    for _ in 0..4 {
        let (_, r) = s.post("/api/input", json!({"text": "/budget"})).await;
        ids.push(r["task_id"].as_u64().unwrap());
    }
    let all = Served::until_finished(&mut witness, *ids.last().unwrap()).await;
    let mut back = Sse::connect(&s, Some(last)).await;
    let after = Served::until_finished(&mut back, *ids.last().unwrap()).await;
    let joined: Vec<_> = before.into_iter().chain(after).collect();
    assert_eq!(joined, all);
    assert!(all.len() >= 16, "{}", all.len());
    // Ids grow, and each is the place in the activity log just past its line.
    assert!(all.windows(2).all(|w| w[0].0 < w[1].0));
    let log = std::fs::read(s.dir.join(".clk/logs/activity.jsonl")).unwrap();
    for (id, ev) in &all {
        let line_end = *id as usize;
        assert_eq!(log[line_end - 1], b'\n');
        let start = log[..line_end - 1]
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |p| p + 1);
        let mut logged: Value = serde_json::from_slice(&log[start..line_end - 1]).unwrap();
        logged.as_object_mut().unwrap().remove("ts");
        assert_eq!(&logged, ev);
    }
    // A reconnect from the very start replays the log from its first line.
    let mut replay = Sse::connect(&s, Some(0)).await;
    let (first, _) = replay.next().await.unwrap();
    assert_eq!(log[first as usize - 1], b'\n');
}
