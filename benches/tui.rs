//! Dashboard benchmarks (a bench binary: `cargo bench --bench tui`). Prints:
//! - memory: RSS after folding 1,000,000 events into the dashboard state (goal < 50 MB);
//! - render: one 200x60 frame with 16 cards and a 100,000-line log, then with a 1 MB
//!   transcript open, then the Tasks view over 10,000 tasks (goal: median < 2 ms each);
//! - latency: an agent's output line from the bus to a drawn frame (goal < 50 ms);
//! - idle CPU of the real binary in tmux over 10 s with no agent working (goal < 1%).
//!
//! `cargo bench --bench tui -- render` runs one section (`memory`, `render`, `latency`, `idle`).
//! Under `cargo test` (no `--bench` argument) it only runs a quick smoke check.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed step is a failed test

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clk::engine::EngineGone;
use clk::engine::ground::config::agents::BASELINE;
use clk::engine::ground::events::{Command, Event, Stream, Usage};
use clk::engine::ground::state::RunState;
use clk::engine::ground::task::TaskState;
use clk::engine::session::tasks::TaskRow;
use clk::engine::store::bus::Bus;
use clk::tui::app::{AppState, Effect, Init, Msg, update};
use clk::tui::event_loop::{self, EngineLink, Screen, Side};
use clk::tui::theme::Theme;
use clk::tui::view::{LineKind, Loaded};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn state(width: u16, height: u16) -> AppState {
    let mut s = AppState::new(Init {
        project: "bench".into(),
        provider: "shell".into(),
        roster: BASELINE
            .iter()
            .map(|(n, r)| (n.to_string(), r.to_string()))
            .collect(),
        idea: Some("bench".into()),
        tutorial_done: true,
        width,
        height,
        theme: Some(Theme::colored()),
        ..Init::default()
    });
    update(
        &mut s,
        Msg::Tick {
            now_ms: 0,
            tod_secs: 36_000,
        },
    );
    s
}

/// The i-th event of a busy session: mostly output, with dispatches, usage and warnings.
fn event(i: u64) -> Event {
    let agent = format!("agent_{:02}", i % 16);
    match i % 10 {
        0 => Event::DispatchStarted {
            agent,
            stage: Some("implement".into()),
            run_id: format!("r{i}"),
            provider: "shell".into(),
            objective: "Build the next slice of the idea and write tests for it".into(),
            prompt_chars: 4000,
            dry_run: false,
        },
        1 => Event::UsageRecorded {
            agent,
            run_id: format!("r{i}"),
            provider: "shell".into(),
            model: String::new(),
            usage: Usage {
                input_tokens: 1500,
                output_tokens: 120,
                ..Default::default()
            },
            cost_micros: 3,
            cost_basis: Default::default(),
        },
        2 => Event::Warning {
            message: format!(
                "event {i}: a warning long enough to wrap on a narrow terminal, as real ones do"
            ),
        },
        _ => Event::AgentOutput {
            agent,
            run_id: format!("r{i}"),
            stream: Stream::Stdout,
            line: format!("output line {i} from the provider, about sixty characters long"),
        },
    }
}

fn memory() {
    let before = rss_kb();
    let mut s = state(120, 40);
    let t = Instant::now();
    for i in 0..1_000_000 {
        update(&mut s, Msg::Engine(event(i)));
    }
    let took = t.elapsed();
    let after = rss_kb();
    println!(
        "memory: 1,000,000 events folded in {:.2} s; RSS {:.1} MB (was {:.1} MB before); log keeps {} lines",
        took.as_secs_f64(),
        after as f64 / 1024.0,
        before as f64 / 1024.0,
        s.log.len()
    );
}

fn render() {
    let mut s = state(200, 60);
    for i in 0..11 {
        update(
            &mut s,
            Msg::Engine(Event::RoleDecided {
                by: "chief".into(),
                name: format!("specialist_{i:02}"),
                decision: "added".into(),
                reason: None,
            }),
        );
    }
    for c in s.cards.clone() {
        update(
            &mut s,
            Msg::Engine(Event::DispatchStarted {
                agent: c.name.clone(),
                stage: None,
                run_id: "r".into(),
                provider: "shell".into(),
                objective: "x".into(),
                prompt_chars: 1,
                dry_run: false,
            }),
        );
    }
    for i in 0..100_000u64 {
        let text = format!("log line {i}: {}", "word ".repeat((i % 40) as usize));
        s.log.push(clk::tui::log::Level::Info, 36_000, &text);
    }
    assert_eq!(s.cards.len(), 16);
    let mut term = Terminal::new(TestBackend::new(200, 60)).unwrap();
    let mut times = Vec::new();
    for i in 0..400u64 {
        // Change something each frame, as a live session does.
        update(
            &mut s,
            Msg::Engine(Event::AgentOutput {
                agent: "engineer".into(),
                run_id: "r".into(),
                stream: Stream::Stdout,
                line: format!("frame {i}"),
            }),
        );
        let t = Instant::now();
        term.draw(|f| clk::tui::widgets::draw(f, &s)).unwrap();
        times.push(t.elapsed());
    }
    frame_times(
        &format!("render: 200x60, 16 cards, {} log lines", s.log.len()),
        &mut times,
    );
    // The same screen with an agent's transcript open: a 1 MB reply, scrolled every frame.
    let key = |c: KeyCode| Msg::Key(KeyEvent::new(c, KeyModifiers::NONE));
    update(&mut s, key(KeyCode::Tab));
    let Some(Effect::Load(request)) = update(&mut s, key(KeyCode::Enter)).pop() else {
        panic!("Enter on a card asks for its transcript")
    };
    let lines: Vec<(LineKind, String)> = (0..16_000u64)
        .map(|i| {
            (
                LineKind::Plain,
                format!("reply line {i}: {}", "word ".repeat(11)),
            )
        })
        .collect();
    let bytes: usize = lines.iter().map(|(_, l)| l.len() + 1).sum();
    assert!(bytes >= 1_000_000, "{bytes}");
    update(
        &mut s,
        Msg::Loaded(Box::new(Loaded {
            request,
            runs: 1,
            label: "run 1/1".into(),
            lines,
        })),
    );
    update(&mut s, key(KeyCode::Char('G')));
    let mut times = Vec::new();
    for i in 0..400u64 {
        update(
            &mut s,
            key(if i % 2 == 0 {
                KeyCode::Char('k')
            } else {
                KeyCode::PageUp
            }),
        );
        let t = Instant::now();
        term.draw(|f| clk::tui::widgets::draw(f, &s)).unwrap();
        times.push(t.elapsed());
    }
    frame_times(
        &format!("render: 200x60 with a {} kB transcript open", bytes / 1000),
        &mut times,
    );
    // The Tasks view over a long queue, the cursor moving every frame.
    update(&mut s, key(KeyCode::Esc));
    update(&mut s, key(KeyCode::F(2)));
    let states = TaskState::ALL;
    let rows: Vec<TaskRow> = (1..=10_000i64)
        .map(|id| TaskRow {
            id,
            state: states[id as usize % states.len()],
            title: format!("task {id}: {}", "word ".repeat(12)),
            agent: "engineer".into(),
            turns: (id % 9) as u32,
            cost_micros: id as u64 * 1_000,
            reason: if id % 3 == 0 {
                format!("waits for task {}: both change src/lib.rs", id - 1)
            } else {
                String::new()
            },
            files: (id % 5) as usize,
        })
        .collect();
    update(&mut s, Msg::Tasks(Ok(rows)));
    let mut times = Vec::new();
    for i in 0..400u64 {
        update(
            &mut s,
            key(if i % 3 == 0 {
                KeyCode::PageDown
            } else {
                KeyCode::Char('j')
            }),
        );
        let t = Instant::now();
        term.draw(|f| clk::tui::widgets::draw(f, &s)).unwrap();
        times.push(t.elapsed());
    }
    frame_times(
        &format!("render: 200x60 Tasks view, {} tasks", s.board.rows.len()),
        &mut times,
    );
}

/// Print the median, p95 and worst of a set of frame times.
fn frame_times(what: &str, times: &mut [Duration]) {
    times.sort();
    println!(
        "{what}: median {:.3} ms, p95 {:.3} ms, max {:.3} ms",
        ms(times[times.len() / 2]),
        ms(times[times.len() * 95 / 100]),
        ms(times[times.len() - 1])
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

struct NoEngine;
impl EngineLink for NoEngine {
    fn submit(&self, _: Command) -> Result<u64, EngineGone> {
        Ok(0)
    }
    fn snapshot(&self) -> RunState {
        RunState::default()
    }
}

/// Draws to a test backend and notes when a marker line first shows on screen.
struct Watch {
    term: Terminal<TestBackend>,
    marker: Arc<Mutex<Option<(String, Instant)>>>,
    seen: Arc<Mutex<Vec<Duration>>>,
}

impl Screen for Watch {
    fn show(&mut self, app: &AppState) -> std::io::Result<()> {
        self.term.draw(|f| clk::tui::widgets::draw(f, app)).unwrap();
        let mut m = self.marker.lock().unwrap();
        if let Some((text, t0)) = m.as_ref() {
            let buf = self.term.backend().buffer();
            let screen: String = buf.content().iter().map(|c| c.symbol()).collect();
            if screen.contains(text.as_str()) {
                self.seen.lock().unwrap().push(t0.elapsed());
                *m = None;
            }
        }
        Ok(())
    }
}

fn latency() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let bus = Bus::new(None);
        let mut app = state(120, 40);
        update(&mut app, Msg::Engine(Event::DispatchStarted {
            agent: "engineer".into(),
            stage: None,
            run_id: "r".into(),
            provider: "shell".into(),
            objective: "x".into(),
            prompt_chars: 1,
            dry_run: false,
        }));
        let marker = Arc::new(Mutex::new(None));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let mut screen = Watch {
            term: Terminal::new(TestBackend::new(120, 40)).unwrap(),
            marker: marker.clone(),
            seen: seen.clone(),
        };
        let (key_tx, key_rx) = tokio::sync::mpsc::unbounded_channel::<std::io::Result<crossterm::event::Event>>();
        let keys = tokio_stream::wrappers::UnboundedReceiverStream::new(key_rx);
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let events = bus.subscribe();
        let driver = tokio::spawn(async move {
            event_loop::run(&mut app, &NoEngine, events, &mut screen, keys, tx, rx, &mut Side::default())
                .await
                .unwrap();
        });
        for i in 0..200 {
            // Vary the gap so lines land at every point of the frame interval.
            tokio::time::sleep(Duration::from_millis(20 + (i % 7) * 3)).await;
            let text = format!("marker-{i:04}");
            *marker.lock().unwrap() = Some((text.clone(), Instant::now()));
            bus.emit(Event::AgentOutput {
                agent: "engineer".into(),
                run_id: "r".into(),
                stream: Stream::Stdout,
                line: text,
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        drop(key_tx);
        let _ = driver.await;
        let mut v = seen.lock().unwrap().clone();
        v.sort();
        println!(
            "latency: output line to drawn frame over {} lines: median {:.2} ms, p95 {:.2} ms, max {:.2} ms",
            v.len(),
            ms(v[v.len() / 2]),
            ms(v[v.len() * 95 / 100]),
            ms(v[v.len() - 1])
        );
    });
}

fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

fn idle() {
    use std::process::Command as Cmd;
    if !Cmd::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        println!("idle: skipped (tmux is not installed)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let clk = env!("CARGO_BIN_EXE_clk");
    assert!(
        Cmd::new(clk)
            .arg("init")
            .current_dir(dir.path())
            .output()
            .unwrap()
            .status
            .success()
    );
    let sock = format!("clk-bench-{}", std::process::id());
    let tmux = |args: &[&str]| {
        Cmd::new("tmux")
            .arg("-L")
            .arg(&sock)
            .args(args)
            .output()
            .unwrap()
    };
    tmux(&[
        "-f",
        "/dev/null",
        "new-session",
        "-d",
        "-s",
        "b",
        "-x",
        "120",
        "-y",
        "40",
        "-c",
        dir.path().to_str().unwrap(),
        clk,
    ]);
    let lock = dir.path().join(".clk/state/.tui-active");
    let t = Instant::now();
    while !lock.exists() && t.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let pid: u32 = std::fs::read_to_string(&lock)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    let hz = 100.0; // USER_HZ on Linux
    let a = cpu_ticks(pid).unwrap();
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs(10));
    let b = cpu_ticks(pid).unwrap();
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "idle: real binary in tmux, no agent working: {:.2}% CPU over {:.1} s ({} ticks)",
        (b - a) as f64 / hz / secs * 100.0,
        secs,
        b - a
    );
    let socket = tmux(&["display-message", "-p", "#{socket_path}"]).stdout;
    tmux(&["kill-server"]);
    // tmux can leave its socket file behind.
    let _ = std::fs::remove_file(String::from_utf8_lossy(&socket).trim());
}

fn main() {
    // `cargo test --all-targets` runs this binary without `--bench`: check it works, quickly.
    if !std::env::args().any(|a| a == "--bench") {
        let mut s = state(80, 24);
        for i in 0..1_000 {
            update(&mut s, Msg::Engine(event(i)));
        }
        let mut term = Terminal::new(TestBackend::new(80, 24)).unwrap();
        term.draw(|f| clk::tui::widgets::draw(f, &s)).unwrap();
        println!("tui bench: smoke run only; `cargo bench --bench tui` measures");
        return;
    }
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let run = |name: &str| only.is_empty() || only.iter().any(|o| o == name);
    if run("memory") {
        memory();
    }
    if run("render") {
        render();
    }
    if run("latency") {
        latency();
    }
    if run("idle") {
        idle();
    }
}
