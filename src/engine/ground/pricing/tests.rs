use super::*;

fn settings(kind: &str, model: &str) -> ProviderSettings {
    ProviderSettings {
        kind: kind.into(),
        model: Some(model.into()),
        ..Default::default()
    }
}

fn usage(input: u64, cached: u64, output: u64) -> Usage {
    Usage {
        input_tokens: input,
        cached_input_tokens: cached,
        output_tokens: output,
        ..Default::default()
    }
}

fn mp(input: f64, output: f64) -> ModelPrice {
    ModelPrice {
        input_per_mtok: input,
        output_per_mtok: output,
        cached_input_per_mtok: None,
    }
}

#[test]
fn the_built_in_table_parses_and_is_sane() {
    let t = parse_table(TABLE_JSON).unwrap();
    assert!(t.models.len() > 20);
    for (name, p) in &t.models {
        assert!(p.input_micros_per_mtok > 0, "{name} has no input price");
        assert!(
            p.output_micros_per_mtok >= p.input_micros_per_mtok,
            "{name}: output cheaper than input"
        );
        assert!(
            p.cached_input_micros_per_mtok <= p.input_micros_per_mtok,
            "{name}: cache dearer than input"
        );
    }
    assert_eq!(t.kinds.get("shell"), Some(&KindRule::Free));
    assert_eq!(t.kinds.get("ollama"), Some(&KindRule::Free));
}

#[test]
fn prices_are_exact_micros_and_charges_round_up_once() {
    let p = ModelPrice {
        input_per_mtok: 3.0,
        output_per_mtok: 15.0,
        cached_input_per_mtok: Some(0.3),
    }
    .to_price()
    .unwrap();
    assert_eq!(p.input_micros_per_mtok, 3_000_000);
    assert_eq!(p.cached_input_micros_per_mtok, 300_000);
    // 1,000 fresh input tokens at $3/M = $0.003; 500 output at $15/M = $0.0075.
    assert_eq!(p.charge(&usage(1_000, 0, 500)), 3_000 + 7_500);
    // 400 of the 1,000 input tokens came from the cache: 600*3 + 400*0.3 = 1,920 micros.
    assert_eq!(p.charge(&usage(1_000, 400, 0)), 1_920);
    // One token at $3/M is 3 micros; a third of a micro rounds up to 1, never down to 0.
    assert_eq!(p.charge(&usage(1, 0, 0)), 3);
    let cheap = mp(0.1, 0.1).to_price().unwrap();
    assert_eq!(cheap.charge(&usage(3, 0, 0)), 1);
    assert_eq!(cheap.charge(&usage(0, 0, 0)), 0);
    // The sum is rounded, not each part: 5 + 5 tokens at $0.1/M is 1 micro, not 2.
    assert_eq!(cheap.charge(&usage(5, 0, 5)), 1);
    // No overflow at absurd counts.
    assert_eq!(
        mp(10_000.0, 10_000.0)
            .to_price()
            .unwrap()
            .charge(&usage(u64::MAX, 0, u64::MAX)),
        u64::MAX
    );
    // Cached beyond input is capped at input, never an underflow.
    assert_eq!(p.charge(&usage(10, 20, 0)), 3);
}

#[test]
fn bad_prices_are_refused_with_the_reason() {
    assert!(mp(-1.0, 1.0).to_price().unwrap_err().contains("0 or more"));
    assert!(mp(f64::NAN, 1.0).to_price().is_err());
    let e = mp(1.0, 15_000.0).to_price().unwrap_err();
    assert!(e.contains("per million tokens"), "{e}");
}

#[test]
fn models_match_the_longest_prefix_without_vendor_or_case() {
    let q = |model: &str| match quote(&settings("api", model), "") {
        Quote::Priced { price, basis } => {
            assert_eq!(basis, CostBasis::Table);
            Some((price.input_micros_per_mtok, price.output_micros_per_mtok))
        }
        Quote::Free => Some((0, 0)),
        Quote::Unknown => None,
    };
    assert_eq!(
        q("claude-sonnet-4-5-20250929"),
        Some((3_000_000, 15_000_000))
    );
    assert_eq!(q("claude-opus-4-1"), Some((15_000_000, 75_000_000)));
    assert_eq!(q("claude-opus-4-5"), Some((5_000_000, 25_000_000)));
    assert_eq!(
        q("Anthropic/Claude-Haiku-4-5"),
        Some((1_000_000, 5_000_000))
    );
    assert_eq!(q("gpt-4o-mini-2024-07-18"), Some((150_000, 600_000)));
    assert_eq!(q("gpt-4o"), Some((2_500_000, 10_000_000)));
    assert_eq!(q("gpt-4.1-mini"), Some((400_000, 1_600_000)));
    assert_eq!(q("models/gemini-2.5-flash-lite"), Some((100_000, 400_000)));
    assert_eq!(q("o3-pro"), Some((20_000_000, 80_000_000)));
    assert_eq!(q("mystery-model-9"), None);
    assert_eq!(q(""), None);
}

#[test]
fn local_kinds_are_free_and_self_hosted_servers_free_unless_known() {
    let free = Cost {
        micros: 0,
        basis: CostBasis::Free,
    };
    let u = usage(10_000, 0, 10_000);
    assert_eq!(cost(&settings("shell", ""), "", &u), free);
    // Even a model name the table knows is free on a local Ollama.
    assert_eq!(cost(&settings("ollama", "gpt-4o"), "", &u), free);
    assert_eq!(cost(&settings("openwebui", "llama3.1:8b"), "", &u), free);
    // An OpenAI-compatible server proxying a paid model is priced.
    let c = cost(&settings("openwebui", "openai/gpt-4o"), "", &u);
    assert_eq!(c.basis, CostBasis::Table);
    assert_eq!(c.micros, 25_000 + 100_000);
}

#[test]
fn an_unknown_paid_model_is_unknown_not_free() {
    let c = cost(
        &settings("api", "brand-new-model"),
        "",
        &usage(1_000, 0, 1_000),
    );
    assert_eq!(c.basis, CostBasis::Unknown);
    assert_eq!(c.micros, 0);
}

#[test]
fn configured_prices_beat_reported_costs_which_beat_the_table() {
    let mut s = settings("cli", "claude-sonnet-4-5");
    let mut u = usage(1_000_000, 0, 0);
    let c = cost(&s, "", &u);
    assert_eq!((c.micros, c.basis), (3_000_000, CostBasis::Table));
    u.reported_cost_micros = Some(1_234);
    let c = cost(&s, "", &u);
    assert_eq!((c.micros, c.basis), (1_234, CostBasis::Reported));
    s.price = Some(mp(0.0, 0.0));
    let c = cost(&s, "", &u);
    assert_eq!((c.micros, c.basis), (0, CostBasis::Configured));
    s.prices.insert("claude-sonnet".into(), mp(1.0, 1.0));
    s.prices.insert("claude".into(), mp(2.0, 2.0));
    let c = cost(&s, "", &u);
    assert_eq!((c.micros, c.basis), (1_000_000, CostBasis::Configured));
    // The model that answered wins over the configured one for the lookup.
    let c = cost(&s, "claude-haiku-4-5", &u);
    assert_eq!(c.micros, 2_000_000);
    // A configured price makes an unknown model priced.
    let mut s = settings("api", "my-model");
    s.prices.insert("my-model".into(), mp(3.0, 15.0));
    let c = cost(&s, "", &usage(0, 0, 1_000_000));
    assert_eq!((c.micros, c.basis), (15_000_000, CostBasis::Configured));
}

#[test]
fn money_is_shown_for_people() {
    assert_eq!(format_usd(0), "$0.00");
    assert_eq!(format_usd(7), "<$0.0001");
    assert_eq!(format_usd(4_200), "$0.0042");
    assert_eq!(format_usd(999_999), "$1.00");
    assert_eq!(format_usd(500_000), "$0.50");
    assert_eq!(format_usd(2_000), "$0.002");
    assert_eq!(format_usd(12_345_678), "$12.35");
    assert_eq!(usd_to_micros(0.0123), Some(12_300));
    assert_eq!(usd_to_micros(-1.0), None);
    assert_eq!(cap_micros(f64::INFINITY), 0);
}
