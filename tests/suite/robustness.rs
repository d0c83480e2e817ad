//! The robustness loops against the mock model server: a malformed reply repaired on retry,
//! a low-confidence reply escalated to consensus, a refusal not retried, six samples four at a
//! time, a critic that asks for two revisions, a PROPOSE_CONSENSUS, and the all-off setting
//! that costs one call per stage. Each test counts the model calls the mock recorded.

use crate::support;

use std::fs;

use support::mock_project::*;
use support::mock_server::{MockServer, Reply, Script};

const ONE_STAGE: &str = r#"
name: demo
stages:
  - id: build
    agent: engineer
    objective: Write app.txt.
"#;

fn quality_off_env() -> Vec<(&'static str, &'static str)> {
    vec![("CLK_ROBUSTNESS_AUTO_REFINE", "off")]
}

#[tokio::test]
async fn a_malformed_action_is_repaired_on_retry_and_only_the_repair_is_applied() {
    let (_top, dir) = new_dir();
    // Two ACTION blocks without END_ACTION: the first attempt must not touch the project.
    let broken = "Writing the app now.\nACTION: write\nPATH: app.txt\nCONTENT:\nfirst try\n\
                  ACTION: write\nPATH: other.txt\nCONTENT:\nstray\n";
    let fixed = "Wrote the app.\nACTION: write\nPATH: app.txt\nCONTENT:\nrepaired\nEND_ACTION\n\
                 CONFIDENCE: 0.9\n";
    let mock = MockServer::start(Script::new(vec![Reply::text(broken), Reply::text(fixed)]));
    let p = project(&dir, &mock, &quality_off_env());
    let report = pass(&p, &workflow(&p, ONE_STAGE)).await;
    assert!(report.made_progress(), "{report:?}");
    assert_eq!(mock.model_calls(), 2);
    assert_eq!(
        fs::read_to_string(dir.join("app.txt")).unwrap(),
        "repaired\n"
    );
    assert!(
        !dir.join("other.txt").exists(),
        "the turned-down reply was applied"
    );
    let retry = named(&p, "quality_retry");
    assert_eq!(retry.len(), 1);
    assert_eq!(retry[0]["attempt"], 1);
    assert!(
        retry[0]["reasons"][0]
            .as_str()
            .unwrap()
            .contains("ACTION block is malformed"),
        "{retry:?}"
    );
    let second = &prompts(&mock)[1];
    assert!(second.contains("turned down by the harness's quality check"));
    assert!(second.contains("Original objective:\nWrite app.txt."));
    let applied: Vec<bool> = run_metas(&p)
        .iter()
        .map(|m| m["applied"].as_bool().unwrap())
        .collect();
    assert_eq!(applied, [false, true]);
    // The commit is titled with what was asked, not with the repair instructions.
    let subject = std::process::Command::new("git")
        .args(["log", "-1", "--format=%s"])
        .current_dir(&dir)
        .output()
        .unwrap();
    let subject = String::from_utf8_lossy(&subject.stdout);
    assert!(subject.contains("] update app.txt"), "{subject}");
}

#[tokio::test]
async fn a_low_confidence_reply_escalates_to_consensus_and_the_merge_is_applied() {
    let (_top, dir) = new_dir();
    let unsure = "I think app.txt should say hi, not sure.\nACTION: write\nPATH: app.txt\n\
                  CONTENT:\nunsure\nEND_ACTION\nCONFIDENCE: 0.2\n";
    let sample = "Sample answer: app.txt says hello.\nACTION: write\nPATH: sample.txt\nCONTENT:\n\
                  from a sample\nEND_ACTION\nCONFIDENCE: 0.8\n";
    let merged = "All three samples agree on hello.\nACTION: write\nPATH: app.txt\nCONTENT:\n\
                  hello\nEND_ACTION\nCONFIDENCE: 0.9\n";
    let mock = MockServer::start(Script::new(vec![
        Reply::text(unsure),
        Reply::text(sample),
        Reply::text(sample),
        Reply::text(sample),
        Reply::text(merged),
    ]));
    let env = [
        ("CLK_ROBUSTNESS_AUTO_REFINE", "off"),
        ("CLK_ROBUSTNESS_MAX_QUALITY_RETRIES", "1"),
        ("CLK_CONSENSUS_MAX_SAMPLES", "3"),
    ];
    let p = project(&dir, &mock, &env);
    let report = pass(&p, &workflow(&p, ONE_STAGE)).await;
    assert!(report.made_progress(), "{report:?}");
    assert_eq!(mock.model_calls(), 5);
    let by_agent = calls_by_agent(&mock);
    assert_eq!((by_agent["engineer"], by_agent["chief"]), (4, 1));
    assert_eq!(fs::read_to_string(dir.join("app.txt")).unwrap(), "hello\n");
    assert!(!dir.join("sample.txt").exists(), "a sample was applied");
    let started = named(&p, "consensus_started");
    assert_eq!(started.len(), 1);
    assert_eq!(started[0]["trigger"], "quality");
    assert_eq!(started[0]["samples"], 3);
    assert_eq!(named(&p, "consensus_sample_finished").len(), 3);
    let merged_ev = named(&p, "consensus_coalesced");
    assert_eq!(merged_ev[0]["samples_ok"], 3);
    let chief = prompts(&mock).into_iter().last().unwrap();
    assert!(
        chief.contains("CONSENSUS \"auto_engineer\""),
        "{chief:.400}"
    );
    for i in 1..=3 {
        assert!(chief.contains(&format!("--- sample {i} agent=engineer ok=true")));
    }
    // Every sample left a run record that says it was not applied.
    let metas = run_metas(&p);
    let samples = metas
        .iter()
        .filter(|m| {
            m["stage"]
                .as_str()
                .unwrap_or_default()
                .contains("#consensus")
        })
        .count();
    assert_eq!(samples, 3);
    assert_eq!(
        metas.iter().filter(|m| m["applied"] == true).count(),
        1,
        "only the merge is applied"
    );
}

#[tokio::test]
async fn a_refusal_is_not_retried_and_the_chief_is_told() {
    let (_top, dir) = new_dir();
    let mock = MockServer::start(Script::new(vec![Reply::text(
        "I'm sorry, but I cannot help with writing that file for you today.",
    )]));
    let p = project(&dir, &mock, &quality_off_env());
    pass(&p, &workflow(&p, ONE_STAGE)).await;
    assert_eq!(mock.model_calls(), 1);
    assert_eq!(named(&p, "quality_retry").len(), 0);
    let refused = named(&p, "reply_refused");
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0]["agent"], "engineer");
    let posts = clk::engine::store::blackboard::all(&p.ws);
    let post = posts.iter().find(|p| p.post_type == "refusal").unwrap();
    assert_eq!(post.target_agent.as_deref(), Some("chief"));
    assert!(post.body.contains("engineer declined"), "{}", post.body);
}

const CAREFUL: &str = r#"
name: demo
stages:
  - id: design
    agent: architect
    careful: true
    objective: Choose the storage engine.
"#;

#[tokio::test]
async fn six_samples_four_at_a_time_take_two_rounds_of_the_mock_delay() {
    let (_top, dir) = new_dir();
    // Long enough that a loaded machine's scheduling noise stays well inside the bounds below.
    let delay_ms = 1000;
    let sample = "SQLite: one file, no server, enough for one user.\nCONFIDENCE: 0.8\n";
    let mut replies: Vec<Reply> = (0..6)
        .map(|_| Reply::delay(delay_ms, Reply::text(sample)))
        .collect();
    replies.push(Reply::text(
        "Merged: SQLite, all six agree.\nPOST: decision\nBODY:\nSQLite\nEND_POST\n",
    ));
    let mock = MockServer::start(Script::new(replies));
    let env = [
        ("CLK_ROBUSTNESS_AUTO_REFINE", "off"),
        ("CLK_CONSENSUS_MAX_SAMPLES", "6"),
        ("CLK_CONSENSUS_MAX_PARALLEL", "4"),
    ];
    let p = project(&dir, &mock, &env);
    let report = pass(&p, &workflow(&p, CAREFUL)).await;
    assert!(report.made_progress(), "{report:?}");
    assert_eq!(mock.model_calls(), 7);
    let started = named(&p, "consensus_started");
    assert_eq!(
        (
            started[0]["trigger"].as_str(),
            started[0]["max_parallel"].as_u64()
        ),
        (Some("careful"), Some(4))
    );
    // Four requests arrive together; the fifth waits for a free slot.
    let at: Vec<_> = mock.model_requests().iter().map(|r| r.at).collect();
    let first = at[0];
    let gap_ms = |i: usize| at[i].duration_since(first).as_millis() as u64;
    assert!(
        gap_ms(3) < delay_ms / 2,
        "the first four did not start together"
    );
    assert!(gap_ms(4) >= delay_ms * 3 / 4, "a fifth sample ran early");
    // Six samples, four at a time: two rounds of the delay, not six.
    let wall = named(&p, "consensus_coalesced")[0]["elapsed_ms"]
        .as_u64()
        .unwrap();
    assert!(wall >= 2 * delay_ms, "{wall} ms");
    assert!(
        wall < 5 * delay_ms,
        "{wall} ms: samples ran one after another (six rounds would be {} ms)",
        6 * delay_ms
    );
}

const REFINED: &str = r#"
name: demo
stages:
  - id: build
    agent: engineer
    objective: Write app.txt.
    refine: {critic: critic, max_rounds: 3, accept_threshold: 0.9}
"#;

#[tokio::test]
async fn a_critic_that_says_revise_twice_then_accept_gets_two_revisions() {
    let (_top, dir) = new_dir();
    let write = |v: &str| {
        format!(
            "Version {v} of the app.\nACTION: write\nPATH: app.txt\nCONTENT:\n{v}\nEND_ACTION\n"
        )
    };
    let mock = MockServer::start(Script::new(vec![
        Reply::text(&write("v1")),
        Reply::text("Gap: no greeting.\nVERDICT: revise\nSCORE: 0.3\n"),
        Reply::text(&write("v2")),
        Reply::text("Gap: greeting misspelt.\nVERDICT: revise\nSCORE: 0.6\n"),
        Reply::text(&write("v3")),
        Reply::text("Looks right now.\nVERDICT: accept\nSCORE: 0.95\n"),
    ]));
    let p = project(&dir, &mock, &[]);
    let report = pass(&p, &workflow(&p, REFINED)).await;
    assert!(report.made_progress(), "{report:?}");
    assert_eq!(mock.model_calls(), 6);
    let by_agent = calls_by_agent(&mock);
    assert_eq!((by_agent["engineer"], by_agent["critic"]), (3, 3));
    assert_eq!(fs::read_to_string(dir.join("app.txt")).unwrap(), "v3\n");
    let rounds: Vec<(u64, String, bool)> = named(&p, "refine_round")
        .iter()
        .map(|e| {
            (
                e["round"].as_u64().unwrap(),
                e["verdict"].as_str().unwrap().to_string(),
                e["accepted"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rounds,
        [
            (1, "revise".into(), false),
            (2, "revise".into(), false),
            (3, "accept".into(), true)
        ]
    );
    let all = prompts(&mock);
    assert!(
        all[3].contains("REFINE review, round 2/3"),
        "{:.300}",
        all[3]
    );
    assert!(all[3].contains("Version v2 of the app."));
    assert!(all[4].contains("REVISION requested by critic (round 2/3)"));
    assert!(all[4].contains("Gap: greeting misspelt."));
    // The stage's outcome covers every round: the file was committed each time.
    assert_eq!(report.stages[0].files, ["app.txt"]);
}

#[tokio::test]
async fn a_propose_consensus_fans_out_to_the_named_agents() {
    let (_top, dir) = new_dir();
    let proposing = "Not sure which engine; asking for consensus.\n\
                     PROPOSE_CONSENSUS: pick_db\nAGENTS: architect, engineer\nCOPIES: 2\n\
                     OBJECTIVE:\nWhich storage engine and why?\nEND_CONSENSUS\nCONFIDENCE: 0.7\n";
    let sample = "SQLite, because it is one file.\nCONFIDENCE: 0.8\n";
    let merged = "Decision: SQLite.\nACTION: write\nPATH: DECISIONS.md\nCONTENT:\nSQLite\n\
                  END_ACTION\n";
    let mock = MockServer::start(Script::new(vec![
        Reply::text(proposing),
        Reply::text(sample),
        Reply::text(sample),
        Reply::text(merged),
    ]));
    let p = project(&dir, &mock, &quality_off_env());
    let report = pass(&p, &workflow(&p, ONE_STAGE)).await;
    assert_eq!(mock.model_calls(), 4);
    let by_agent = calls_by_agent(&mock);
    assert_eq!(
        (
            by_agent["engineer"],
            by_agent["architect"],
            by_agent["chief"]
        ),
        (2, 1, 1)
    );
    assert_eq!(named(&p, "consensus_started")[0]["trigger"], "proposal");
    assert_eq!(named(&p, "consensus_started")[0]["name"], "pick_db");
    assert_eq!(
        fs::read_to_string(dir.join("DECISIONS.md")).unwrap(),
        "SQLite\n"
    );
    assert_eq!(report.stages[0].files, ["DECISIONS.md"]);
}

const THREE_STAGES: &str = r#"
name: demo
stages:
  - id: design
    agent: architect
    careful: true
    objective: Choose the storage engine.
    outputs: [design]
  - id: build
    agent: engineer
    depends_on: [design]
    objective: Write app.txt.
    refine: {critic: critic, max_rounds: 3}
  - id: check
    agent: qa
    depends_on: [build]
    objective: Check it.
"#;

#[tokio::test]
async fn with_every_knob_off_each_stage_costs_exactly_one_call() {
    let (_top, dir) = new_dir();
    // Replies that every loop would act on: outputs missing, low confidence, too short.
    let mock = MockServer::start(Script::new(vec![
        Reply::text("SQLite, I guess; no post with the design key.\nCONFIDENCE: 0.1\n"),
        Reply::text("ACTION: write\nPATH: app.txt\nCONTENT:\nx\nEND_ACTION\n"),
        Reply::text("ok"),
    ]));
    let p = project(&dir, &mock, &KNOBS_OFF);
    let report = pass(&p, &workflow(&p, THREE_STAGES)).await;
    assert_eq!(report.stages.len(), 3);
    assert_eq!(mock.model_calls(), 3);
    for ev in [
        "quality_retry",
        "consensus_started",
        "refine_round",
        "checkpoint_verdict",
    ] {
        assert!(named(&p, ev).is_empty(), "{ev} with every knob off");
    }
}

const DEBATED: &str = r#"
name: demo
stages:
  - id: build
    agent: engineer
    objective: Write app.txt.
    refine: {mode: debate, max_rounds: 2, accept_threshold: 0.8}
"#;

#[tokio::test]
async fn a_debate_panel_reviews_through_each_lens_and_decides_by_majority() {
    let (_top, dir) = new_dir();
    let write = |v: &str| {
        format!("Version {v}.\nACTION: write\nPATH: app.txt\nCONTENT:\n{v}\nEND_ACTION\n")
    };
    let revise = "Gap found through my lens.\nVERDICT: revise\nSCORE: 0.4\n";
    let accept = "Nothing blocks a user.\nVERDICT: accept\nSCORE: 0.9\n";
    let minor = "One small gap, not blocking.\nVERDICT: revise\nSCORE: 0.75\n";
    let mock = MockServer::start(Script::new(vec![
        Reply::text(&write("v1")),
        Reply::text(revise),
        Reply::text(revise),
        Reply::text(accept),
        Reply::text(&write("v2")),
        // Round 2: one revise among three and a mean of 0.85: the panel accepts.
        Reply::text(accept),
        Reply::text(accept),
        Reply::text(minor),
    ]));
    let p = project(&dir, &mock, &[]);
    pass(&p, &workflow(&p, DEBATED)).await;
    assert_eq!(mock.model_calls(), 8);
    let by_agent = calls_by_agent(&mock);
    assert_eq!((by_agent["engineer"], by_agent["critic"]), (2, 6));
    let rounds: Vec<(bool, String)> = named(&p, "refine_round")
        .iter()
        .map(|e| {
            (
                e["accepted"].as_bool().unwrap(),
                e["critic"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let panel = "critic panel (correctness, security, simplicity)".to_string();
    assert_eq!(rounds, [(false, panel.clone()), (true, panel)]);
    assert_eq!(fs::read_to_string(dir.join("app.txt")).unwrap(), "v2\n");
    let all = prompts(&mock);
    for lens in ["correctness", "security", "simplicity"] {
        assert!(
            all.iter()
                .any(|p| p.contains(&format!("DEBATE panel, lens \"{lens}\""))),
            "no {lens} review"
        );
    }
    let revision = all
        .iter()
        .find(|p| p.contains("REVISION requested"))
        .unwrap();
    assert!(revision.contains("--- security: "), "{revision:.600}");
    let debates = clk::engine::store::blackboard::all(&p.ws)
        .into_iter()
        .filter(|p| p.post_type == "debate" && p.author == "critic-panel")
        .count();
    assert_eq!(debates, 2);
}

#[tokio::test]
async fn a_fan_out_the_spending_cap_cannot_cover_does_not_start() {
    let (_top, dir) = new_dir();
    let mock = MockServer::start(Script::new(vec![Reply::text(
        "SQLite: one file, no server, enough for one user.\nCONFIDENCE: 0.8\n",
    )]));
    // Six samples of up to 4096 output tokens at $100 per million could cost $2.46; the cap
    // leaves $1. One short reply costs a fraction of a cent.
    let env = [
        ("CLK_ROBUSTNESS_AUTO_REFINE", "off"),
        ("CLK_BUDGET_SESSION_USD_CAP", "1"),
    ];
    let mut p = project(&dir, &mock, &env);
    p.providers.providers.get_mut("ollama").unwrap().price =
        Some(clk::engine::ground::pricing::ModelPrice {
            input_per_mtok: 0.0,
            output_per_mtok: 100.0,
            cached_input_per_mtok: None,
        });
    let report = pass(&p, &workflow(&p, CAREFUL)).await;
    assert_eq!(
        report.stages[0].outcome,
        clk::engine::store::workflow::Outcome::Completed
    );
    assert_eq!(mock.model_calls(), 1, "the stage ran once, without samples");
    assert!(named(&p, "consensus_started").is_empty());
    let warned = named(&p, "warning").iter().any(|w| {
        w["message"]
            .as_str()
            .is_some_and(|m| m.contains("did not start") && m.contains("6-sample consensus"))
    });
    assert!(warned, "{:?}", named(&p, "warning"));
}

#[tokio::test]
async fn a_merge_that_misses_the_stages_output_is_repaired_once() {
    let (_top, dir) = new_dir();
    let sample = "SQLite.\nPOST: design\nPRODUCES: design\nBODY:\nSQLite\nEND_POST\n";
    let merged_without = "Both samples say SQLite, so SQLite it is for now.\nCONFIDENCE: 0.9\n";
    let merged_with = "SQLite.\nPOST: design\nPRODUCES: design\nBODY:\nSQLite, both agree\n\
                       END_POST\n";
    let mock = MockServer::start(Script::new(vec![
        Reply::text(sample),
        Reply::text(sample),
        Reply::text(merged_without),
        Reply::text(merged_with),
    ]));
    let env = [
        ("CLK_ROBUSTNESS_AUTO_REFINE", "off"),
        ("CLK_CONSENSUS_MAX_SAMPLES", "2"),
    ];
    let p = project(&dir, &mock, &env);
    let wf = workflow(&p, &format!("{CAREFUL}    outputs: [design]\n"));
    let report = pass(&p, &wf).await;
    assert_eq!(mock.model_calls(), 4);
    assert_eq!(calls_by_agent(&mock)["chief"], 2);
    assert!(report.stages[0].outputs_missing.is_empty(), "{report:?}");
    let retry = named(&p, "quality_retry");
    assert_eq!(retry.len(), 1);
    assert_eq!(retry[0]["agent"], "chief");
    assert!(prompts(&mock)[3].contains("declared outputs missing: design"));
}
