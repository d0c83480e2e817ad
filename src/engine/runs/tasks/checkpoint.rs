//! Approval checkpoints inside a task, by its autonomy. `safe` stops after the implementer's
//! first handoff that leaves work to do (its plan) and before a risky change goes further;
//! `balanced` stops only for a risky change (CI config, a lockfile, a migration, a
//! secrets-like file, as `risk.rs` says): before the first turn when the prompt names such a
//! file, else after the turn that changed one; `aggressive` never stops. A handoff whose
//! checklist is done stops nowhere: the next stop is the merge, which asks by itself. Each
//! checkpoint stops a task once: after `task approve` it goes on from where it stopped, after
//! `task reject` the implementer hears the note and the checkpoint is asked again when it is
//! reached again.

use super::handoff::Handoff;
use super::risk::sensitive;
use crate::engine::ground::config::Autonomy;

/// The checkpoint after the first handoff.
pub const PLAN: &str = "plan";

/// How a task's reason starts when a person approved its checkpoint (the checkpoint's name,
/// who and the note follow).
pub const APPROVED: &str = "approved at checkpoint ";

/// How a task's reason starts when a person sent it back (who and the note follow).
pub const REJECTED: &str = "rejected by ";

/// Where a task stops, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stop {
    /// `plan` or `risky:PATH`.
    pub name: String,
    pub why: String,
}

/// The checkpoint `files` (predicted or changed) and the last handoff reach, if it is due
/// under `autonomy` and nobody approved it yet.
pub fn due(
    autonomy: Option<Autonomy>,
    handoff: Option<&Handoff>,
    files: &[String],
    approved: &[String],
) -> Option<Stop> {
    if handoff.is_some_and(Handoff::complete) {
        return None;
    }
    let word = match autonomy {
        Some(Autonomy::Safe) | None => "safe",
        Some(Autonomy::Balanced) => "balanced",
        Some(Autonomy::Aggressive) => return None,
    };
    let risky = files.iter().find_map(|f| {
        let name = format!("risky:{f}");
        let kind = sensitive(f)?;
        (!approved.contains(&name)).then(|| Stop {
            why: format!(
                "autonomy is {word} and it changes {f} ({kind}): that waits for your approval \
                 before it goes further"
            ),
            name,
        })
    });
    if risky.is_some() || word != "safe" {
        return risky;
    }
    let h = handoff?;
    if approved.iter().any(|a| a == PLAN) {
        return None;
    }
    let items: Vec<String> = h
        .checklist
        .iter()
        .map(|i| format!("{} [{}]", i.item, i.status))
        .collect();
    Some(Stop {
        name: PLAN.into(),
        why: format!(
            "autonomy is safe: its plan waits for your approval: {} (checklist: {})",
            h.summary,
            items.join("; ")
        ),
    })
}

/// What the implementer is told after a person decided at a checkpoint, from the task's
/// reason; None when the reason is no such decision.
pub fn decided(reason: &str) -> Option<String> {
    if reason.starts_with(APPROVED) {
        Some(format!(
            "A person {reason}. Go on with the task from where you stopped."
        ))
    } else if reason.starts_with(REJECTED) {
        Some(format!(
            "A person looked at your work so far and sent it back ({reason}). Change course as \
             they say before you go on."
        ))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::runs::tasks::handoff::Item;

    fn plan() -> Handoff {
        Handoff {
            summary: "add the endpoint".into(),
            changed_files: vec![],
            checklist: vec![Item {
                item: "route".into(),
                status: "todo".into(),
            }],
            open_questions: vec![],
            next_action: "write it".into(),
        }
    }

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn safe_stops_at_the_plan_and_at_risky_files_once_each() {
        let safe = Some(Autonomy::Safe);
        let h = plan();
        let stop = due(safe, Some(&h), &v(&["src/a.rs"]), &[]).unwrap();
        assert_eq!(stop.name, "plan");
        assert!(
            stop.why
                .contains("add the endpoint (checklist: route [todo])")
        );
        assert_eq!(due(safe, Some(&h), &[], &v(&["plan"])), None);
        assert_eq!(due(safe, None, &v(&["src/a.rs"]), &[]), None);
        let mut done = plan();
        done.checklist[0].status = "done".into();
        assert_eq!(due(safe, Some(&done), &v(&["Cargo.lock"]), &[]), None);
        let files = v(&["src/a.rs", "Cargo.lock"]);
        let stop = due(safe, Some(&h), &files, &v(&["plan"])).unwrap();
        assert_eq!(stop.name, "risky:Cargo.lock");
        assert!(stop.why.contains("changes Cargo.lock (a lockfile)"));
        assert_eq!(
            due(safe, Some(&h), &files, &v(&["plan", "risky:Cargo.lock"])),
            None
        );
    }

    #[test]
    fn balanced_stops_only_for_risk_and_aggressive_never() {
        let h = plan();
        let bal = Some(Autonomy::Balanced);
        assert_eq!(due(bal, Some(&h), &v(&["src/a.rs"]), &[]), None);
        let ci = v(&[".github/workflows/ci.yml"]);
        assert!(due(bal, None, &ci, &[]).unwrap().why.contains("balanced"));
        assert_eq!(due(Some(Autonomy::Aggressive), Some(&h), &ci, &[]), None);
    }

    #[test]
    fn decisions_become_words_for_the_implementer() {
        let ok = decided("approved at checkpoint plan by ann (cli): fine").unwrap();
        assert!(ok.contains("A person approved at checkpoint plan by ann (cli): fine"));
        let no = decided("rejected by ann (cli): use a builder").unwrap();
        assert!(no.contains("sent it back (rejected by ann (cli): use a builder)"));
        assert_eq!(decided("sent back: red"), None);
    }
}
