//! What a call leaves on record: the reply text in the run folder, and what it cost (the
//! `UsageRecorded` event, the usage totals, the budget's check after the fact).

use std::path::Path;

use super::{DispatchError, DispatchRequest};
use crate::engine::agents::providers::ProviderError;
use crate::engine::ground::config::ProviderSettings;
use crate::engine::ground::events::{Event, Usage};
use crate::engine::ground::pricing;
use crate::engine::store::bus::Bus;
use crate::engine::store::records::{self, UsageTotals};
use crate::engine::store::workspace::Project;

/// Keeps the reply (or why there is none) as `response.txt` beside the prompt.
pub(super) fn record_response(
    run_dir: &Path,
    req: &DispatchRequest,
    error: Option<&ProviderError>,
    reply: &str,
) -> Result<(), DispatchError> {
    let response_file = if req.dry_run {
        "(dry run: the prompt was not sent)\n".to_string()
    } else if let Some(e) = error {
        format!("(no reply: {e})\n")
    } else {
        reply.to_string()
    };
    records::write_text(run_dir, "response.txt", &response_file)?;
    Ok(())
}

/// Lines and bytes of a turned-down reply kept in its `response.txt`.
const TURNED_DOWN_LINES: usize = 40;
const TURNED_DOWN_BYTES: usize = 4096;

/// Replaces `response.txt` of a reply the quality check turned down with its size and first
/// lines: it is never applied, and a huge one must not stay on disk whole.
pub(super) fn record_turned_down(run_dir: &Path, reply: &str) -> Result<(), DispatchError> {
    let mut head = String::new();
    for line in reply.lines().take(TURNED_DOWN_LINES) {
        if head.len() + line.len() + 1 > TURNED_DOWN_BYTES {
            let room = TURNED_DOWN_BYTES.saturating_sub(head.len());
            let cut = (0..=room.min(line.len()))
                .rev()
                .find(|i| line.is_char_boundary(*i))
                .unwrap_or(0);
            head.push_str(&line[..cut]);
            head.push('\n');
            break;
        }
        head.push_str(line);
        head.push('\n');
    }
    let text = format!(
        "(reply turned down by the quality check, not applied: {} bytes, {} lines; its first \
         {} bytes follow)\n{head}",
        reply.len(),
        reply.lines().count(),
        head.len()
    );
    // Run records are written once; this one replaces the whole reply written at the call.
    let _ = std::fs::remove_file(run_dir.join("response.txt"));
    records::write_text(run_dir, "response.txt", &text)?;
    Ok(())
}

/// Prices the call and, when a real call succeeded, records its usage and lets the budget see
/// the spend. A dry run or a failed call costs nothing on record.
#[allow(clippy::too_many_arguments)]
pub(super) fn account(
    project: &Project,
    bus: &Bus,
    req: &DispatchRequest,
    run_id: &str,
    provider_name: &str,
    settings: &ProviderSettings,
    model: &str,
    usage: &Usage,
    ok: bool,
) -> Result<pricing::Cost, DispatchError> {
    let priced_model = pricing::effective_model(settings, model).to_string();
    let cost = pricing::cost(settings, &priced_model, usage);
    if !req.dry_run && ok {
        bus.emit(Event::UsageRecorded {
            agent: req.agent.clone(),
            run_id: run_id.to_string(),
            provider: provider_name.to_string(),
            model: model.to_string(),
            usage: usage.clone(),
            cost_micros: cost.micros,
            cost_basis: cost.basis,
        });
        // A delegated call is billed to its delegator (see `DispatchRequest::billed_to`).
        let billed = req.billed_to();
        let totals = UsageTotals::record(&project.ws, provider_name, billed, usage, cost)?;
        crate::engine::agents::budget::after_dispatch(
            project,
            bus,
            billed,
            provider_name,
            &priced_model,
            cost,
            &totals,
        );
    }
    Ok(cost)
}
