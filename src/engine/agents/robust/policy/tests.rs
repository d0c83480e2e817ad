use super::*;
use crate::engine::ground::protocol::{ScoreOptions, parse, score};

fn cfg() -> RobustnessConfig {
    RobustnessConfig::default()
}

#[test]
fn consensus_follows_the_mode_and_never_fans_out_the_chief() {
    assert_eq!(
        consensus_trigger(AutoConsensus::OnCareful, "engineer", true),
        Some("careful")
    );
    assert_eq!(
        consensus_trigger(AutoConsensus::OnCareful, "engineer", false),
        None
    );
    assert_eq!(
        consensus_trigger(AutoConsensus::Always, "qa", false),
        Some("always")
    );
    assert_eq!(
        consensus_trigger(AutoConsensus::Always, "chief", true),
        None
    );
    assert_eq!(
        consensus_trigger(AutoConsensus::Off, "engineer", true),
        None
    );
}

#[test]
fn an_explicit_refine_block_runs_unless_refining_is_off() {
    let mut c = cfg();
    c.auto_refine = AutoRefine::CarefulOnly;
    let r = Refine {
        critic: Some("reviewer".into()),
        max_rounds: Some(4),
        accept_threshold: Some(0.7),
        ..Refine::default()
    };
    let plan = refine_plan(&c, Some(&r), "engineer", false).unwrap();
    assert_eq!(
        (plan.critic.as_str(), plan.max_rounds, plan.accept_threshold),
        ("reviewer", 4, 0.7)
    );
    // Defaults come from the config; the critic never reviews itself.
    let plan = refine_plan(&c, Some(&Refine::default()), "qa", false).unwrap();
    assert_eq!(plan.max_rounds, c.refine_max_rounds);
    assert_eq!(
        refine_plan(&c, Some(&Refine::default()), "critic", true),
        None
    );
    c.auto_refine = AutoRefine::Off;
    assert_eq!(refine_plan(&c, Some(&r), "engineer", true), None);
}

#[test]
fn debate_mode_brings_its_lenses() {
    let r = Refine {
        mode: Some("debate".into()),
        ..Refine::default()
    };
    let plan = refine_plan(&cfg(), Some(&r), "engineer", false).unwrap();
    assert_eq!(plan.lenses, DEFAULT_LENSES);
    let r = Refine {
        mode: Some("debate".into()),
        critics: vec!["tests".into()],
        ..Refine::default()
    };
    let plan = refine_plan(&cfg(), Some(&r), "engineer", false).unwrap();
    assert_eq!(plan.lenses, ["tests"]);
    assert!(lens_guidance("tests").contains("test"));
    assert_eq!(lens_guidance("cost"), "Judge the work for cost.");
}

#[test]
fn a_panel_needs_a_majority_and_the_mean_score() {
    let j = |v: Verdict, score: f64| Judgement {
        verdict: v,
        score,
        accepted: false,
    };
    let (a, r) = (Verdict::Accept, Verdict::Revise);
    assert_eq!(
        panel_decision(&[j(a, 0.9), j(a, 0.9), j(r, 0.7)], 0.8),
        (true, 0.833)
    );
    assert!(!panel_decision(&[j(a, 0.9), j(r, 0.9), j(r, 0.9)], 0.8).0);
    assert!(!panel_decision(&[j(a, 0.9), j(a, 0.5)], 0.8).0);
    assert!(!panel_decision(&[], 0.8).0);
}

#[test]
fn auto_refine_covers_careful_or_all_but_never_reviewers() {
    let mut c = cfg();
    c.auto_refine = AutoRefine::CarefulOnly;
    assert!(refine_plan(&c, None, "engineer", true).is_some());
    assert!(refine_plan(&c, None, "engineer", false).is_none());
    c.auto_refine = AutoRefine::All;
    assert!(refine_plan(&c, None, "engineer", false).is_some());
    for r in ["chief", "qa", "critic"] {
        assert!(refine_plan(&c, None, r, true).is_none(), "{r}");
    }
    c.auto_refine = AutoRefine::Off;
    assert!(refine_plan(&c, None, "engineer", true).is_none());
}

fn quality(text: &str) -> (Quality, Parsed) {
    let p = parse(text);
    (score(text, &p, &ScoreOptions::default()), p)
}

#[test]
fn the_ladder_repairs_then_escalates_on_the_last_retry() {
    let (bad, _) = quality("ACTION: write\nPATH: a\nACTION: write\nPATH: b\nACTION: run\n");
    assert_eq!(quality_step(&bad, 1, 2, true), QualityStep::Repair);
    assert_eq!(quality_step(&bad, 2, 2, true), QualityStep::Escalate);
    assert_eq!(quality_step(&bad, 3, 2, true), QualityStep::GiveUp);
    assert_eq!(quality_step(&bad, 1, 1, true), QualityStep::Escalate);
    assert_eq!(quality_step(&bad, 2, 2, false), QualityStep::Repair);
    assert_eq!(quality_step(&bad, 1, 0, true), QualityStep::GiveUp);
}

#[test]
fn good_refused_and_review_only_replies_are_not_repaired() {
    let (good, _) =
        quality("All done: the parser handles CRLF now and the tests pass.\nCONFIDENCE: 0.9\n");
    assert_eq!(quality_step(&good, 1, 2, true), QualityStep::Accept);
    let (refused, _) = quality("I'm sorry, but I cannot help with that request at all.");
    assert_eq!(quality_step(&refused, 1, 2, true), QualityStep::Refused);
    let (review, _) = quality(
        "The change is in and the tests pass, but someone should look.\nNEEDS_REVIEW: yes\n",
    );
    assert_eq!(quality_step(&review, 1, 2, true), QualityStep::Accept);
}

#[test]
fn reasons_quote_flags_and_parser_problems() {
    let (q, p) = quality("ACTION: write\nPATH: a\nCONTENT:\nx\nEND_ACTION\nCONFIDENCE: 0.2\n");
    let r = reasons(&q, &p);
    assert!(r.iter().any(|l| l.contains("confidence 0.20")), "{r:?}");
    let text = repair_objective(&r, "Build it.");
    assert!(text.contains("- self-reported confidence"), "{text}");
    assert!(text.ends_with("Original objective:\nBuild it."), "{text}");
}

#[test]
fn a_critic_without_score_or_verdict_is_read_conservatively() {
    let f = |t: &str| parse(t).footer;
    let j = judge(&f("VERDICT: accept\n"), 0.8);
    assert_eq!((j.score, j.accepted), (1.0, true));
    let j = judge(&f("no verdict here\n"), 0.8);
    assert_eq!(
        (j.verdict, j.score, j.accepted),
        (Verdict::Revise, 0.4, false)
    );
    let j = judge(&f("VERDICT: revise\nSCORE: 0.85\n"), 0.8);
    assert!(j.accepted);
    let j = judge(&f("VERDICT: revise\nSCORE: 0.5\n"), 0.8);
    assert!(!j.accepted);
}

#[test]
fn the_checkpoint_note_is_what_follows_the_verdict() {
    let reply = "Looked at qa.\nCHECKPOINT: redirect\nSwitch to a CLI first; drop the web UI.\n\
                     Keep the parser.\n\nPOST: review\nBODY:\nx\nEND_POST\nCONFIDENCE: 0.8\n";
    assert_eq!(
        checkpoint_note(reply),
        "Switch to a CLI first; drop the web UI. Keep the parser."
    );
    let reply = "CHECKPOINT: abort\nCONFIDENCE: 0.9\n";
    assert_eq!(checkpoint_note(reply), "");
    let reply = "The plan is wrong.\nPOST: review\nBODY:\nhidden\nEND_POST\nCHECKPOINT: abort\n";
    assert_eq!(checkpoint_note(reply), "The plan is wrong.");
}
