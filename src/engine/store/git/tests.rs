use super::*;
use std::fs;

#[test]
fn unpushed_commits_are_counted_only_with_a_remote() {
    let (dir, r) = repo();
    fs::write(dir.path().join("a.txt"), "a").unwrap();
    commit_paths(&r, "engineer", &["a.txt".to_string()], "one").unwrap();
    assert_eq!(unpushed_count(&r), None, "no remote: nothing to push to");
    let remote_dir = tempfile::tempdir().unwrap();
    Repository::init_bare(remote_dir.path()).unwrap();
    r.remote("origin", remote_dir.path().to_str().unwrap())
        .unwrap();
    assert_eq!(
        unpushed_count(&r),
        Some(1),
        "never pushed: every commit counts"
    );
    let status = std::process::Command::new("git")
        .args(["push", "-q", "-u", "origin", "HEAD:main"])
        .current_dir(dir.path())
        .status()
        .unwrap();
    assert!(status.success());
    fs::write(dir.path().join("b.txt"), "b").unwrap();
    commit_paths(&r, "engineer", &["b.txt".to_string()], "two").unwrap();
    assert_eq!(unpushed_count(&r), Some(1));
}

fn repo() -> (tempfile::TempDir, Repository) {
    let dir = tempfile::tempdir().unwrap();
    let (r, created) = open_or_init(dir.path()).unwrap();
    assert!(created);
    ensure_identity(&r).unwrap();
    (dir, r)
}

#[test]
fn commits_only_the_agents_paths() {
    let (dir, r) = repo();
    fs::write(dir.path().join("a.txt"), "agent\n").unwrap();
    fs::write(dir.path().join("user.txt"), "mine\n").unwrap();
    let info = commit_paths(&r, "engineer", &["a.txt".into()], "[engineer] add a")
        .unwrap()
        .unwrap();
    assert_eq!(info.subject, "[engineer] add a");
    let head = r.head().unwrap().peel_to_commit().unwrap();
    let tree = head.tree().unwrap();
    assert!(tree.get_path(Path::new("a.txt")).is_ok());
    assert!(tree.get_path(Path::new("user.txt")).is_err());
    assert_eq!(head.author().name().ok(), Some("engineer (clk)"));
    assert_eq!(branch(&r).as_deref(), Some("main"));
    // The user's file is still there, untracked.
    assert_eq!(dirty_paths(&r).unwrap(), vec!["user.txt".to_string()]);
}

#[test]
fn staged_user_changes_stay_staged_and_uncommitted() {
    let (dir, r) = repo();
    fs::write(dir.path().join("base.txt"), "1\n").unwrap();
    commit_paths(&r, "init", &["base.txt".into()], "base")
        .unwrap()
        .unwrap();
    fs::write(dir.path().join("staged.txt"), "user\n").unwrap();
    let mut idx = r.index().unwrap();
    idx.add_path(Path::new("staged.txt")).unwrap();
    idx.write().unwrap();
    fs::write(dir.path().join("b.txt"), "agent\n").unwrap();
    commit_paths(&r, "engineer", &["b.txt".into()], "[engineer] b")
        .unwrap()
        .unwrap();
    let tree = r.head().unwrap().peel_to_commit().unwrap().tree().unwrap();
    assert!(tree.get_path(Path::new("staged.txt")).is_err());
    let st = r.status_file(Path::new("staged.txt")).unwrap();
    assert!(st.contains(git2::Status::INDEX_NEW), "{st:?}");
    assert!(r.status_file(Path::new("b.txt")).unwrap().is_empty());
}

#[test]
fn restore_puts_back_only_the_named_paths() {
    let (dir, r) = repo();
    let p = dir.path();
    fs::write(p.join("a.txt"), "v1\n").unwrap();
    commit_paths(&r, "init", &["a.txt".into()], "base").unwrap();
    let base = r.head().unwrap().peel_to_commit().unwrap().id().to_string();
    // An agent edits a.txt and adds b.txt; the user edits their own file meanwhile.
    fs::write(p.join("a.txt"), "v2\n").unwrap();
    fs::write(p.join("b.txt"), "new\n").unwrap();
    commit_paths(&r, "engineer", &["a.txt".into(), "b.txt".into()], "agent").unwrap();
    fs::write(p.join("user.txt"), "mine\n").unwrap();
    let touched = paths_changed_since(&r, &base).unwrap();
    assert_eq!(touched, vec!["a.txt", "b.txt"]);
    let changed = restore_paths(&r, Some(&base), &touched).unwrap();
    assert_eq!(changed, vec!["a.txt", "b.txt"]);
    assert_eq!(fs::read_to_string(p.join("a.txt")).unwrap(), "v1\n");
    assert!(!p.join("b.txt").exists());
    assert_eq!(fs::read_to_string(p.join("user.txt")).unwrap(), "mine\n");
    // Committing the restore gives a tree equal to the base.
    commit_paths(&r, "clk", &touched, "undo").unwrap().unwrap();
    let head_tree = r.head().unwrap().peel_to_commit().unwrap().tree_id();
    let base_tree = r
        .revparse_single(&base)
        .unwrap()
        .peel_to_commit()
        .unwrap()
        .tree_id();
    assert_eq!(head_tree, base_tree);
    assert_eq!(dirty_paths(&r).unwrap(), vec!["user.txt".to_string()]);
}

#[test]
fn restore_recreates_a_symlink_instead_of_writing_through_it() {
    let (dir, r) = repo();
    let p = dir.path();
    fs::write(p.join("target.txt"), "keep\n").unwrap();
    std::os::unix::fs::symlink("target.txt", p.join("link")).unwrap();
    let mut idx = r.index().unwrap();
    idx.add_path(Path::new("target.txt")).unwrap();
    idx.add_path(Path::new("link")).unwrap();
    idx.write().unwrap();
    let tree = r.find_tree(idx.write_tree().unwrap()).unwrap();
    let sig = Signature::now("t", "t@t").unwrap();
    r.commit(Some("HEAD"), &sig, &sig, "base", &tree, &[])
        .unwrap();
    // An agent replaced the link by a file.
    fs::remove_file(p.join("link")).unwrap();
    fs::write(p.join("link"), "agent\n").unwrap();
    restore_paths(&r, None, &["link".into()]).unwrap();
    assert_eq!(
        fs::read_link(p.join("link")).unwrap(),
        Path::new("target.txt")
    );
    assert_eq!(fs::read_to_string(p.join("target.txt")).unwrap(), "keep\n");
    assert!(
        dirty_paths(&r).unwrap().is_empty(),
        "{:?}",
        dirty_paths(&r).unwrap()
    );
}

#[test]
fn deletions_and_no_change() {
    let (dir, r) = repo();
    fs::write(dir.path().join("x.txt"), "1\n").unwrap();
    commit_paths(&r, "a", &["x.txt".into()], "add")
        .unwrap()
        .unwrap();
    assert!(
        commit_paths(&r, "a", &["x.txt".into()], "same")
            .unwrap()
            .is_none()
    );
    fs::remove_file(dir.path().join("x.txt")).unwrap();
    commit_paths(&r, "a", &["x.txt".into()], "rm")
        .unwrap()
        .unwrap();
    let tree = r.head().unwrap().peel_to_commit().unwrap().tree().unwrap();
    assert!(tree.get_path(Path::new("x.txt")).is_err());
    assert!(dirty_paths(&r).unwrap().is_empty());
}

fn porcelain(dir: &Path) -> String {
    let out = std::process::Command::new("git")
        .args(["status", "--porcelain"])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

/// A run's work tree, committed in `n` batches through the kept repository.
fn run_tree_with_commits(run_id: &str, n: usize) -> (tempfile::TempDir, PathBuf) {
    let (dir, r) = repo();
    fs::write(dir.path().join("base.txt"), "b\n").unwrap();
    commit_paths(&r, "user", &["base.txt".into()], "base").unwrap();
    let root = worktree::create(&r, run_id)
        .unwrap()
        .path
        .canonicalize()
        .unwrap();
    let git_dir = Repository::open(&root).unwrap().path().to_path_buf();
    let before = fs::read(git_dir.join("index")).unwrap();
    for i in 0..n {
        let rel = format!("src/n{i}.txt");
        fs::create_dir_all(root.join("src")).unwrap();
        fs::write(root.join(&rel), format!("{i}\n")).unwrap();
        with_repo(&root, |w| {
            commit_paths(w, "engineer", &[rel], "[engineer] n")
        })
        .unwrap()
        .unwrap()
        .unwrap();
    }
    assert_eq!(
        fs::read(git_dir.join("index")).unwrap(),
        before,
        "the index file is not rewritten between a run's commits"
    );
    assert!(git_dir.join("clk-index-unsaved").exists());
    (dir, root)
}

#[test]
fn a_run_trees_index_is_written_once_before_anything_else_reads_it() {
    let (_dir, root) = run_tree_with_commits("deferred-flush", 3);
    // The kept repository knows its own commits: nothing looks changed to clk.
    let clean = with_repo(&root, |w| {
        dirty_in(w, &["src/n0.txt".into()], false).unwrap()
    });
    assert_eq!(clean, Some(Default::default()));
    // Opening it afresh (as a merge or a pool reset does) writes it first.
    let fresh = open(&root).unwrap();
    assert!(dirty_paths(&fresh).unwrap().is_empty());
    assert_eq!(porcelain(&root), "");
    assert!(!fresh.path().join("clk-index-unsaved").exists());
}

#[test]
fn a_run_stopped_between_commits_has_its_index_repaired_on_resume() {
    let (_dir, root) = run_tree_with_commits("deferred-crash", 2);
    // What another process sees had clk been killed here: the file lags HEAD.
    assert!(porcelain(&root).contains("n1.txt"), "{}", porcelain(&root));
    fs::write(root.join("src/n1.txt"), "changed after the commit\n").unwrap();
    assert!(deferred::repair(&root).unwrap());
    // Back to HEAD's tree; the work tree's files are kept as they are.
    assert_eq!(porcelain(&root), " M src/n1.txt\n");
    assert!(!deferred::repair(&root).unwrap(), "once is enough");
}

#[test]
fn the_users_own_index_is_written_at_once() {
    let (dir, _r) = repo();
    let root = dir.path().canonicalize().unwrap();
    fs::write(root.join("a.txt"), "a\n").unwrap();
    with_repo(&root, |w| {
        commit_paths(w, "engineer", &["a.txt".into()], "a")
    })
    .unwrap()
    .unwrap()
    .unwrap();
    assert_eq!(porcelain(&root), "");
}

/// `git` in `dir`, as a person would run it.
fn git_cli(dir: &Path, args: &[&str]) {
    let ok = std::process::Command::new("git")
        .args(["-c", "user.name=u", "-c", "user.email=u@u"])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
        .status
        .success();
    assert!(ok, "git {args:?}");
}

#[test]
fn the_quick_look_agrees_with_a_status_pass_on_every_kind_of_file() {
    use std::os::unix::fs::PermissionsExt;
    let (dir, _) = repo();
    let root = dir.path();
    let names = [
        "clean.txt",
        "old.txt",
        "grown.txt",
        "same_size.txt",
        "staged.txt",
        "gone.txt",
        "unstaged_rm.txt",
        "made_exec.sh",
        "link",
        "new.txt",
        "new_dir/inner.txt",
        "secret.env",
        "never.txt",
    ];
    fs::write(root.join(".gitignore"), "*.env\n").unwrap();
    for n in &names[..9] {
        if *n != "link" {
            fs::write(root.join(n), format!("{n}\n")).unwrap();
        }
    }
    std::os::unix::fs::symlink("clean.txt", root.join("link")).unwrap();
    git_cli(root, &["add", "-A"]);
    git_cli(root, &["commit", "-qm", "base"]);
    // A file whose entry is older than the index: told by its metadata alone.
    let past = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    fs::File::options()
        .write(true)
        .open(root.join("old.txt"))
        .unwrap()
        .set_modified(past)
        .unwrap();
    git_cli(root, &["add", "old.txt"]);
    fs::write(root.join("grown.txt"), "grown.txt and more\n").unwrap();
    fs::write(root.join("same_size.txt"), "SAME_SIZE.TXT\n").unwrap();
    fs::write(root.join("staged.txt"), "staged, changed\n").unwrap();
    git_cli(root, &["add", "staged.txt"]);
    fs::remove_file(root.join("gone.txt")).unwrap();
    git_cli(root, &["rm", "-q", "--cached", "unstaged_rm.txt"]);
    fs::set_permissions(root.join("made_exec.sh"), fs::Permissions::from_mode(0o755)).unwrap();
    fs::write(root.join("new.txt"), "new\n").unwrap();
    fs::create_dir(root.join("new_dir")).unwrap();
    fs::write(root.join("new_dir/inner.txt"), "inner\n").unwrap();
    fs::write(root.join("secret.env"), "KEY=1\n").unwrap();
    let r = Repository::open(root).unwrap();
    let all: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    for ignored in [true, false] {
        let slow = status_of(&r, &all, ignored).unwrap();
        assert_eq!(
            dirty_in(&r, &all, ignored).unwrap(),
            slow,
            "ignored: {ignored}"
        );
        for n in &all {
            assert_eq!(
                dirty_in(&r, std::slice::from_ref(n), ignored).unwrap(),
                status_of(&r, std::slice::from_ref(n), ignored).unwrap(),
                "{n}, ignored: {ignored}"
            );
        }
    }
    let dirty = dirty_in(&r, &all, true).unwrap();
    for n in [
        "grown.txt",
        "same_size.txt",
        "staged.txt",
        "gone.txt",
        "new.txt",
    ] {
        assert!(dirty.contains(n), "{n}: {dirty:?}");
    }
    assert!(!dirty.contains("clean.txt") && !dirty.contains("never.txt"));
    // The common cases need no status pass: a clean file (by metadata, or by its hash when
    // its entry is as new as the index), a new one, one that was never there.
    let look = quick::Look::new(&r).unwrap();
    for (n, want) in [
        ("old.txt", false),
        ("clean.txt", false),
        ("new.txt", true),
        ("never.txt", false),
        ("gone.txt", true),
        ("staged.txt", true),
    ] {
        assert_eq!(look.dirty(n, true), Some(want), "{n}");
    }
    assert_eq!(look.dirty("secret.env", false), Some(false));
    assert_eq!(
        look.dirty("link", true),
        None,
        "a symlink is left to the status pass"
    );
}
