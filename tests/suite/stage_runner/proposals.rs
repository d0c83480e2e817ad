//! PROPOSE_CONSENSUS outside a workflow stage: the chief's casting reply fans out.

use std::fs;

use super::{agents, clk, named};
use crate::support::mock_server::{MockServer, Reply, Script};

const CASTING: &str = "Team as is; the storage engine needs more than one view.\n\
PROPOSE_CONSENSUS: pick_db\nAGENTS: architect, engineer\nCOPIES: 2\n\
OBJECTIVE:\nWhich storage engine and why?\nEND_CONSENSUS\nPROGRESS: yes\n";
const SAMPLE: &str = "SQLite, because it is one file.\nCONFIDENCE: 0.8\n";
const MERGED: &str = "Decision: SQLite.\nACTION: write\nPATH: DECISIONS.md\nCONTENT:\nSQLite\n\
END_ACTION\n";

#[test]
fn a_consensus_proposed_while_casting_fans_out() {
    let mock = MockServer::start(Script::new(vec![
        Reply::text(CASTING),
        Reply::text(SAMPLE),
        Reply::text(SAMPLE),
        Reply::text(MERGED),
    ]));
    let top = tempfile::tempdir().unwrap();
    let dir = top.path().join("p");
    fs::create_dir(&dir).unwrap();
    clk(&dir, &mock).arg("init").assert().success();
    clk(&dir, &mock)
        .args(["idea", "A journaling app"])
        .assert()
        .success();
    // The casting call, two samples, the chief's merge: nothing more.
    assert_eq!(mock.model_calls(), 4, "{:?}", agents(&mock));
    let who = agents(&mock);
    assert_eq!(who[0], "chief");
    let mut samples = who[1..3].to_vec();
    samples.sort();
    assert_eq!(samples, ["architect", "engineer"]);
    assert_eq!(who[3], "chief");
    let started = named(&dir, "consensus_started");
    assert_eq!(started.len(), 1);
    assert_eq!(started[0]["trigger"], "proposal");
    assert_eq!(started[0]["name"], "pick_db");
    assert_eq!(
        fs::read_to_string(dir.join("DECISIONS.md")).unwrap(),
        "SQLite\n"
    );
}
