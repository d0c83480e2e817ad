use super::*;

fn link(url: &str) -> Link {
    Link::parse(url, "shown").unwrap()
}

#[test]
fn tls_words_leave_the_url_and_others_stay() {
    let (rest, w) = split_tls(
        "postgres://u:p@db/clk?sslmode=verify-full&connect_timeout=5&sslrootcert=%2Fetc%2Fca.pem\
         &sslcert=/c.crt&sslkey=/c.key",
    );
    assert_eq!(rest, "postgres://u:p@db/clk?connect_timeout=5");
    assert_eq!(w.mode.as_deref(), Some("verify-full"));
    assert_eq!(w.root.as_deref(), Some("/etc/ca.pem"));
    assert_eq!(
        (w.cert.as_deref(), w.key.as_deref()),
        (Some("/c.crt"), Some("/c.key"))
    );
    let (rest, w) = split_tls("postgres://db/clk?sslrootcert=/ca.pem");
    assert_eq!(
        (rest.as_str(), w.mode, w.root.as_deref(), w.cert),
        ("postgres://db/clk", None, Some("/ca.pem"), None)
    );
    assert_eq!(split_tls("postgres://db/clk").0, "postgres://db/clk");
}

#[test]
fn a_client_certificate_needs_its_key_and_the_other_way_round() {
    let err = |url: &str| match Link::parse(url, "shown") {
        Ok(_) => String::new(),
        Err(e) => e.message,
    };
    assert_eq!(
        err("postgres://db/clk?sslcert=/c.crt"),
        "sslcert needs its key: add sslkey=/path/client.key to the URL"
    );
    assert_eq!(
        err("postgres://db/clk?sslkey=/c.key"),
        "sslkey needs its certificate: add sslcert=/path/client.crt to the URL"
    );
    let both = link("postgres://db/clk?sslcert=%2Fc.crt&sslkey=/c.key");
    assert_eq!(
        both.client_cert,
        Some((PathBuf::from("/c.crt"), PathBuf::from("/c.key")))
    );
}

#[test]
fn the_default_mode_depends_on_the_host() {
    for local in [
        "postgres://clk@127.0.0.1:5432/clk",
        "postgres://clk@localhost/clk",
        "postgres://clk@[::1]:5432/clk",
        "postgres://clk@%2Fvar%2Frun%2Fpostgresql/clk",
        "postgres:///clk",
    ] {
        assert_eq!(link(local).mode, Mode::Prefer, "{local}");
    }
    for remote in [
        "postgres://clk:pw@db.example.com/clk",
        "postgres://clk@10.0.0.5:5432/clk",
        "postgres://clk@localhost,db/clk",
    ] {
        assert_eq!(link(remote).mode, Mode::Require, "{remote}");
    }
    assert_eq!(
        link("postgres://db/clk?sslmode=disable").mode,
        Mode::Disable
    );
    assert_eq!(
        link("postgres://127.0.0.1/c?sslmode=verify-ca").mode,
        Mode::VerifyCa
    );
}

#[test]
fn verify_modes_and_a_root_file_are_kept_and_the_client_requires_tls() {
    let l = link("postgres://db/clk?sslmode=verify-full&sslrootcert=/tmp/ca.pem");
    assert_eq!(l.mode, Mode::VerifyFull);
    assert_eq!(l.root_cert, Some(PathBuf::from("/tmp/ca.pem")));
    assert_eq!(l.config.get_ssl_mode(), SslMode::Require);
    assert_eq!(link("postgres://db/c?sslrootcert=system").root_cert, None);
}

#[test]
fn a_url_with_tls_words_is_still_shown_without_its_password() {
    let shown = super::super::postgres::shown_url(
        "postgres://clk:s3cret@db:5432/clk?sslmode=verify-full&sslrootcert=/ca.pem",
    );
    assert!(
        shown.starts_with("postgres://clk:***@db:5432/clk"),
        "{shown}"
    );
    assert!(!shown.contains("s3cret"), "{shown}");
    let shown =
        super::super::postgres::shown_url("postgres://clk@db/clk?password=s3cret&sslmode=require");
    assert_eq!(shown, "postgres://clk@db/clk?password=***&sslmode=require");
}

#[test]
fn an_unknown_mode_says_which_are_known() {
    let Err(e) = Link::parse("postgres://db/clk?sslmode=maybe", "postgres://db/clk") else {
        panic!("sslmode=maybe was taken");
    };
    assert!(
        e.message.contains("disable, prefer, require"),
        "{}",
        e.message
    );
}

#[test]
fn a_missing_or_empty_root_file_is_one_clear_line() {
    let err = build(Some(&PathBuf::from("/nonexistent/ca.pem")), None)
        .err()
        .unwrap();
    assert!(
        err.starts_with("could not read sslrootcert=/nonexistent/ca.pem"),
        "{err}"
    );
    let empty = tempfile::NamedTempFile::new().unwrap();
    let err = build(Some(&empty.path().to_path_buf()), None)
        .err()
        .unwrap();
    assert!(err.contains("holds no certificate"), "{err}");
}
