//! The shared queue's moving parts on PostgreSQL: an idle worker is woken by the store's
//! NOTIFY when another process adds a task (not by its own lines).

use std::time::Duration;

use clk::engine::store::tasks::{NewTask, PgStore, TaskStore};

use super::tasks::project;
use super::tasks_pg::pg_ok;
use crate::support::mock_server::{MockServer, Script};
use crate::support::pg;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_added_elsewhere_wakes_the_store_at_once() {
    let Some(url) = pg::database() else { return };
    let mock = MockServer::start(Script::new(vec![]));
    let (_top, dir) = project(&mock);
    let (store, wake) = {
        let url = url.clone();
        tokio::task::spawn_blocking(move || {
            let s = PgStore::open(&url, 5).unwrap();
            let w = s.wake().expect("PostgreSQL wakes");
            (s, w)
        })
        .await
        .unwrap()
    };
    // Its own lines do not wake it: it knows what it did.
    let store = tokio::task::spawn_blocking(move || {
        store
            .add(&NewTask {
                prompt: "mine".into(),
                ..NewTask::default()
            })
            .unwrap();
        store
    })
    .await
    .unwrap();
    let quiet = tokio::time::timeout(Duration::from_millis(700), wake.notified()).await;
    assert!(quiet.is_err(), "woken by its own line");
    // Another process's `task add` does.
    let adder = tokio::task::spawn_blocking(move || pg_ok(&dir, &url, &["task", "add", "theirs"]));
    tokio::time::timeout(Duration::from_secs(20), wake.notified())
        .await
        .expect("woken by the other process's task add");
    adder.await.unwrap();
    tokio::task::spawn_blocking(move || drop(store))
        .await
        .unwrap();
}
