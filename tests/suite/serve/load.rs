//! 200 event-stream clients on one `clk serve`, each given every event of a run (the idea
//! typed in, the team rehearsing on the built-in shell provider). Delivery is asserted; the
//! figures (server memory per client, latency from the log's timestamp to arrival, p50/p99)
//! are printed: `cargo test --test all serve::load -- --nocapture`.

use std::time::Duration;

use serde_json::{Value, json};

use super::{Served, Sse, start};

const CLIENTS: usize = 200;

/// The server's resident memory in KB.
fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_stream_clients_each_get_every_event_of_a_run() {
    let (_top, s) = start();
    // Warm the server up (its first answers allocate what every later one reuses).
    let _ = s.get("/api/state").await;
    let _ = Sse::connect(&s, None).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = rss_kb(s.pid());
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        clients.push(Sse::connect(&s, None).await);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let connected = rss_kb(s.pid());
    let start_offset =
        std::fs::metadata(s.dir.join(".clk/logs/activity.jsonl")).map_or(0, |m| m.len());
    let (_, r) = s
        .post(
            "/api/input",
            json!({"text": "Add a hello() function to greeter.py"}),
        )
        .await;
    let run = r["task_id"].as_u64().unwrap();
    // The end of the run, as its event begins (the events' JSON is parsed only by the witness
    // below: the clients share the test's two threads with the server's).
    let finished = format!("{{\"event\":\"task_finished\",\"task_id\":{run},");
    let readers: Vec<_> = clients
        .into_iter()
        .map(|mut c| {
            let finished = finished.clone();
            tokio::spawn(async move {
                let mut got = Vec::new();
                loop {
                    let (id, ev) = tokio::time::timeout(Duration::from_secs(120), c.next_raw())
                        .await
                        .expect("no event within 120 s")
                        .expect("the stream ended");
                    got.push((id, chrono::Utc::now()));
                    if ev.starts_with(&finished) {
                        return got;
                    }
                }
            })
        })
        .collect();
    let mut all = Vec::new();
    for r in readers {
        all.push(r.await.unwrap());
    }
    // Every event the log holds from the start of the run, with its time.
    let log = std::fs::read(s.dir.join(".clk/logs/activity.jsonl")).unwrap();
    let mut expected = Vec::new();
    let mut at = start_offset as usize;
    for line in log[at..].split_inclusive(|b| *b == b'\n') {
        at += line.len();
        let v: Value = serde_json::from_slice(line).unwrap();
        let ts = chrono::DateTime::parse_from_rfc3339(v["ts"].as_str().unwrap()).unwrap();
        expected.push((at as u64, ts));
        if v["event"] == "task_finished" && v["task_id"] == run {
            break;
        }
    }
    assert!(expected.len() > 30, "a real run: {} events", expected.len());
    let mut latencies = Vec::new();
    for got in &all {
        let ids: Vec<u64> = got.iter().map(|(id, _)| *id).collect();
        let want: Vec<u64> = expected.iter().map(|(id, _)| *id).collect();
        assert_eq!(ids, want, "a client missed or repeated an event");
        for ((_, arrived), (_, ts)) in got.iter().zip(&expected) {
            latencies.push(
                (*arrived - ts.with_timezone(&chrono::Utc))
                    .num_microseconds()
                    .unwrap(),
            );
        }
    }
    latencies.sort_unstable();
    let pct =
        |p: usize| latencies[(latencies.len() * p / 100).min(latencies.len() - 1)] as f64 / 1000.0;
    println!(
        "serve load: {CLIENTS} clients x {} events = {} deliveries; server RSS {} KB -> {} KB \
         ({:.1} KB per client); latency from log timestamp to arrival p50 {:.1} ms, p99 {:.1} ms, \
         max {:.1} ms",
        expected.len(),
        latencies.len(),
        before,
        connected,
        connected.saturating_sub(before) as f64 / CLIENTS as f64,
        pct(50),
        pct(99),
        pct(100),
    );
    // Served is kept alive to here.
    drop::<Served>(s);
}
