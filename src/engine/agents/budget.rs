//! Spending caps: `budget.session_usd_cap` and `budget.agent_usd_caps` in clk.config.json,
//! checked against the persisted session totals (`.clk/state/usage.json`).
//!
//! Before every dispatch that would call a model, [`before_dispatch`] looks at the totals: when
//! spend has reached a cap (spent >= cap, caps of 0 are off) it pauses and asks the user, every
//! time, default No. Yes lets that one dispatch go ahead (and is recorded as
//! `BudgetOverrideApproved`); No, or no one to answer (headless), refuses the dispatch with
//! `BudgetStopped` and a [`BudgetStop`] error that ends the run; a cap raised in the files
//! meanwhile is read again first, so raising it lets a running run go on. After every dispatch,
//! [`after_dispatch`] reports the cap that dispatch crossed (`BudgetReached`), so the user
//! sees it at once; the next dispatch is the one that asks. Asking only before a dispatch
//! means one question per further call, never two in a row for the same crossing.
//!
//! Costs with an unknown price add nothing to the totals, so caps cannot see them; when caps
//! are set, such a dispatch gets a warning that says how to set the price. Parallel
//! dispatches each pass the check on their own, so a fan-out is checked as a whole first with
//! [`check_fanout`].

use crate::engine::ground::config::{BudgetConfig, ProviderSettings};
use crate::engine::ground::events::Event;
use crate::engine::ground::pricing::{self, CostBasis, Quote, format_usd};
use crate::engine::store::bus::Bus;
use crate::engine::store::records::UsageTotals;
use crate::engine::store::workspace::Project;

/// A cap that spend has reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Breach {
    /// The setting: `budget.session_usd_cap` or `budget.agent_usd_caps.<agent>`.
    pub cap_key: String,
    pub spent_micros: u64,
    pub cap_micros: u64,
}

impl Breach {
    /// What was reached and what to do, on one line.
    pub fn reason(&self) -> String {
        let whose = match self.cap_key.strip_prefix("budget.agent_usd_caps.") {
            Some(agent) => format!("{agent}'s spend"),
            None => "session spend".to_string(),
        };
        format!(
            "{whose} {} reached the {} cap ({}); raise it with `clk configure --set {}=USD` \
             or start a new session with `clk budget --reset`",
            format_usd(self.spent_micros),
            format_usd(self.cap_micros),
            self.cap_key,
            self.cap_key
        )
    }
}

/// Why a dispatch was refused: a cap was reached and no one said go ahead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stopped by the budget: {reason}")]
pub struct BudgetStop {
    pub reason: String,
}

/// The caps that apply to a dispatch by `agent`, as (setting, cap in micros), zero caps left out.
fn caps_for(cfg: &BudgetConfig, agent: &str) -> Vec<(String, u64)> {
    let mut caps = Vec::new();
    let session = pricing::cap_micros(cfg.session_usd_cap);
    if session > 0 {
        caps.push(("budget.session_usd_cap".to_string(), session));
    }
    if let Some(usd) = cfg.agent_usd_caps.get(agent) {
        let cap = pricing::cap_micros(*usd);
        if cap > 0 {
            caps.push((format!("budget.agent_usd_caps.{agent}"), cap));
        }
    }
    caps
}

/// The caps in force: the config's, with the ones set for this session (`/budget set`) on top.
pub fn live(cfg: &BudgetConfig, bus: &Bus) -> BudgetConfig {
    let mut out = cfg.clone();
    for (key, usd) in bus.session_caps() {
        match key.strip_prefix("budget.agent_usd_caps.") {
            Some(agent) => {
                out.agent_usd_caps.insert(agent.to_string(), usd);
            }
            None if key == "budget.session_usd_cap" => out.session_usd_cap = usd,
            None => {}
        }
    }
    out
}

/// True when any cap is set at all.
pub fn any_caps(cfg: &BudgetConfig) -> bool {
    pricing::cap_micros(cfg.session_usd_cap) > 0
        || cfg
            .agent_usd_caps
            .values()
            .any(|usd| pricing::cap_micros(*usd) > 0)
}

fn spent(totals: &UsageTotals, cap_key: &str) -> u64 {
    match cap_key.strip_prefix("budget.agent_usd_caps.") {
        Some(agent) => totals.agents.get(agent).map_or(0, |t| t.cost_micros),
        None => totals.total.cost_micros,
    }
}

/// The caps `totals` has reached for a dispatch by `agent` (spent >= cap). Pure.
pub fn reached(cfg: &BudgetConfig, totals: &UsageTotals, agent: &str) -> Vec<Breach> {
    caps_for(cfg, agent)
        .into_iter()
        .filter_map(|(cap_key, cap_micros)| {
            let spent_micros = spent(totals, &cap_key);
            (spent_micros >= cap_micros).then_some(Breach {
                cap_key,
                spent_micros,
                cap_micros,
            })
        })
        .collect()
}

/// The caps that the last dispatch (costing `cost_micros`, already in `after`) crossed:
/// reached now, not reached without it. Pure.
pub fn newly_reached(
    cfg: &BudgetConfig,
    after: &UsageTotals,
    agent: &str,
    cost_micros: u64,
) -> Vec<Breach> {
    reached(cfg, after, agent)
        .into_iter()
        .filter(|b| b.spent_micros.saturating_sub(cost_micros) < b.cap_micros)
        .collect()
}

/// Check the caps before a dispatch by `agent`: Ok to go ahead, or the stop that ends the run.
pub async fn before_dispatch(project: &Project, bus: &Bus, agent: &str) -> Result<(), BudgetStop> {
    let cfg = &live(&project.config.budget, bus);
    if !any_caps(cfg) {
        return Ok(());
    }
    let totals = UsageTotals::load(&project.ws);
    let mut breaches = reached(cfg, &totals, agent);
    if !breaches.is_empty() {
        // A cap raised in the files since this work took its settings counts at once; the
        // files are read only when a cap is reached, so a dispatch under its caps reads none.
        if let Ok(now) = project.ws.load(&project.env) {
            breaches = reached(&live(&now.config.budget, bus), &totals, agent);
        }
    }
    let Some(first) = breaches.first() else {
        return Ok(());
    };
    let question = format!(
        "{} Let {agent} make one more model call anyway? (y/N)",
        first.reason()
    );
    // The engine's confirm mechanism: the dashboard asks; headless answers no at once.
    if bus.ask_about(Some(agent), question).await {
        for b in &breaches {
            bus.emit(Event::BudgetOverrideApproved {
                agent: agent.to_string(),
                cap_key: b.cap_key.clone(),
                spent_micros: b.spent_micros,
                cap_micros: b.cap_micros,
            });
        }
        return Ok(());
    }
    let reason = first.reason();
    bus.emit(Event::BudgetStopped {
        agent: agent.to_string(),
        cap_key: first.cap_key.clone(),
        spent_micros: first.spent_micros,
        cap_micros: first.cap_micros,
        reason: reason.clone(),
    });
    Err(BudgetStop { reason })
}

/// Report what a finished dispatch did to the caps: the caps it crossed, and a warning when
/// caps are set but the dispatch's price is unknown (so they cannot count it).
pub fn after_dispatch(
    project: &Project,
    bus: &Bus,
    agent: &str,
    provider: &str,
    model: &str,
    cost: pricing::Cost,
    after: &UsageTotals,
) {
    let cfg = &live(&project.config.budget, bus);
    if !any_caps(cfg) {
        return;
    }
    if cost.basis == CostBasis::Unknown {
        bus.emit(Event::Warning {
            message: format!(
                "budget caps cannot count {agent}'s call: the price of {provider} model \
                 {model:?} is unknown; set providers.{provider}.price in providers.json"
            ),
        });
    }
    for b in newly_reached(cfg, after, agent, cost.micros) {
        bus.emit(Event::BudgetReached {
            agent: agent.to_string(),
            cap_key: b.cap_key,
            spent_micros: b.spent_micros,
            cap_micros: b.cap_micros,
        });
    }
}

/// Output tokens assumed per sample when neither the caller nor the provider says.
pub const DEFAULT_MAX_OUTPUT_TOKENS: u64 = 4_096;

/// The worst case of a fan-out: what it could cost at most. None when the price is unknown.
///
/// Assumes every sample sends the whole prompt as fresh input (chars/4 tokens, rounded up, no
/// cache discount) and writes `max_output_tokens`, at the price [`pricing::quote`] gives for
/// the provider's configured model. Real samples usually cost less; never more unless the
/// provider ignores its output limit or bills hidden reasoning tokens beyond it.
pub fn fanout_worst_case(
    quote: Quote,
    prompt_chars: usize,
    samples: u32,
    max_output_tokens: u64,
) -> Option<u64> {
    let price = match quote {
        Quote::Free => return Some(0),
        Quote::Unknown => return None,
        Quote::Priced { price, .. } => price,
    };
    let one = crate::engine::ground::events::Usage {
        input_tokens: prompt_chars.div_ceil(4) as u64,
        output_tokens: max_output_tokens,
        ..Default::default()
    };
    Some(price.charge(&one).saturating_mul(u64::from(samples)))
}

/// Whether a fan-out costing at most `worst_micros` fits in what is left of every cap that
/// applies to `agent`. Pure. An unknown worst case (None) passes: the caps cannot price it.
pub fn fanout_verdict(
    cfg: &BudgetConfig,
    totals: &UsageTotals,
    agent: &str,
    samples: u32,
    worst_micros: Option<u64>,
) -> Result<(), String> {
    let Some(worst) = worst_micros else {
        return Ok(());
    };
    for (cap_key, cap) in caps_for(cfg, agent) {
        let left = cap.saturating_sub(spent(totals, &cap_key));
        if worst > left {
            return Err(format!(
                "a {samples}-sample consensus for {agent} could cost up to {}, but {} is left \
                 under {cap_key} ({} cap); use fewer samples (consensus.max_samples) or raise \
                 the cap",
                format_usd(worst),
                format_usd(left),
                format_usd(cap)
            ));
        }
    }
    Ok(())
}

/// The output limit a provider sets on each reply, from its settings (`max_tokens`), if any.
fn provider_max_output(settings: &ProviderSettings) -> Option<u64> {
    settings.max_tokens
}

/// Before a consensus fan-out of `samples` parallel dispatches of `agent` (on the provider whose
/// `settings` are given) with a prompt of `prompt_chars` characters: Ok with the worst-case cost in
/// micros (None: price unknown), or the reason it must not start.
///
/// Assumptions (see [`fanout_worst_case`]): every sample is a fresh, uncached call on the
/// agent's provider and configured model, sending chars/4 input tokens and writing
/// `max_output_tokens` (else the provider's `max_tokens` setting, else
/// [`DEFAULT_MAX_OUTPUT_TOKENS`]); the remaining budget is each applicable cap minus the
/// persisted session totals now, so dispatches already running elsewhere are not counted.
pub fn check_fanout(
    project: &Project,
    bus: &Bus,
    settings: &ProviderSettings,
    agent: &str,
    prompt_chars: usize,
    samples: u32,
    max_output_tokens: Option<u64>,
) -> Result<Option<u64>, String> {
    let max_out = max_output_tokens
        .or_else(|| provider_max_output(settings))
        .unwrap_or(DEFAULT_MAX_OUTPUT_TOKENS);
    let worst = fanout_worst_case(pricing::quote(settings, ""), prompt_chars, samples, max_out);
    let cfg = &live(&project.config.budget, bus);
    if any_caps(cfg) {
        fanout_verdict(cfg, &UsageTotals::load(&project.ws), agent, samples, worst)?;
    }
    Ok(worst)
}

#[cfg(test)]
mod tests;
