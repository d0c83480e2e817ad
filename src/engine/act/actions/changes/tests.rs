use super::*;
use std::fs;

fn setup() -> (tempfile::TempDir, PathBuf, Repository) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let (repo, _) = git::open_or_init(&root).unwrap();
    git::ensure_identity(&repo).unwrap();
    let mut paths = Vec::new();
    for d in ["a", "b/c", "b/d"] {
        fs::create_dir_all(root.join(d)).unwrap();
        for f in 0..3 {
            let p = format!("{d}/f{f}.txt");
            fs::write(root.join(&p), format!("{p}\n")).unwrap();
            paths.push(p);
        }
    }
    fs::write(root.join(".gitignore"), "skip/\n*.log\n").unwrap();
    paths.push(".gitignore".into());
    git::commit_paths(&repo, "t", &paths, "base")
        .unwrap()
        .unwrap();
    (dir, root, repo)
}

/// The watcher's answer must be the full status's, step after step. The full look here writes
/// no index back, so it does not itself make the watcher start over.
fn same(root: &Path, repo: &Repository, step: &str) {
    let fast = dirty_now(root).unwrap().unwrap();
    let mut opts = git2::StatusOptions::new();
    opts.include_untracked(true).recurse_untracked_dirs(true);
    let full: Vec<String> = repo
        .statuses(Some(&mut opts))
        .unwrap()
        .iter()
        .map(|s| s.path().unwrap().to_string())
        .collect();
    assert_eq!(fast, full, "after: {step}");
}

fn tracked(root: &Path) -> bool {
    matches!(TRACKERS.lock().unwrap().get(root), Some(Some(_)))
}

/// When the watcher for `root` started: the same value means no full look in between.
fn started(root: &Path) -> std::time::Instant {
    match TRACKERS.lock().unwrap().get(root) {
        Some(Some(t)) => t.started,
        _ => panic!("not watched"),
    }
}

/// One change to the tree.
type Step = Box<dyn Fn(&Path)>;

#[test]
fn the_watcher_agrees_with_a_full_status_after_every_kind_of_change() {
    let (_d, root, repo) = setup();
    same(&root, &repo, "start");
    assert!(tracked(&root));
    let steps: Vec<(&str, Step)> = vec![
        (
            "a new file",
            Box::new(|r| fs::write(r.join("a/new.txt"), "x").unwrap()),
        ),
        (
            "an edit",
            Box::new(|r| fs::write(r.join("b/c/f1.txt"), "changed").unwrap()),
        ),
        (
            "an edit put back",
            Box::new(|r| fs::write(r.join("b/c/f1.txt"), "b/c/f1.txt\n").unwrap()),
        ),
        (
            "a deletion",
            Box::new(|r| fs::remove_file(r.join("b/d/f0.txt")).unwrap()),
        ),
        (
            "new nested folders",
            Box::new(|r| {
                fs::create_dir_all(r.join("n/m/o")).unwrap();
                fs::write(r.join("n/m/o/deep.txt"), "x").unwrap();
                fs::write(r.join("n/top.txt"), "x").unwrap();
            }),
        ),
        (
            "a file in a folder made earlier",
            Box::new(|r| fs::write(r.join("n/m/later.txt"), "y").unwrap()),
        ),
        (
            "a tracked folder renamed",
            Box::new(|r| fs::rename(r.join("b/c"), r.join("b/e")).unwrap()),
        ),
        (
            "a file in the renamed folder",
            Box::new(|r| fs::write(r.join("b/e/f2.txt"), "z").unwrap()),
        ),
        (
            "a folder removed",
            Box::new(|r| fs::remove_dir_all(r.join("a")).unwrap()),
        ),
        (
            "the executable bit",
            Box::new(|r| {
                use std::os::unix::fs::PermissionsExt;
                fs::set_permissions(r.join("b/d/f1.txt"), fs::Permissions::from_mode(0o755))
                    .unwrap();
            }),
        ),
        (
            "ignored files",
            Box::new(|r| {
                fs::create_dir_all(r.join("skip")).unwrap();
                fs::write(r.join("skip/x.txt"), "x").unwrap();
                fs::write(r.join("b/d/run.log"), "x").unwrap();
            }),
        ),
        (
            "a changed .gitignore",
            Box::new(|r| fs::write(r.join(".gitignore"), "*.log\n").unwrap()),
        ),
        (
            "a file in the formerly ignored folder",
            Box::new(|r| fs::write(r.join("skip/y.txt"), "y").unwrap()),
        ),
    ];
    let first = started(&root);
    for (what, step) in steps {
        step(&root);
        same(&root, &repo, what);
        if !what.contains(".gitignore") && !what.contains("formerly ignored") {
            assert_eq!(
                started(&root),
                first,
                "followed by events, not a full look: {what}"
            );
        }
    }
    assert!(tracked(&root), "no step needs the full look for good");
    // A commit of some of the changes: they are clean afterwards without touching the tree.
    let dirty = dirty_now(&root).unwrap().unwrap();
    let (some, _) = dirty.split_at(dirty.len() / 2);
    git::commit_paths(&repo, "t", some, "some")
        .unwrap()
        .unwrap();
    same(&root, &repo, "a commit of half");
    git::commit_paths(&repo, "t", &dirty, "rest")
        .unwrap()
        .unwrap();
    same(&root, &repo, "a commit of the rest");
    assert!(dirty_now(&root).unwrap().unwrap().is_empty());
}

#[test]
fn a_second_hard_link_means_full_looks_from_then_on() {
    let (_d, root, repo) = setup();
    same(&root, &repo, "start");
    fs::hard_link(root.join("a/f0.txt"), root.join("b/link.txt")).unwrap();
    same(&root, &repo, "a hard link");
    assert!(!tracked(&root));
    // Written through the link: only the full look sees a/f0.txt change.
    fs::write(root.join("b/link.txt"), "through the link").unwrap();
    same(&root, &repo, "an edit through the link");
    assert!(
        dirty_now(&root)
            .unwrap()
            .unwrap()
            .contains(&"a/f0.txt".to_string())
    );
}
