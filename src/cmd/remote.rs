//! `clk remote list|link|create`: where pushes go, and a new GitHub repository for the project.

use std::path::Path;

use super::{EXIT_OK, Failure, project, runtime};
use crate::cli::RemoteAction;
use crate::engine::runs::remote;
use crate::engine::store::git::scan::{self, Hook};

pub fn run(dir: &Path, action: RemoteAction) -> Result<u8, Failure> {
    let p = project(dir)?;
    let root = p.ws.root.clone();
    let lines = match action {
        RemoteAction::List => {
            let repo = git2::Repository::open(&root).map_err(|_| {
                Failure::bad_input("this project has no git repository; run `clk init` first")
            })?;
            let names = repo.remotes().map_err(|e| Failure::failed(e.message()))?;
            let mut out = Vec::new();
            for name in names.iter().flatten().flatten() {
                if let Ok(r) = repo.find_remote(name) {
                    out.push(format!("{name}  {}", r.url().unwrap_or("?")));
                }
            }
            if out.is_empty() {
                out.push(
                    "no remote: `clk remote link URL` or `clk remote create NAME` adds one".into(),
                );
            }
            out
        }
        RemoteAction::Link { url, name, replace } => {
            vec![remote::link(&root, &name, &url, replace).map_err(Failure::bad_input)?]
        }
        RemoteAction::Create {
            name,
            owner,
            public,
            remote: as_remote,
        } => {
            let token = std::env::var("GITHUB_TOKEN").ok();
            let rt = runtime()?;
            rt.block_on(remote::create(
                &root,
                &p.config.tasks.github_api,
                &name,
                owner.as_deref(),
                public,
                &as_remote,
                token.as_deref(),
            ))
            .map_err(Failure::bad_input)?
        }
    };
    for l in &lines {
        println!("{l}");
    }
    // Pushes from here are checked for keys first, whoever makes them.
    if let Ok(exe) = std::env::current_exe() {
        match scan::install_hook(&root, &exe) {
            Ok(Hook::Installed(_)) => println!("installed the pre-push secret scan"),
            Ok(Hook::Other(path)) => println!(
                "note: {} is your own hook; add `clk scan-secrets --pre-push` to it",
                path.display()
            ),
            Ok(Hook::AlreadyThere(_)) => {}
            Err(e) => eprintln!("note: the pre-push secret scan was not installed: {e}"),
        }
    }
    println!("clk pushes only under autonomy aggressive; otherwise `git push` is yours to run");
    Ok(EXIT_OK)
}
