//! The web dashboard in a real browser: headless Chromium driven over WebDriver (chromedriver)
//! opens the page with the token in the address, types an idea and sees the agent cards change
//! as the team works, filters the log, approves a task that waits for approval, pauses a
//! queued one, and answers a question the work asks. `tests/run-all.sh` installs chromium and
//! chromium-driver and sets `CLK_REQUIRE_BROWSER=1`, so there a missing browser fails the
//! test; elsewhere it is skipped with the reason printed.

use std::net::TcpListener;
use std::process::{Child, Command as Std, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use super::start;

/// chromedriver on a free loopback port, killed when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn which(name: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(name))
            .find(|f| f.is_file())
    })
}

/// chromedriver and the browser, or why not (a failure when the browser is required).
fn browser() -> Option<(std::path::PathBuf, std::path::PathBuf)> {
    let driver = which("chromedriver");
    let chrome = which("chromium").or_else(|| which("chromium-browser"));
    match (driver, chrome) {
        (Some(d), Some(c)) => Some((d, c)),
        _ => {
            let why = "chromium and chromedriver are not installed (apt-get install chromium \
                       chromium-driver)";
            if std::env::var("CLK_REQUIRE_BROWSER").is_ok_and(|v| v == "1") {
                panic!("CLK_REQUIRE_BROWSER=1 but {why}");
            }
            println!("skipped: {why}");
            None
        }
    }
}

async fn start_driver(path: &std::path::Path) -> Driver {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Std::new(path)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let d = Driver { child, url };
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    d
}

async fn session(driver: &Driver, chrome: &std::path::Path, profile: &std::path::Path) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chrome,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     format!("--user-data-dir={}", profile.display())],
        }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .unwrap()
}

/// Wait until `css` matches an element.
async fn wait_for(c: &Client, css: &str) {
    c.wait()
        .at_most(Duration::from_secs(90))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css} never appeared: {e}"));
}

/// Move task `id` from queued to waiting for approval, as a worker does with a `safe` task
/// whose work is done.
pub fn wait_for_approval(s: &super::Served, id: i64) {
    use clk::engine::ground::task::TaskState;
    use clk::engine::store::tasks::{Move, TaskStore, open};
    let ws = clk::engine::store::workspace::Workspace::new(s.dir.clone());
    let m = Move {
        id,
        from: &[TaskState::Queued],
        to: TaskState::Approval,
        reason: "waits for approval",
    };
    assert!(open(&ws).unwrap().move_state(&m, 0).unwrap());
}

/// Click what `css` matches, again if a redraw replaced it between finding and clicking.
async fn click(c: &Client, css: &str) {
    for _ in 0..20 {
        let found = c.find(Locator::Css(css)).await;
        if let Ok(e) = found
            && e.click().await.is_ok()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("could not click {css}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_in_chromium_runs_an_idea_and_approves_a_task() {
    let Some((driver_bin, chrome)) = browser() else {
        return;
    };
    let (top, s) = start();
    // One task waits for approval (as a worker leaves a `safe` task), one is queued.
    let (_, waiting) = s
        .post(
            "/api/tasks",
            json!({"prompt": "add a health endpoint", "autonomy": "safe"}),
        )
        .await;
    let (_, queued) = s
        .post("/api/tasks", json!({"prompt": "write the docs"}))
        .await;
    let (wid, qid) = (
        waiting["id"].as_i64().unwrap(),
        queued["id"].as_i64().unwrap(),
    );
    wait_for_approval(&s, wid);
    let driver = start_driver(&driver_bin).await;
    let c = session(&driver, &chrome, &top.path().join("chrome-profile")).await;
    c.goto(&format!("{}/#token={}", s.url, s.token))
        .await
        .unwrap();
    wait_for(&c, "#link:not(.off)").await;
    // The token left the address bar once read.
    assert!(!c.current_url().await.unwrap().as_str().contains(&s.token));
    assert_eq!(
        c.find(Locator::Css("#cost"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "$0.00"
    );
    assert!(
        c.find_all(Locator::Css(".card")).await.unwrap().is_empty(),
        "no team yet"
    );

    // Type the idea as a person would; the cards appear and end done.
    let line = c.find(Locator::Id("line")).await.unwrap();
    line.send_keys("Add a hello() function to greeter.py\n")
        .await
        .unwrap();
    wait_for(&c, ".card[data-agent=chief]").await;
    wait_for(&c, ".card[data-agent=engineer][data-status=done]").await;
    wait_for(&c, "#log li").await;
    // The end of the run and the task that waits are told in the page, once each.
    wait_for(&c, "#notices li[data-kind=run_failed]").await;
    wait_for(&c, &format!("#notices li[data-key='task:{wid}:approval']")).await;
    // The log filter keeps only matching lines.
    let filter = c.find(Locator::Id("filter")).await.unwrap();
    filter.send_keys("merged").await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        // Read in one go: the page redraws the log whenever an event arrives.
        let texts = c
            .execute(
                "return [...document.querySelectorAll('#log li')].map(e => e.textContent)",
                vec![],
            )
            .await
            .unwrap();
        let texts: Vec<String> = serde_json::from_value(texts).unwrap();
        if !texts.is_empty() && texts.iter().all(|t| t.contains("merged")) {
            break;
        }
        assert!(Instant::now() < deadline, "the filter left {texts:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Approve the waiting task and pause the queued one with their buttons.
    let approve = format!("tr[data-task='{wid}'][data-state=approval] button.approve");
    wait_for(&c, &approve).await;
    click(&c, &approve).await;
    wait_for(&c, &format!("tr[data-task='{wid}'][data-state=approved]")).await;
    let pause = format!("tr[data-task='{qid}'][data-state=queued] button.pause");
    click(&c, &pause).await;
    wait_for(&c, &format!("tr[data-task='{qid}'][data-state=paused]")).await;
    let (_, shown) = s.get(&format!("/api/tasks/{wid}")).await;
    assert_eq!(shown["state"], "approved");
    let told = c
        .find_all(Locator::Css(&format!(
            "#notices li[data-key='task:{wid}:approval']"
        )))
        .await
        .unwrap();
    assert_eq!(told.len(), 1);
    let (_, timeline) = s.get(&format!("/api/tasks/{wid}/timeline")).await;
    assert!(timeline.to_string().contains("approve"), "{timeline}");

    // A question the work asks is answered in the page: the doctor offers to put back a
    // .gitignore line, and Yes does it.
    let ignore = s.dir.join(".gitignore");
    let text = std::fs::read_to_string(&ignore).unwrap();
    assert!(text.contains(".clk/cache/\n"));
    std::fs::write(&ignore, text.replace(".clk/cache/\n", "")).unwrap();
    let line = c.find(Locator::Id("line")).await.unwrap();
    line.send_keys("/doctor fix\n").await.unwrap();
    wait_for(&c, "#question:not([hidden])").await;
    let asked = c.find(Locator::Id("question-text")).await.unwrap();
    assert!(asked.text().await.unwrap().contains("init again"));
    click(&c, "#yes").await;
    wait_for(&c, "#question[hidden]").await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while !std::fs::read_to_string(&ignore)
        .unwrap()
        .contains(".clk/cache/")
    {
        assert!(Instant::now() < deadline, "the repair was not made");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // A slash command typed in the page reaches the engine; a bad one says why in the page.
    let line = c.find(Locator::Id("line")).await.unwrap();
    line.send_keys("/nonsense\n").await.unwrap();
    wait_for(&c, "#note.error").await;
    c.close().await.unwrap();
}
