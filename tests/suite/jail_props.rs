//! Property test: no path an agent can write, however built, lands outside the project root
//! or inside `.git/` or `.clk/` (except the blackboard).

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use clk::engine::actions::{GateContext, apply};
use clk::engine::bus::Bus;
use clk::engine::protocol::parse;
use proptest::prelude::*;
use tokio_util::sync::CancellationToken;

fn files_under(p: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![p.to_path_buf()];
    while let Some(d) = stack.pop() {
        if let Ok(rd) = fs::read_dir(&d) {
            for e in rd.flatten() {
                let path = e.path();
                let meta = fs::symlink_metadata(&path).unwrap();
                if meta.is_dir() {
                    stack.push(path);
                } else if meta.is_file() {
                    out.push(path);
                }
            }
        }
    }
    out
}

fn part() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "..",
        ".",
        "a",
        "b",
        ".git",
        ".clk",
        "blackboard",
        "config",
        "out",
        "gitlink",
        "in",
        "~",
        "",
        "x.txt",
        "..a",
        "a..",
        "...",
        " ",
        "hooks",
        "state",
    ])
    .prop_map(str::to_string)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn writes_stay_inside(parts in prop::collection::vec(part(), 1..6), absolute in any::<bool>(), sep in prop::sample::select(vec!["/", "//", "/./"])) {
        let top = tempfile::tempdir().unwrap();
        let root = top.path().join("root").canonicalize().unwrap_or_else(|_| {
            fs::create_dir(top.path().join("root")).unwrap();
            top.path().join("root").canonicalize().unwrap()
        });
        let outside = top.path().join("outside");
        fs::create_dir_all(&outside).unwrap();
        fs::create_dir_all(root.join(".git/hooks")).unwrap();
        fs::create_dir_all(root.join(".clk/config")).unwrap();
        fs::create_dir_all(root.join(".clk/blackboard")).unwrap();
        fs::create_dir_all(root.join("a")).unwrap();
        symlink(&outside, root.join("out")).unwrap();
        symlink(root.join(".git"), root.join("gitlink")).unwrap();
        symlink(root.join("a"), root.join("in")).unwrap();

        let mut path = parts.join(sep);
        if absolute {
            path = format!("/{path}");
        }
        let text = format!("ACTION: write\nPATH: {path}\nCONTENT:\npwned\nEND_ACTION\n\
                            ACTION: append\nPATH: {path}\nCONTENT:\npwned\nEND_ACTION\n");
        let ctx = GateContext {
            root: root.clone(),
            agent: "engineer".into(),
            run_id: "r".into(),
            backups: root.join(".clk/backups/r"),
            warn_files: 5,
            max_files: 25,
            run_timeout: std::time::Duration::from_secs(5),
            user_dirty: Default::default(),
            done_file: root.join(".clk/state/done.md"),
        };
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let parsed = parse(&text);
        rt.block_on(apply(&ctx, &Bus::new(None), &parsed.actions, &CancellationToken::new()));

        prop_assert!(files_under(&outside).is_empty(), "wrote outside via {path:?}");
        for f in files_under(top.path()) {
            let rel = f.strip_prefix(&root);
            prop_assert!(rel.is_ok(), "wrote {} via {path:?}", f.display());
            let rel = rel.unwrap().to_string_lossy().into_owned();
            prop_assert!(!rel.starts_with(".git/"), "wrote {rel} via {path:?}");
            // The gate's own backups are the one other place it writes.
            prop_assert!(!rel.starts_with(".clk/") || rel.starts_with(".clk/blackboard/")
                || rel.starts_with(".clk/backups/"),
                "wrote {rel} via {path:?}");
        }
    }
}
