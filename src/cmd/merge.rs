//! `clk merge [--discard]`: bring a run branch that waits for you into your branch (after you
//! committed or stashed the changes that blocked it), or drop it.

use std::path::Path;

use super::{Failure, orchestrate};
use crate::engine::ground::events::Command;
use crate::headless::Format;

pub fn run(dir: &Path, discard: bool, format: Format) -> Result<u8, Failure> {
    orchestrate::submit(dir, Command::Merge { discard }, format)
}
