use super::*;
use crate::engine::ground::config::Env;
use crate::engine::ground::pricing::{ModelPrice, Price};
use crate::engine::store::records::Tally;

/// Caps in force for `p`, in its clk.config.json too, where a reached cap is read again.
fn set_caps(p: &mut crate::engine::store::workspace::Project, caps: BudgetConfig) {
    let doc = serde_json::json!({ "budget": caps });
    std::fs::write(p.ws.config_file(), doc.to_string()).unwrap();
    p.config.budget = caps;
}

fn cfg(session_usd: f64, agents: &[(&str, f64)]) -> BudgetConfig {
    BudgetConfig {
        session_usd_cap: session_usd,
        agent_usd_caps: agents.iter().map(|(a, v)| (a.to_string(), *v)).collect(),
        ..Default::default()
    }
}

fn totals(session_micros: u64, agents: &[(&str, u64)]) -> UsageTotals {
    let tally = |micros| Tally {
        cost_micros: micros,
        dispatches: 1,
        ..Default::default()
    };
    UsageTotals {
        total: tally(session_micros),
        agents: agents
            .iter()
            .map(|(a, m)| (a.to_string(), tally(*m)))
            .collect(),
        ..Default::default()
    }
}

fn price(input_usd: f64, output_usd: f64) -> Price {
    ModelPrice {
        input_per_mtok: input_usd,
        output_per_mtok: output_usd,
        cached_input_per_mtok: None,
    }
    .to_price()
    .unwrap()
}

#[test]
fn zero_caps_are_off() {
    let c = cfg(0.0, &[("qa", 0.0)]);
    assert!(!any_caps(&c));
    assert!(reached(&c, &totals(u64::MAX, &[("qa", u64::MAX)]), "qa").is_empty());
}

#[test]
fn a_cap_is_reached_at_equal_spend_and_names_its_setting() {
    let c = cfg(1.0, &[("qa", 0.25)]);
    assert!(reached(&c, &totals(999_999, &[("qa", 0)]), "qa").is_empty());
    let b = reached(&c, &totals(1_000_000, &[("qa", 250_000)]), "qa");
    assert_eq!(b.len(), 2);
    assert_eq!(b[0].cap_key, "budget.session_usd_cap");
    assert_eq!(b[1].cap_key, "budget.agent_usd_caps.qa");
    // Another agent's cap does not stop qa.
    let b = reached(&c, &totals(0, &[("engineer", 9_000_000)]), "engineer");
    assert!(b.is_empty());
    let why = reached(&c, &totals(0, &[("qa", 300_000)]), "qa")[0].reason();
    assert!(
        why.starts_with("qa's spend $0.30 reached the $0.25 cap"),
        "{why}"
    );
    assert!(
        why.contains("clk configure --set budget.agent_usd_caps.qa=USD"),
        "{why}"
    );
}

#[test]
fn only_the_dispatch_that_crossed_a_cap_reports_it() {
    let c = cfg(1.0, &[]);
    let after = totals(1_200_000, &[]);
    assert_eq!(newly_reached(&c, &after, "qa", 300_000).len(), 1);
    assert!(newly_reached(&c, &after, "qa", 100_000).is_empty());
}

#[test]
fn a_fanout_estimate_prices_the_worst_case_of_every_sample() {
    // 4,000 chars -> 1,000 input tokens at $3/M = 3,000 micros; 2,000 output at $15/M =
    // 30,000 micros; five samples.
    let q = Quote::Priced {
        price: price(3.0, 15.0),
        basis: CostBasis::Table,
    };
    assert_eq!(fanout_worst_case(q, 4_000, 5, 2_000), Some(165_000));
    assert_eq!(fanout_worst_case(q, 4_001, 1, 0), Some(3_003));
    assert_eq!(fanout_worst_case(Quote::Free, 4_000, 5, 2_000), Some(0));
    assert_eq!(fanout_worst_case(Quote::Unknown, 4_000, 5, 2_000), None);
}

#[test]
fn a_fanout_the_budget_cannot_cover_is_refused() {
    let q = Quote::Priced {
        price: price(3.0, 15.0),
        basis: CostBasis::Table,
    };
    let worst = fanout_worst_case(q, 40_000, 6, 4_096);
    // 10,000 in (30,000 micros) + 4,096 out (61,440 micros) = 91,440 per sample, 548,640 all.
    assert_eq!(worst, Some(548_640));
    let c = cfg(1.0, &[]);
    // $0.50 spent: $0.50 left, not enough for $0.5486.
    let e = fanout_verdict(&c, &totals(500_000, &[]), "qa", 6, worst).unwrap_err();
    assert!(e.contains("6-sample consensus"), "{e}");
    assert!(e.contains("$0.5486") && e.contains("$0.50 is left"), "{e}");
    // $0.40 spent: $0.60 left covers it.
    assert!(fanout_verdict(&c, &totals(400_000, &[]), "qa", 6, worst).is_ok());
    // An agent cap refuses on its own.
    let c = cfg(0.0, &[("qa", 0.5)]);
    assert!(fanout_verdict(&c, &totals(0, &[]), "qa", 6, worst).is_err());
    assert!(fanout_verdict(&c, &totals(0, &[]), "engineer", 6, worst).is_ok());
    // Free and unknown prices are not refused.
    assert!(fanout_verdict(&c, &totals(0, &[("qa", 500_000)]), "qa", 6, Some(0)).is_ok());
    assert!(fanout_verdict(&c, &totals(0, &[("qa", 900_000)]), "qa", 6, None).is_ok());
}

#[tokio::test]
async fn headless_refuses_a_dispatch_past_the_cap_with_an_event() {
    let dir = tempfile::tempdir().unwrap();
    crate::engine::store::init::init(dir.path(), Some("t")).unwrap();
    let mut p = crate::engine::store::workspace::Workspace::new(dir.path())
        .load(&Env::none())
        .unwrap();
    set_caps(&mut p, cfg(0.001, &[]));
    let bus = Bus::new(None);
    let mut rx = bus.subscribe();
    assert!(before_dispatch(&p, &bus, "qa").await.is_ok());
    let cost = pricing::Cost {
        micros: 1_000,
        basis: CostBasis::Configured,
    };
    let after = UsageTotals::record(&p.ws, "shell", "qa", &Default::default(), cost).unwrap();
    after_dispatch(&p, &bus, "qa", "shell", "", cost, &after);
    match rx.try_recv().unwrap() {
        Event::BudgetReached { cap_key, .. } => assert_eq!(cap_key, "budget.session_usd_cap"),
        other => panic!("{other:?}"),
    }
    let stop = before_dispatch(&p, &bus, "engineer").await.unwrap_err();
    assert!(
        stop.to_string()
            .starts_with("stopped by the budget: session spend $0.001")
    );
    // Asked, answered no at once by the headless bus, then stopped.
    match rx.try_recv().unwrap() {
        Event::ConfirmRequested { question, .. } => {
            assert!(question.ends_with("Let engineer make one more model call anyway? (y/N)"))
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        rx.try_recv().unwrap(),
        Event::ConfirmAnswered { approve: false, .. }
    ));
    match rx.try_recv().unwrap() {
        Event::BudgetStopped { agent, reason, .. } => {
            assert_eq!(agent, "engineer");
            assert_eq!(reason, stop.reason);
        }
        other => panic!("{other:?}"),
    }
}

/// Wait for the next question on the bus and answer it.
async fn answer_next(bus: &Bus, rx: &mut tokio::sync::broadcast::Receiver<Event>, yes: bool) {
    loop {
        if let Event::ConfirmRequested { id, .. } = rx.recv().await.unwrap() {
            assert!(bus.answer(id, yes));
            return;
        }
    }
}

#[tokio::test]
async fn an_interactive_user_is_asked_every_time_and_decides() {
    let dir = tempfile::tempdir().unwrap();
    crate::engine::store::init::init(dir.path(), Some("t")).unwrap();
    let mut p = crate::engine::store::workspace::Workspace::new(dir.path())
        .load(&Env::none())
        .unwrap();
    set_caps(&mut p, cfg(0.0, &[("qa", 0.001)]));
    let cost = pricing::Cost {
        micros: 5_000,
        basis: CostBasis::Reported,
    };
    UsageTotals::record(&p.ws, "api", "qa", &Default::default(), cost).unwrap();
    let bus = Bus::new(None);
    bus.set_interactive(true);
    let mut rx = bus.subscribe();
    // Yes lets this one dispatch go ahead, and says so.
    let (go, ()) = tokio::join!(
        before_dispatch(&p, &bus, "qa"),
        answer_next(&bus, &mut rx, true)
    );
    assert!(go.is_ok());
    let mut approved = false;
    while let Ok(ev) = rx.try_recv() {
        approved |= matches!(ev, Event::BudgetOverrideApproved { ref cap_key, .. }
            if cap_key == "budget.agent_usd_caps.qa");
    }
    assert!(approved);
    // The next dispatch asks again; no stops it.
    let (stop, ()) = tokio::join!(
        before_dispatch(&p, &bus, "qa"),
        answer_next(&bus, &mut rx, false)
    );
    assert!(
        stop.unwrap_err()
            .reason
            .contains("budget.agent_usd_caps.qa")
    );
    // Another agent is not asked at all.
    assert!(before_dispatch(&p, &bus, "engineer").await.is_ok());
}

#[test]
fn caps_set_for_the_session_override_the_config_and_0_turns_one_off() {
    let bus = Bus::new(None);
    let base = cfg(2.0, &[("qa", 1.0)]);
    assert_eq!(live(&base, &bus), base);
    bus.set_cap("budget.session_usd_cap", 0.0);
    bus.set_cap("budget.agent_usd_caps.engineer", 0.5);
    let now = live(&base, &bus);
    assert_eq!(now, cfg(0.0, &[("qa", 1.0), ("engineer", 0.5)]));
    let spent = totals(3_000_000, &[("engineer", 600_000)]);
    assert!(reached(&base, &spent, "engineer").len() == 1);
    let hit = reached(&now, &spent, "engineer");
    assert_eq!(hit.len(), 1);
    assert_eq!(hit[0].cap_key, "budget.agent_usd_caps.engineer");
}

#[tokio::test]
async fn the_budget_question_names_the_agent_it_is_about() {
    let dir = tempfile::tempdir().unwrap();
    crate::engine::store::init::init(dir.path(), Some("t")).unwrap();
    let mut p = crate::engine::store::workspace::Workspace::new(dir.path())
        .load(&Env::none())
        .unwrap();
    set_caps(&mut p, cfg(0.0, &[("qa", 0.000_001)]));
    let spent = pricing::Cost {
        micros: 10,
        basis: CostBasis::Configured,
    };
    UsageTotals::record(&p.ws, "shell", "qa", &Default::default(), spent).unwrap();
    let bus = Bus::new(None);
    let mut rx = bus.subscribe();
    assert!(before_dispatch(&p, &bus, "qa").await.is_err());
    match rx.try_recv().unwrap() {
        Event::ConfirmRequested { about, .. } => assert_eq!(about.as_deref(), Some("qa")),
        other => panic!("{other:?}"),
    }
}
