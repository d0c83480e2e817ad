//! What a dispatch cost, in integer micro-dollars (1 USD = 1,000,000 micros).
//!
//! Prices come from three places, first match wins:
//! 1. providers.json: a provider's `prices` (per model, longest prefix) or its `price` (every
//!    model it serves). The user said so, so this beats everything, including a CLI's own
//!    figure (a subscription user sets `"price": {"input_per_mtok": 0, "output_per_mtok": 0}`).
//! 2. The cost the provider reported for the call (`Usage::reported_cost_micros`: claude's
//!    `total_cost_usd`, pi's `usage.cost`). The vendor knows its cache and long-context rules;
//!    we do not, so its figure beats our table.
//! 3. The built-in table `assets/pricing.json`: local kinds (shell, ollama) are free, an
//!    OpenAI-compatible server is free unless it serves a model the table knows, and any other
//!    kind with a model the table does not know has an unknown price. Unknown is its own state
//!    ([`CostBasis::Unknown`], 0 micros) and is shown as "unknown", never as $0.
//!
//! Arithmetic: prices are kept as whole micro-dollars per million tokens, so
//! `cost = ceil((uncached_in * p_in + cached_in * p_cached + out * p_out) / 1e6)` in u128, with
//! one rounding at the end, upwards: a dispatch that used tokens at a non-zero price never costs
//! 0, and a budget cap never lets through a call that rounding made look cheaper.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::engine::ground::config::ProviderSettings;
pub use crate::engine::ground::usage::ModelPrice;
use crate::engine::ground::usage::Usage;

/// Micro-dollars in one dollar.
pub const MICROS_PER_USD: u64 = 1_000_000;
/// Tokens in the "per million tokens" of a price.
const TOKENS_PER_MTOK: u128 = 1_000_000;
/// Highest price accepted per million tokens; larger numbers are typos.
const MAX_USD_PER_MTOK: f64 = 10_000.0;

/// A price in whole micro-dollars per million tokens: exact, so costs add up exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Price {
    pub input_micros_per_mtok: u64,
    pub output_micros_per_mtok: u64,
    pub cached_input_micros_per_mtok: u64,
}

impl ModelPrice {
    /// The exact form, or what is wrong with a figure (negative, not a number, absurdly large).
    pub fn to_price(&self) -> Result<Price, String> {
        let one = |what: &str, usd: f64| -> Result<u64, String> {
            if !usd.is_finite() || usd < 0.0 {
                return Err(format!("{what} is {usd}; use a price of 0 or more"));
            }
            if usd > MAX_USD_PER_MTOK {
                return Err(format!(
                    "{what} is {usd} USD per million tokens, more than {MAX_USD_PER_MTOK}; \
                     prices are per million tokens, not per token"
                ));
            }
            Ok((usd * MICROS_PER_USD as f64).round() as u64)
        };
        let input = one("input_per_mtok", self.input_per_mtok)?;
        Ok(Price {
            input_micros_per_mtok: input,
            output_micros_per_mtok: one("output_per_mtok", self.output_per_mtok)?,
            cached_input_micros_per_mtok: match self.cached_input_per_mtok {
                Some(c) => one("cached_input_per_mtok", c)?,
                None => input,
            },
        })
    }
}

impl Price {
    /// Cost of `usage` at this price, rounded up to a whole micro-dollar.
    ///
    /// `cached_input_tokens` are part of `input_tokens` (see [`Usage`]), so they are capped
    /// at `input_tokens`.
    pub fn charge(&self, usage: &Usage) -> u64 {
        let input = u128::from(usage.input_tokens);
        let cached = u128::from(usage.cached_input_tokens).min(input);
        let uncached = input - cached;
        let numer = uncached * u128::from(self.input_micros_per_mtok)
            + cached * u128::from(self.cached_input_micros_per_mtok)
            + u128::from(usage.output_tokens) * u128::from(self.output_micros_per_mtok);
        u64::try_from(numer.div_ceil(TOKENS_PER_MTOK)).unwrap_or(u64::MAX)
    }
}

/// Where a cost figure came from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CostBasis {
    /// A local provider, or a self-hosted model: nothing to pay.
    #[default]
    Free,
    /// The built-in price table.
    Table,
    /// A price set in providers.json.
    Configured,
    /// The provider reported what the call cost.
    Reported,
    /// A paid provider with a model whose price clk does not know: the cost is unknown.
    Unknown,
}

impl CostBasis {
    pub fn as_str(self) -> &'static str {
        match self {
            CostBasis::Free => "free",
            CostBasis::Table => "table",
            CostBasis::Configured => "configured",
            CostBasis::Reported => "reported",
            CostBasis::Unknown => "unknown",
        }
    }
}

/// One dispatch's cost and where the figure came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Cost {
    /// 0 when the basis is `Free` or `Unknown`.
    pub micros: u64,
    pub basis: CostBasis,
}

/// What a provider's model will cost per token, before any call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quote {
    Free,
    Priced { price: Price, basis: CostBasis },
    Unknown,
}

/// How the table treats a provider kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum KindRule {
    /// Local: every model is free.
    Free,
    /// Models the table knows are priced; others are self-hosted and free.
    TableOrFree,
}

#[derive(Debug, Deserialize)]
struct TableFile {
    kinds: BTreeMap<String, KindRule>,
    models: BTreeMap<String, ModelPrice>,
}

/// The built-in price table, parsed once.
#[derive(Default)]
struct Table {
    kinds: BTreeMap<String, KindRule>,
    /// Lower-case model prefixes, exact prices.
    models: Vec<(String, Price)>,
}

const TABLE_JSON: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/pricing.json"));

fn parse_table(text: &str) -> Result<Table, String> {
    let file: TableFile = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let mut models = Vec::new();
    for (name, p) in &file.models {
        models.push((
            name.to_ascii_lowercase(),
            p.to_price().map_err(|e| format!("{name}: {e}"))?,
        ));
    }
    Ok(Table {
        kinds: file.kinds,
        models,
    })
}

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    // The embedded file is checked by `the_built_in_table_parses_and_is_sane`.
    TABLE.get_or_init(|| {
        parse_table(TABLE_JSON).unwrap_or_else(|e| {
            // Every price then reads as unknown, which is what the title bar shows.
            tracing::error!("the built-in price table does not parse: {e}");
            Table::default()
        })
    })
}

/// The part of a model name prices are keyed by: lower case, without a vendor or path prefix
/// (`anthropic/claude-sonnet-4-5`, `models/gemini-2.5-pro`).
fn model_key(model: &str) -> String {
    let m = model.trim();
    m.rsplit('/').next().unwrap_or(m).to_ascii_lowercase()
}

/// The entry whose key is the longest prefix of `model`.
fn longest_prefix<'a, T>(entries: impl Iterator<Item = (&'a str, T)>, model: &str) -> Option<T> {
    let key = model_key(model);
    if key.is_empty() {
        return None;
    }
    entries
        .filter(|(prefix, _)| !prefix.is_empty() && key.starts_with(&prefix.to_ascii_lowercase()))
        .max_by_key(|(prefix, _)| prefix.len())
        .map(|(_, v)| v)
}

/// The price the user configured for `model` on this provider, if any.
fn configured(settings: &ProviderSettings, model: &str) -> Option<Price> {
    let per_model = longest_prefix(settings.prices.iter().map(|(k, v)| (k.as_str(), v)), model);
    per_model
        .or(settings.price.as_ref())
        .and_then(|p| p.to_price().ok())
}

/// The model a figure is about: what the provider said answered, else what is configured.
pub fn effective_model<'a>(settings: &'a ProviderSettings, answered: &'a str) -> &'a str {
    if answered.trim().is_empty() {
        settings.model.as_deref().unwrap_or("")
    } else {
        answered
    }
}

/// What `model` on this provider costs per token, without a call.
pub fn quote(settings: &ProviderSettings, model: &str) -> Quote {
    let model = effective_model(settings, model);
    if let Some(price) = configured(settings, model) {
        return Quote::Priced {
            price,
            basis: CostBasis::Configured,
        };
    }
    let t = table();
    let rule = t.kinds.get(settings.kind.as_str()).copied();
    if rule == Some(KindRule::Free) {
        return Quote::Free;
    }
    match longest_prefix(t.models.iter().map(|(k, p)| (k.as_str(), *p)), model) {
        Some(price) => Quote::Priced {
            price,
            basis: CostBasis::Table,
        },
        None if rule == Some(KindRule::TableOrFree) => Quote::Free,
        None => Quote::Unknown,
    }
}

/// The cost of one dispatch on this provider (see the module doc for the order of sources).
pub fn cost(settings: &ProviderSettings, model: &str, usage: &Usage) -> Cost {
    let quote = quote(settings, model);
    if let Quote::Priced {
        price,
        basis: CostBasis::Configured,
    } = quote
    {
        return Cost {
            micros: price.charge(usage),
            basis: CostBasis::Configured,
        };
    }
    if let Some(micros) = usage.reported_cost_micros {
        return Cost {
            micros,
            basis: CostBasis::Reported,
        };
    }
    match quote {
        Quote::Priced { price, basis } => Cost {
            micros: price.charge(usage),
            basis,
        },
        Quote::Free => Cost {
            micros: 0,
            basis: CostBasis::Free,
        },
        Quote::Unknown => Cost {
            micros: 0,
            basis: CostBasis::Unknown,
        },
    }
}

/// A dollar amount a provider reported (e.g. `total_cost_usd`) as micro-dollars, rounded to
/// the nearest micro; None for negative or non-finite figures.
pub fn usd_to_micros(usd: f64) -> Option<u64> {
    (usd.is_finite() && usd >= 0.0).then(|| (usd * MICROS_PER_USD as f64).round() as u64)
}

/// A cap or limit in USD as micro-dollars (0 for anything not a positive number).
pub fn cap_micros(usd: f64) -> u64 {
    usd_to_micros(usd).unwrap_or(0)
}

/// Money for people: `$0.00` for nothing, cents from a dollar up (`$12.35`), and under a
/// dollar up to four decimals without trailing zeros past the cents (`$0.50`, `$0.002`,
/// `$0.0042`); `<$0.0001` for a non-zero amount too small to show. Rounded to the nearest
/// shown digit.
pub fn format_usd(micros: u64) -> String {
    let usd = micros as f64 / MICROS_PER_USD as f64;
    if micros == 0 {
        "$0.00".to_string()
    } else if micros < 100 {
        "<$0.0001".to_string()
    } else if micros < MICROS_PER_USD {
        let mut s = format!("{usd:.4}");
        while s.ends_with('0') && s.len() > "0.00".len() {
            s.pop();
        }
        format!("${s}")
    } else {
        format!("${usd:.2}")
    }
}

#[cfg(test)]
mod tests;
