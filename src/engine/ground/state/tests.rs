use super::*;

#[test]
fn a_dispatch_folds_into_agent_and_totals() {
    let mut s = RunState::default();
    s.apply(&Event::DispatchStarted {
        agent: "engineer".into(),
        stage: None,
        run_id: "r".into(),
        provider: "shell".into(),
        objective: "x".into(),
        prompt_chars: 10,
        dry_run: false,
    });
    assert_eq!(s.agents["engineer"].status, AgentStatus::Working);
    s.apply(&Event::AgentOutput {
        agent: "engineer".into(),
        run_id: "r".into(),
        stream: crate::engine::ground::events::Stream::Model,
        line: "hello".into(),
    });
    s.apply(&Event::UsageRecorded {
        agent: "engineer".into(),
        run_id: "r".into(),
        provider: "shell".into(),
        model: String::new(),
        usage: Usage {
            input_tokens: 5,
            output_tokens: 7,
            ..Default::default()
        },
        cost_micros: 3,
        cost_basis: CostBasis::Table,
    });
    s.apply(&Event::DispatchFinished {
        agent: "engineer".into(),
        run_id: "r".into(),
        ok: true,
        error: None,
        error_kind: None,
        response_chars: 5,
        elapsed_ms: 1,
    });
    let a = &s.agents["engineer"];
    assert_eq!(a.status, AgentStatus::Done);
    assert_eq!(a.last_line, "hello");
    assert_eq!(a.bytes_received, 6);
    assert_eq!(s.totals.input_tokens, 5);
    assert_eq!(s.per_provider["shell"].cost_micros, 3);
    assert_eq!(s.per_agent["engineer"].output_tokens, 7);
    assert!(
        s.log
            .iter()
            .any(|l| l == "engineer: 5 tokens in, 7 out, <$0.0001")
    );
    assert_eq!(s.log.len(), 3);
}

#[test]
fn the_log_is_bounded() {
    let mut s = RunState::default();
    for i in 0..(LOG_CAPACITY + 10) {
        s.apply(&Event::Warning {
            message: i.to_string(),
        });
    }
    assert_eq!(s.log.len(), LOG_CAPACITY);
    assert_eq!(s.log.front().unwrap(), "warning: 10");
}

#[test]
fn a_rejected_settings_edit_stays_until_a_good_reload() {
    let mut s = RunState::default();
    let bad = Event::SettingsRejected {
        file: ".clk/config/clk.config.json".into(),
        line: Some(3),
        error: "EOF while parsing an object at line 3 column 0".into(),
    };
    s.apply(&bad);
    assert_eq!(
        s.settings_rejected.as_deref(),
        Some(".clk/config/clk.config.json line 3")
    );
    assert_eq!(
        describe(&bad).as_deref(),
        Some(
            ".clk/config/clk.config.json line 3: EOF while parsing an object at line 3 column 0; \
         the settings before this edit stay in force"
        )
    );
    let good = Event::SettingsReloaded {
        files: vec![".clk/config/clk.config.json".into()],
    };
    s.apply(&good);
    assert_eq!((s.settings_reloads, s.settings_rejected), (1, None));
    assert_eq!(
        describe(&good).as_deref(),
        Some("settings reloaded: .clk/config/clk.config.json")
    );
}

/// Two stages run at once: both agents show as working, each with its own last line, and one
/// finishing leaves the other working.
#[test]
fn two_agents_of_parallel_stages_work_at_the_same_time() {
    let mut s = RunState::default();
    for (agent, stage) in [("engineer", "left"), ("architect", "right")] {
        s.apply(&Event::StageStarted {
            workflow: "demo".into(),
            stage: stage.into(),
            agent: agent.into(),
        });
        s.apply(&Event::DispatchStarted {
            agent: agent.into(),
            stage: Some(stage.into()),
            run_id: format!("r-{agent}"),
            provider: "ollama".into(),
            objective: "x".into(),
            prompt_chars: 10,
            dry_run: false,
        });
    }
    for agent in ["engineer", "architect"] {
        s.apply(&Event::AgentOutput {
            agent: agent.into(),
            run_id: format!("r-{agent}"),
            stream: crate::engine::ground::events::Stream::Model,
            line: format!("{agent} writing"),
        });
    }
    assert_eq!(s.agents["engineer"].status, AgentStatus::Working);
    assert_eq!(s.agents["architect"].status, AgentStatus::Working);
    s.apply(&Event::DispatchFinished {
        agent: "engineer".into(),
        run_id: "r-engineer".into(),
        ok: true,
        error: None,
        error_kind: None,
        response_chars: 10,
        elapsed_ms: 5,
    });
    assert_eq!(s.agents["engineer"].status, AgentStatus::Done);
    assert_eq!(s.agents["architect"].status, AgentStatus::Working);
    assert_eq!(s.agents["architect"].last_line, "architect writing");
}

#[test]
fn gauntlet_steps_are_counted_and_described() {
    let ev = |step: &str, round| Event::Gauntlet {
        workflow: "w".into(),
        stage: "build".into(),
        step: step.into(),
        round,
        max_rounds: 3,
        ok: true,
        message: "revise, 1 material defect(s)".into(),
    };
    let mut s = RunState::default();
    for (step, round) in [
        ("key", 0),
        ("critique", 1),
        ("revision", 1),
        ("finished", 0),
    ] {
        s.apply(&ev(step, round));
    }
    // Dispatches only: the finished step is not one.
    assert_eq!(s.robustness.gauntlet_steps, 3);
    assert_eq!(
        describe(&ev("critique", 1)).as_deref(),
        Some("gauntlet build critique 1/3: revise, 1 material defect(s)")
    );
    assert_eq!(
        describe(&ev("verify", 0)).as_deref(),
        Some("gauntlet build verify: revise, 1 material defect(s)")
    );
}
