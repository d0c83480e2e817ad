//! `clk diag`: write a bug-report bundle (see the engine's `session/diag.rs` for what is in
//! it and how secrets are taken out).

use std::path::{Path, PathBuf};

use super::{EXIT_OK, Failure, runtime};
use crate::engine::ground::config::Env;
use crate::engine::session::diag;
use crate::engine::store::workspace::Workspace;

pub fn run(dir: &Path, out: Option<PathBuf>, lines: usize) -> Result<u8, Failure> {
    // From the folder alone, like the doctor: a broken config is a reason to send a bundle.
    let root = super::clk_root(dir)?;
    let ws = Workspace::new(root);
    let out = out.unwrap_or_else(|| {
        dir.join(format!(
            "clk-diag-{}.tar.gz",
            chrono::Local::now().format("%Y%m%d-%H%M%S")
        ))
    });
    if out.exists() {
        return Err(Failure::bad_input(format!(
            "{} already exists; pick another name with --out",
            out.display()
        )));
    }
    let rt = runtime()?;
    let bundle = rt
        .block_on(diag::build(&ws, &Env::process(), &out, lines))
        .map_err(Failure::failed)?;
    println!(
        "wrote {} ({} files: {})",
        bundle.path.display(),
        bundle.files.len(),
        bundle.files.join(", ")
    );
    println!("secrets are taken out; look it over before you attach it to a bug report");
    Ok(EXIT_OK)
}
