//! `clk providers`: which providers can be used now and why not (JSON), with what each costs.
//!
//! Every provider's check starts at once and the whole command has one hard deadline
//! ([`CHECK_DEADLINE`], or `CLK_PROVIDERS_TIMEOUT_MS`): a check still running then (an endpoint
//! that swallows packets, a DNS server that never answers) is reported as not usable with that
//! reason, and the runtime is shut down without waiting for it, so the command ends well under a
//! second. No model is called.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{Failure, project, runtime};
use crate::engine::agents::providers::{Availability, registry};
use crate::engine::ground::config::ProviderSettings;
use crate::engine::ground::pricing::{self, Quote};

/// Longest the checks may take together, from when they start.
const CHECK_DEADLINE: Duration = Duration::from_millis(750);

/// `CLK_PROVIDERS_TIMEOUT_MS` lengthens (or shortens) the deadline, for endpoints far away.
fn deadline() -> Result<Duration, Failure> {
    let Some(raw) = crate::engine::ground::config::process_env("CLK_PROVIDERS_TIMEOUT_MS") else {
        return Ok(CHECK_DEADLINE);
    };
    match raw.trim().parse::<u64>() {
        Ok(ms) if (50..=60_000).contains(&ms) => Ok(Duration::from_millis(ms)),
        _ => Err(Failure::bad_input(format!(
            "CLK_PROVIDERS_TIMEOUT_MS={raw:?}: use milliseconds from 50 to 60000"
        ))),
    }
}

pub fn run(dir: &Path) -> Result<u8, Failure> {
    let p = project(dir)?;
    let limit = deadline()?;
    let rt = runtime()?;
    let started = Instant::now();
    let checks: Vec<(String, Check)> = p
        .providers
        .providers
        .iter()
        .map(|(n, s)| (n.clone(), check_of(n.clone(), s.clone())))
        .collect();
    let results = rt.block_on(check_all(checks, limit));
    // Checks cut off at the deadline may sit in blocking threads (DNS lookups); do not wait.
    rt.shutdown_background();
    let checked_ms = started.elapsed().as_millis() as u64;

    let mut out = serde_json::Map::new();
    let mut available = serde_json::Map::new();
    for (name, avail) in results {
        let Some(settings) = p.providers.providers.get(&name) else {
            continue;
        };
        available.insert(name.clone(), json!(avail.usable));
        out.insert(
            name,
            json!({
                "type": settings.kind,
                "usable": avail.usable,
                "reason": avail.reason,
                "model": settings.model.clone().unwrap_or_default(),
                "endpoint": settings.endpoint.clone().unwrap_or_default(),
                "price": price_json(settings),
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

/// A provider's availability check, not yet started.
type Check = Pin<Box<dyn Future<Output = Availability> + Send>>;

/// The check of one configured provider: build it, then ask it (all inside the future, so the
/// building too runs concurrently and under the deadline).
fn check_of(name: String, settings: ProviderSettings) -> Check {
    Box::pin(async move {
        match registry::build(&name, &settings) {
            Ok(prov) => prov.check().await,
            Err(e) => Availability::no(e.to_string()),
        }
    })
}

/// Run every check at once; whatever has not answered within `limit` is not usable.
async fn check_all(checks: Vec<(String, Check)>, limit: Duration) -> Vec<(String, Availability)> {
    let deadline = tokio::time::Instant::now() + limit;
    let tasks: Vec<_> = checks
        .into_iter()
        .map(|(name, check)| (name, tokio::spawn(check)))
        .collect();
    let mut out = Vec::new();
    for (name, task) in tasks {
        let abort = task.abort_handle();
        let avail = match tokio::time::timeout_at(deadline, task).await {
            Ok(Ok(a)) => a,
            Ok(Err(e)) => Availability::no(format!("the check failed: {e}")),
            Err(_) => {
                abort.abort();
                Availability::no(format!(
                    "no answer within {:.2} s: the endpoint is slow or unreachable",
                    limit.as_secs_f64()
                ))
            }
        };
        out.push((name, avail));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_check_that_never_ends_is_cut_off_at_the_deadline() {
        let never: Check = Box::pin(std::future::pending());
        let quick: Check = Box::pin(async { Availability::ok() });
        let failing: Check = Box::pin(async { panic!("a bug in a check") });
        let out = check_all(
            vec![
                ("never".into(), never),
                ("quick".into(), quick),
                ("failing".into(), failing),
            ],
            Duration::from_millis(50),
        )
        .await;
        assert_eq!(out[0].0, "never");
        assert!(!out[0].1.usable);
        assert!(
            out[0].1.reason.starts_with("no answer within 0.05 s"),
            "{}",
            out[0].1.reason
        );
        assert_eq!(out[1].1, Availability::ok());
        assert!(
            out[2].1.reason.starts_with("the check failed"),
            "{:?}",
            out[2].1
        );
    }
}
