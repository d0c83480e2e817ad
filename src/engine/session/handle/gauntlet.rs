//! `/gauntlet`: turn the gauntlet on or off or pick its preset for this session, and show
//! where it stands.
//!
//! What is set here lives on the bus, so the next stage sees it, even in a run already going;
//! `clk configure --set gauntlet.enabled=true` keeps it for later sessions.

use super::commands::Handled;
use crate::engine::ground::config::{GauntletConfig, GauntletPreset, choices::word};
use crate::engine::ground::events::{Event, GauntletAction};
use crate::engine::runs::gauntlet::policy::effective;
use crate::engine::store::bus::Bus;
use crate::engine::store::workspace::Project;

fn preset_text(p: GauntletPreset) -> String {
    format!("preset {} ({} round(s))", word(p), p.rounds())
}

/// Apply `action` for this session, or report the state.
pub(super) fn handle(project: &Project, bus: &Bus, action: GauntletAction) -> Handled {
    let (enabled, preset) = match action {
        GauntletAction::Status => return status(project, bus),
        GauntletAction::On => (true, None),
        GauntletAction::Off => (false, None),
        GauntletAction::Quick => (true, Some(GauntletPreset::Quick)),
        GauntletAction::Standard => (true, Some(GauntletPreset::Standard)),
        GauntletAction::Rigorous => (true, Some(GauntletPreset::Rigorous)),
    };
    bus.set_gauntlet(Some(enabled), preset);
    let now = effective(&project.config.gauntlet, &bus.gauntlet());
    Handled::Done(if enabled {
        format!(
            "gauntlet on for this session, {}; it covers the next stage",
            preset_text(now.preset)
        )
    } else {
        "gauntlet off for this session".into()
    })
}

fn status(project: &Project, bus: &Bus) -> Handled {
    let session = bus.gauntlet();
    let saved: &GauntletConfig = &project.config.gauntlet;
    let now = effective(saved, &session);
    let whence = if session.enabled.is_some() || session.preset.is_some() {
        "set for this session"
    } else {
        "from the settings"
    };
    let mut lines = vec![
        format!(
            "gauntlet: {} ({whence}) · {} · scope {} · critic {}",
            if now.enabled { "on" } else { "off" },
            preset_text(now.preset),
            word(now.scope),
            now.critic
        ),
        format!(
            "dispatches this session: {} of {}{}",
            session.used,
            now.budget,
            if session.used >= now.budget {
                " (spent)"
            } else {
                ""
            }
        ),
    ];
    lines.push(
        "this session: /gauntlet on|off|quick|standard|rigorous; keep it: clk configure --set \
         gauntlet.enabled=true"
            .into(),
    );
    bus.emit(Event::Report {
        topic: "gauntlet".into(),
        lines,
    });
    Handled::Done("gauntlet shown".into())
}
