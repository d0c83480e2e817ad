use super::*;

fn no_env(_: &str) -> Option<String> {
    None
}

#[test]
fn a_partial_nested_block_keeps_the_other_defaults() {
    let user = serde_json::json!({"supervise": {"max_cycles": 1}});
    let c = ClkConfig::from_json_with_env(Some(&user), &no_env).unwrap();
    assert_eq!(c.supervise.max_cycles, 1);
    assert_eq!(
        c.supervise.max_consecutive_no_progress,
        SuperviseConfig::default().max_consecutive_no_progress
    );
    assert!(c.supervise.stall_rescue);
}

#[test]
fn env_wins_over_the_file() {
    let user = serde_json::json!({"supervise": {"max_cycles": 1}});
    let env = |k: &str| (k == "CLK_SUPERVISE_MAX_CYCLES").then(|| "7".to_string());
    let c = ClkConfig::from_json_with_env(Some(&user), &env).unwrap();
    assert_eq!(c.supervise.max_cycles, 7);
}

/// Every key of robustness.* and consensus.* has a `CLK_*` override that changes it.
#[test]
fn every_robustness_and_consensus_key_has_an_env_override() {
    let defaults = serde_json::to_value(ClkConfig::default()).unwrap();
    let mut checked = 0;
    for (key, value) in keys::leaves(&defaults) {
        if !(key.starts_with("robustness.") || key.starts_with("consensus.")) {
            continue;
        }
        let other = match (key.as_str(), &value) {
            ("robustness.auto_consensus", _) => "always".to_string(),
            ("robustness.auto_refine", _) => "all".to_string(),
            ("robustness.plateau_action", _) => "off".to_string(),
            (_, serde_json::Value::Number(n)) if n.is_u64() => {
                (n.as_u64().unwrap() + 1).to_string()
            }
            (_, serde_json::Value::Number(n)) => (n.as_f64().unwrap() / 2.0).to_string(),
            (k, v) => panic!("{k} = {v}: add a value for this key to the test"),
        };
        let name = keys::env_name(&key);
        assert!(name.starts_with("CLK_ROBUSTNESS_") || name.starts_with("CLK_CONSENSUS_"));
        let env = |k: &str| (k == name).then(|| other.clone());
        let c = ClkConfig::from_json_with_env(None, &env)
            .unwrap_or_else(|e| panic!("{name}={other}: {e}"));
        let got = serde_json::to_value(&c).unwrap();
        assert_ne!(
            keys::get_path(&got, &key),
            Some(&value),
            "{name}={other} changed nothing"
        );
        checked += 1;
    }
    assert_eq!(
        checked, 12,
        "a key was added or removed: keep this test in step"
    );
}

#[test]
fn zero_timeout_is_refused_with_the_fix() {
    let user = serde_json::json!({"provider_timeout_s": 0});
    let e = ClkConfig::from_json_with_env(Some(&user), &no_env).unwrap_err();
    assert!(e.to_string().contains("clk configure --set"), "{e}");
}

#[test]
fn a_gauntlet_budget_of_zero_is_refused_and_says_how_to_turn_it_off() {
    let user = serde_json::json!({"gauntlet": {"budget": 0}});
    let e = ClkConfig::from_json_with_env(Some(&user), &no_env).unwrap_err();
    assert!(e.to_string().contains("gauntlet.enabled=false"), "{e}");
}

#[test]
fn budget_caps_come_from_the_file_and_the_environment() {
    let user = serde_json::json!({"budget": {"agent_usd_caps": {"qa": 0.5}}});
    let env = |k: &str| match k {
        "CLK_BUDGET_SESSION_USD_CAP" => Some("2.5".to_string()),
        _ => None,
    };
    let c = ClkConfig::from_json_with_env(Some(&user), &env).unwrap();
    assert_eq!(c.budget.session_usd_cap, 2.5);
    assert_eq!(c.budget.agent_usd_caps["qa"], 0.5);
    let env =
        |k: &str| (k == "CLK_BUDGET_AGENT_USD_CAPS").then(|| "engineer=1.25, chief=3".to_string());
    let c = ClkConfig::from_json_with_env(Some(&user), &env).unwrap();
    assert_eq!(
        c.budget.agent_usd_caps.len(),
        2,
        "the variable replaces the file's map"
    );
    assert_eq!(c.budget.agent_usd_caps["engineer"], 1.25);
    assert_eq!(c.budget.agent_usd_caps["chief"], 3.0);
    let env = |k: &str| (k == "CLK_BUDGET_AGENT_USD_CAPS").then(|| "engineer".to_string());
    let e = ClkConfig::from_json_with_env(None, &env)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("CLK_BUDGET_AGENT_USD_CAPS") && e.contains("agent=usd"),
        "{e}"
    );
    let user = serde_json::json!({"budget": {"session_usd_cap": -1}});
    let e = ClkConfig::from_json_with_env(Some(&user), &no_env)
        .unwrap_err()
        .to_string();
    assert!(e.contains("budget.session_usd_cap"), "{e}");
    let user = serde_json::json!({"budget": {"agent_usd_caps": {"qa": "lots"}}});
    let e = ClkConfig::from_json_with_env(Some(&user), &no_env)
        .unwrap_err()
        .to_string();
    assert!(e.contains("budget.agent_usd_caps.qa"), "{e}");
}

#[test]
fn a_wrong_type_names_the_key() {
    let user = serde_json::json!({"supervise": {"max_cycles": "many"}});
    let e = ClkConfig::from_json_with_env(Some(&user), &no_env).unwrap_err();
    assert!(e.to_string().contains("max_cycles"), "{e}");
}

/// The words of every choice key, as the file on disk spells them: each one loads, and the
/// config writes it back unchanged.
#[test]
fn every_choice_word_loads_and_writes_back_the_same() {
    fn round_trip<C: choices::Choice>() -> usize {
        for c in C::ALL {
            let word = choices::word(*c);
            let mut user = serde_json::json!({});
            keys::set_path(&mut user, C::KEY, serde_json::json!(word));
            let cfg = ClkConfig::from_json_with_env(Some(&user), &no_env)
                .unwrap_or_else(|e| panic!("{}={word}: {e}", C::KEY));
            let back = serde_json::to_value(&cfg).unwrap();
            assert_eq!(
                keys::get_path(&back, C::KEY),
                Some(&serde_json::json!(word))
            );
        }
        C::ALL.len()
    }
    let words = round_trip::<AutoConsensus>()
        + round_trip::<AutoRefine>()
        + round_trip::<PlateauAction>()
        + round_trip::<RollbackOnFailure>();
    assert_eq!(words, 11);
    let defaults = serde_json::to_value(ClkConfig::default()).unwrap();
    for (key, word) in [
        ("robustness.auto_consensus", "on_careful"),
        ("robustness.auto_refine", "careful_only"),
        ("robustness.plateau_action", "escalate_then_reframe"),
        ("validation.rollback_on_failure", "careful"),
    ] {
        assert_eq!(
            keys::get_path(&defaults, key),
            Some(&serde_json::json!(word))
        );
    }
}

/// A word a choice key does not take is one line naming the key and the words it takes, from
/// the file and from the environment alike; it never falls back to a default.
#[test]
fn a_word_a_choice_key_does_not_take_names_the_key_and_the_words() {
    for (key, words) in [
        ("robustness.auto_consensus", "off, on_careful, always"),
        ("robustness.auto_refine", "off, careful_only, all"),
        ("robustness.plateau_action", "escalate_then_reframe, off"),
        ("validation.rollback_on_failure", "never, careful, always"),
    ] {
        let mut user = serde_json::json!({});
        keys::set_path(&mut user, key, serde_json::json!("Sometimes"));
        let e = ClkConfig::from_json_with_env(Some(&user), &no_env)
            .unwrap_err()
            .to_string();
        assert_eq!(e, format!("{key} is \"Sometimes\"; use one of: {words}"));
        let name = keys::env_name(key);
        let env = |k: &str| (k == name).then(|| "nope".to_string());
        let e = ClkConfig::from_json_with_env(None, &env)
            .unwrap_err()
            .to_string();
        assert_eq!(e, format!("{key} is \"nope\"; use one of: {words}"));
    }
}

#[test]
fn sandbox_takes_a_bare_word_or_a_block() {
    use serde_json::json;
    let d = ClkConfig::default().sandbox;
    assert_eq!((d.mode, d.network), (SandboxMode::Auto, true));
    let off = ClkConfig::from_json_with_env(Some(&json!({"sandbox": "off"})), &no_env).unwrap();
    assert_eq!(off.sandbox.mode, SandboxMode::Off);
    assert_eq!(off.sandbox.max_processes, d.max_processes);
    let block = json!({"sandbox": {"network": false}});
    let c = ClkConfig::from_json_with_env(Some(&block), &no_env).unwrap();
    assert_eq!(
        (c.sandbox.mode, c.sandbox.network),
        (SandboxMode::Auto, false)
    );
    let e = ClkConfig::from_json_with_env(Some(&json!({"sandbox": "sometimes"})), &no_env)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("sandbox.mode") && e.contains("auto, bubblewrap, landlock, off"),
        "{e}"
    );
}

#[test]
fn task_limits_of_zero_are_refused_with_what_they_mean() {
    for (block, says) in [
        (
            serde_json::json!({"max_concurrent": 0}),
            "tasks.max_concurrent must be at least 1",
        ),
        (
            serde_json::json!({"max_turns": 0}),
            "tasks.max_turns must be at least 1",
        ),
        (serde_json::json!({"max_review_rounds": 0}), "--flow solo"),
    ] {
        let user = serde_json::json!({ "tasks": block });
        let e = ClkConfig::from_json_with_env(Some(&user), &no_env).unwrap_err();
        assert!(e.to_string().contains(says), "{e}");
    }
    let user = serde_json::json!({"tasks": {"max_concurrent": 1, "max_turns": 1}});
    assert!(ClkConfig::from_json_with_env(Some(&user), &no_env).is_ok());
}
