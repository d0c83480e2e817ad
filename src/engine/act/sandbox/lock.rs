//! The Landlock ruleset for one command, built by the parent (opening paths allocates) and
//! applied in the child just before exec.
//!
//! Read and execute everywhere; every right but making device nodes on the writable paths and the
//! command's private temporary directory; write and ioctl (no create) on a few character devices
//! (/dev/null, /dev/zero, /dev/urandom...), never on terminals. Scoped (ABI 6): no signals to
//! processes outside the sandbox, no connecting to abstract Unix sockets made outside it. With the
//! network off and no network namespace, TCP bind and connect are denied (ABI 4); UDP and Unix
//! sockets are not covered by Landlock.

use std::path::PathBuf;

use landlock::{
    ABI, Access, AccessFs, AccessNet, CompatLevel, Compatible, Ruleset, RulesetAttr,
    RulesetCreated, RulesetCreatedAttr, Scope, path_beneath_rules,
};

use super::SandboxError;

/// Devices a command may write to; creating files in /dev stays denied. Not the terminals
/// (/dev/tty, /dev/pts): with write and ioctl rights there, a command could push keystrokes
/// into clk's terminal with TIOCSTI (allowed while `dev.tty.legacy_tiocsti` is 1).
const DEVICES: &[&str] = &[
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
];

fn err(e: impl std::fmt::Display) -> SandboxError {
    SandboxError::Landlock {
        detail: e.to_string(),
    }
}

/// The ruleset; `deny_tcp` when Landlock itself must keep the network off.
pub fn ruleset(writable: &[PathBuf], deny_tcp: bool) -> Result<RulesetCreated, SandboxError> {
    let abi = ABI::V6;
    let mut rs = Ruleset::default()
        .handle_access(AccessFs::from_all(abi))
        .map_err(err)?;
    if deny_tcp {
        // Best effort would quietly leave the network on under an old kernel: require it.
        rs = rs
            .set_compatibility(CompatLevel::HardRequirement)
            .handle_access(AccessNet::from_all(abi))
            .map_err(|e| SandboxError::Landlock {
                detail: format!("network off needs Landlock ABI 4 or namespaces: {e}"),
            })?
            .set_compatibility(CompatLevel::BestEffort);
    }
    rs.scope(Scope::from_all(abi))
        .map_err(err)?
        .create()
        .map_err(err)?
        .add_rules(path_beneath_rules(["/"], AccessFs::from_read(abi)))
        .map_err(err)?
        .add_rules(path_beneath_rules(
            writable,
            AccessFs::from_all(abi) & !(AccessFs::MakeChar | AccessFs::MakeBlock),
        ))
        .map_err(err)?
        .add_rules(path_beneath_rules(
            DEVICES,
            AccessFs::from_file(abi) | AccessFs::ReadDir,
        ))
        .map_err(err)
}
