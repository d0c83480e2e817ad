//! Property test: no path an agent can write, however built, lands outside the project root
//! or inside `.git/` or `.clk/` (the blackboard included: posts come only from POST blocks).

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use clk::engine::act::actions::{GateContext, apply};
use clk::engine::ground::protocol::parse;
use clk::engine::store::bus::Bus;
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
        limits: Default::default(),
        sandbox: clk::engine::act::confine::Isolation::None,
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
            prop_assert!(!rel.starts_with(".clk/") || rel.starts_with(".clk/backups/"),
                "wrote {rel} via {path:?}");
        }
    }
}

/// Names a path inside the project may be made of, lookalikes of `..` included.
fn safe_part() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "a", "b", "src", "x.txt", "notes.md", "..a", "a..", "...", "dir-1", "_",
    ])
    .prop_map(str::to_string)
}

fn gate(root: &Path) -> GateContext {
    GateContext {
        root: root.to_path_buf(),
        agent: "engineer".into(),
        run_id: "r".into(),
        backups: root.join(".clk/backups/r"),
        warn_files: 5,
        max_files: 25,
        run_timeout: std::time::Duration::from_secs(5),
        user_dirty: Default::default(),
        done_file: root.join(".clk/state/done.md"),
        limits: Default::default(),
        sandbox: clk::engine::act::confine::Isolation::None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    /// The other side of `writes_stay_inside`: a gate that refused everything would pass that
    /// one. Any path inside the project (however spelled: `./`, `//`, `/./`, absolute under
    /// the root) is written and appended to at exactly the place it names and nowhere else;
    /// `blackboard/x` is an ordinary project path, with or without `./`.
    #[test]
    fn writes_inside_land_where_they_name(
        parts in prop::collection::vec(safe_part(), 1..5),
        sep in prop::sample::select(vec!["/", "//", "/./"]),
        lead in prop::sample::select(vec!["", "./", "root"]),
        blackboard in any::<bool>(),
    ) {
        let top = tempfile::tempdir().unwrap();
        fs::create_dir(top.path().join("root")).unwrap();
        let root = top.path().join("root").canonicalize().unwrap();
        fs::create_dir_all(root.join(".git/hooks")).unwrap();
        fs::create_dir_all(root.join(".clk/blackboard")).unwrap();

        let mut named = parts.join(sep);
        let mut rel = parts.join("/");
        if blackboard {
            named = format!("blackboard/{named}");
            rel = format!("blackboard/{rel}");
        }
        let path = match lead {
            "root" => format!("{}/{named}", root.display()),
            _ => format!("{lead}{named}"),
        };
        let text = format!("ACTION: write\nPATH: {path}\nCONTENT:\npwned\nEND_ACTION\n\
                            ACTION: append\nPATH: {path}\nCONTENT:\npwned\nEND_ACTION\n");
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let parsed = parse(&text);
        let cancel = CancellationToken::new();
        let out = rt.block_on(apply(&gate(&root), &Bus::new(None), &parsed.actions, &cancel));

        prop_assert!(out.refused.is_empty(), "refused {path:?}: {:?}", out.refused);
        prop_assert_eq!(&out.written, &vec![rel.clone()], "via {:?}", path);
        let written = fs::read_to_string(root.join(&rel));
        prop_assert!(written.is_ok(), "{rel} missing via {path:?}");
        let count = written.unwrap().matches("pwned").count();
        prop_assert_eq!(count, 2, "{} via {:?}", rel, path);
        for f in files_under(top.path()) {
            let r = f.strip_prefix(&root).unwrap().to_string_lossy().into_owned();
            prop_assert!(
                r == rel || r.starts_with(".clk/backups/"),
                "also wrote {r} via {path:?}"
            );
        }
    }
}
