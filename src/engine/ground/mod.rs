pub mod bundled;
pub mod config;
pub mod events;
pub mod pricing;
pub mod protocol;
pub mod redact;
pub mod slash;
pub mod state;
