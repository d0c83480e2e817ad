//! `aggressive` autonomy's last step: push the user's branch where a remote is configured.

use std::path::Path;

use crate::engine::ground::events::Event;
use crate::engine::store::bus::Bus;
use crate::engine::store::git;

/// `aggressive`: push the user's branch where a remote is configured (also after a task
/// merges). True when it was pushed.
pub fn push(bus: &Bus, root: &Path) -> bool {
    let Some(repo) = git::open(root) else {
        return false;
    };
    let has_remote = repo.remotes().is_ok_and(|r| !r.is_empty());
    if !has_remote {
        return false;
    }
    if let Err(why) = git::scan::check_before_push(root, None) {
        bus.emit(Event::Warning { message: why });
        return false;
    }
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(root)
        .args(["push", "--quiet"])
        .output();
    match out {
        Ok(o) if o.status.success() => {
            bus.emit(Event::Report {
                topic: "push".into(),
                lines: vec!["pushed your branch (autonomy: aggressive)".into()],
            });
            return true;
        }
        Ok(o) => bus.emit(Event::Warning {
            message: format!(
                "git push failed: {}",
                String::from_utf8_lossy(&o.stderr)
                    .lines()
                    .next()
                    .unwrap_or("")
            ),
        }),
        Err(e) => bus.emit(Event::Warning {
            message: format!("could not run git push: {e}"),
        }),
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn git(dir: &Path, args: &[&str]) -> String {
        let out = std::process::Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(["-c", "user.name=t", "-c", "user.email=t@t.invalid"])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    #[test]
    fn aggressive_pushes_clean_work_and_holds_a_key_with_a_warning() {
        let top = tempfile::tempdir().unwrap();
        let (bare, dir) = (top.path().join("r.git"), top.path().join("w"));
        git(top.path(), &["init", "-q", "--bare", "-b", "main", "r.git"]);
        git(top.path(), &["init", "-q", "-b", "main", "w"]);
        git(&dir, &["remote", "add", "origin", bare.to_str().unwrap()]);
        std::fs::write(dir.join("app.py"), "print(1)\n").unwrap();
        git(&dir, &["add", "app.py"]);
        git(&dir, &["commit", "-qm", "one"]);
        git(&dir, &["push", "-q", "-u", "origin", "main"]);
        let bus = Bus::new(None);
        let mut rx = bus.subscribe();

        std::fs::write(dir.join("app.py"), "print(2)\n").unwrap();
        git(&dir, &["commit", "-qam", "two"]);
        assert!(push(&bus, &dir), "clean work goes up");
        assert_eq!(
            git(&bare, &["rev-parse", "main"]),
            git(&dir, &["rev-parse", "HEAD"])
        );

        let key = "sk-proj-Zq8WcB1x2y3z4A5B6C7D8E9F0g";
        std::fs::write(dir.join("cfg.py"), format!("KEY = \"{key}\"\n")).unwrap();
        git(&dir, &["add", "cfg.py"]);
        git(&dir, &["commit", "-qm", "three"]);
        let before = git(&bare, &["rev-parse", "main"]);
        assert!(!push(&bus, &dir), "a key is held back");
        assert_eq!(git(&bare, &["rev-parse", "main"]), before);
        let mut warned = None;
        while let Ok(ev) = rx.try_recv() {
            if let Event::Warning { message } = ev {
                warned = Some(message);
            }
        }
        let warned = warned.unwrap_or_default();
        assert!(
            warned.contains("push held") && warned.contains("cfg.py:1"),
            "{warned}"
        );
        assert!(!warned.contains(key), "{warned}");
    }
}
