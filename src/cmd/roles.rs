//! `clk roles list|add|remove`.

use std::path::Path;

use super::{EXIT_OK, Failure, project};
use crate::cli::RolesAction;
use crate::engine::session::roles;

pub fn run(dir: &Path, action: &RolesAction) -> Result<u8, Failure> {
    let p = project(dir)?;
    match action {
        RolesAction::List => {
            for line in roles::list(&p) {
                println!("{line}");
            }
        }
        RolesAction::Add { name, role } => {
            let added = roles::add(&p, name, &role.join(" ")).map_err(Failure::bad_input)?;
            println!("added {added}");
        }
        RolesAction::Remove { name } => {
            roles::drop(&p, name).map_err(Failure::bad_input)?;
            println!("removed {name}");
        }
    }
    Ok(EXIT_OK)
}
