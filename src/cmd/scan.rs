//! `clk scan-secrets`: look through the commits a push would send for keys and key files.
//! The pre-push hook clk installs runs it with `--pre-push` (git hands the refs on stdin).

use std::io::Read;
use std::path::Path;

use super::{EXIT_FAILED, EXIT_OK, Failure};
use crate::engine::store::git::scan::{self, Scan};

pub fn run(dir: &Path, pre_push: bool) -> Result<u8, Failure> {
    let found = if pre_push {
        let mut stdin = String::new();
        std::io::stdin()
            .take(1024 * 1024)
            .read_to_string(&mut stdin)
            .map_err(|e| Failure::failed(format!("cannot read the refs git sends: {e}")))?;
        scan::scan_pre_push(dir, &stdin)
    } else {
        scan::scan_unpushed(dir)
    }
    .map_err(|e| Failure::bad_input(format!("cannot scan: {e}")))?;
    Ok(report(&found, pre_push))
}

/// Print what was found (to stderr, which git shows for a hook) and the exit code.
pub fn report(found: &Scan, pre_push: bool) -> u8 {
    if found.findings.is_empty() {
        if !pre_push {
            println!(
                "no keys or key files in {} commit(s) not yet pushed",
                found.commits
            );
        }
        return EXIT_OK;
    }
    let what = if pre_push {
        "clk's secret scan stopped this push"
    } else {
        "a push would send secrets"
    };
    eprintln!(
        "{what}: {} finding(s) in {} commit(s):",
        found.findings.len(),
        found.commits
    );
    for f in &found.findings {
        eprintln!("  {}", f.describe());
    }
    eprintln!(
        "Take them out of those commits (git rebase -i, or git commit --amend for the last) \
         and rotate any real key; `git push --no-verify` skips the scan."
    );
    EXIT_FAILED
}
