//! Token usage of one dispatch: what events, records and prices are computed from.

use serde::{Deserialize, Serialize};

/// Token usage of one dispatch, as the provider reported it or as estimated.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// Tokens served from a prompt cache, when the protocol reports them (part of input).
    #[serde(default)]
    pub cached_input_tokens: u64,
    /// True when the protocol gave no usage and the numbers are chars/4 estimates.
    #[serde(default)]
    pub estimated: bool,
    /// Where the numbers came from, e.g. `openai-usage`, `ollama-eval-count`, `estimate`.
    #[serde(default)]
    pub source: String,
    /// What the provider itself said the call cost (claude's `total_cost_usd`, pi's
    /// `usage.cost`), in micro-dollars; see `pricing::usd_to_micros`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reported_cost_micros: Option<u64>,
}

impl Usage {
    pub fn total(&self) -> u64 {
        self.input_tokens.saturating_add(self.output_tokens)
    }

    /// A chars/4 estimate for when a protocol reports nothing.
    pub fn estimate(prompt: &str, reply: &str) -> Usage {
        Usage {
            input_tokens: prompt.chars().count().div_ceil(4) as u64,
            output_tokens: reply.chars().count().div_ceil(4) as u64,
            cached_input_tokens: 0,
            estimated: true,
            source: "estimate".to_string(),
            reported_cost_micros: None,
        }
    }
}

/// A price as people write it: USD per million tokens. Used in providers.json and the table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelPrice {
    pub input_per_mtok: f64,
    pub output_per_mtok: f64,
    /// Input tokens served from a prompt cache; the input price when not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_input_per_mtok: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimate_rounds_up_and_says_so() {
        let u = Usage::estimate("abcde", "");
        assert_eq!(u.input_tokens, 2);
        assert_eq!(u.output_tokens, 0);
        assert!(u.estimated);
    }
}
