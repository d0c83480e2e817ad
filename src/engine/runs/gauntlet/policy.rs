//! The gauntlet's pure decisions: which stages it covers, with what settings this session,
//! and whether a critique or a verification came out clean. No IO, so each rule is tested on
//! its own.

use crate::engine::ground::config::{GauntletConfig, GauntletPreset, GauntletScope};
use crate::engine::ground::protocol::{Footer, Verdict};
use crate::engine::store::bus::GauntletSession;
use crate::engine::store::workflow::Stage;

/// Agents that build; a stage they run counts as producing.
const BUILDERS: &[&str] = &["engineer", "ralph"];

/// The gauntlet for one stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub preset: GauntletPreset,
    /// Critique rounds at most.
    pub rounds: u32,
    pub critic: String,
    /// Gauntlet dispatches per session at most.
    pub budget: u32,
}

/// The settings with what `/gauntlet` set for this session laid over them.
pub fn effective(cfg: &GauntletConfig, session: &GauntletSession) -> GauntletConfig {
    GauntletConfig {
        enabled: session.enabled.unwrap_or(cfg.enabled),
        preset: session.preset.unwrap_or(cfg.preset),
        ..cfg.clone()
    }
}

/// True when `scope` takes `stage`. Review stages and the critic's own stages are never
/// covered: the gauntlet attacks results, not verdicts.
pub fn in_scope(scope: GauntletScope, stage: &Stage, critic: &str) -> bool {
    if stage.is_review() || stage.agent == critic {
        return false;
    }
    match scope {
        GauntletScope::CarefulOnly => stage.careful,
        GauntletScope::Producing => {
            !stage.outputs.is_empty() || BUILDERS.contains(&stage.agent.as_str())
        }
        GauntletScope::All => true,
    }
}

/// The gauntlet for `stage`, or None when it is off, the stage is out of scope, or this
/// session's budget is already spent (then the stage keeps its usual critic loop).
pub fn plan(cfg: &GauntletConfig, session: &GauntletSession, stage: &Stage) -> Option<Plan> {
    let cfg = effective(cfg, session);
    let wanted =
        cfg.enabled && in_scope(cfg.scope, stage, &cfg.critic) && session.used < cfg.budget;
    wanted.then(|| Plan {
        preset: cfg.preset,
        rounds: cfg.preset.rounds(),
        critic: cfg.critic.clone(),
        budget: cfg.budget,
    })
}

/// How a critique or a verification read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Judged {
    pub clean: bool,
    pub defects: u32,
    pub score: Option<f64>,
}

/// Clean means `VERDICT: accept` with no material defect. A missing count reads as none after
/// an accept and as one after a revise, so a critic that forgets the line is taken at its
/// word. None when there is no verdict: the reply is not a critique at all.
pub fn judge(footer: &Footer) -> Option<Judged> {
    let verdict = footer.verdict?;
    let defects = footer.material_defects.unwrap_or(match verdict {
        Verdict::Accept => 0,
        Verdict::Revise => 1,
    });
    Some(Judged {
        clean: verdict == Verdict::Accept && defects == 0,
        defects,
        score: footer.score,
    })
}

/// One line for events: `revise, 2 material defect(s), score 0.40`.
pub fn summary(footer: &Footer, j: &Judged) -> String {
    let verdict = match footer.verdict {
        Some(Verdict::Accept) => "accept",
        Some(Verdict::Revise) | None => "revise",
    };
    let score = j
        .score
        .map(|s| format!(", score {s:.2}"))
        .unwrap_or_default();
    format!("{verdict}, {} material defect(s){score}", j.defects)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(agent: &str) -> Stage {
        Stage {
            id: "s".into(),
            agent: agent.into(),
            objective: "o".into(),
            depends_on: vec![],
            validation: None,
            commit: true,
            careful: false,
            phase: None,
            inputs: vec![],
            outputs: vec![],
            refine: None,
            rounds: None,
            metadata: Default::default(),
        }
    }

    #[test]
    fn scope_picks_careful_producing_or_all_but_never_reviews_or_the_critic() {
        let eng = stage("engineer");
        let mut qa = stage("qa");
        assert!(in_scope(GauntletScope::Producing, &eng, "critic"));
        assert!(!in_scope(GauntletScope::Producing, &qa, "critic"));
        qa.outputs = vec!["report".into()];
        assert!(in_scope(GauntletScope::Producing, &qa, "critic"));
        assert!(!in_scope(GauntletScope::CarefulOnly, &eng, "critic"));
        let mut careful = stage("qa");
        careful.careful = true;
        assert!(in_scope(GauntletScope::CarefulOnly, &careful, "critic"));
        assert!(in_scope(GauntletScope::All, &stage("qa"), "critic"));
        assert!(!in_scope(GauntletScope::All, &stage("critic"), "critic"));
        let mut review = stage("engineer");
        review.phase = Some("review".into());
        assert!(!in_scope(GauntletScope::All, &review, "critic"));
    }

    #[test]
    fn the_session_overrides_the_settings_and_a_spent_budget_plans_nothing() {
        let cfg = GauntletConfig::default();
        let eng = stage("engineer");
        let mut session = GauntletSession::default();
        assert_eq!(plan(&cfg, &session, &eng), None, "off by default");
        session.enabled = Some(true);
        session.preset = Some(GauntletPreset::Rigorous);
        let p = plan(&cfg, &session, &eng).unwrap();
        assert_eq!((p.rounds, p.budget, p.critic.as_str()), (5, 500, "critic"));
        session.used = 500;
        assert_eq!(plan(&cfg, &session, &eng), None);
        let on = GauntletConfig {
            enabled: true,
            ..cfg
        };
        let off = GauntletSession {
            enabled: Some(false),
            ..GauntletSession::default()
        };
        assert_eq!(plan(&on, &off, &eng), None, "/gauntlet off wins");
        assert_eq!(
            plan(&on, &GauntletSession::default(), &eng).map(|p| p.rounds),
            Some(3)
        );
    }

    #[test]
    fn clean_needs_accept_and_no_material_defect() {
        let f = |verdict, defects| Footer {
            verdict,
            material_defects: defects,
            score: Some(0.9),
            ..Footer::default()
        };
        let clean = |v, d| judge(&f(v, d)).map(|j| (j.clean, j.defects));
        assert_eq!(clean(Some(Verdict::Accept), Some(0)), Some((true, 0)));
        assert_eq!(clean(Some(Verdict::Accept), None), Some((true, 0)));
        assert_eq!(clean(Some(Verdict::Accept), Some(2)), Some((false, 2)));
        assert_eq!(clean(Some(Verdict::Revise), None), Some((false, 1)));
        assert_eq!(clean(Some(Verdict::Revise), Some(0)), Some((false, 0)));
        assert_eq!(clean(None, Some(0)), None);
        let j = judge(&f(Some(Verdict::Revise), Some(2))).unwrap();
        assert_eq!(
            summary(&f(Some(Verdict::Revise), Some(2)), &j),
            "revise, 2 material defect(s), score 0.90"
        );
    }
}
