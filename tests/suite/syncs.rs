//! clk syncs to disk only what a user would lose: changing the idea syncs the new idea and its
//! folder, and not the `.bak` copy of the old one (each sync costs about a millisecond, more on
//! a busy disk). Needs strace (see `support::strace`).

use crate::support;

use std::path::Path;

fn clk(dir: &Path) -> assert_cmd::Command {
    let mut c = support::clk();
    c.current_dir(dir).env("CLK_NO_TUI", "1");
    c
}

#[test]
fn a_new_idea_syncs_the_idea_and_its_folder_only() {
    if !support::strace::works() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    clk(d.path()).arg("init").assert().success();
    clk(d.path())
        .args(["idea", "--no-cast", "A first idea"])
        .assert()
        .success();
    let trace = d.path().join("trace.txt");
    let out = support::strace::clk("fsync,fdatasync,sync_file_range", &trace)
        .args(["idea", "--no-cast", "A tiny note app"])
        .current_dir(d.path())
        .env("CLK_NO_TUI", "1")
        .env("XDG_CONFIG_HOME", d.path().join("user-config"))
        .env("XDG_DATA_HOME", d.path().join("user-data"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let trace = std::fs::read_to_string(&trace).unwrap();
    let syncs: Vec<&str> = trace
        .lines()
        .filter(|l| l.contains("sync") && !l.contains("exited"))
        .collect();
    assert_eq!(syncs.len(), 2, "{syncs:#?}");
    assert!(
        syncs[0].contains("/.clk/state/.idea.json.tmp-"),
        "{syncs:#?}"
    );
    assert!(syncs[1].contains("/.clk/state>"), "{syncs:#?}");
    // The old idea is still kept beside the new one.
    let state = d.path().join(".clk/state");
    let bak = std::fs::read_to_string(state.join("idea.json.bak")).unwrap();
    assert!(bak.contains("A first idea"), "{bak}");
    let now = std::fs::read_to_string(state.join("idea.json")).unwrap();
    assert!(now.contains("A tiny note app"), "{now}");
}
