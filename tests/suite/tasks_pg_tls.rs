//! The PostgreSQL task store over TLS, through the real binary: a cluster with `ssl = on` and a
//! certificate from a CA made at test time (`support::pg::tls_database`). With the CA named by
//! `sslrootcert` the session is encrypted, as the server's `pg_stat_ssl` says through
//! `clk doctor`, and the LISTEN thread connects the same way; without it the server is refused
//! with a line that says what to do; `sslmode=require` against a plain server is refused and
//! `sslmode=disable` works there; a loopback URL with no sslmode still works against either;
//! a password in the URL shows in no error; a user the server checks by certificate gets in
//! with its own (`sslcert`, `sslkey`) and is refused, with what to do, without one or with
//! another name's; a local store that offers no TLS costs no read of the system's CA store
//! (needs strace, see `support::strace`).

use std::path::{Path, PathBuf};
use std::sync::mpsc::sync_channel;
use std::time::Duration;

use super::tasks::project;
use super::tasks_pg::{pg_ok, run};
use super::tls_roots::CA_PLACES;
use crate::support::clk;
use crate::support::mock_server::{MockServer, Script};
use crate::support::pg;

/// `url` with a password and the query `query`.
fn with(url: &str, password: Option<&str>, query: &str) -> String {
    let url = match password {
        Some(pw) => url.replacen("postgres://clk@", &format!("postgres://clk:{pw}@"), 1),
        None => url.to_string(),
    };
    if query.is_empty() {
        url
    } else {
        format!("{url}?{query}")
    }
}

/// `clk doctor`'s line about the task store at `url`.
fn doctor_store_line(dir: &Path, url: &str) -> String {
    let out = clk()
        .current_dir(dir)
        .env("CLK_NO_TUI", "1")
        .env("CLK_STORE_URL", url)
        .arg("doctor")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines()
        .find(|l| l.contains("task store"))
        .unwrap_or_else(|| panic!("no task store line in:\n{text}"))
        .to_string()
}

/// A project on the mock models, and a new database on the TLS cluster: its URL and CA file.
fn tls_project() -> Option<(MockServer, tempfile::TempDir, PathBuf, String, PathBuf)> {
    let (url, ca) = pg::tls_database()?;
    let mock = MockServer::start(Script::new(vec![]));
    let (top, dir) = project(&mock);
    Some((mock, top, dir, url, ca))
}

#[test]
fn the_named_ca_makes_an_encrypted_session() {
    let Some((_mock, _top, dir, url, ca)) = tls_project() else {
        return;
    };
    let ca = ca.display();
    for query in [
        format!("sslmode=require&sslrootcert={ca}"),
        format!("sslmode=verify-full&sslrootcert={ca}"),
        // No sslmode on loopback: prefer, and the server offers TLS clk can check.
        format!("sslrootcert={ca}"),
    ] {
        let url = with(&url, Some("pw-not-checked"), &query);
        pg_ok(&dir, &url, &["task", "add", "over TLS"]);
        let line = doctor_store_line(&dir, &url);
        assert!(
            line.starts_with("ok") && line.contains("encrypted (TLSv1."),
            "{query}: {line}"
        );
        assert!(!line.contains("pw-not-checked"), "{line}");
    }
    // By name too: the certificate names localhost as well as 127.0.0.1.
    let by_name = url.replacen("127.0.0.1", "localhost", 1);
    let listed = pg_ok(
        &dir,
        &with(
            &by_name,
            None,
            &format!("sslmode=verify-full&sslrootcert={ca}"),
        ),
        &["task", "list"],
    );
    assert_eq!(listed.matches("over TLS").count(), 3, "{listed}");
}

#[test]
fn the_listen_thread_connects_over_tls_too() {
    let Some((_mock, _top, dir, url, ca)) = tls_project() else {
        return;
    };
    let url = with(
        &url,
        None,
        &format!("sslmode=verify-full&sslrootcert={}", ca.display()),
    );
    // The store's tables first, so the listener has a channel worth hearing.
    pg_ok(&dir, &url, &["task", "list"]);
    let (tx, rx) = sync_channel(8);
    clk::engine::store::tasks::listen(&url, move |note| tx.send(note).is_ok()).unwrap();
    // It listens within a moment; add until a line is heard (the first may come too soon).
    let mut heard = None;
    for _ in 0..10 {
        pg_ok(&dir, &url, &["task", "add", "heard over TLS"]);
        if let Ok(note) = rx.recv_timeout(Duration::from_secs(2)) {
            heard = Some(note);
            break;
        }
    }
    let note = heard.expect("the LISTEN thread heard a line over TLS");
    assert_eq!(note.kind, "added");
}

#[test]
fn an_untrusted_certificate_is_refused_with_what_to_do() {
    let Some((_mock, _top, dir, url, _ca)) = tls_project() else {
        return;
    };
    for mode in ["require", "verify-ca", "verify-full"] {
        let url = with(&url, Some("hunter2secret"), &format!("sslmode={mode}"));
        let (good, text) = run(&dir, &url, &["task", "list"]);
        assert!(!good, "{mode}: a self-signed CA was trusted:\n{text}");
        assert!(
            text.contains(
                "the server's certificate is not trusted: name its CA with \
                 sslrootcert=/path/ca.pem"
            ),
            "{mode}: {text}"
        );
        assert!(text.contains("postgres://clk:***@127.0.0.1"), "{text}");
        assert!(
            !text.contains("hunter2secret"),
            "the password shows:\n{text}"
        );
    }
    // A loopback URL with no sslmode prefers TLS, and takes the plain connection it was
    // always allowed when it cannot check the certificate; doctor says so.
    pg_ok(&dir, &url, &["task", "add", "plain on loopback"]);
    let line = doctor_store_line(&dir, &url);
    assert!(
        line.starts_with("ok") && line.contains("NOT encrypted (sslmode=prefer)"),
        "{line}"
    );
}

#[test]
fn a_plain_server_is_refused_when_tls_is_required_and_used_when_disabled() {
    let Some(url) = pg::database() else { return };
    let mock = MockServer::start(Script::new(vec![]));
    let (_top, dir) = project(&mock);
    let required = with(&url, Some("hunter2secret"), "sslmode=require");
    let (good, text) = run(&dir, &required, &["task", "add", "never kept"]);
    assert!(!good, "{text}");
    assert!(
        text.contains(
            "the database refused TLS (sslmode=require); add sslmode=disable to the URL only \
             on a trusted network"
        ),
        "{text}"
    );
    assert!(
        !text.contains("hunter2secret"),
        "the password shows:\n{text}"
    );
    // A CA that cannot help does not change that.
    let (good, _) = run(
        &dir,
        &format!("{required}&sslrootcert=/nonexistent/ca.pem"),
        &["task", "list"],
    );
    assert!(!good);
    let disabled = with(&url, Some("hunter2secret"), "sslmode=disable");
    pg_ok(&dir, &disabled, &["task", "add", "in clear on purpose"]);
    assert!(pg_ok(&dir, &url, &["task", "list"]).contains("in clear on purpose"));
    let line = doctor_store_line(&dir, &disabled);
    assert!(line.contains("NOT encrypted (sslmode=disable)"), "{line}");
    assert!(!line.contains("hunter2secret"), "{line}");
}

#[test]
fn an_unknown_sslmode_or_a_missing_ca_file_is_one_clear_line() {
    let Some((_mock, _top, dir, url, _ca)) = tls_project() else {
        return;
    };
    refused(
        &dir,
        &url,
        "sslmode=sometimes",
        "sslmode=sometimes is not known; use disable, prefer, require",
    );
    refused(
        &dir,
        &url,
        "sslmode=require&sslrootcert=/nonexistent/ca.pem",
        "could not read sslrootcert=/nonexistent/ca.pem",
    );
}

/// `clk task list` at `url` with `query` fails, saying `expected`, and never panics.
fn refused(dir: &Path, url: &str, query: &str, expected: &str) {
    let (good, text) = run(dir, &with(url, None, query), &["task", "list"]);
    assert!(!good, "{query}: {text}");
    assert!(text.contains(expected), "{query}: {text}");
    assert!(!text.contains("panicked"), "{text}");
}

#[test]
fn a_client_certificate_lets_in_a_user_the_server_checks_by_certificate() {
    let Some((url, certs)) = pg::cert_database() else {
        return;
    };
    let mock = MockServer::start(Script::new(vec![]));
    let (_top, dir) = project(&mock);
    let file = |name: &str| certs.join(name).display().to_string();
    let verified = format!("sslmode=verify-full&sslrootcert={}", file("ca.crt"));
    let with_cert = |cert: &str, key: &str| format!("{verified}&sslcert={cert}&sslkey={key}");
    // Without one: refused, with what to do.
    refused(
        &dir,
        &url,
        &verified,
        "the database asks for a client certificate: name it with \
         sslcert=/path/client.crt&sslkey=/path/client.key",
    );
    // With its own: in, encrypted.
    let mine = with(
        &url,
        None,
        &with_cert(&file("certuser.crt"), &file("certuser.key")),
    );
    pg_ok(&dir, &mine, &["task", "add", "by certificate"]);
    let line = doctor_store_line(&dir, &mine);
    assert!(
        line.starts_with("ok") && line.contains("encrypted (TLSv1."),
        "{line}"
    );
    // A certificate the same CA made for another name: refused, and why.
    refused(
        &dir,
        &url,
        &with_cert(&file("intruder.crt"), &file("intruder.key")),
        &format!(
            "the database refused the client certificate in sslcert={}: its common name \
             must be the user in the URL",
            file("intruder.crt")
        ),
    );
    // An old-style (v1) certificate, a key file that is not there, a certificate without its
    // key: one clear line each.
    refused(
        &dir,
        &url,
        &with_cert(&file("v1.crt"), &file("certuser.key")),
        "it is an X.509 v1 certificate; make a v3 one",
    );
    refused(
        &dir,
        &url,
        &with_cert(&file("certuser.crt"), "/nonexistent/c.key"),
        "could not read sslkey=/nonexistent/c.key",
    );
    refused(
        &dir,
        &url,
        &format!("sslcert={}", file("certuser.crt")),
        "sslcert needs its key: add sslkey=/path/client.key to the URL",
    );
}

/// Lines of a `clk` run's trace that open a file under the system's CA folders.
fn ca_opens(dir: &Path, url: &str) -> (bool, Vec<String>) {
    let trace = dir.join("trace.txt");
    let out = crate::support::strace::clk("open,openat,openat2", &trace)
        .current_dir(dir)
        .env("CLK_NO_TUI", "1")
        .env("CLK_STORE_URL", url)
        .args(["task", "list"])
        .output()
        .unwrap();
    let text = std::fs::read_to_string(&trace).unwrap();
    let opens = text
        .lines()
        .filter(|l| CA_PLACES.iter().any(|p| l.contains(&format!("\"{p}"))))
        .map(str::to_string)
        .collect();
    (out.status.success(), opens)
}

#[test]
fn a_local_store_without_tls_never_reads_the_ca_store() {
    if !crate::support::strace::works() {
        return;
    }
    let (Some(plain), Some((tls, _ca))) = (pg::database(), pg::tls_database()) else {
        return;
    };
    let mock = MockServer::start(Script::new(vec![]));
    let (_top, dir) = project(&mock);
    // A loopback URL prefers TLS, but a server that offers none costs no read of the roots.
    let (good, opens) = ca_opens(&dir, &plain);
    assert!(good);
    assert!(
        opens.is_empty(),
        "{} CA opens, e.g. {:?}",
        opens.len(),
        opens.first()
    );
    // The trace does see them when a handshake needs the system's roots.
    let (good, opens) = ca_opens(&dir, &with(&tls, None, "sslmode=require"));
    assert!(!good, "the self-signed server is refused");
    assert!(
        !opens.is_empty(),
        "the system's roots were read for the handshake"
    );
}
