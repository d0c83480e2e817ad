use super::*;

fn store() -> (tempfile::TempDir, SqliteStore) {
    let d = tempfile::tempdir().unwrap();
    let s = SqliteStore::open(&d.path().join("state").join("clk.db")).unwrap();
    (d, s)
}

fn new(prompt: &str) -> NewTask {
    NewTask {
        prompt: prompt.into(),
        flow: "duo".into(),
        agent: "engineer".into(),
        autonomy: "balanced".into(),
        requested_by: "cli".into(),
    }
}

#[test]
fn migrates_once_and_reopens() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("clk.db");
    let s = SqliteStore::open(&path).unwrap();
    assert_eq!(s.version().unwrap() as usize, schema::MIGRATIONS.len());
    s.add(&new("a")).unwrap();
    drop(s);
    let s = SqliteStore::open(&path).unwrap();
    assert_eq!(s.version().unwrap() as usize, schema::MIGRATIONS.len());
    assert_eq!(s.list().unwrap().len(), 1);
}

/// Several processes (here threads, each with its own connection) opening a new database at
/// the same moment all succeed, and the schema is applied once.
#[test]
fn many_first_opens_at_once_migrate_once() {
    for _ in 0..10 {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("clk.db");
        let gate = std::sync::Arc::new(std::sync::Barrier::new(6));
        let opens: Vec<_> = (0..6)
            .map(|_| {
                let (path, gate) = (path.clone(), gate.clone());
                std::thread::spawn(move || {
                    gate.wait();
                    SqliteStore::open(&path).map(|s| s.version().unwrap())
                })
            })
            .collect();
        for o in opens {
            let v = o.join().unwrap().unwrap();
            assert_eq!(v as usize, schema::MIGRATIONS.len());
        }
        let c = rusqlite::Connection::open(&path).unwrap();
        let rows: i64 = c
            .query_row("SELECT COUNT(*) FROM schema_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows as usize, schema::MIGRATIONS.len());
    }
}

#[test]
fn refuses_a_newer_schema() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("clk.db");
    drop(SqliteStore::open(&path).unwrap());
    let c = rusqlite::Connection::open(&path).unwrap();
    c.execute(
        "INSERT INTO schema_version (version, applied_at) VALUES (99, 'x')",
        [],
    )
    .unwrap();
    drop(c);
    let e = SqliteStore::open(&path).err().unwrap();
    assert!(e.message.contains("newer than this clk knows"), "{e}");
}

#[test]
fn add_list_get_and_moves() {
    let (_d, s) = store();
    let a = s.add(&new("first")).unwrap();
    let b = s.add(&new("second")).unwrap();
    assert_eq!((a.id, b.id), (1, 2));
    assert_eq!(a.state, TaskState::Queued);
    let m = Move {
        id: a.id,
        from: &[TaskState::Queued],
        to: TaskState::Running,
        reason: "",
    };
    assert!(s.move_state(&m, 42).unwrap());
    // A second claim of the same task fails: it is no longer queued.
    assert!(!s.move_state(&m, 43).unwrap());
    let a = s.get(a.id).unwrap().unwrap();
    assert_eq!((a.state, a.lease_pid), (TaskState::Running, 42));
    assert!(!a.started_at.is_empty());
    let done = Move {
        id: a.id,
        from: &[TaskState::Running],
        to: TaskState::Merged,
        reason: "fast-forward",
    };
    assert!(s.move_state(&done, 42).unwrap());
    let a = s.get(a.id).unwrap().unwrap();
    assert_eq!((a.state, a.lease_pid), (TaskState::Merged, 0));
    assert!(!a.finished_at.is_empty());
    let tl: Vec<String> = s
        .timeline(a.id)
        .unwrap()
        .into_iter()
        .map(|e| e.text)
        .collect();
    assert_eq!(
        tl,
        vec![
            "queued by cli",
            "queued → running",
            "running → merged: fast-forward"
        ]
    );
    assert_eq!(s.get(99).unwrap(), None);
}

#[test]
fn turns_sum_into_task_and_day() {
    let (_d, s) = store();
    let a = s.add(&new("x")).unwrap();
    for n in 1..=3 {
        // A turn counts when it is reserved, before its dispatch; its cost when recorded.
        assert!(s.reserve_turn(a.id, 3, 0).unwrap());
        s.record_turn(
            a.id,
            &TurnRecord {
                n,
                role: "implementer".into(),
                cost_micros: 250,
                ok: true,
                ..Default::default()
            },
        )
        .unwrap();
    }
    assert!(
        !s.reserve_turn(a.id, 3, 0).unwrap(),
        "the cap of 3 is reached"
    );
    assert!(s.reserve_start(1).unwrap());
    assert!(!s.reserve_start(1).unwrap(), "one start allowed");
    let a = s.get(a.id).unwrap().unwrap();
    assert_eq!((a.turns, a.cost_micros), (3, 750));
    assert_eq!(s.turns(a.id).unwrap().len(), 3);
    let day = s.day_usage(&today()).unwrap();
    assert_eq!(
        day,
        DayUsage {
            tasks_started: 1,
            turns: 3,
            cost_micros: 750,
            next_turn_micros: Some(250),
            ..DayUsage::default()
        }
    );
    let other_day = s.day_usage("1999-01-01").unwrap();
    assert_eq!(
        other_day,
        DayUsage {
            next_turn_micros: Some(250),
            ..DayUsage::default()
        },
        "nothing used that day; the estimate is the same"
    );
}

#[test]
fn files_and_heartbeat() {
    let (_d, s) = store();
    let a = s.add(&new("x")).unwrap();
    s.set_predicted(a.id, &["a.rs".into()]).unwrap();
    s.set_touched(a.id, &["b.rs".into(), "a.rs".into()])
        .unwrap();
    let a = s.get(a.id).unwrap().unwrap();
    assert_eq!(a.files(), vec!["a.rs", "b.rs"]);
    s.move_state(
        &Move {
            id: a.id,
            from: &[TaskState::Queued],
            to: TaskState::Running,
            reason: "",
        },
        7,
    )
    .unwrap();
    let before = s.get(a.id).unwrap().unwrap().lease_heartbeat;
    std::thread::sleep(std::time::Duration::from_millis(5));
    s.heartbeat(7).unwrap();
    assert_ne!(s.get(a.id).unwrap().unwrap().lease_heartbeat, before);
}

#[test]
fn known_secrets_never_reach_the_file() {
    let secret = "taskstore-secret-7f3a9c21e";
    crate::engine::ground::redact::register(secret);
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("clk.db");
    let s = SqliteStore::open(&path).unwrap();
    let a = s
        .add(&new(&format!("use the key {secret} to deploy")))
        .unwrap();
    s.log(a.id, "note", &format!("saw {secret}")).unwrap();
    s.move_state(
        &Move {
            id: a.id,
            from: &[TaskState::Queued],
            to: TaskState::Failed,
            reason: &format!("the check printed {secret}"),
        },
        1,
    )
    .unwrap();
    let a = s.get(a.id).unwrap().unwrap();
    assert!(
        !a.prompt.contains(secret) && !a.reason.contains(secret),
        "{a:?}"
    );
    drop(s);
    for f in ["clk.db", "clk.db-wal"] {
        let bytes = std::fs::read(d.path().join(f)).unwrap_or_default();
        assert!(!String::from_utf8_lossy(&bytes).contains(secret), "{f}");
    }
}

#[test]
fn a_version_1_database_gains_progress_and_keeps_its_tasks() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("clk.db");
    let c = rusqlite::Connection::open(&path).unwrap();
    c.execute_batch(
        "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)",
    )
    .unwrap();
    c.execute_batch(schema::MIGRATIONS[0]).unwrap();
    c.execute_batch(
        "INSERT INTO schema_version VALUES (1, 'x');
         INSERT INTO tasks (prompt, flow, agent, autonomy, state, created_at, updated_at)
           VALUES ('old', 'duo', 'engineer', 'safe', 'approval', 'x', 'x');",
    )
    .unwrap();
    drop(c);
    let s = SqliteStore::open(&path).unwrap();
    assert_eq!(s.version().unwrap() as usize, schema::MIGRATIONS.len());
    assert_eq!(s.progress(1).unwrap(), Progress::default());
    assert_eq!(s.add_runtime(1, 1500).unwrap(), 1500);
    assert_eq!(s.add_runtime(1, 700).unwrap(), 2200);
    assert_eq!(s.progress(1).unwrap().runtime_ms, 2200);
    s.set_checkpoint(1, "plan").unwrap();
    s.set_handoff(1, r#"{"summary": "x"}"#).unwrap();
    s.approve_at(1, "plan", "ann (cli)", "ok").unwrap();
    s.approve(1, "ann (cli)", "").unwrap();
    let p = s.progress(1).unwrap();
    assert_eq!(
        (p.checkpoint.as_str(), p.handoff.as_str(), p.approved),
        ("plan", r#"{"summary": "x"}"#, vec!["plan".to_string()])
    );
    let tl: Vec<String> = s.timeline(1).unwrap().into_iter().map(|e| e.text).collect();
    assert!(
        tl[0].starts_with("checkpoint plan approved by ann (cli) at 20"),
        "{tl:?}"
    );
    assert!(tl[0].ends_with(": ok"), "{tl:?}");
    assert!(
        tl[1].starts_with("its merge approved by ann (cli) at "),
        "{tl:?}"
    );
}

#[test]
fn a_turn_holds_its_estimate_until_its_cost_is_kept_or_its_task_stops() {
    let (_d, s) = store();
    let ids: Vec<i64> = (0..3)
        .map(|i| s.add(&new(&i.to_string())).unwrap().id)
        .collect();
    let turn = |cost| TurnRecord {
        n: 1,
        cost_micros: cost,
        ..Default::default()
    };
    // Before any turn is known, one runs at a time under a USD cap.
    assert!(s.reserve_turn(ids[0], 0, 1_000).unwrap());
    assert!(
        !s.reserve_turn(ids[1], 0, 1_000).unwrap(),
        "cost unknown yet"
    );
    s.record_turn(ids[0], &turn(300)).unwrap();
    let used = s.day_usage(&today()).unwrap();
    assert_eq!((used.cost_micros, used.reserved_turns), (300, 0));
    assert_eq!(used.next_turn_micros, Some(300));
    // $300 spent; each turn holds $300: two more fit (900), a third would pass 1000.
    assert!(s.reserve_turn(ids[1], 0, 1_000).unwrap());
    assert!(s.reserve_turn(ids[2], 0, 1_000).unwrap());
    assert!(!s.reserve_turn(ids[0], 0, 1_000).unwrap(), "1200 > 1000");
    let used = s.day_usage(&today()).unwrap();
    assert_eq!((used.reserved_micros, used.reserved_turns), (600, 2));
    // A task that stops running gives its hold back; the next turn fits again.
    s.move_state(
        &Move {
            id: ids[2],
            from: &[TaskState::Queued],
            to: TaskState::Held,
            reason: "",
        },
        1,
    )
    .unwrap();
    let used = s.day_usage(&today()).unwrap();
    assert_eq!((used.reserved_micros, used.reserved_turns), (300, 1));
    assert!(s.reserve_turn(ids[0], 0, 1_000).unwrap());
    s.record_turn(ids[1], &turn(300)).unwrap();
    s.record_turn(ids[0], &turn(300)).unwrap();
    let used = s.day_usage(&today()).unwrap();
    assert_eq!((used.cost_micros, used.reserved_micros), (900, 0));
    assert!(
        !s.reserve_turn(ids[1], 0, 1_000).unwrap(),
        "900 + 300 > 1000"
    );
    assert!(s.reserve_turn(ids[1], 0, 0).unwrap(), "no cap");
}
