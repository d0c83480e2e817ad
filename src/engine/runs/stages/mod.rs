//! Running a workflow: one pass over its stages in dependency order ([`runner`]), each stage's
//! attempts with retries and careful dispatch ([`attempt`]), review checkpoints
//! ([`checkpoint`]), and the cycle-after-cycle supervisor with its done gate ([`supervise`]).

mod attempt;
mod checkpoint;
pub mod meta;
mod outputs;
mod parallel;
pub mod runner;
pub mod supervise;
mod validate;

pub use checkpoint::Course;
