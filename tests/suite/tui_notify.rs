//! The dashboard's notices: the reducer hands each out once as `Effect::Notify` (a run's end,
//! a cap, a task that came to wait for approval; not what waited before the start, not again on
//! a second read or a tick), and the real binary in tmux rings the terminal's bell when its run
//! ends, and stays silent with `notify.bell` off.

use clk::engine::ground::events::Event;
use clk::engine::ground::task::TaskState;
use clk::engine::session::tasks::TaskRow;
use clk::tui::app::{Effect, Msg, update};

use super::tui_tmux::{Tmux, need_tmux, project};
use crate::support::tui::{state, tick};

fn row(id: i64, state: TaskState, title: &str) -> TaskRow {
    TaskRow {
        id,
        state,
        title: title.into(),
        agent: "engineer".into(),
        turns: 0,
        cost_micros: 0,
        reason: String::new(),
        files: 0,
    }
}

fn notices(effects: Vec<Effect>) -> Vec<String> {
    effects
        .into_iter()
        .filter_map(|e| match e {
            Effect::Notify(t) => Some(t),
            _ => None,
        })
        .collect()
}

#[test]
fn each_notice_is_handed_out_once_and_not_for_what_waited_before_the_start() {
    let mut s = state(100, 30);
    let before = vec![row(1, TaskState::Approval, "old work")];
    assert!(notices(update(&mut s, Msg::Tasks(Ok(before)))).is_empty());
    let now = vec![
        row(1, TaskState::Approval, "old work"),
        row(2, TaskState::Approval, "add a health endpoint"),
    ];
    assert_eq!(
        notices(update(&mut s, Msg::Tasks(Ok(now.clone())))),
        ["task 2 waits for approval: add a health endpoint"]
    );
    assert!(notices(update(&mut s, Msg::Tasks(Ok(now)))).is_empty());
    let done = Event::RunFinished {
        workflow: "engineering".into(),
        outcome: "done".into(),
        reason: String::new(),
        cycles: 1,
    };
    assert_eq!(
        notices(update(&mut s, Msg::Engine(done))),
        ["engineering run done"]
    );
    // Redraws and ticks hand out nothing.
    tick(&mut s, 5_000);
    crate::support::tui::draw_only(&mut s, 100, 30);
    assert!(
        notices(update(
            &mut s,
            Msg::Resize {
                width: 90,
                height: 30
            }
        ))
        .is_empty()
    );
    let cap = Event::BudgetStopped {
        agent: "engineer".into(),
        cap_key: "budget.session_usd_cap".into(),
        spent_micros: 9,
        cap_micros: 5,
        reason: "the session cap is reached".into(),
    };
    assert_eq!(notices(update(&mut s, Msg::Engine(cap.clone()))).len(), 1);
    assert!(notices(update(&mut s, Msg::Engine(cap))).is_empty());
}

/// A shell-provider agent that answers at once.
fn quick_agent(dir: &std::path::Path) -> std::path::PathBuf {
    let p = dir.join("agent.sh");
    std::fs::write(
        &p,
        "#!/bin/sh\ncat > /dev/null\nprintf 'Looked.\\nCONFIDENCE: 0.7\\nPROGRESS: yes\\n'\n",
    )
    .unwrap();
    let mut perm = std::fs::metadata(&p).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
    std::fs::set_permissions(&p, perm).unwrap();
    p
}

/// Run one idea in the dashboard in tmux with `notify.bell` as given; whether the bell rang.
fn bell_after_a_run(name: &str, bell: bool) -> bool {
    let dir = project();
    let script = quick_agent(dir.path());
    let t = Tmux::start(name);
    t.line(&format!(
        "cd '{}' && CLK_NOTIFY_BELL={bell} CLK_NOTIFY_DESKTOP=false CLK_SHELL_COMMAND='{}' \
         CLK_SUPERVISE_MAX_CYCLES=1 {}",
        dir.path().display(),
        script.display(),
        env!("CARGO_BIN_EXE_clk")
    ));
    t.wait_for("type your idea", 20);
    assert!(!t.bell(), "a bell before anything happened");
    t.line("Add a hello() function to greeter.py");
    t.wait("the run to finish", 120, |s| {
        s.contains("next: /loop ralph 5")
    });
    // The bell goes out with the run's end; give tmux a moment to mark it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    while !t.bell() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let rang = t.bell();
    t.line("/quit");
    t.wait_prompt(10);
    rang
}

#[test]
fn the_dashboard_rings_the_bell_when_a_run_ends_and_not_with_the_bell_off() {
    need_tmux!();
    assert!(
        bell_after_a_run("bell-on", true),
        "no bell at the run's end"
    );
    assert!(
        !bell_after_a_run("bell-off", false),
        "a bell with notify.bell off"
    );
}
