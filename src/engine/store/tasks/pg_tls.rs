//! TLS to the PostgreSQL store. `sslmode`, `sslrootcert`, `sslcert` and `sslkey` are read out
//! of the URL here (the client's own parser knows none but `sslmode`, and not all of its
//! modes), and every connection of a store, its own and the LISTEN thread's, goes through
//! [`Link::connect`], which builds the rustls connector once, on the first connection that
//! may use TLS.
//!
//! rustls always checks the certificate's chain and host name, so `require`, `verify-ca` and
//! `verify-full` all verify. `prefer` uses TLS when the server offers it with a certificate
//! clk trusts and falls back to plain otherwise, as a loopback server needs no more.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use postgres::config::{Host, SslMode};
use postgres::{Client, NoTls};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::StoreError;
use super::postgres::{PgErr, PgResult};

/// The `sslmode` a URL asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl Mode {
    fn parse(word: &str) -> Option<Mode> {
        Some(match word {
            "disable" => Mode::Disable,
            "prefer" => Mode::Prefer,
            "require" => Mode::Require,
            "verify-ca" => Mode::VerifyCa,
            "verify-full" => Mode::VerifyFull,
            _ => return None,
        })
    }

    pub fn word(self) -> &'static str {
        match self {
            Mode::Disable => "disable",
            Mode::Prefer => "prefer",
            Mode::Require => "require",
            Mode::VerifyCa => "verify-ca",
            Mode::VerifyFull => "verify-full",
        }
    }
}

/// A store's way to its database: where, and how TLS is used.
pub(super) struct Link {
    pub(super) config: postgres::Config,
    pub(super) mode: Mode,
    /// The CA file `sslrootcert` names; None trusts the platform's roots.
    pub(super) root_cert: Option<PathBuf>,
    /// The client certificate and its key (`sslcert`, `sslkey`), for a server that checks
    /// who connects by certificate.
    pub(super) client_cert: Option<(PathBuf, PathBuf)>,
    tls: OnceLock<Result<MakeRustlsConnect, String>>,
}

/// The TLS words of a store URL, decoded: `sslmode`, `sslrootcert`, and the client
/// certificate and its key (`sslcert`, `sslkey`) for a server that asks for one.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(super) struct TlsWords {
    pub(super) mode: Option<String>,
    pub(super) root: Option<String>,
    pub(super) cert: Option<String>,
    pub(super) key: Option<String>,
}

/// `url` without its TLS words, and what they said.
pub(super) fn split_tls(url: &str) -> (String, TlsWords) {
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_string(), TlsWords::default());
    };
    let (mut words, mut kept) = (TlsWords::default(), Vec::new());
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let slot = match key {
            "sslmode" => &mut words.mode,
            "sslrootcert" => &mut words.root,
            "sslcert" => &mut words.cert,
            "sslkey" => &mut words.key,
            _ => {
                kept.push(pair);
                continue;
            }
        };
        *slot = Some(decode(value));
    }
    let rest = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    (rest, words)
}

/// A URL value's `%XX` escapes undone (`+` left alone, as PostgreSQL's own parser does).
fn decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| {
            std::str::from_utf8(h)
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        });
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether every host the config names is this machine: a Unix socket, `localhost` or a
/// loopback address (no host at all means the local socket).
pub(super) fn local_only(config: &postgres::Config) -> bool {
    let hosts_local = config.get_hosts().iter().all(|h| match h {
        Host::Tcp(name) => {
            name.eq_ignore_ascii_case("localhost")
                || name
                    .trim_matches(['[', ']'])
                    .parse::<IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
        #[cfg(unix)]
        Host::Unix(_) => true,
    });
    hosts_local && config.get_hostaddrs().iter().all(IpAddr::is_loopback)
}

impl Link {
    /// Read `url`: the client's settings, and TLS as `sslmode`, `sslrootcert`, `sslcert` and
    /// `sslkey` ask. With no `sslmode`, a loopback host or Unix socket prefers TLS and any
    /// other host requires it.
    pub(super) fn parse(url: &str, shown: &str) -> Result<Link, StoreError> {
        let bad = |message: String| StoreError {
            path: shown.to_string(),
            message,
        };
        let (rest, words) = split_tls(url);
        let TlsWords {
            mode,
            root,
            cert,
            key,
        } = words;
        let given = |w: Option<String>| w.filter(|v| !v.is_empty()).map(PathBuf::from);
        let client_cert = match (given(cert), given(key)) {
            (Some(cert), Some(key)) => Some((cert, key)),
            (None, None) => None,
            (Some(_), None) => {
                return Err(bad(
                    "sslcert needs its key: add sslkey=/path/client.key to the URL".into(),
                ));
            }
            (None, Some(_)) => {
                return Err(bad(
                    "sslkey needs its certificate: add sslcert=/path/client.crt to the URL".into(),
                ));
            }
        };
        let mut config: postgres::Config = rest
            .parse()
            .map_err(|e: postgres::Error| bad(format!("not a PostgreSQL URL: {e}")))?;
        let mode = match mode.as_deref() {
            None if local_only(&config) => Mode::Prefer,
            None => Mode::Require,
            Some(word) => Mode::parse(word).ok_or_else(|| {
                bad(format!(
                    "sslmode={word} is not known; use disable, prefer, require, verify-ca or \
                     verify-full"
                ))
            })?,
        };
        config.ssl_mode(match mode {
            Mode::Disable => SslMode::Disable,
            Mode::Prefer => SslMode::Prefer,
            _ => SslMode::Require,
        });
        // `sslrootcert=system` is libpq's word for the platform's roots.
        let root_cert = root
            .filter(|r| !r.is_empty() && r != "system")
            .map(PathBuf::from);
        Ok(Link {
            config,
            mode,
            root_cert,
            client_cert,
            tls: OnceLock::new(),
        })
    }

    /// A new connection, encrypted as the mode asks.
    pub(super) fn connect(&self) -> PgResult<Client> {
        if self.mode == Mode::Disable {
            return Ok(self.config.connect(NoTls)?);
        }
        let tls = self.connector()?;
        match self.config.connect(tls) {
            Ok(c) => Ok(c),
            // A server that offers TLS with a certificate clk cannot check: prefer takes the
            // plain connection it would have had without TLS.
            Err(e) if self.mode == Mode::Prefer && cert_error(&e).is_some() => {
                let mut plain = self.config.clone();
                plain.ssl_mode(SslMode::Disable);
                Ok(plain.connect(NoTls)?)
            }
            Err(e) => Err(self.explain(e)),
        }
    }

    /// The connector, built on first use and kept.
    fn connector(&self) -> PgResult<MakeRustlsConnect> {
        let built = self
            .tls
            .get_or_init(|| build(self.root_cert.as_ref(), self.client_cert.as_ref()));
        built.clone().map_err(PgErr)
    }

    /// One line for a connection that failed, saying what to do when TLS was the cause.
    fn explain(&self, e: postgres::Error) -> PgErr {
        let text = chain(&e);
        if text.contains("requires a valid client certificate") && self.client_cert.is_none() {
            return PgErr(
                "the database asks for a client certificate: name it with \
                 sslcert=/path/client.crt&sslkey=/path/client.key"
                    .into(),
            );
        }
        if let Some((cert, _)) = &self.client_cert {
            if text.contains("certificate authentication failed") {
                return PgErr(format!(
                    "the database refused the client certificate in sslcert={}: its common \
                     name must be the user in the URL",
                    cert.display()
                ));
            }
        }
        if text.contains("server does not support TLS") {
            return PgErr(format!(
                "the database refused TLS (sslmode={}); add sslmode=disable to the URL only on \
                 a trusted network",
                self.mode.word()
            ));
        }
        let Some(cert) = cert_error(&e) else {
            // The client's own line for a failed handshake leaves out why.
            return match e.as_db_error() {
                None => PgErr(text),
                Some(_) => PgErr::from(e),
            };
        };
        use rustls::CertificateError as C;
        PgErr(match (cert, &self.root_cert) {
            (C::NotValidForName | C::NotValidForNameContext { .. }, _) => {
                "the server's certificate does not name the host in the URL; connect by a name \
                 the certificate holds"
                    .into()
            }
            (C::UnknownIssuer | C::BadSignature | C::BadEncoding, Some(ca)) => format!(
                "the server's certificate is not signed by the CA in sslrootcert={}; name the \
                 CA that signed it",
                ca.display()
            ),
            (C::UnknownIssuer | C::BadSignature | C::BadEncoding, None) => {
                "the server's certificate is not trusted: name its CA with \
                 sslrootcert=/path/ca.pem"
                    .into()
            }
            (C::Expired | C::ExpiredContext { .. }, _) => {
                "the server's certificate has expired; the database's owner must renew it".into()
            }
            (other, _) => format!("the server's certificate is refused: {other:?}"),
        })
    }
}

/// An error with every cause under it, as one line.
fn chain(e: &postgres::Error) -> String {
    let mut text = e.to_string();
    let mut next = std::error::Error::source(e);
    while let Some(cause) = next {
        let line = cause.to_string();
        if !text.contains(&line) {
            text = format!("{text}: {line}");
        }
        next = cause.source();
    }
    text
}

/// The certificate problem under a failed TLS handshake, if that is what failed.
fn cert_error(e: &postgres::Error) -> Option<&rustls::CertificateError> {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = next {
        let inner = err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .map(|i| i as &(dyn std::error::Error + 'static))
            .unwrap_or(err);
        if let Some(rustls::Error::InvalidCertificate(c)) = inner.downcast_ref::<rustls::Error>() {
            return Some(c);
        }
        next = err.source();
    }
    None
}

/// The rustls connector, on the ring provider: roots from `root_cert` alone, else the
/// platform's; with `client` (certificate and key files) it shows that certificate when the
/// server asks for one.
fn build(
    root_cert: Option<&PathBuf>,
    client: Option<&(PathBuf, PathBuf)>,
) -> Result<MakeRustlsConnect, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("could not set up TLS: {e}"))?;
    let wants_client = match root_cert {
        Some(path) => {
            let certs = pem_certs(path, "sslrootcert")?;
            let mut roots = rustls::RootCertStore::empty();
            let (added, _) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(format!(
                    "sslrootcert={} holds no certificate; name the CA's PEM file",
                    path.display()
                ));
            }
            builder.with_root_certificates(roots)
        }
        None => builder
            .dangerous()
            .with_custom_certificate_verifier(crate::engine::store::roots::verifier(provider)),
    };
    let config = match client {
        None => wants_client.with_no_client_auth(),
        Some((cert, key)) => {
            let chain = pem_certs(cert, "sslcert")?;
            if chain.is_empty() {
                return Err(format!(
                    "sslcert={} holds no certificate; name the client certificate's PEM file",
                    cert.display()
                ));
            }
            let shown = key.display();
            let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| match e {
                rustls::pki_types::pem::Error::NoItemsFound => {
                    format!("sslkey={shown} holds no private key; name the key's PEM file")
                }
                other => format!("could not read sslkey={shown}: {}", io_text(&other)),
            })?;
            wants_client
                .with_client_auth_cert(chain, key_der)
                .map_err(|e| {
                    let why = if format!("{e:?}").contains("UnsupportedCertVersion") {
                        "it is an X.509 v1 certificate; make a v3 one (openssl x509 -req with \
                         an -extfile holding extendedKeyUsage=clientAuth)"
                            .to_string()
                    } else {
                        e.to_string()
                    };
                    format!(
                        "sslcert={} and sslkey={shown} do not make a client certificate: {why}",
                        cert.display()
                    )
                })?
        }
    };
    Ok(MakeRustlsConnect::new(config))
}

/// The certificates in the PEM file `path`, which the URL names as `word`.
fn pem_certs(path: &PathBuf, word: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let shown = path.display();
    CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("could not read {word}={shown}: {}", io_text(&e)))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{word}={shown} is not a PEM file: {e}"))
}

fn io_text(e: &rustls::pki_types::pem::Error) -> String {
    match e {
        rustls::pki_types::pem::Error::Io(io) => io.to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests;
