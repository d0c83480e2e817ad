use super::*;
use std::sync::Mutex;

fn spec(cmd: &str, timeout_ms: u64) -> Spec {
    Spec::shell(
        cmd,
        std::env::temp_dir(),
        Duration::from_millis(timeout_ms),
        Isolation::None,
    )
}

#[tokio::test]
async fn captures_lines_and_exit_code() {
    let lines = Mutex::new(Vec::new());
    let out = run(
        &spec("echo one; echo two >&2; exit 3", 5_000),
        &CancellationToken::new(),
        |_| {},
        |s, l| lines.lock().unwrap().push((s, l.to_string())),
    )
    .await
    .unwrap();
    assert_eq!(out.ending, Ending::Exited(Some(3)));
    assert_eq!(out.stdout, "one\n");
    assert_eq!(out.stderr, "two\n");
    assert_eq!(lines.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn timeout_kills_the_whole_group() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("survived");
    let cmd = format!("(sleep 1; touch {}) & sleep 30", marker.display());
    let out = run(
        &spec(&cmd, 200),
        &CancellationToken::new(),
        |_| {},
        |_, _| {},
    )
    .await
    .unwrap();
    assert_eq!(out.ending, Ending::TimedOut);
    assert!(out.elapsed < Duration::from_secs(3));
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert!(!marker.exists(), "a grandchild outlived the timeout");
}

#[tokio::test]
async fn cancel_stops_at_once() {
    let cancel = CancellationToken::new();
    let c2 = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        c2.cancel();
    });
    let out = run(&spec("sleep 30", 60_000), &cancel, |_| {}, |_, _| {})
        .await
        .unwrap();
    assert_eq!(out.ending, Ending::Cancelled);
    assert!(out.elapsed < Duration::from_secs(2));
}

#[tokio::test]
async fn idle_limit_and_stdin() {
    let mut s = spec("cat; sleep 30", 60_000);
    s.stdin = Some("hello\n".into());
    s.idle_timeout = Some(Duration::from_millis(300));
    let out = run(&s, &CancellationToken::new(), |_| {}, |_, _| {})
        .await
        .unwrap();
    assert_eq!(out.ending, Ending::Idle);
    assert_eq!(out.stdout, "hello\n");
}

#[tokio::test]
async fn missing_program_is_a_spawn_error() {
    let mut s = spec("", 1000);
    s.program = "definitely-not-a-program-clk".into();
    s.args.clear();
    let e = run(&s, &CancellationToken::new(), |_| {}, |_, _| {})
        .await
        .unwrap_err();
    assert!(e.not_found);
}

#[tokio::test]
async fn invalid_utf8_does_not_stop_the_reader() {
    // 200 KB after a bad byte: a reader that gave up would block the child on the pipe.
    let cmd = "printf 'a\\377b\\n'; head -c 200000 /dev/zero | tr '\\0' x; echo; echo end";
    let lines = Mutex::new(Vec::new());
    let out = run(
        &spec(cmd, 5_000),
        &CancellationToken::new(),
        |_| {},
        |_, l| lines.lock().unwrap().push(l.to_string()),
    )
    .await
    .unwrap();
    assert_eq!(out.ending, Ending::Exited(Some(0)));
    let lines = lines.into_inner().unwrap();
    assert_eq!(lines.first().map(String::as_str), Some("a\u{FFFD}b"));
    assert!(
        out.truncated,
        "the 200 KB line is longer than the line limit"
    );
    assert_eq!(lines.last().map(String::as_str), Some("end"));
    assert!(out.stdout.ends_with("end\n"));
}

#[tokio::test]
async fn an_endless_line_keeps_memory_bounded() {
    let mut s = spec("head -c 50000000 /dev/zero", 20_000);
    s.max_line_bytes = 1024;
    let longest = std::sync::atomic::AtomicUsize::new(0);
    let out = run(
        &s,
        &CancellationToken::new(),
        |_| {},
        |_, l| {
            longest.fetch_max(l.len(), std::sync::atomic::Ordering::Relaxed);
        },
    )
    .await
    .unwrap();
    assert_eq!(out.ending, Ending::Exited(Some(0)));
    assert!(out.truncated);
    assert_eq!(longest.into_inner(), 1024);
}

#[test]
fn tails_are_bounded() {
    let mut b = String::new();
    for _ in 0..10_000 {
        push_tail(&mut b, "0123456789", 100);
    }
    trim_tail(&mut b, 100);
    assert!(b.len() <= 100);
}
