//! Prompts and workflows shipped inside the binary (see build.rs).

include!(concat!(env!("OUT_DIR"), "/bundled.rs"));

/// The bundled prompt `name` (e.g. `engineer.md`).
pub fn prompt(name: &str) -> Option<&'static str> {
    PROMPTS.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// The bundled workflow `name` (e.g. `engineering.yaml`).
pub fn workflow(name: &str) -> Option<&'static str> {
    WORKFLOWS.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}
