//! `clk providers`: which providers can be used now and why not (JSON), with what each costs.
//!
//! Every provider's check starts at once and the whole command has one hard deadline
//! ([`CHECK_DEADLINE`]): a check still running then (an endpoint that swallows packets, a DNS
//! server that never answers) is reported as not usable with that reason, and the runtime is
//! shut down without waiting for it, so the command ends well under a second. No model is
//! called.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{Failure, project, runtime};
use crate::engine::config::ProviderSettings;
use crate::engine::pricing::{self, Quote};
use crate::engine::providers::{Availability, registry};

/// Longest the checks may take together, from when they start.
const CHECK_DEADLINE: Duration = Duration::from_millis(750);

pub fn run(dir: &Path) -> Result<u8, Failure> {
    let p = project(dir)?;
    let rt = runtime()?;
    let started = Instant::now();
    let providers: Vec<(String, ProviderSettings)> = p
        .providers
        .providers
        .iter()
        .map(|(n, s)| (n.clone(), s.clone()))
        .collect();
    let checks = rt.block_on(check_all(providers));
    // Checks cut off at the deadline may sit in blocking threads (DNS lookups); do not wait.
    rt.shutdown_background();
    let checked_ms = started.elapsed().as_millis() as u64;

    let mut out = serde_json::Map::new();
    let mut available = serde_json::Map::new();
    for (name, settings, avail) in checks {
        available.insert(name.clone(), json!(avail.usable));
        out.insert(
            name,
            json!({
                "type": settings.kind,
                "usable": avail.usable,
                "reason": avail.reason,
                "model": settings.model.clone().unwrap_or_default(),
                "endpoint": settings.endpoint.clone().unwrap_or_default(),
                "price": price_json(&settings),
            }),
        );
    }
    let doc = json!({
        "active": p.providers.active,
        "available": available,
        "providers": out,
        "checked_ms": checked_ms,
    });
    println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    Ok(super::EXIT_OK)
}

/// Check every provider at once; whatever has not answered by the deadline is not usable.
async fn check_all(
    providers: Vec<(String, ProviderSettings)>,
) -> Vec<(String, ProviderSettings, Availability)> {
    let deadline = tokio::time::Instant::now() + CHECK_DEADLINE;
    let tasks: Vec<_> = providers
        .into_iter()
        .map(|(name, settings)| {
            let task = match registry::build(&name, &settings) {
                Ok(prov) => tokio::spawn(async move { prov.check().await }),
                Err(e) => {
                    let why = Availability::no(e.to_string());
                    tokio::spawn(async move { why })
                }
            };
            (name, settings, task)
        })
        .collect();
    let mut out = Vec::new();
    for (name, settings, task) in tasks {
        let abort = task.abort_handle();
        let avail = match tokio::time::timeout_at(deadline, task).await {
            Ok(Ok(a)) => a,
            Ok(Err(e)) => Availability::no(format!("the check failed: {e}")),
            Err(_) => {
                abort.abort();
                Availability::no(format!(
                    "no answer within {:.2} s: the endpoint is slow or unreachable",
                    CHECK_DEADLINE.as_secs_f64()
                ))
            }
        };
        out.push((name, settings, avail));
    }
    out
}

/// What the provider's configured model costs, as the pricing module sees it.
fn price_json(settings: &ProviderSettings) -> Value {
    let per_mtok = |micros: u64| micros as f64 / pricing::MICROS_PER_USD as f64;
    match pricing::quote(settings, "") {
        Quote::Free => json!({"basis": "free"}),
        Quote::Unknown => json!({"basis": "unknown"}),
        Quote::Priced { price, basis } => json!({
            "basis": basis.as_str(),
            "input_per_mtok": per_mtok(price.input_micros_per_mtok),
            "output_per_mtok": per_mtok(price.output_micros_per_mtok),
            "cached_input_per_mtok": per_mtok(price.cached_input_micros_per_mtok),
        }),
    }
}
