//! `clk serve`'s event fan-out without the network: one event emitted on the bus, written to
//! the activity log, read back once by the hub and handed as a ready SSE frame to 200
//! followers (as 200 `/events` clients are). Goal: under 5 ms per event for all 200. Also the
//! cost of reading and framing 1,000 log lines, what a reconnect with `Last-Event-ID` pays, and
//! the Ed25519 check of one signed Discord interaction (goal: well under 1 ms; Discord waits
//! 3 s for the whole answer).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed step is a failed test

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clk::engine::ground::events::Event;
use clk::engine::store::bus::Bus;
use clk::serve::events::{Hub, read_from};
use criterion::{Criterion, criterion_group, criterion_main};
use tokio_util::sync::CancellationToken;

const FOLLOWERS: usize = 200;

fn fan_out(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("activity.jsonl");
    let bus = Bus::new(Some(path.clone()));
    let stop = CancellationToken::new();
    let got = Arc::new(AtomicU64::new(0));
    let notify = Arc::new(tokio::sync::Notify::new());
    let hub = rt.block_on(async {
        let hub = Hub::start(path.clone(), &bus, stop.clone());
        for _ in 0..FOLLOWERS {
            let mut f = hub.follow(None, stop.clone());
            let (got, notify) = (got.clone(), notify.clone());
            tokio::spawn(async move {
                while let Some(chunk) = f.chunk().await {
                    let frames = chunk.windows(4).filter(|w| w == b"id: ").count() as u64;
                    got.fetch_add(frames, Ordering::AcqRel);
                    notify.notify_one();
                }
            });
        }
        hub
    });
    let mut want = 0u64;
    c.bench_function("serve: one event to 200 followers", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let t = Instant::now();
                for _ in 0..iters {
                    want += FOLLOWERS as u64;
                    bus.emit(Event::StopRequested);
                    while got.load(Ordering::Acquire) < want {
                        let _ =
                            tokio::time::timeout(Duration::from_millis(5), notify.notified()).await;
                    }
                }
                t.elapsed()
            })
        })
    });
    stop.cancel();
    drop(hub);
}

fn reconnect(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("activity.jsonl");
    let bus = Bus::new(Some(path.clone()));
    for i in 0..1000 {
        bus.emit(Event::Warning {
            message: format!("line {i} of a run's log, about as long as an output line is"),
        });
    }
    c.bench_function("serve: read and frame 1,000 log lines", |b| {
        b.iter(|| {
            let (lines, _) = read_from(&path, 0);
            assert_eq!(lines.len(), 1000);
        })
    });
}

fn discord_signature(c: &mut Criterion) {
    use ring::signature::{Ed25519KeyPair, KeyPair};
    let pair = Ed25519KeyPair::from_seed_unchecked(&[3u8; 32]).unwrap();
    let key: [u8; 32] = pair.public_key().as_ref().try_into().unwrap();
    let body = format!(
        r#"{{"type":2,"application_id":"777","token":"t","channel_id":"555","member":{{"user":{{"id":"1"}},"roles":["2"]}},"data":{{"name":"run","options":[{{"type":3,"name":"idea","value":"{}"}}]}}}}"#,
        "add a health endpoint ".repeat(20)
    );
    let at = "1800000000";
    let mut signed = at.as_bytes().to_vec();
    signed.extend_from_slice(body.as_bytes());
    let sig: String = pair
        .sign(&signed)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    c.bench_function("serve: check one Discord interaction's signature", |b| {
        b.iter(|| {
            clk::serve::discord::verify(&key, &sig, at, body.as_bytes(), 1_800_000_000).unwrap();
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(4));
    targets = fan_out, reconnect, discord_signature
}
criterion_main!(benches);
