//! `clk providers`: which providers can be used now (JSON), checked in parallel, within 1 s.

use std::path::Path;
use std::time::Duration;

use serde_json::json;

use super::{Failure, project, runtime};
use crate::engine::providers::{Availability, registry};

/// Longest the whole check may take.
const CHECK_BUDGET: Duration = Duration::from_millis(900);

pub fn run(dir: &Path) -> Result<u8, Failure> {
    let p = project(dir)?;
    let rt = runtime()?;
    let checks = rt.block_on(async {
        let mut tasks = Vec::new();
        for (name, settings) in &p.providers.providers {
            let (name, settings) = (name.clone(), settings.clone());
            tasks.push(tokio::spawn(async move {
                let avail = match registry::build(&name, &settings) {
                    Ok(prov) => match tokio::time::timeout(CHECK_BUDGET, prov.check()).await {
                        Ok(a) => a,
                        Err(_) => Availability::no("no answer within 0.9 s"),
                    },
                    Err(e) => Availability::no(e.to_string()),
                };
                (name, settings, avail)
            }));
        }
        let mut out = Vec::new();
        for t in tasks {
            if let Ok(r) = t.await {
                out.push(r);
            }
        }
        out
    });
    let mut providers = serde_json::Map::new();
    let mut available = serde_json::Map::new();
    for (name, settings, avail) in checks {
        available.insert(name.clone(), json!(avail.usable));
        providers.insert(
            name,
            json!({
                "type": settings.kind,
                "usable": avail.usable,
                "reason": avail.reason,
                "model": settings.model.unwrap_or_default(),
                "endpoint": settings.endpoint.unwrap_or_default(),
            }),
        );
    }
    let doc = json!({"active": p.providers.active, "available": available, "providers": providers});
    println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    Ok(super::EXIT_OK)
}
