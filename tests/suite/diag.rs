//! `clk diag` (issue 15, item 4): the bundle holds what a bug report needs, and no value of
//! any secret the test sets appears anywhere in it, even where clk's own files held one.

use std::fs;
use std::io::Read;
use std::path::Path;

use crate::support::clk;

const SECRETS: [&str; 4] = [
    "sk-proj-diagtest-AAAA1111BBBB2222",
    "user-plain-secret-77",
    "tok-plain-value-4242",
    "sk-envkey-diag-9999aaaa",
];

/// Every file of the bundle: (name, bytes).
fn unpack(path: &Path) -> Vec<(String, Vec<u8>)> {
    let gz = flate2::read::GzDecoder::new(fs::File::open(path).unwrap());
    let mut archive = tar::Archive::new(gz);
    let mut out = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut e = entry.unwrap();
        let name = e.path().unwrap().to_string_lossy().into_owned();
        let mut bytes = Vec::new();
        e.read_to_end(&mut bytes).unwrap();
        out.push((name, bytes));
    }
    out
}

#[test]
fn the_bundle_has_the_report_and_no_secret() {
    let top = tempfile::tempdir().unwrap();
    let xdg = top.path().join("xdg");
    let dir = top.path().join("p");
    fs::create_dir_all(&dir).unwrap();
    fs::create_dir_all(xdg.join("clk")).unwrap();
    clk().current_dir(&dir).arg("init").assert().success();
    fs::write(
        dir.join(".clk/config/providers.json"),
        format!(
            r#"{{"providers": {{"openwebui": {{"api_key": "{}"}}}}}}"#,
            SECRETS[0]
        ),
    )
    .unwrap();
    fs::write(
        xdg.join("clk/providers.json"),
        format!(
            r#"{{"providers": {{"ollama": {{"api_key": "{}"}}}}}}"#,
            SECRETS[1]
        ),
    )
    .unwrap();
    // clk's own files hold them too, as a leak would leave them.
    let mut log = String::new();
    for s in SECRETS {
        log.push_str(&format!(
            "{{\"event\":\"status\",\"text\":\"saw {s} here\"}}\n"
        ));
    }
    fs::create_dir_all(dir.join(".clk/logs")).unwrap();
    fs::write(dir.join(".clk/logs/activity.jsonl"), &log).unwrap();
    let run = "20260101T000000000-engineer";
    fs::write(
        dir.join(".clk/state/agent_memory.jsonl"),
        format!("{{\"agent\":\"engineer\",\"run_id\":\"{run}\",\"ok\":false}}\n"),
    )
    .unwrap();
    fs::create_dir_all(dir.join(".clk/runs").join(run)).unwrap();
    fs::write(
        dir.join(".clk/runs").join(run).join("response.txt"),
        format!("the reply quoted {} and {}\n", SECRETS[2], SECRETS[3]),
    )
    .unwrap();

    let out = dir.join("report.tar.gz");
    let res = clk()
        .current_dir(&dir)
        .env("XDG_CONFIG_HOME", &xdg)
        .env("MY_SERVICE_TOKEN", SECRETS[2])
        .env("OPENAI_API_KEY", SECRETS[3])
        .args(["diag", "--out", "report.tar.gz"])
        .output()
        .unwrap();
    assert!(res.status.success(), "{res:?}");
    let stdout = String::from_utf8_lossy(&res.stdout);
    assert!(stdout.contains("report.tar.gz"), "{stdout}");

    let files = unpack(&out);
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    for want in [
        "report/versions.txt",
        "report/environment.txt",
        "report/settings.json",
        "report/activity.jsonl",
        "report/doctor.txt",
        &format!("report/last-failed-run/{run}/response.txt"),
    ] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    for (name, bytes) in &files {
        let text = String::from_utf8_lossy(bytes);
        for s in SECRETS {
            assert!(!text.contains(s), "{name} holds a secret: {text}");
        }
    }
    let text = |n: &str| {
        files
            .iter()
            .find(|(f, _)| f == n)
            .map(|(_, b)| String::from_utf8_lossy(b).into_owned())
            .unwrap()
    };
    // What was there is still there, masked.
    assert_eq!(
        text("report/activity.jsonl").matches("<redacted").count(),
        4
    );
    assert!(text("report/versions.txt").starts_with("clk "));
    assert!(text("report/environment.txt").contains("MY_SERVICE_TOKEN"));
    assert!(text("report/settings.json").contains("\"api_key\": \"<set>\""));

    // An existing file is never overwritten; outside a project there is nothing to report.
    let again = clk()
        .current_dir(&dir)
        .env("XDG_CONFIG_HOME", &xdg)
        .args(["diag", "--out", "report.tar.gz"])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2), "{again:?}");
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    let outside = clk().current_dir(top.path()).arg("diag").output().unwrap();
    assert_eq!(outside.status.code(), Some(2), "{outside:?}");
}
